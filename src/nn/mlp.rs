//! A multi-layer perceptron: Linear layers with a fused activation between
//! them (none after the last). Parameters are named `0.weight`, `0.bias`,
//! `1.weight`, … as in a PyTorch `nn.Sequential` of Linear layers.

use super::{prefixed, Linear, Module};
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::ops::Activation;
use crate::Context;

/// Linear → act → Linear → act → … → Linear.
pub struct Mlp {
    /// The layers, in order.
    pub layers: Vec<Linear>,
    /// Applied after every layer but the last.
    pub activation: Activation,
}

impl Mlp {
    /// `sizes` = [inputs, hidden…, outputs]; PyTorch's default init.
    pub fn new(ctx: &Context, sizes: &[usize], activation: Activation, rng: &mut impl rand::Rng) -> Result<Mlp> {
        if sizes.len() < 2 {
            return Err(Error::InvalidArgument(format!("an MLP needs at least input and output sizes, got {sizes:?}")));
        }
        let layers = sizes.windows(2).map(|w| Linear::new(ctx, w[0], w[1], true, rng)).collect::<Result<_>>()?;
        Ok(Mlp { layers, activation })
    }

    /// The network applied to `x` of shape (N, inputs).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let act = if i == last { Activation::None } else { self.activation };
            h = layer.forward_act(&h, act)?;
        }
        Ok(h)
    }
}

impl Module for Mlp {
    fn parameters(&self) -> Vec<(String, Var)> {
        self.layers.iter().enumerate().flat_map(|(i, l)| prefixed(&i.to_string(), l.parameters())).collect()
    }
}
