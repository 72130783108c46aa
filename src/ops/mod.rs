//! Operations: shape checks → allocation and params → a `kernels::<stem>`
//! launcher. Each op records into the context's open encoder and returns at
//! once; nothing is submitted. Variant choice (matmul autotune, the CTC
//! layout) lives here, the dispatch itself in the launcher.
//!
//! May import: `kernels`, `gpu`, `tensor`, `error`. Imported by: `autograd`,
//! `nn`, `optim`, `speech`, `jobs`, `bench`.

pub mod ctc;
pub mod batchnorm;
pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod reduce;
pub mod softmax;

pub use conv::{conv2d, conv_transpose2d, ConvOptions};
pub use elementwise::{add, add_bias, binary, div, equal, expand, mul, sub, unary, unary_backward, BinaryOp, UnaryOp};
pub use matmul::{matmul, matmul_a_bt, matmul_at_b, matmul_ex, Activation, MatmulOptions, MatmulVariant};
pub use reduce::{max, mean, reduce, sum, ReduceOp};
pub use softmax::{log_softmax, softmax};

use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::tensor::Tensor;

/// Splits `groups` workgroups into an (x, y) grid under the device limit;
/// kernels recover the flat index as `wid.y * num_workgroups.x + wid.x`.
pub(crate) fn grid_1d(ctx: &Context, groups: u64) -> Result<[u32; 3]> {
    let max = ctx.limits().max_compute_workgroups_per_dimension as u64;
    if groups <= max {
        return Ok([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::OverLimit {
            what: "1-D dispatch".into(),
            needed: groups,
            limit_name: "max_compute_workgroups_per_dimension squared",
            limit: max * max,
        });
    }
    Ok([groups.div_ceil(y) as u32, y as u32, 1])
}

/// Resolves a possibly negative axis against `rank`.
pub(crate) fn resolve_axis(op: &str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(Error::invalid_shape(op, format!("axis {axis} out of range for rank {rank}")));
    }
    Ok(a as usize)
}

/// (outer, D, inner) view of `shape` around `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Errors if a u32 kernel parameter would overflow.
pub(crate) fn as_u32(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::invalid_shape(op, format!("{what} = {v} exceeds 2^32 - 1")))
}

/// Errors unless the two tensors are on one device and f32.
pub(crate) fn check_f32_pair(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    a.expect_dtype(op, crate::DType::F32)?;
    b.expect_dtype(op, crate::DType::F32)?;
    a.same_context(op, b)
}
