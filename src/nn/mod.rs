//! Layers and losses on the autodiff tape, with PyTorch semantics and
//! PyTorch parameter names (`weight`, `bias`, nested as `0.weight`).

pub mod ctc;
pub mod dropout;
pub mod embedding;
pub mod linear;
pub mod lookahead;
pub mod loss;
pub mod mlp;
pub mod rnn;
pub mod rnn_fused;
pub mod rnn_layers;

pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use mlp::Mlp;

use crate::autograd::Var;

/// Something with named parameters, as PyTorch's `state_dict` names them.
pub trait Module {
    /// (name, parameter) pairs, names relative to this module.
    fn parameters(&self) -> Vec<(String, Var)>;
}

/// `params` with `prefix.` in front of every name (nesting modules).
pub fn prefixed(prefix: &str, params: Vec<(String, Var)>) -> Vec<(String, Var)> {
    params.into_iter().map(|(n, v)| (format!("{prefix}.{n}"), v)).collect()
}
