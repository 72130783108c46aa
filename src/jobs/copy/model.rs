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

use rand::Rng;

use crate::autograd::reshape;
use crate::error::{Error, Result};
use crate::nn::linear::Linear;
use crate::nn::rnn::{CellKind, Recurrent};
use crate::nn::{prefixed, Module};
use crate::{Context, Var};

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

    pub(crate) fn check(&self) -> Result<()> {
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
