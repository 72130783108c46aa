//! The speech model's front end: a convolution over time with a stride,
//! realised as an unfold (im2col, shaders/unfold_time.wgsl) and one matmul with
//! the fused activation, so it runs at the fast matmul's speed.
//!
//! x (T, B, F) → cols (T_out, B, K·F) → y = act(cols · Wᵀ + b) (T_out, B, C),
//! T_out = ⌊(T + 2P − K)/S⌋ + 1. The weight is (C, K·F), row c holding
//! tap k's F weights at k·F .. (k+1)·F (PyTorch's Conv1d weight (C, F, K)
//! transposed in its last two axes).

use rand::Rng;

use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::unfold_time::{self as launcher, Params};
use crate::nn::{Linear, Module};
use crate::ops::{as_u32, grid_1d, Activation};
use crate::tensor::{DType, Tensor};

/// Most taps: the backward's per-element loop stays under llvmpipe's cap.
pub const MAX_TAPS: usize = launcher::MAX_TAPS;

/// T_out for an input of `t` steps (0 when not even one window fits).
pub fn out_len(t: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    if t + 2 * padding < kernel || stride == 0 {
        0
    } else {
        (t + 2 * padding - kernel) / stride + 1
    }
}

/// cols (T_out, B, K·F) for x (T, B, F) as one op on the tape; the
/// backward sums each column's gradient back onto the step it came from.
pub fn unfold_time(x: &Var, kernel: usize, stride: usize, padding: usize) -> Result<Var> {
    let xv = x.value();
    xv.expect_dtype("unfold_time", DType::F32)?;
    let s = xv.shape();
    if s.len() != 3 || s.contains(&0) {
        return Err(Error::invalid_shape("unfold_time", format!("x must be (T, B, F) with every size ≥ 1, got {s:?}")));
    }
    if kernel == 0 || kernel > MAX_TAPS || stride == 0 {
        return Err(Error::InvalidArgument(format!(
            "unfold_time: kernel must be in 1..={MAX_TAPS} and stride ≥ 1, got kernel {kernel}, stride {stride}"
        )));
    }
    let (t, b, f) = (s[0], s[1], s[2]);
    let t_out = out_len(t, kernel, stride, padding);
    if t_out == 0 {
        return Err(Error::invalid_shape(
            "unfold_time",
            format!("x {s:?} has {t} steps: too short for kernel {kernel} with padding {padding}"),
        ));
    }
    let n_out = as_u32("unfold_time", "elements", t_out * b * kernel * f)? as usize;
    let n_in = t * b * f;
    let params = Params {
        t: t as u32,
        b: b as u32,
        f: f as u32,
        k: kernel as u32,
        s: as_u32("unfold_time", "stride", stride)?,
        p: as_u32("unfold_time", "padding", padding)?,
        t_out: t_out as u32,
        _pad: 0,
    };
    let ctx = xv.context();
    let cols = Tensor::empty(ctx, &[t_out, b, kernel * f], DType::F32)?;
    launcher::record_unfold_forward(ctx, &params, xv, &cols, grid_1d(ctx, n_out.div_ceil(256) as u64)?)?;
    Ok(Var::from_op(
        cols,
        &[x],
        Box::new(move |g, inputs, _y| {
            let x = inputs[0].value();
            let ctx = x.context();
            let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
            launcher::record_unfold_backward(ctx, &params, g, &dx, grid_1d(ctx, n_in.div_ceil(256) as u64)?)?;
            Ok(vec![Some(dx)])
        }),
    ))
}

/// act(x·Wᵀ + b) for x (T, B, in) as one (T·B, in) matmul: a 3-D input
/// would run as T batched matmuls of only B rows each, which the matmul
/// kernels tile poorly.
pub fn linear_rows(linear: &Linear, x: &Var, act: Activation) -> Result<Var> {
    let s = x.shape().to_vec();
    if s.len() != 3 {
        return linear.forward_act(x, act);
    }
    let flat = crate::autograd::reshape(x, &[s[0] * s[1], s[2]])?;
    let y = linear.forward_act(&flat, act)?;
    crate::autograd::reshape(&y, &[s[0], s[1], linear.out_features()])
}

/// A Conv1d over time: `channels` outputs from K taps of F features, stride
/// S, padding P, fused activation.
pub struct TimeConv {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub activation: Activation,
    /// weight (C, K·F) and bias (C,).
    pub linear: Linear,
}

impl TimeConv {
    /// PyTorch's Conv1d init (fan-in K·F).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &Context,
        features: usize,
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        activation: Activation,
        rng: &mut impl Rng,
    ) -> Result<TimeConv> {
        if kernel == 0 || kernel > MAX_TAPS || stride == 0 {
            return Err(Error::InvalidArgument(format!("TimeConv: kernel {kernel} / stride {stride} out of range")));
        }
        let linear = Linear::new(ctx, kernel * features, channels, true, rng)?;
        Ok(TimeConv { kernel, stride, padding, activation, linear })
    }

    /// y (T_out, B, C) for x (T, B, F).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let f = x.shape().get(2).copied().unwrap_or(0);
        if f * self.kernel != self.linear.in_features() {
            return Err(Error::shape("TimeConv (x (T, B, F) vs weight (C, K·F))", x.shape(), self.linear.weight.shape()));
        }
        let cols = unfold_time(x, self.kernel, self.stride, self.padding)?;
        linear_rows(&self.linear, &cols, self.activation)
    }

    /// Output steps for an input of `t` steps.
    pub fn out_len(&self, t: usize) -> usize {
        out_len(t, self.kernel, self.stride, self.padding)
    }
}

impl Module for TimeConv {
    fn parameters(&self) -> Vec<(String, Var)> {
        self.linear.parameters()
    }
}
