//! Settings shared by the synthetic sequence tasks ([`super::adding`] and
//! [`super::copy`]): both train one recurrent layer with Adam and gradient
//! clipping on fresh seeded batches.

use crate::nn::rnn::CellKind;

/// A training run's settings.
#[derive(Clone, Debug)]
pub struct SeqConfig {
    pub cell: CellKind,
    /// Sequence length T.
    pub length: usize,
    /// Optimiser steps (a fresh batch each).
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    pub lr: f32,
    /// Gradient clipping: the total norm is scaled to at most this.
    pub clip: f32,
    pub seed: u64,
    /// Held-out test MSE every this many steps (and after the last); 0: only at the end.
    pub eval_every: usize,
    /// Held-out sequences.
    pub test_size: usize,
}

impl Default for SeqConfig {
    fn default() -> Self {
        SeqConfig {
            cell: CellKind::Lstm,
            length: 100,
            steps: 2000,
            batch: 64,
            hidden: 64,
            lr: 0.01,
            clip: 1.0,
            seed: 1,
            eval_every: 100,
            test_size: 512,
        }
    }
}

/// What a synthetic sequence task of `steps` time steps with `channels`
/// input channels needs at `cfg`'s batch and hidden size: a training
/// batch and the held-out set on the host; on the device the largest of
/// the inputs, the saved gate activations over all steps (gates × H wide)
/// and the recurrent weights.
pub fn seq_need(cfg: &SeqConfig, steps: usize, channels: usize) -> crate::jobs::limits::Need {
    use crate::jobs::limits::{f32s, Need};
    let (b, h, t) = (cfg.batch, cfg.hidden, steps);
    let host = f32s(&[t, b, channels + 1]).saturating_add(f32s(&[t, cfg.test_size, channels + 1]));
    let gates = f32s(&[t, b.max(cfg.test_size), cfg.cell.gates(), h]);
    let weights = f32s(&[4, h, h.saturating_add(channels)]);
    let device = gates.max(weights).max(f32s(&[t, b.max(cfg.test_size), channels]));
    Need { host, device }
}

/// Checks batch and hidden size (and steps) against `budget` before
/// anything is allocated; `length` names the option that sets the time
/// steps, and `steps_of(len)` gives the time steps for a value of it.
pub fn check_sizes(
    cfg: &SeqConfig,
    budget: &crate::jobs::limits::Budget,
    length_option: &str,
    steps_of: impl Fn(usize) -> usize,
    channels: usize,
) -> crate::error::Result<()> {
    use crate::jobs::limits::{at_least, fits_all};
    at_least("--batch", cfg.batch, 1)?;
    at_least("--hidden", cfg.hidden, 1)?;
    at_least("--steps", cfg.steps, 1)?;
    let t = steps_of(cfg.length);
    let batch = |v| seq_need(&SeqConfig { batch: v, ..cfg.clone() }, t, channels);
    let length = |v| seq_need(cfg, steps_of(v), channels);
    let hidden = |v| seq_need(&SeqConfig { hidden: v, ..cfg.clone() }, t, channels);
    fits_all(budget, &[("--batch", cfg.batch, &batch), (length_option, cfg.length, &length), ("--hidden", cfg.hidden, &hidden)])
}
