//! `LookAhead`: Deep Speech 2's look-ahead (row) convolution on the tape
//! (shaders/lookahead.wgsl). It lets a unidirectional model see `context`
//! (τ) future steps:
//!
//! y[t, b, f] = bias[f] + Σ_{j=0..τ} W[j, f] · x[t + j, b, f]
//!
//! for x (T, B, F) time-first and W (τ+1, F); x is zero past the end of the
//! sequence (padding at the end only), so y has the same length T.

use rand::Rng;

use super::Module;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::lookahead::{self as kernel, Params, CHUNK_ROWS, MAX_TAPS};
use crate::ops::{self, as_u32, grid_1d};
use crate::tensor::{DType, Tensor};

/// A per-feature look-ahead convolution over τ future steps: weight
/// (τ+1, F), optional bias (F,).
#[derive(Clone, Debug)]
pub struct LookAhead {
    /// τ: how many future steps each output sees.
    pub context: usize,
    /// (τ+1, F), named `weight`; row j weighs step t + j.
    pub weight: Var,
    /// (F,), named `bias`.
    pub bias: Option<Var>,
}

impl LookAhead {
    /// weight and bias ~ U(−1/√(τ+1), 1/√(τ+1)) (PyTorch's conv default
    /// with fan-in τ+1 per feature). `features` must be at least 1.
    pub fn new(ctx: &Context, features: usize, context: usize, bias: bool, rng: &mut impl Rng) -> Result<LookAhead> {
        if features == 0 {
            return Err(Error::InvalidArgument("LookAhead: features must be at least 1".into()));
        }
        let taps = context.checked_add(1).filter(|&k| k <= MAX_TAPS).ok_or_else(|| {
            Error::InvalidArgument(format!("LookAhead: context {context} exceeds {}", MAX_TAPS - 1))
        })?;
        let bound = 1.0 / (taps as f32).sqrt();
        let mut uniform = |n: usize| (0..n).map(|_| rng.random_range(-bound..bound)).collect::<Vec<f32>>();
        let w = Tensor::from_slice(ctx, &uniform(taps * features), &[taps, features])?;
        let b = if bias { Some(Tensor::from_slice(ctx, &uniform(features), &[features])?) } else { None };
        Self::from_tensors(w, b)
    }

    /// A layer with the given weight (τ+1, F) and bias (F,), as parameters.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<LookAhead> {
        weight.expect_dtype("LookAhead", DType::F32)?;
        let ws = weight.shape();
        if ws.len() != 2 || ws[0] == 0 || ws[1] == 0 {
            return Err(Error::invalid_shape("LookAhead", format!("weight must be (τ+1, F) with both ≥ 1, got {ws:?}")));
        }
        if ws[0] > MAX_TAPS {
            return Err(Error::invalid_shape("LookAhead", format!("weight {ws:?} has more than {MAX_TAPS} taps")));
        }
        if let Some(b) = &bias {
            b.expect_dtype("LookAhead", DType::F32)?;
            b.same_context("LookAhead", &weight)?;
            if b.shape() != [ws[1]] {
                return Err(Error::shape("LookAhead bias", ws, b.shape()));
            }
        }
        let context = ws[0] - 1;
        let weight = Var::parameter(weight);
        weight.set_name("weight");
        let bias = bias.map(|b| {
            let b = Var::parameter(b);
            b.set_name("bias");
            b
        });
        Ok(LookAhead { context, weight, bias })
    }

    /// y (T, B, F) for x (T, B, F), one op on the tape with gradients for
    /// x, weight and bias.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let xv = x.value();
        let w = self.weight.value();
        xv.expect_dtype("LookAhead", DType::F32)?;
        xv.same_context("LookAhead", w)?;
        let xs = xv.shape();
        if xs.len() != 3 {
            return Err(Error::invalid_shape("LookAhead", format!("x must be (T, B, F), got {xs:?} (weight {:?})", w.shape())));
        }
        let (t, b, f) = (xs[0], xs[1], xs[2]);
        if w.shape() != [self.context + 1, f] {
            return Err(Error::shape("LookAhead (x (T, B, F) vs weight (τ+1, F))", xs, w.shape()));
        }
        if let Some(bias) = &self.bias {
            if bias.shape() != [f] {
                return Err(Error::shape("LookAhead (x (T, B, F) vs bias (F,))", xs, bias.shape()));
            }
        }
        if t == 0 || b == 0 {
            return Err(Error::invalid_shape("LookAhead", format!("x {xs:?} is empty")));
        }
        let n = as_u32("LookAhead", "elements", t * b * f)? as usize;
        let chunks = (t * b).div_ceil(CHUNK_ROWS);
        as_u32("LookAhead", "weight-gradient partials", chunks * (self.context + 1) * f)?;
        let params = Params {
            t: t as u32,
            b: b as u32,
            f: f as u32,
            k: (self.context + 1) as u32,
            chunk_rows: CHUNK_ROWS as u32,
            chunks: chunks as u32,
            _pad0: 0,
            _pad1: 0,
        };
        let ctx = xv.context();
        let y = Tensor::empty(ctx, xs, DType::F32)?;
        let bias = self.bias.as_ref().map(|b| b.value());
        kernel::record_lookahead_forward(ctx, &params, xv, w, bias, &y, grid_1d(ctx, n.div_ceil(256) as u64)?)?;

        let mut inputs = vec![x, &self.weight];
        if let Some(bias) = &self.bias {
            inputs.push(bias);
        }
        Ok(Var::from_op(
            y,
            &inputs,
            Box::new(move |g, inputs, _y| {
                let (x, w) = (inputs[0].value(), inputs[1].value());
                let ctx = x.context();
                let dx = if inputs[0].requires_grad() {
                    let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
                    kernel::record_lookahead_backward_input(ctx, &params, w, g, &dx, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
                    Some(dx)
                } else {
                    None
                };
                let dw = if inputs[1].requires_grad() {
                    let (k, f) = (w.shape()[0], w.shape()[1]);
                    let part = Tensor::empty(ctx, &[chunks, k, f], DType::F32)?;
                    let groups = grid_1d(ctx, (chunks * k * f).div_ceil(256) as u64)?;
                    kernel::record_lookahead_backward_weight(ctx, &params, x, g, &part, groups)?;
                    Some(if chunks == 1 { part.reshape(&[k, f])? } else { ops::sum(&part, 0)? })
                } else {
                    None
                };
                let mut out = vec![dx, dw];
                if inputs.len() == 3 {
                    out.push(if inputs[2].requires_grad() {
                        let f = x.shape()[2];
                        Some(ops::sum(&g.reshape(&[x.numel() / f, f])?, 0)?)
                    } else {
                        None
                    });
                }
                Ok(out)
            }),
        ))
    }
}

impl Module for LookAhead {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }
}
