//! `BatchNorm2d` on the tape, as `torch.nn.BatchNorm2d` (affine, tracking
//! running statistics), and the functional form [`batch_norm2d`]. Kernels:
//! [`crate::ops::batchnorm`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Module;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::batchnorm as k;
use crate::tensor::Tensor;

/// Batch norm over x (N, C, H, W) per channel, one op on the tape with
/// gradients for x, weight and bias (weight and bias (C,): both or neither).
///
/// `training`: normalise with the batch mean and biased variance, and update
/// `running_mean`/`running_var` in place with `momentum` (PyTorch: new =
/// (1 − momentum)·old + momentum·batch value, the variance unbiased); the
/// update is recorded even under `no_grad`, as PyTorch does in train mode.
/// Otherwise normalise with the running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm2d(
    x: &Var,
    weight: Option<&Var>,
    bias: Option<&Var>,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<Var> {
    if eps.is_nan() || eps <= 0.0 || !momentum.is_finite() {
        return Err(Error::InvalidArgument(format!("batch_norm2d: eps ({eps}) must be positive and momentum ({momentum}) finite")));
    }
    let (y, stats) =
        k::batch_norm2d_forward(x.value(), weight.map(|w| w.value()), bias.map(|b| b.value()), running_mean, running_var, training, momentum, eps)?;
    let mut inputs = vec![x];
    if let (Some(w), Some(b)) = (weight, bias) {
        inputs.push(w);
        inputs.push(b);
    }
    Ok(Var::from_op(
        y,
        &inputs,
        Box::new(move |g, inputs, _y| {
            let w = inputs.get(1).map(|w| w.value());
            let (dx, dw, db) = k::batch_norm2d_backward(inputs[0].value(), w, &stats, g, training)?;
            let mut out = vec![inputs[0].requires_grad().then_some(dx)];
            if inputs.len() == 3 {
                out.push(Some(dw));
                out.push(Some(db));
            }
            Ok(out)
        }),
    ))
}

/// Batch normalisation over the channels of (N, C, H, W) inputs, with
/// learnable weight/bias and running statistics (PyTorch defaults:
/// momentum 0.1, eps 1e-5, weight 1, bias 0, running mean 0, variance 1).
#[derive(Clone, Debug)]
pub struct BatchNorm2d {
    /// (C,), named `weight`.
    pub weight: Var,
    /// (C,), named `bias`.
    pub bias: Var,
    /// (C,), a buffer named `running_mean`.
    pub running_mean: Tensor,
    /// (C,), a buffer named `running_var`.
    pub running_var: Tensor,
    /// Weight of the newest batch in the running averages.
    pub momentum: f32,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Shared by clones, so a model held in several places switches at once.
    training: Arc<AtomicBool>,
}

impl BatchNorm2d {
    /// `channels` ≥ 1, in training mode.
    pub fn new(ctx: &Context, channels: usize) -> Result<BatchNorm2d> {
        if channels == 0 {
            return Err(Error::InvalidArgument("BatchNorm2d: channels must be at least 1".into()));
        }
        let weight = Var::parameter(Tensor::full(ctx, &[channels], 1.0)?);
        weight.set_name("weight");
        let bias = Var::parameter(Tensor::zeros(ctx, &[channels])?);
        bias.set_name("bias");
        Ok(BatchNorm2d {
            weight,
            bias,
            running_mean: Tensor::zeros(ctx, &[channels])?,
            running_var: Tensor::full(ctx, &[channels], 1.0)?,
            momentum: 0.1,
            eps: 1e-5,
            training: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Channels C.
    pub fn channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Training mode (batch statistics, running averages updated) or
    /// evaluation mode (running statistics).
    pub fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// y (N, C, H, W) for x (N, C, H, W).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        batch_norm2d(
            x,
            Some(&self.weight),
            Some(&self.bias),
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.momentum,
            self.eps,
        )
    }
}

impl Module for BatchNorm2d {
    fn parameters(&self) -> Vec<(String, Var)> {
        vec![("weight".to_string(), self.weight.clone()), ("bias".to_string(), self.bias.clone())]
    }

    fn buffers(&self) -> Vec<(String, Tensor)> {
        vec![("running_mean".to_string(), self.running_mean.clone()), ("running_var".to_string(), self.running_var.clone())]
    }
}
