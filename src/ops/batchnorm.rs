//! BatchNorm2d forward and backward (shaders/batchnorm.wgsl), PyTorch
//! semantics: training mode normalises with the batch statistics (biased
//! variance) and updates the running statistics in place (unbiased variance,
//! `momentum`); evaluation mode normalises with the running statistics.

use super::{as_u32, grid_1d};
use crate::error::{Error, Result};
use crate::kernels::batchnorm::{self as kernel, Mode, Params};
use crate::tensor::{DType, Tensor};

/// Most values one invocation sums, and most partials one channel merges
/// (llvmpipe caps loops at 65535 iterations per invocation).
const MAX_CHUNK: usize = 32768;
/// Values per partial at least: enough work per invocation to hide its cost.
const MIN_CHUNK: usize = 1024;

/// Sizes of one batch-norm call over x (N, C, H, W).
#[derive(Clone, Copy, Debug)]
struct Dims {
    n: usize,
    c: usize,
    l: usize,
    chunk: usize,
    chunks: usize,
}

/// Sizes of x (N, C, H, W) and the chunking of its channel sums.
fn dims(op: &str, x: &Tensor, training: bool) -> Result<Dims> {
    x.expect_dtype(op, DType::F32)?;
    let s = x.shape();
    if s.len() != 4 || x.numel() == 0 {
        return Err(Error::invalid_shape(op, format!("x must be a non-empty (N, C, H, W), got {s:?}")));
    }
    let (n, c, l) = (s[0], s[1], s[2] * s[3]);
    let m = n * l;
    if training && m < 2 {
        return Err(Error::invalid_shape(op, format!("training needs more than 1 value per channel, got x {s:?}")));
    }
    let chunk = MIN_CHUNK.max(m.div_ceil(MAX_CHUNK));
    if chunk > MAX_CHUNK {
        return Err(Error::invalid_shape(op, format!("x {s:?} has more than {} values per channel", MAX_CHUNK * MAX_CHUNK)));
    }
    as_u32(op, "elements", x.numel())?;
    Ok(Dims { n, c, l, chunk, chunks: m.div_ceil(chunk) })
}

/// Errors unless every given per-channel tensor is f32 (C,) on x's device.
fn check_per_channel(op: &str, x: &Tensor, tensors: &[(&str, Option<&Tensor>)]) -> Result<()> {
    let c = x.shape()[1];
    for &(what, t) in tensors {
        if let Some(t) = t {
            t.expect_dtype(op, DType::F32)?;
            t.same_context(op, x)?;
            if t.shape() != [c] {
                return Err(Error::shape(&format!("{op} (x (N, C, H, W) vs {what} (C,))"), x.shape(), t.shape()));
            }
        }
    }
    Ok(())
}

impl Dims {
    fn params(&self, total: usize, momentum: f32, eps: f32) -> Params {
        Params {
            n: self.n as u32,
            c: self.c as u32,
            l: self.l as u32,
            chunk: self.chunk as u32,
            chunks: self.chunks as u32,
            total: total as u32,
            momentum,
            eps,
        }
    }
}

/// Workgroups for `p.total` invocations, 256 per workgroup.
fn groups(x: &Tensor, p: &Params) -> Result<[u32; 3]> {
    grid_1d(x.context(), (p.total as usize).div_ceil(256) as u64)
}

/// BatchNorm2d forward of x (N, C, H, W): (y, stats (2, C) = mean and
/// 1/√(var + eps) as used, which the backward needs). Training mode also
/// updates `running_mean`/`running_var` in place (recorded like any kernel).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm2d_forward(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<(Tensor, Tensor)> {
    let op = "batch_norm2d";
    let d = dims(op, x, training)?;
    if weight.is_some() != bias.is_some() {
        return Err(Error::InvalidArgument(format!("{op}: give both weight and bias (affine) or neither")));
    }
    let per_channel = [("weight", weight), ("bias", bias), ("running_mean", Some(running_mean)), ("running_var", Some(running_var))];
    check_per_channel(op, x, &per_channel)?;
    let ctx = x.context();
    let stats = Tensor::empty(ctx, &[2, d.c], DType::F32)?;
    let mode = Mode { affine: weight.is_some(), training };
    if training {
        let part = Tensor::empty(ctx, &[d.c, d.chunks, 3], DType::F32)?;
        let p = d.params(d.c * d.chunks, momentum, eps);
        kernel::record_bn_stats_partial(ctx, &p, mode, x, &part, groups(x, &p)?)?;
        let p = d.params(d.c, momentum, eps);
        kernel::record_bn_stats_finalize(ctx, &p, mode, &part, &stats, running_mean, running_var, groups(x, &p)?)?;
    } else {
        let p = d.params(d.c, momentum, eps);
        kernel::record_bn_stats_eval(ctx, &p, mode, &stats, running_mean, running_var, groups(x, &p)?)?;
    }
    let y = Tensor::empty(ctx, x.shape(), DType::F32)?;
    let p = d.params(x.numel(), momentum, eps);
    kernel::record_bn_forward(ctx, &p, mode, x, weight, bias, &stats, &y, groups(x, &p)?)?;
    Ok((y, stats))
}

/// BatchNorm2d gradients for upstream dy: (dx, dweight, dbias); `stats` is
/// what the forward returned, `training` the mode it ran in.
pub fn batch_norm2d_backward(
    x: &Tensor,
    weight: Option<&Tensor>,
    stats: &Tensor,
    dy: &Tensor,
    training: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "batch_norm2d backward";
    if dy.shape() != x.shape() {
        return Err(Error::shape(op, x.shape(), dy.shape()));
    }
    let d = dims(op, x, false)?;
    check_per_channel(op, x, &[("weight", weight)])?;
    dy.expect_dtype(op, DType::F32)?;
    dy.same_context(op, x)?;
    if stats.shape() != [2, d.c] {
        return Err(Error::shape(&format!("{op} (x vs stats (2, C))"), x.shape(), stats.shape()));
    }
    let ctx = x.context();
    let mode = Mode { affine: weight.is_some(), training };
    let part = Tensor::empty(ctx, &[d.c, d.chunks, 2], DType::F32)?;
    let dw = Tensor::empty(ctx, &[d.c], DType::F32)?;
    let db = Tensor::empty(ctx, &[d.c], DType::F32)?;
    let p = d.params(d.c * d.chunks, 0.0, 0.0);
    kernel::record_bn_backward_partial(ctx, &p, mode, x, dy, &part, stats, groups(x, &p)?)?;
    let p = d.params(d.c, 0.0, 0.0);
    kernel::record_bn_backward_finalize(ctx, &p, mode, &part, &dw, &db, groups(x, &p)?)?;
    let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
    let p = d.params(x.numel(), 0.0, 0.0);
    kernel::record_bn_backward_input(ctx, &p, mode, x, dy, weight, stats, &dx, &dw, &db, groups(x, &p)?)?;
    Ok((dx, dw, db))
}
