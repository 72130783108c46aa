//! Training on the adding problem: Adam, gradient clipping, a fresh
//! seeded batch every step, held-out MSE every `eval_every` steps.

use rand::SeedableRng;

use super::model::{adding_batch, AddingBatch, SeqModel};
use crate::error::{Error, Result};
use crate::jobs::seq::SeqConfig;
use crate::jobs::step::train_step;
use crate::nn::loss::{mse_loss, Reduction};
use crate::optim::Adam;
use crate::{no_grad, Context, Tensor, Var};

/// What `progress` is told after every step.
#[derive(Clone, Copy, Debug)]
pub struct SeqProgress {
    pub step: usize,
    pub loss: f32,
    /// The held-out MSE, on steps where it was measured.
    pub test_mse: Option<f32>,
}

/// What the run did.
pub struct SeqRun {
    pub model: SeqModel,
    /// Training loss after each step.
    pub losses: Vec<f32>,
    /// (steps done, held-out MSE).
    pub evals: Vec<(usize, f32)>,
    /// The last held-out MSE.
    pub test_mse: f32,
}

/// Held-out MSE of `model` on (x, y), no tape.
fn evaluate(ctx: &Context, model: &SeqModel, length: usize, test: &AddingBatch) -> Result<f32> {
    let n = test.y.len();
    let x = Var::constant(Tensor::from_slice(ctx, &test.x, &[length, n, 2])?);
    let y = Var::constant(Tensor::from_slice(ctx, &test.y, &[n, 1])?);
    let loss = no_grad(|| -> Result<Var> { mse_loss(&model.forward(&x)?, &y, Reduction::Mean) })?;
    Ok(loss.value().to_vec()?[0])
}

/// Trains on the adding problem: Adam, gradient clipping, a fresh seeded
/// batch every step, held-out MSE every `eval_every` steps.
pub fn train_adding(
    ctx: &Context,
    cfg: &SeqConfig,
    mut progress: impl FnMut(SeqProgress),
) -> Result<SeqRun> {
    if cfg.steps == 0 || cfg.test_size == 0 || cfg.batch == 0 || cfg.length < 2 {
        return Err(Error::InvalidArgument(format!(
            "adding problem needs length >= 2 and steps, batch, test size >= 1; got length {}, steps {}, batch {}, test size {}",
            cfg.length, cfg.steps, cfg.batch, cfg.test_size
        )));
    }
    crate::jobs::seq::check_sizes(cfg, &crate::jobs::limits::Budget::of(ctx), "--length", |l| l, 2)?;
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "learning rate must be positive, got {}",
            cfg.lr
        )));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let model = SeqModel::new(ctx, cfg.cell, cfg.hidden, &mut rng)?;
    let mut data_rng =
        rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1);
    let test = adding_batch(
        cfg.length,
        cfg.test_size,
        &mut rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0xADD),
    )?;
    let mut opt = Adam::new(cfg.lr);
    let mut losses = Vec::with_capacity(cfg.steps);
    let mut evals = Vec::new();
    for step in 0..cfg.steps {
        let batch = adding_batch(cfg.length, cfg.batch, &mut data_rng)?;
        let x = Var::constant(Tensor::from_slice(
            ctx,
            &batch.x,
            &[cfg.length, cfg.batch, 2],
        )?);
        let y = Var::constant(Tensor::from_slice(ctx, &batch.y, &[cfg.batch, 1])?);
        let loss = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?;
        let done = step + 1;
        // The returned model is checked once, after the last update.
        let value = train_step(done as u64, &loss, &model, &mut opt, Some(cfg.clip), done == cfg.steps)?.loss;
        losses.push(value);
        let test_mse = if done == cfg.steps || (cfg.eval_every > 0 && done % cfg.eval_every == 0) {
            let m = evaluate(ctx, &model, cfg.length, &test)?;
            evals.push((done, m));
            Some(m)
        } else {
            None
        };
        progress(SeqProgress {
            step,
            loss: value,
            test_mse,
        });
    }
    let test_mse = evals.last().map(|e| e.1).unwrap_or(f32::NAN);
    Ok(SeqRun {
        model,
        losses,
        evals,
        test_mse,
    })
}
