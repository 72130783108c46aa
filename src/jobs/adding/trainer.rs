//! Training on the adding problem: Adam, gradient clipping, a fresh
//! seeded batch every step, held-out MSE every `eval_every` steps.

use rand::SeedableRng;

use super::model::{adding_batch, AddingBatch, SeqModel};
use crate::error::{Error, Result};
use crate::jobs::seq::SeqConfig;
use crate::jobs::step::{record_step, RecordedStep, StepValues};
use crate::nn::loss::{mse_loss, Reduction};
use crate::nn::rnn_fused::{tune_step_kernel_async, StepKernel};
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

/// The adding problem's training state, one step at a time (the
/// blocking [`AddingTrainer::step`] natively, [`AddingTrainer::step_async`]
/// in a browser); [`train_adding`] is its loop.
pub struct AddingTrainer {
    ctx: Context,
    cfg: SeqConfig,
    model: SeqModel,
    opt: Adam,
    data_rng: rand::rngs::StdRng,
    test: AddingBatch,
    done: usize,
}

impl AddingTrainer {
    /// Checks `cfg` and builds the seeded model, data and optimiser.
    pub fn new(ctx: &Context, cfg: &SeqConfig) -> Result<AddingTrainer> {
        if cfg.steps == 0 || cfg.test_size == 0 || cfg.batch == 0 || cfg.length < 2 {
            return Err(Error::InvalidArgument(format!(
                "adding problem needs length >= 2 and steps, batch, test size >= 1; got length {}, steps {}, batch {}, test size {}",
                cfg.length, cfg.steps, cfg.batch, cfg.test_size
            )));
        }
        crate::jobs::seq::check_sizes(cfg, &crate::jobs::limits::Budget::of(ctx), "--length", |l| l, 2)?;
        if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
            return Err(Error::InvalidArgument(format!("learning rate must be positive, got {}", cfg.lr)));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        let model = SeqModel::new(ctx, cfg.cell, cfg.hidden, &mut rng)?;
        let data_rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1);
        let test = adding_batch(cfg.length, cfg.test_size, &mut rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0xADD))?;
        Ok(AddingTrainer { ctx: ctx.clone(), cfg: cfg.clone(), model, opt: Adam::new(cfg.lr), data_rng, test, done: 0 })
    }

    /// The model as trained so far.
    pub fn model(&self) -> &SeqModel {
        &self.model
    }

    /// The optimiser (its state goes into checkpoints).
    pub fn optimizer(&self) -> &Adam {
        &self.opt
    }

    /// Steps done.
    pub fn steps_done(&self) -> usize {
        self.done
    }

    /// Records the next step on a fresh batch. The model is checked after
    /// the configured last step.
    fn record(&mut self) -> Result<RecordedStep> {
        let (t, b) = (self.cfg.length, self.cfg.batch);
        let batch = adding_batch(t, b, &mut self.data_rng)?;
        let x = Var::constant(Tensor::from_slice(&self.ctx, &batch.x, &[t, b, 2])?);
        let y = Var::constant(Tensor::from_slice(&self.ctx, &batch.y, &[b, 1])?);
        let loss = mse_loss(&self.model.forward(&x)?, &y, Reduction::Mean)?;
        let done = self.done + 1;
        record_step(done as u64, &loss, &self.model, &mut self.opt, Some(self.cfg.clip), done == self.cfg.steps)
    }

    /// One step: returns its training loss. Blocks.
    pub fn step(&mut self) -> Result<StepValues> {
        let v = self.record()?.finish()?;
        self.done += 1;
        Ok(v)
    }

    /// [`AddingTrainer::step`] as a future (the web's form).
    pub async fn step_async(&mut self) -> Result<StepValues> {
        let v = self.record()?.finish_async().await?;
        self.done += 1;
        Ok(v)
    }

    /// Chooses the recurrent step kernel ahead by timing two training
    /// steps of a throwaway run per candidate (this run's model, data and
    /// optimiser are untouched): for the web, where layers cannot time
    /// kernels as they record. Returns each candidate's seconds per step,
    /// the choice first (empty where the rule decides anyway).
    pub async fn tune_async(&self) -> Result<Vec<(StepKernel, f64)>> {
        let (ctx, cfg) = (&self.ctx, &self.cfg);
        let shape = (cfg.batch, cfg.hidden);
        tune_step_kernel_async(ctx, cfg.cell, shape, async |k| {
            let mut probe = AddingTrainer::new(ctx, cfg)?;
            probe.model.rnn.step_kernel = Some(k);
            let start = web_time::Instant::now();
            for _ in 0..2 {
                probe.record()?.finish_async().await?;
            }
            Ok(start.elapsed().as_secs_f64() / 2.0)
        })
        .await
    }

    /// Held-out MSE of the model, no tape. Blocks.
    pub fn evaluate(&self) -> Result<f32> {
        Ok(self.test_loss()?.to_vec()?[0])
    }

    /// [`AddingTrainer::evaluate`] as a future.
    pub async fn evaluate_async(&self) -> Result<f32> {
        Ok(self.test_loss()?.to_vec_async().await?[0])
    }

    fn test_loss(&self) -> Result<Tensor> {
        let (t, n) = (self.cfg.length, self.test.y.len());
        let x = Var::constant(Tensor::from_slice(&self.ctx, &self.test.x, &[t, n, 2])?);
        let y = Var::constant(Tensor::from_slice(&self.ctx, &self.test.y, &[n, 1])?);
        let loss = no_grad(|| -> Result<Var> { mse_loss(&self.model.forward(&x)?, &y, Reduction::Mean) })?;
        Ok(loss.value().clone())
    }
}

/// Trains on the adding problem: Adam, gradient clipping, a fresh seeded
/// batch every step, held-out MSE every `eval_every` steps.
pub fn train_adding(ctx: &Context, cfg: &SeqConfig, mut progress: impl FnMut(SeqProgress)) -> Result<SeqRun> {
    let mut trainer = AddingTrainer::new(ctx, cfg)?;
    let mut losses = Vec::with_capacity(cfg.steps);
    let mut evals = Vec::new();
    for step in 0..cfg.steps {
        let loss = trainer.step()?.loss;
        losses.push(loss);
        let done = step + 1;
        let test_mse = if done == cfg.steps || (cfg.eval_every > 0 && done % cfg.eval_every == 0) {
            let m = trainer.evaluate()?;
            evals.push((done, m));
            Some(m)
        } else {
            None
        };
        progress(SeqProgress { step, loss, test_mse });
    }
    let test_mse = evals.last().map(|e| e.1).unwrap_or(f32::NAN);
    Ok(SeqRun { model: trainer.model, losses, evals, test_mse })
}
