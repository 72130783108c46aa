//! Losses on the autodiff tape, with PyTorch semantics (`F.mse_loss`,
//! `F.cross_entropy`, `F.binary_cross_entropy_with_logits`).
//!
//! Reductions stay on the GPU: "mean" divides by a count computed there, so
//! a training step never reads back. `Mean` and `Sum` return a 0-d tensor
//! (shape `[]`); `None` returns the per-element (per-row) losses.

use crate::autograd::{self, Var};
use crate::error::{Error, Result};
use crate::kernels::loss::{self as kernel, Params};
use crate::ops::{self, BinaryOp, ReduceOp};
use crate::tensor::Tensor;
use crate::DType;

/// How per-element losses become the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// Per-element (cross-entropy: per-row) losses.
    None,
    /// Their mean (cross-entropy: over non-ignored rows).
    #[default]
    Mean,
    /// Their sum.
    Sum,
}

/// Most classes `cross_entropy` takes: its kernel walks a row twice per
/// invocation and llvmpipe ends loops after 65535 iterations.
pub const MAX_CLASSES: usize = kernel::MAX_CLASSES;

/// Params over `n` rows or elements: no ignore index, one upstream gradient
/// per row or element, unscaled.
fn params(n: u32) -> Params {
    Params { n, c: 0, ignore_index: 0, has_ignore: 0, g_stride: 1, scale: 1.0, _pad0: 0, _pad1: 0 }
}

fn grid(ctx: &crate::Context, threads: usize, per_group: usize) -> Result<[u32; 3]> {
    ops::grid_1d(ctx, threads.div_ceil(per_group) as u64)
}

fn check_same_shape(op: &str, a: &Var, b: &Var) -> Result<()> {
    a.value().expect_dtype(op, DType::F32)?;
    b.value().expect_dtype(op, DType::F32)?;
    a.value().same_context(op, b.value())?;
    if a.shape() != b.shape() {
        return Err(Error::shape(op, a.shape(), b.shape()));
    }
    if a.value().numel() == 0 {
        return Err(Error::invalid_shape(op, format!("empty input of shape {:?}", a.shape())));
    }
    Ok(())
}

/// Reduces per-element losses of any shape with an autograd mean or sum.
fn reduce_var(per: Var, reduction: Reduction) -> Result<Var> {
    let op = match reduction {
        Reduction::None => return Ok(per),
        Reduction::Mean => ReduceOp::Mean,
        Reduction::Sum => ReduceOp::Sum,
    };
    let flat = autograd::reshape(&per, &[per.value().numel()])?;
    autograd::reduce(&flat, 0, op, false)
}

/// (input − target)², reduced; shapes must match exactly (no broadcasting).
/// Both inputs receive gradients if they require them.
pub fn mse_loss(input: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    check_same_shape("mse_loss", input, target)?;
    let d = autograd::binary(input, target, BinaryOp::Sub)?;
    let sq = autograd::binary(&d, &d, BinaryOp::Mul)?;
    reduce_var(sq, reduction)
}

