//! The copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): a
//! recurrent net reads `symbols` random symbols from an alphabet, then
//! `delay` blanks, then a go marker, and must write the symbols back, in
//! order, on the `symbols` steps after the marker. Remembering across the
//! delay is exactly what vanishing gradients make hard: a tanh RNN stays
//! near chance as the delay grows, LSTM and GRU learn it.
//!
//! Layout of one sequence (L = 2·symbols + delay + 1 steps, time first):
//!
//! ```text
//! input:  s₁ … s_k  _ … _ (delay)  GO  _ … _ (k)
//! target: ·  … ·    · … ·          ·   s₁ … s_k
//! ```
//!
//! Inputs are one-hot over alphabet + 2 channels (symbols 0..A, blank A,
//! go A+1). The loss is cross-entropy over the k output steps only (the
//! other steps' targets are −1 = ignored); guessing scores ln A and 1/A.

use rand::{Rng, SeedableRng};

use super::seq::SeqConfig;
use super::{optimizer_step, zero_grad};
use crate::autograd::reshape;
use crate::error::{Error, Result};
use crate::nn::linear::Linear;
use crate::nn::loss::{cross_entropy, Reduction};
use crate::nn::rnn::{CellKind, Recurrent};
use crate::nn::{prefixed, Module};
use crate::optim::{clip_grad_norm, Adam};
use crate::{no_grad, Context, Tensor, Var};

/// Target of a step that is not scored.
pub const IGNORE: i32 = -1;

/// The shape of the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopySpec {
    /// k: symbols to remember.
    pub symbols: usize,
    /// A: alphabet size (at least 2).
    pub alphabet: usize,
    /// Blank steps between the last symbol and the go marker.
    pub delay: usize,
}

impl CopySpec {
    /// L = 2k + delay + 1.
    pub fn steps(&self) -> usize {
        2 * self.symbols + self.delay + 1
    }

    /// Input channels: A symbols, blank, go.
    pub fn channels(&self) -> usize {
        self.alphabet + 2
    }

    /// Loss of guessing uniformly: ln A nats per output symbol.
    pub fn baseline_loss(&self) -> f32 {
        (self.alphabet as f32).ln()
    }

    /// Accuracy of guessing: 1/A.
    pub fn baseline_accuracy(&self) -> f32 {
        1.0 / self.alphabet as f32
    }

    fn check(&self) -> Result<()> {
        if self.symbols == 0 || self.alphabet < 2 {
            return Err(Error::InvalidArgument(format!(
                "copy task needs at least 1 symbol and an alphabet of at least 2, got {} symbols, alphabet {}",
                self.symbols, self.alphabet
            )));
        }
        Ok(())
    }
}

/// One batch of the copy task.
pub struct CopyBatch {
    /// (L, B, A + 2) one-hot inputs, time first.
    pub x: Vec<f32>,
    /// (L·B,) targets, row t·B + b: the symbol, or [`IGNORE`].
    pub targets: Vec<i32>,
}

/// `batch` random sequences of the task.
pub fn copy_batch(spec: &CopySpec, batch: usize, rng: &mut impl Rng) -> Result<CopyBatch> {
    spec.check()?;
    if batch == 0 {
        return Err(Error::InvalidArgument("copy task needs batch >= 1".into()));
    }
    let (k, a, c, l) = (spec.symbols, spec.alphabet, spec.channels(), spec.steps());
    let go = k + spec.delay;
    let mut x = vec![0.0f32; l * batch * c];
    let mut targets = vec![IGNORE; l * batch];
    for b in 0..batch {
        for t in 0..l {
            let ch = if t < k {
                let s = rng.random_range(0..a);
                targets[(go + 1 + t) * batch + b] = s as i32;
                s
            } else if t == go {
                a + 1
            } else {
                a
            };
            x[(t * batch + b) * c + ch] = 1.0;
        }
    }
    Ok(CopyBatch { x, targets })
}

/// One recurrent layer and a linear read-out at every step.
pub struct CopyModel {
    pub rnn: Recurrent,
    pub head: Linear,
}

impl CopyModel {
    /// A fresh model with PyTorch's init.
    pub fn new(
        ctx: &Context,
        cell: CellKind,
        spec: &CopySpec,
        hidden: usize,
        rng: &mut impl Rng,
    ) -> Result<CopyModel> {
        Ok(CopyModel {
            rnn: Recurrent::new(ctx, cell, spec.channels(), hidden, rng)?,
            head: Linear::new(ctx, hidden, spec.alphabet, true, rng)?,
        })
    }

    /// Logits (L·B, A) for x (L, B, A + 2): the read-out runs on every
    /// step (one matmul); the loss ignores the steps that are not scored.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let s = x.shape();
        let (l, b) = (s[0], s[1]);
        let h = self.rnn.forward(x, None, None)?.output;
        self.head
            .forward(&reshape(&h, &[l * b, self.rnn.hidden_size])?)
    }
}

impl Module for CopyModel {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = prefixed("rnn", self.rnn.parameters());
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}

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
        let best = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |m, (i, &v)| if v > m.1 { (i, v) } else { m },
            )
            .0;
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
        zero_grad(&model);
        let loss = cross_entropy(&model.forward(&x)?, &y, Some(IGNORE), Reduction::Mean)?;
        loss.backward()?;
        let grads: Vec<Tensor> = model
            .parameters()
            .iter()
            .filter_map(|(_, p)| p.grad())
            .collect();
        let refs: Vec<&Tensor> = grads.iter().collect();
        clip_grad_norm(&refs, cfg.clip)?;
        optimizer_step(&model, &mut opt)?;
        let value = loss.value().to_vec()?[0]; // the step's one submit
        if !value.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "loss became {value} at step {step}"
            )));
        }
        losses.push(value);
        let done = step + 1;
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
