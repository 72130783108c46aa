//! What the adding job measures besides its loss: how much gradient from
//! the loss at the last step reaches each earlier step (drawn with
//! [`crate::jobs::plot`]).

use rand::SeedableRng;

use super::model::{adding_batch, SeqModel};
use crate::error::{Error, Result};
use crate::jobs::step::zero_grad;
use crate::nn::loss::{mse_loss, Reduction};
use crate::{Context, Tensor, Var};

/// ‖∂L/∂x_t‖ for t = 1 … T (Frobenius over batch and the two channels) on
/// one seeded adding batch, L the batch's MSE. A proxy for ‖∂L/∂h_t‖: the
/// input gradient is W_ihᵀ (gate derivatives) ∂L/∂h_t, so it decays with t
/// the same way. Blocks; on the web use [`input_grad_norms_async`].
pub fn input_grad_norms(ctx: &Context, model: &SeqModel, length: usize, batch: usize, seed: u64) -> Result<Vec<f32>> {
    let g = input_grad(ctx, model, length, batch, seed)?;
    Ok(norms_per_step(&g.to_vec()?, batch))
}

/// [`input_grad_norms`] as a future.
pub async fn input_grad_norms_async(
    ctx: &Context,
    model: &SeqModel,
    length: usize,
    batch: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let g = input_grad(ctx, model, length, batch, seed)?;
    Ok(norms_per_step(&g.to_vec_async().await?, batch))
}

/// ∂L/∂x (T, B, 2), recorded; the model's own gradients are left zero.
fn input_grad(ctx: &Context, model: &SeqModel, length: usize, batch: usize, seed: u64) -> Result<Tensor> {
    let data = adding_batch(length, batch, &mut rand::rngs::StdRng::seed_from_u64(seed))?;
    let x = Var::parameter(Tensor::from_slice(ctx, &data.x, &[length, batch, 2])?);
    let y = Var::constant(Tensor::from_slice(ctx, &data.y, &[batch, 1])?);
    zero_grad(model);
    let loss = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?;
    loss.backward()?;
    zero_grad(model);
    x.grad().ok_or_else(|| Error::InvalidArgument("input received no gradient".into()))
}

/// The norm of each step's (B, 2) slice of `g`. f64: at T = 100 the early
/// gradients square below f32's range.
fn norms_per_step(g: &[f32], batch: usize) -> Vec<f32> {
    g.chunks(batch * 2).map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32).collect()
}
