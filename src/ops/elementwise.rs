//! Elementwise maps and broadcasting binary ops (shaders/elementwise.wgsl).

use super::{as_u32, check_f32_pair, grid_1d, resolve_axis};
use crate::error::{Error, Result};
use crate::kernels::elementwise::{self as kernel, Binary, BinaryParams, Unary, UnaryParams};
use crate::tensor::Tensor;
use crate::DType;

/// A unary map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// alpha·x
    Scale(f32),
    /// max(x, 0)
    Relu,
    /// x if x > 0 else slope·x
    LeakyRelu(f32),
    /// tanh(x)
    Tanh,
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// e^x
    Exp,
    /// ln x (NaN below 0, -inf at 0, as PyTorch)
    Log,
    /// min(max(x, lo), hi)
    Clamp(f32, f32),
    /// -x
    Neg,
    /// x + c
    AddScalar(f32),
}

impl UnaryOp {
    /// The shader's op code, α and β.
    fn code(self) -> (Unary, f32, f32) {
        match self {
            UnaryOp::Scale(a) => (Unary::Scale, a, 0.0),
            UnaryOp::Relu => (Unary::Relu, 0.0, 0.0),
            UnaryOp::LeakyRelu(s) => (Unary::LeakyRelu, s, 0.0),
            UnaryOp::Tanh => (Unary::Tanh, 0.0, 0.0),
            UnaryOp::Sigmoid => (Unary::Sigmoid, 0.0, 0.0),
            UnaryOp::Exp => (Unary::Exp, 0.0, 0.0),
            UnaryOp::Log => (Unary::Log, 0.0, 0.0),
            UnaryOp::Clamp(lo, hi) => (Unary::Clamp, lo, hi),
            UnaryOp::Neg => (Unary::Neg, 0.0, 0.0),
            UnaryOp::AddScalar(c) => (Unary::AddScalar, c, 0.0),
        }
    }
}

/// A binary op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a · b
    Mul,
    /// a / b
    Div,
}

/// Most dimensions a broadcasting binary op handles.
pub const MAX_RANK: usize = kernel::MAX_RANK;

/// y = op(x), a new tensor of x's shape.
pub fn unary(x: &Tensor, op: UnaryOp) -> Result<Tensor> {
    x.expect_dtype("unary", DType::F32)?;
    if let UnaryOp::Clamp(lo, hi) = op {
        if lo > hi || lo.is_nan() || hi.is_nan() {
            return Err(Error::InvalidArgument(format!("clamp: min {lo} must not exceed max {hi}")));
        }
    }
    let ctx = x.context();
    let out = Tensor::empty(ctx, x.shape(), DType::F32)?;
    let n = x.numel();
    let (code, alpha, beta) = op.code();
    let params = UnaryParams { n: as_u32("unary", "elements", n)?, alpha, beta, _pad: 0 };
    kernel::record_unary(ctx, &params, code, x, &out, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
    Ok(out)
}

/// NumPy broadcast of two shapes, or an error naming both.
pub fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() { 1 } else { a[i - (rank - a.len())] };
        let db = if i < rank - b.len() { 1 } else { b[i - (rank - b.len())] };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(Error::shape(op, a, b)),
        };
    }
    Ok(out)
}

/// Element strides of `shape` seen through the broadcast `out` shape (0 where broadcast).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let lead = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        strides[lead + i] = if shape[i] == 1 && out[lead + i] != 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

/// c = a op b with NumPy broadcasting (up to 8 dimensions).
pub fn binary(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let name = format!("{op:?}").to_lowercase();
    let shape = broadcast_shape(&name, a.shape(), b.shape())?;
    let code = match op {
        BinaryOp::Add => Binary::Add,
        BinaryOp::Sub => Binary::Sub,
        BinaryOp::Mul => Binary::Mul,
        BinaryOp::Div => Binary::Div,
    };
    broadcast_op(&name, a, b, &shape, code)
}

/// 1.0 where a == b, else 0.0 (broadcasting).
pub fn equal(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = broadcast_shape("equal", a.shape(), b.shape())?;
    broadcast_op("equal", a, b, &shape, Binary::Equal)
}

/// `x` broadcast to `shape` (NumPy rules), copied into a new tensor.
pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if broadcast_shape("expand", x.shape(), shape)? != shape {
        return Err(Error::shape("expand", x.shape(), shape));
    }
    broadcast_op("expand", x, x, shape, Binary::CopyA)
}

/// The kernel behind `binary`, `equal` and `expand`: out has `shape`, and
/// both inputs broadcast to it.
fn broadcast_op(name: &str, a: &Tensor, b: &Tensor, shape: &[usize], code: Binary) -> Result<Tensor> {
    check_f32_pair(name, a, b)?;
    if shape.len() > MAX_RANK {
        return Err(Error::invalid_shape(name, format!("rank {} exceeds {MAX_RANK}", shape.len())));
    }
    let ctx = a.context();
    let out = Tensor::empty(ctx, shape, DType::F32)?;
    let n = out.numel();
    let same = a.shape() == shape && b.shape() == shape;
    let mut params = BinaryParams {
        n: as_u32(name, "elements", n)?,
        rank: shape.len() as u32,
        _pad0: 0,
        _pad1: 0,
        shape: [1; MAX_RANK],
        stride_a: [0; MAX_RANK],
        stride_b: [0; MAX_RANK],
    };
    let (sa, sb) = (broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape));
    for i in 0..shape.len() {
        params.shape[i] = shape[i] as u32;
        params.stride_a[i] = sa[i] as u32;
        params.stride_b[i] = sb[i] as u32;
    }
    kernel::record_binary(ctx, &params, code, !same, a, b, &out, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
    Ok(out)
}

/// dx = dy · f'(x) for y = op(x): the backward of `unary`, given its input
/// `x`, its output `y` and the upstream gradient `dy`.
pub fn unary_backward(x: &Tensor, y: &Tensor, dy: &Tensor, op: UnaryOp) -> Result<Tensor> {
    check_f32_pair("unary_backward", x, dy)?;
    for t in [y, dy] {
        if t.shape() != x.shape() {
            return Err(Error::shape("unary_backward", x.shape(), t.shape()));
        }
    }
    let ctx = x.context();
    let out = Tensor::empty(ctx, x.shape(), DType::F32)?;
    let n = x.numel();
    let (code, alpha, beta) = op.code();
    let params = UnaryParams { n: as_u32("unary_backward", "elements", n)?, alpha, beta, _pad: 0 };
    kernel::record_unary_backward(ctx, &params, code, x, y, dy, &out, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
    Ok(out)
}

/// a + b (broadcasting).
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Add)
}

/// a - b (broadcasting).
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Sub)
}

/// a · b (broadcasting).
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Mul)
}

/// a / b (broadcasting).
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Div)
}

/// x + bias along `axis`: `bias` has shape (x.shape[axis],) and is added to
/// every slice, e.g. axis 1 of an (N, C, H, W) tensor adds a per-channel bias.
pub fn add_bias(x: &Tensor, bias: &Tensor, axis: isize) -> Result<Tensor> {
    check_f32_pair("add_bias", x, bias)?;
    let axis = resolve_axis("add_bias", axis, x.shape().len())?;
    let len = x.shape()[axis];
    if bias.shape() != [len] {
        return Err(Error::shape("add_bias", x.shape(), bias.shape()));
    }
    let mut view = vec![1; x.shape().len() - axis];
    view[0] = len;
    add(x, &bias.reshape(&view)?)
}