/// `F.cross_entropy` for logits (N, C) and class indices `targets` (N,),
/// U32 or I32: loss_i = logsumexp(x_i) − x_i[t_i]. Rows whose target equals
/// `ignore_index` contribute 0 and are left out of the mean's denominator
/// (all ignored: the mean is NaN, the sum 0, as PyTorch).
///
/// Targets live on the GPU and are not checked on the host: a target
/// outside [0, C) (other than `ignore_index`) makes that row's loss, and so
/// a reduced loss, NaN, and its gradient NaN. U32 targets are read as I32
/// (values ≥ 2³¹ count as negative, so out of range). C ≤ [`MAX_CLASSES`].
/// Only the logits get a gradient.
pub fn cross_entropy(logits: &Var, targets: &Tensor, ignore_index: Option<i32>, reduction: Reduction) -> Result<Var> {
    const OP: &str = "cross_entropy";
    let x = logits.value();
    x.expect_dtype(OP, DType::F32)?;
    x.same_context(OP, targets)?;
    if !matches!(targets.dtype(), DType::I32 | DType::U32) {
        return Err(Error::InvalidArgument(format!("{OP}: targets must be U32 or I32 class indices, got {:?}", targets.dtype())));
    }
    let &[n, c] = x.shape() else {
        return Err(Error::invalid_shape(OP, format!("logits must be (N, C), got {:?}", x.shape())));
    };
    if targets.shape() != [n] {
        return Err(Error::shape(OP, x.shape(), targets.shape()));
    }
    if n == 0 || c == 0 {
        return Err(Error::invalid_shape(OP, format!("empty logits of shape {:?}", x.shape())));
    }
    if c > MAX_CLASSES {
        return Err(Error::invalid_shape(OP, format!("{c} classes exceed the {MAX_CLASSES} the kernel supports")));
    }
    let ctx = x.context();
    let mut params = params(ops::as_u32(OP, "rows", n)?);
    params.c = c as u32;
    ops::as_u32(OP, "elements", n * c)?;
    if let Some(ii) = ignore_index {
        params.ignore_index = ii;
        params.has_ignore = 1;
    }
    let row_loss = Tensor::empty(ctx, &[n], DType::F32)?;
    let valid = Tensor::empty(ctx, &[n], DType::F32)?;
    let lse = Tensor::empty(ctx, &[n], DType::F32)?;
    kernel::record_cross_entropy_forward(ctx, &params, x, targets, &row_loss, &valid, &lse, grid(ctx, n, 64)?)?;
    let (value, count) = match reduction {
        Reduction::None => (row_loss, None),
        Reduction::Sum => (ops::sum(&row_loss, 0)?, None),
        Reduction::Mean => {
            let count = ops::sum(&valid, 0)?.reshape(&[1])?;
            (ops::div(&ops::sum(&row_loss, 0)?.reshape(&[1])?, &count)?.reshape(&[])?, Some(count))
        }
    };
    let targets = targets.clone();
    Ok(Var::from_op(
        value,
        &[logits],
        Box::new(move |g, inputs, _y| {
            let x = inputs[0].value();
            let ctx = x.context();
            let mut p = params;
            let g = match reduction {
                Reduction::None => g.clone(),
                Reduction::Sum => {
                    p.g_stride = 0;
                    g.reshape(&[1])?
                }
                Reduction::Mean => {
                    p.g_stride = 0;
                    ops::div(&g.reshape(&[1])?, count.as_ref().expect("mean keeps its count"))?
                }
            };
            let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
            kernel::record_cross_entropy_backward(ctx, &p, x, &targets, &lse, &g, &dx, grid(ctx, x.numel(), 256)?)?;
            Ok(vec![Some(dx)])
        }),
    ))
}

/// `F.binary_cross_entropy_with_logits`: max(x, 0) − x·y + ln(1 + e^−|x|)
/// elementwise (stable for any |x|), reduced; `targets` has the shape of
/// `logits`. Gradients: dx = σ(x) − y, dy = −x (times the upstream), to
/// whichever of the two requires one.
pub fn binary_cross_entropy_with_logits(logits: &Var, targets: &Var, reduction: Reduction) -> Result<Var> {
    const OP: &str = "binary_cross_entropy_with_logits";
    check_same_shape(OP, logits, targets)?;
    let x = logits.value();
    let ctx = x.context();
    let n = x.numel();
    let params = params(ops::as_u32(OP, "elements", n)?);
    let per = Tensor::empty(ctx, x.shape(), DType::F32)?;
    kernel::record_bce_logits_forward(ctx, &params, x, targets.value(), &per, grid(ctx, n, 256)?)?;
    let value = match reduction {
        Reduction::None => per,
        Reduction::Mean => ops::mean(&per.reshape(&[n])?, 0)?,
        Reduction::Sum => ops::sum(&per.reshape(&[n])?, 0)?,
    };
    Ok(Var::from_op(
        value,
        &[logits, targets],
        Box::new(move |g, inputs, _y| {
            let (x, y) = (inputs[0].value(), inputs[1].value());
            let ctx = x.context();
            let mut p = params;
            if reduction != Reduction::None {
                p.g_stride = 0;
            }
            if reduction == Reduction::Mean {
                p.scale = 1.0 / n as f32;
            }
            let g = g.reshape(&[g.numel()])?;
            let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
            let dy = Tensor::empty(ctx, x.shape(), DType::F32)?;
            kernel::record_bce_logits_backward(ctx, &p, x, y, &g, &dx, &dy, grid(ctx, n, 256)?)?;
            Ok(vec![inputs[0].requires_grad().then_some(dx), inputs[1].requires_grad().then_some(dy)])
        }),
    ))
}
