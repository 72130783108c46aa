//! Sum, mean and max along one axis (shaders/reduce.wgsl). Long axes are
//! reduced in several passes of bounded loops (software adapters end shader
//! loops after 65535 iterations per invocation).

use super::{as_u32, grid_1d, resolve_axis, split_at_axis};
use crate::error::{Error, Result};
use crate::kernels::reduce::{self as kernel, Params};
use crate::tensor::Tensor;
use crate::DType;

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Σ
    Sum,
    /// Σ / D
    Mean,
    /// max
    Max,
}

/// Most loop iterations one invocation may run (half of llvmpipe's cap).
pub(crate) const MAX_LOOP: usize = 32768;
/// Chunks this long with this few outputs use one workgroup per output.
const WIDE_MIN_CHUNK: usize = 2048;
const WIDE_MAX_OUTPUTS: usize = 256;

/// One pass: (outer, d, inner) → (outer, ceil(d / chunk), inner).
fn pass(x: &Tensor, outer: usize, d: usize, inner: usize, chunk: usize, op: ReduceOp, divisor: usize) -> Result<Tensor> {
    let ctx = x.context();
    let chunks = d.div_ceil(chunk);
    let out = Tensor::empty(ctx, &[outer, chunks, inner], DType::F32)?;
    let name = kernel::KERNEL;
    let params = Params {
        outer: as_u32(name, "outer", outer)?,
        d: as_u32(name, "axis length", d)?,
        inner: as_u32(name, "inner", inner)?,
        chunk: as_u32(name, "chunk", chunk)?,
        divisor: divisor as f32,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    let op = match op {
        ReduceOp::Sum => kernel::Op::Sum,
        ReduceOp::Mean => kernel::Op::Mean,
        ReduceOp::Max => kernel::Op::Max,
    };
    let outputs = out.numel();
    if chunk >= WIDE_MIN_CHUNK && outputs <= WIDE_MAX_OUTPUTS {
        kernel::record_reduce_wide(ctx, &params, op, x, &out, grid_1d(ctx, outputs as u64)?)?;
    } else {
        kernel::record_reduce_rows(ctx, &params, op, x, &out, grid_1d(ctx, outputs.div_ceil(64) as u64)?)?;
    }
    Ok(out)
}

/// Reduces the middle axis of an (outer, d, inner) tensor to (outer, 1, inner).
pub(crate) fn reduce_middle(x: &Tensor, outer: usize, d: usize, inner: usize, op: ReduceOp) -> Result<Tensor> {
    // A wide pass loops d/256 times per invocation, a row pass d times.
    let single_pass_max = if outer * inner <= WIDE_MAX_OUTPUTS { 256 * MAX_LOOP } else { MAX_LOOP };
    if d <= single_pass_max {
        return pass(x, outer, d, inner, d, op, d);
    }
    // Partial results over chunks, then reduce those; mean sums first.
    let partial_op = if op == ReduceOp::Mean { ReduceOp::Sum } else { op };
    let mut cur = pass(x, outer, d, inner, MAX_LOOP, partial_op, 1)?;
    loop {
        let n = cur.shape()[1];
        if n <= MAX_LOOP {
            return pass(&cur, outer, n, inner, n, op, d);
        }
        cur = pass(&cur, outer, n, inner, MAX_LOOP, partial_op, 1)?;
    }
}

/// Reduces `x` along `axis` (negative counts from the end); the axis is
/// removed from the shape, or kept with length 1 if `keepdim`.
pub fn reduce(x: &Tensor, axis: isize, op: ReduceOp, keepdim: bool) -> Result<Tensor> {
    let name = format!("{op:?}").to_lowercase();
    x.expect_dtype(&name, DType::F32)?;
    let axis = resolve_axis(&name, axis, x.shape().len())?;
    if x.shape()[axis] == 0 {
        return Err(Error::invalid_shape(&name, format!("cannot reduce an empty axis of shape {:?}", x.shape())));
    }
    let mut shape = x.shape().to_vec();
    if keepdim {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    let (outer, d, inner) = split_at_axis(x.shape(), axis);
    if outer * inner == 0 {
        return Tensor::empty(x.context(), &shape, DType::F32);
    }
    reduce_middle(x, outer, d, inner, op)?.reshape(&shape)
}

/// Σ along `axis`.
pub fn sum(x: &Tensor, axis: isize) -> Result<Tensor> {
    reduce(x, axis, ReduceOp::Sum, false)
}

/// Mean along `axis`.
pub fn mean(x: &Tensor, axis: isize) -> Result<Tensor> {
    reduce(x, axis, ReduceOp::Mean, false)
}

/// Max along `axis`.
pub fn max(x: &Tensor, axis: isize) -> Result<Tensor> {
    reduce(x, axis, ReduceOp::Max, false)
}
