//! `Dropout` on the tape, as `torch.nn.Dropout` (shaders/dropout.wgsl).
//!
//! Training mode zeroes each element with probability p and scales the
//! rest by 1/(1 − p); eval mode is the identity. The mask is a pure
//! function of (seed, call counter, element index), hashed in the kernel,
//! so runs are reproducible and the backward recomputes it instead of
//! storing it. The counter advances on every training-mode forward, so
//! successive batches get different masks; `reference::dropout::dropout` is the
//! same function on the CPU.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::Module;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::kernels::dropout::{self as kernel, Params};
use crate::ops::{as_u32, grid_1d};
use crate::tensor::{DType, Tensor};

/// Inverted dropout with a seeded, counter-based mask. Starts in training
/// mode, as PyTorch modules do.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    seed: u64,
    counter: AtomicU32,
    training: AtomicBool,
}

impl Dropout {
    /// p in [0, 1] (p = 1 drops everything, as PyTorch); anything else,
    /// NaN included, is an `InvalidArgument`.
    pub fn new(p: f32, seed: u64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidArgument(format!("Dropout: p must be in [0, 1], got {p}")));
        }
        Ok(Dropout { p, seed, counter: AtomicU32::new(0), training: AtomicBool::new(true) })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Training-mode forward calls so far (the next call's mask counter).
    pub fn counter(&self) -> u32 {
        self.counter.load(Ordering::Relaxed)
    }

    /// Sets the mask counter (e.g. to replay a run from a checkpoint).
    pub fn set_counter(&self, counter: u32) {
        self.counter.store(counter, Ordering::Relaxed);
    }

    /// Training (true: masks) or eval (false: identity).
    pub fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    /// Whether in training mode.
    pub fn training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// Eval mode or p = 0: `x` itself. Training mode: a fresh mask (the
    /// counter advances), y = x·mask/(1 − p), dx = dy·mask/(1 − p).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        if !self.training() || self.p == 0.0 {
            return Ok(x.clone());
        }
        x.value().expect_dtype("Dropout", DType::F32)?;
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        let n = x.value().numel();
        let params = Params {
            n: as_u32("Dropout", "elements", n)?,
            seed_lo: self.seed as u32,
            seed_hi: (self.seed >> 32) as u32,
            counter,
            p: self.p,
            scale: if self.p >= 1.0 { 0.0 } else { 1.0 / (1.0 - self.p) },
            _pad0: 0,
            _pad1: 0,
        };
        let x_value = x.value();
        let ctx = x_value.context();
        let y = Tensor::empty(ctx, x_value.shape(), DType::F32)?;
        kernel::record_dropout_forward(ctx, &params, x_value, &y, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
        Ok(Var::from_op(
            y,
            &[x],
            Box::new(move |g, _inputs, _y| {
                let ctx = g.context();
                let dx = Tensor::empty(ctx, g.shape(), DType::F32)?;
                kernel::record_dropout_backward(ctx, &params, g, &dx, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
                Ok(vec![Some(dx)])
            }),
        ))
    }
}

impl Module for Dropout {
    fn parameters(&self) -> Vec<(String, Var)> {
        Vec::new()
    }
}
