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
