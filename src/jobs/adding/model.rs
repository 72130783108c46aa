//! The adding problem's data and model: two marked numbers in a long
//! sequence, one recurrent layer and a linear read-out of h_T.

use rand::Rng;

use crate::error::{Error, Result};
use crate::nn::linear::Linear;
use crate::nn::rnn::{CellKind, Recurrent};
use crate::nn::{prefixed, Module};
use crate::{Context, Var};

/// Always answering 1 on the adding problem: E[(a + b − 1)²] = 2·Var(U[0,1)) = 1/6.
pub const ADDING_BASELINE_MSE: f32 = 1.0 / 6.0;

/// One batch of the adding problem.
pub struct AddingBatch {
    /// (T, B, 2), time first: channel 0 uniform [0, 1), channel 1 the marker.
    pub x: Vec<f32>,
    /// (B,): the sum of the two marked values.
    pub y: Vec<f32>,
}

/// `batch` sequences of `length` steps (at least 2): exactly two markers per
/// sequence, one in the first half [0, T/2), one in the second [T/2, T).
pub fn adding_batch(length: usize, batch: usize, rng: &mut impl Rng) -> Result<AddingBatch> {
    if length < 2 || batch == 0 {
        return Err(Error::InvalidArgument(format!(
            "adding problem needs length >= 2 and batch >= 1, got length {length}, batch {batch}"
        )));
    }
    let half = length / 2;
    let mut x = vec![0.0f32; length * batch * 2];
    let mut y = vec![0.0f32; batch];
    for (b, yb) in y.iter_mut().enumerate() {
        for t in 0..length {
            x[(t * batch + b) * 2] = rng.random_range(0.0..1.0);
        }
        let first = rng.random_range(0..half);
        let second = rng.random_range(half..length);
        for t in [first, second] {
            x[(t * batch + b) * 2 + 1] = 1.0;
            *yb += x[(t * batch + b) * 2];
        }
    }
    Ok(AddingBatch { x, y })
}

/// One recurrent layer and a linear read-out of h_T.
pub struct SeqModel {
    pub rnn: Recurrent,
    pub head: Linear,
}

impl SeqModel {
    /// A fresh model with PyTorch's init, inputs of width 2, one output.
    pub fn new(
        ctx: &Context,
        cell: CellKind,
        hidden: usize,
        rng: &mut impl Rng,
    ) -> Result<SeqModel> {
        Ok(SeqModel {
            rnn: Recurrent::new(ctx, cell, 2, hidden, rng)?,
            head: Linear::new(ctx, hidden, 1, true, rng)?,
        })
    }

    /// Predictions (B, 1) for x (T, B, 2).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.head.forward(&self.rnn.forward(x, None, None)?.h_n)
    }
}

impl Module for SeqModel {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = prefixed("rnn", self.rnn.parameters());
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}
