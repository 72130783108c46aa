//! Training on the copy task: Adam, gradient clipping, a fresh seeded
//! batch every step, held-out loss and accuracy every `eval_every` steps.

use rand::SeedableRng;

use super::model::{copy_batch, CopyBatch, CopyModel, CopySpec, IGNORE};
use crate::error::{Error, Result};
use crate::jobs::seq::SeqConfig;
use crate::jobs::step::train_step;
use crate::nn::loss::{cross_entropy, Reduction};
use crate::optim::Adam;
use crate::sampling::argmax;
use crate::{no_grad, Context, Tensor, Var};

/// Loss and accuracy on held-out sequences.
#[derive(Clone, Copy, Debug)]
pub struct CopyEval {
    /// Mean cross-entropy per output symbol, nats.
    pub loss: f32,
    /// Fraction of output symbols whose arg-max is right.
    pub accuracy: f32,
}

/// What `progress` is told after every step.
#[derive(Clone, Copy, Debug)]
pub struct CopyProgress {
    pub step: usize,
    pub loss: f32,
    /// Held-out figures, on steps where they were measured.
    pub eval: Option<CopyEval>,
}

/// What the run did.
pub struct CopyRun {
    pub model: CopyModel,
    /// Training loss after each step.
    pub losses: Vec<f32>,
    /// (steps done, held-out figures).
    pub evals: Vec<(usize, CopyEval)>,
    /// The last held-out figures.
    pub eval: CopyEval,
}

fn upload(ctx: &Context, spec: &CopySpec, batch: usize, data: &CopyBatch) -> Result<(Var, Tensor)> {
    let x = Var::constant(Tensor::from_slice(
        ctx,
        &data.x,
        &[spec.steps(), batch, spec.channels()],
    )?);
    let y = Tensor::from_i32(ctx, &data.targets, &[spec.steps() * batch])?;
    Ok((x, y))
}

/// Held-out loss and accuracy of `model`, no tape, one readback.
pub fn evaluate(
    ctx: &Context,
    model: &CopyModel,
    spec: &CopySpec,
    test: &CopyBatch,
) -> Result<CopyEval> {
    let n = test.targets.len() / spec.steps();
    let (x, y) = upload(ctx, spec, n, test)?;
    let (logits, loss) = no_grad(|| -> Result<(Var, Var)> {
        let logits = model.forward(&x)?;
        let loss = cross_entropy(&logits, &y, Some(IGNORE), Reduction::Mean)?;
        Ok((logits, loss))
    })?;
    let read = Tensor::to_vecs(&[loss.value(), logits.value()])?; // one readback
    let (loss, logits) = (read[0][0], &read[1]);
    let (mut right, mut scored) = (0usize, 0usize);
    for (row, &t) in logits.chunks(spec.alphabet).zip(&test.targets) {
        if t == IGNORE {
            continue;
        }
        scored += 1;
        let best = argmax(row).0;
        right += usize::from(best == t as usize);
    }
    Ok(CopyEval {
        loss,
        accuracy: right as f32 / scored.max(1) as f32,
    })
}

/// Trains on the copy task: `cfg.length` is the delay; Adam, gradient
/// clipping, a fresh seeded batch every step, held-out loss and accuracy
/// every `eval_every` steps and after the last.
pub fn train_copy(
    ctx: &Context,
    cfg: &SeqConfig,
    spec: &CopySpec,
    mut progress: impl FnMut(CopyProgress),
) -> Result<CopyRun> {
    spec.check()?;
    let spec = CopySpec {
        delay: cfg.length,
        ..*spec
    };
    if cfg.steps == 0 || cfg.test_size == 0 || cfg.batch == 0 {
        return Err(Error::InvalidArgument(format!(
            "copy task needs steps, batch, test size >= 1; got steps {}, batch {}, test size {}",
            cfg.steps, cfg.batch, cfg.test_size
        )));
    }
    check_sizes(ctx, cfg, &spec)?;
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "learning rate must be positive, got {}",
            cfg.lr
        )));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let model = CopyModel::new(ctx, cfg.cell, &spec, cfg.hidden, &mut rng)?;
    let mut data_rng =
        rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 2);
    let test = copy_batch(
        &spec,
        cfg.test_size,
        &mut rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0xC0B1),
    )?;
    let mut opt = Adam::new(cfg.lr);
    let mut losses = Vec::with_capacity(cfg.steps);
    let mut evals = Vec::new();
    for step in 0..cfg.steps {
        let (x, y) = upload(
            ctx,
            &spec,
            cfg.batch,
            &copy_batch(&spec, cfg.batch, &mut data_rng)?,
        )?;
        let loss = cross_entropy(&model.forward(&x)?, &y, Some(IGNORE), Reduction::Mean)?;
        let done = step + 1;
        // The returned model is checked once, after the last update.
        let value = train_step(done as u64, &loss, &model, &mut opt, Some(cfg.clip), done == cfg.steps)?.loss;
        losses.push(value);
        let eval = if done == cfg.steps || (cfg.eval_every > 0 && done % cfg.eval_every == 0) {
            let e = evaluate(ctx, &model, &spec, &test)?;
            evals.push((done, e));
            Some(e)
        } else {
            None
        };
        progress(CopyProgress {
            step,
            loss: value,
            eval,
        });
    }
    let eval = evals.last().map(|e| e.1).expect("at least one evaluation");
    Ok(CopyRun {
        model,
        losses,
        evals,
        eval,
    })
}

/// Delay, batch, hidden size, symbols and alphabet against host memory and
/// the device's buffer limits, before anything is allocated.
fn check_sizes(ctx: &Context, cfg: &SeqConfig, spec: &CopySpec) -> Result<()> {
    use crate::jobs::limits::{fits_all, Budget};
    use crate::jobs::seq::seq_need;
    let budget = Budget::of(ctx);
    let steps = |k: usize, delay: usize| k.saturating_mul(2).saturating_add(delay).saturating_add(1);
    crate::jobs::seq::check_sizes(cfg, &budget, "--length", |d| steps(spec.symbols, d), spec.channels())?;
    let symbols = |k| seq_need(cfg, steps(k, spec.delay), spec.channels());
    let alphabet = |a: usize| seq_need(cfg, spec.steps(), a.saturating_add(2));
    fits_all(&budget, &[("--symbols", spec.symbols, &symbols), ("--alphabet", spec.alphabet, &alphabet)])
}
