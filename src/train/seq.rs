//! Sequence tasks for recurrent nets: the adding problem (Hochreiter &
//! Schmidhuber), the classic demonstration of vanishing gradients. A plain
//! tanh RNN fails once the two marked numbers lie far apart; LSTM and GRU
//! learn it. Also measures how much gradient from the loss at the last step
//! reaches each earlier step, and draws that as a PNG line plot.
//!
//! The other sequence jobs live beside this file: the copy task in
//! `seq_copy.rs`, the character-level language model in `text.rs`.

use std::path::Path;

use rand::{Rng, SeedableRng};

use super::{optimizer_step, zero_grad};
use crate::error::{Error, Result};
use crate::nn::linear::Linear;
use crate::nn::loss::{mse_loss, Reduction};
use crate::nn::rnn::{CellKind, Recurrent};
use crate::nn::{prefixed, Module};
use crate::optim::{clip_grad_norm, Adam};
use crate::{no_grad, Context, Tensor, Var};

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
        zero_grad(&model);
        let loss = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?;
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

/// ‖∂L/∂x_t‖ for t = 1 … T (Frobenius over batch and the two channels) on
/// one seeded adding batch, L the batch's MSE. A proxy for ‖∂L/∂h_t‖: the
/// input gradient is W_ihᵀ (gate derivatives) ∂L/∂h_t, so it decays with t
/// the same way.
pub fn input_grad_norms(
    ctx: &Context,
    model: &SeqModel,
    length: usize,
    batch: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let data = adding_batch(length, batch, &mut rand::rngs::StdRng::seed_from_u64(seed))?;
    let x = Var::parameter(Tensor::from_slice(ctx, &data.x, &[length, batch, 2])?);
    let y = Var::constant(Tensor::from_slice(ctx, &data.y, &[batch, 1])?);
    zero_grad(model);
    let loss = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?;
    loss.backward()?;
    zero_grad(model);
    let g = x
        .grad()
        .ok_or_else(|| Error::InvalidArgument("input received no gradient".into()))?
        .to_vec()?;
    // f64: at T = 100 the early gradients square below f32's range.
    Ok(g.chunks(batch * 2)
        .map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32)
        .collect())
}

/// One line of a plot.
pub struct Curve {
    pub label: String,
    pub color: [u8; 3],
    pub values: Vec<f32>,
}

/// The colour kairo uses for each cell in plots.
pub fn cell_color(cell: CellKind) -> [u8; 3] {
    match cell {
        CellKind::RnnTanh => [214, 39, 40],
        CellKind::Lstm => [31, 119, 180],
        CellKind::Gru => [44, 160, 44],
    }
}

/// Draws the curves against x = 1 … n on a log₁₀ y axis (decade ticks),
/// with a legend of coloured boxes (in curve order, top right), as a PNG
/// written kill-safely (tmp + rename). Zero or non-finite values are skipped.
pub fn render_log_plot(curves: &[Curve], width: u32, height: u32, path: &Path) -> Result<()> {
    let positive = || {
        curves
            .iter()
            .flat_map(|c| c.values.iter().copied())
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let lo = positive().fold(f32::INFINITY, f32::min);
    let hi = positive().fold(0.0f32, f32::max);
    let n = curves.iter().map(|c| c.values.len()).max().unwrap_or(0);
    if !lo.is_finite() || n < 2 || width < 100 || height < 80 {
        return Err(Error::InvalidArgument(
            "plot: nothing positive to draw, or too small".into(),
        ));
    }
    let (dlo, dhi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let (left, right, top, bottom) = (50i64, width as i64 - 20, 20i64, height as i64 - 40);
    let mut img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let put = |img: &mut image::RgbImage, x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && x < width as i64 && y < height as i64 {
            img.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    };
    let px = |i: usize| left + ((right - left) as f32 * i as f32 / (n - 1) as f32).round() as i64;
    let py =
        |v: f32| bottom - ((bottom - top) as f32 * (v.log10() - dlo) / (dhi - dlo)).round() as i64;
    // Grid lines and ticks at each decade (y) and every tenth of the run (x).
    let grey = [225, 225, 225];
    let black = [0, 0, 0];
    for d in dlo as i64..=dhi as i64 {
        let y = py(10f32.powi(d as i32));
        for x in left..=right {
            put(&mut img, x, y, grey);
        }
        for x in left - 6..left {
            put(&mut img, x, y, black);
        }
        // Minor ticks at 2..9 × 10^d.
        for m in 2..10 {
            let y = py(m as f32 * 10f32.powi(d as i32));
            if d < dhi as i64 {
                for x in left - 3..left {
                    put(&mut img, x, y, black);
                }
            }
        }
    }
    for k in 0..=10 {
        let x = left + (right - left) * k / 10;
        for y in bottom..bottom + 6 {
            put(&mut img, x, y, black);
        }
    }
    for x in left..=right {
        put(&mut img, x, bottom, black);
    }
    for y in top..=bottom {
        put(&mut img, left, y, black);
    }
    for c in curves {
        let points: Vec<Option<(i64, i64)>> = c
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v.is_finite() && v > 0.0).then(|| (px(i), py(v))))
            .collect();
        for w in points.windows(2) {
            if let (Some((x0, y0)), Some((x1, y1))) = (w[0], w[1]) {
                let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
                for s in 0..=steps {
                    let x = x0 + (x1 - x0) * s / steps;
                    let y = y0 + (y1 - y0) * s / steps;
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        put(&mut img, x + dx, y + dy, c.color);
                    }
                }
            }
        }
    }
    // Legend: one coloured box per curve, top right.
    for (k, c) in curves.iter().enumerate() {
        let (x0, y0) = (right - 40, top + 8 + 18 * k as i64);
        for y in y0..y0 + 12 {
            for x in x0..x0 + 30 {
                let edge = y == y0 || y == y0 + 11 || x == x0 || x == x0 + 29;
                put(&mut img, x, y, if edge { black } else { c.color });
            }
        }
    }
    crate::io::atomic::write_png(path, &img)
}
