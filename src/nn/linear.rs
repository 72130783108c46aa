//! `Linear`: y = x·Wᵀ + b on the tape, as `torch.nn.Linear`.

use rand::Rng;

use super::Module;
use crate::autograd::{self, Var};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::Activation;
use crate::tensor::Tensor;

/// A fully connected layer: weight (out, in), optional bias (out,).
#[derive(Clone, Debug)]
pub struct Linear {
    /// (out_features, in_features), named `weight`.
    pub weight: Var,
    /// (out_features,), named `bias`.
    pub bias: Option<Var>,
}

/// `n` values uniform in [−bound, bound).
fn uniform(rng: &mut impl Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

impl Linear {
    /// PyTorch's default init: kaiming_uniform(a = √5) gives weight ~
    /// U(−1/√in, 1/√in), and bias ~ U(−1/√in, 1/√in). Both sizes must be ≥ 1.
    pub fn new(ctx: &Context, in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::InvalidArgument(format!(
                "Linear: in_features ({in_features}) and out_features ({out_features}) must be at least 1"
            )));
        }
        let bound = 1.0 / (in_features as f32).sqrt();
        let w = Tensor::from_slice(ctx, &uniform(rng, out_features * in_features, bound), &[out_features, in_features])?;
        let b = if bias { Some(Tensor::from_slice(ctx, &uniform(rng, out_features, bound), &[out_features])?) } else { None };
        Self::from_tensors(w, b)
    }

    /// A layer with the given weight (out, in) and bias (out,), as parameters.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        if weight.shape().len() != 2 {
            return Err(Error::invalid_shape("Linear", format!("weight must be (out, in), got {:?}", weight.shape())));
        }
        if let Some(b) = &bias {
            if b.shape() != [weight.shape()[0]] {
                return Err(Error::shape("Linear bias", weight.shape(), b.shape()));
            }
        }
        let weight = Var::parameter(weight);
        weight.set_name("weight");
        let bias = bias.map(|b| {
            let b = Var::parameter(b);
            b.set_name("bias");
            b
        });
        Ok(Linear { weight, bias })
    }

    /// in_features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// out_features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// x·Wᵀ + b for x of shape (N, in) or (B, N, in).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_act(x, Activation::None)
    }

    /// act(x·Wᵀ + b), the activation fused into the matmul epilogue.
    pub fn forward_act(&self, x: &Var, act: Activation) -> Result<Var> {
        let s = x.shape();
        if !(s.len() == 2 || s.len() == 3) || s[s.len() - 1] != self.in_features() {
            return Err(Error::shape("Linear (input (.., in) vs weight (out, in))", s, self.weight.shape()));
        }
        autograd::matmul(x, &self.weight, self.bias.as_ref(), false, true, act)
    }
}

impl Module for Linear {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }
}
