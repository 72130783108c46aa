//! softmax and log_softmax along one axis. Axes up to SINGLE_KERNEL_MAX long
//! run as one kernel (shaders/softmax.wgsl); longer ones as max, subtract,
//! exp and sum passes, because software adapters end shader loops after
//! 65535 iterations per invocation.

use super::elementwise::{binary, unary, BinaryOp, UnaryOp};
use super::reduce::{reduce, ReduceOp, MAX_LOOP};
use super::{as_u32, grid_1d, resolve_axis, split_at_axis};
use crate::error::{Error, Result};
use crate::kernels::softmax::{self as kernel, Params};
use crate::tensor::Tensor;
use crate::DType;

/// The single kernel walks the axis three times.
const SINGLE_KERNEL_MAX: usize = MAX_LOOP / 3;

fn run(x: &Tensor, axis: isize, log: bool) -> Result<Tensor> {
    let name = if log { "log_softmax" } else { "softmax" };
    x.expect_dtype(name, DType::F32)?;
    let axis = resolve_axis(name, axis, x.shape().len())?;
    if x.shape()[axis] == 0 {
        return Err(Error::invalid_shape(name, format!("empty axis in shape {:?}", x.shape())));
    }
    let (outer, d, inner) = split_at_axis(x.shape(), axis);
    if d > SINGLE_KERNEL_MAX {
        return composed(x, axis, log);
    }
    let ctx = x.context();
    let out = Tensor::empty(ctx, x.shape(), DType::F32)?;
    let params = Params { outer: as_u32(name, "outer", outer)?, d: d as u32, inner: as_u32(name, "inner", inner)?, _pad: 0 };
    kernel::record_softmax(ctx, &params, log, x, &out, grid_1d(ctx, (outer * inner).div_ceil(64) as u64)?)?;
    Ok(out)
}

/// The same maths from separate passes, for long axes.
fn composed(x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    let a = axis as isize;
    let shifted = binary(x, &reduce(x, a, ReduceOp::Max, true)?, BinaryOp::Sub)?;
    let e = unary(&shifted, UnaryOp::Exp)?;
    let s = reduce(&e, a, ReduceOp::Sum, true)?;
    if log {
        binary(&shifted, &unary(&s, UnaryOp::Log)?, BinaryOp::Sub)
    } else {
        binary(&e, &s, BinaryOp::Div)
    }
}

/// exp(x) / Σ exp(x) along `axis`.
pub fn softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    run(x, axis, false)
}

/// x - log Σ exp(x) along `axis`.
pub fn log_softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    run(x, axis, true)
}
