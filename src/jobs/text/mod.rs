//! A character-level language model: Embedding → LSTM/GRU stack → Linear,
//! trained with cross-entropy on the next character by truncated BPTT.
//!
//! The text is cut into `batch` contiguous streams, one per batch row; each
//! optimiser step reads the next `seq_len` characters of every stream and
//! carries the recurrent state into the next step detached (so the
//! gradient flows back `seq_len` steps at most, while the state remembers
//! further). A stream that reaches its end starts again with a zero state.
//! Adam with global-norm gradient clipping; one readback (loss, gradient norm) per
//! step. Checkpoints are `io::training` files (model + optimiser) whose
//! metadata hold the vocabulary and the model's shape, so
//! [`CharModel::load`] rebuilds the model from the file alone.
//!
//! `model.rs` holds the model and sampling, `trainer.rs` the training
//! loop and evaluation (progress through a per-step callback),
//! `checkpoint.rs` saving and loading. It may import `crate::jobs::step`,
//! `crate::io` and the layers below; only the CLI, tests and embedding
//! applications import it.

pub mod checkpoint;
pub mod eval;
pub mod model;
pub mod trainer;
pub mod validate;

#[cfg(not(target_arch = "wasm32"))]
pub use model::sample;
pub use eval::{bits_per_char, bits_per_char_file, TextEval};
pub use model::{sample_async, sample_logits, CharModel, CharShape, CharState};
pub use validate::validate;
#[cfg(not(target_arch = "wasm32"))]
pub use trainer::train_text;
pub use trainer::{evaluate, TextConfig, TextProgress, TextRun, TextTrainer, EVAL_CHARS};
