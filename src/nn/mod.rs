//! Layers and losses on the autodiff tape, with PyTorch semantics and
//! PyTorch parameter names (`weight`, `bias`, nested as `0.weight`). A layer
//! composes `ops` and `autograd`; where it needs a kernel of its own it calls
//! that kernel's launcher in `kernels`, never `Context::dispatch`.
//!
//! May import: `autograd`, `ops`, `kernels`, `tensor`, `error`. Imported by:
//! `speech`, `jobs`, `bench`, and applications.

pub mod ctc;
pub mod batchnorm;
pub mod conv;
pub mod dcgan;
pub mod dropout;
pub mod embedding;
pub mod linear;
pub mod lookahead;
pub mod loss;
pub mod mlp;
pub mod rnn;
pub mod rnn_fused;
pub mod rnn_layers;

pub use batchnorm::BatchNorm2d;
pub use conv::{Conv2d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use mlp::Mlp;

use crate::autograd::Var;

/// Something with named parameters, as PyTorch's `state_dict` names them.
pub trait Module {
    /// (name, parameter) pairs, names relative to this module.
    fn parameters(&self) -> Vec<(String, Var)>;

    /// (name, tensor) pairs of non-parameter state that a checkpoint keeps
    /// (BatchNorm2d's `running_mean`, `running_var`), names relative to this
    /// module; none by default.
    fn buffers(&self) -> Vec<(String, crate::tensor::Tensor)> {
        Vec::new()
    }
}

/// `params` with `prefix.` in front of every name (nesting modules).
pub fn prefixed(prefix: &str, params: Vec<(String, Var)>) -> Vec<(String, Var)> {
    params.into_iter().map(|(n, v)| (format!("{prefix}.{n}"), v)).collect()
}
