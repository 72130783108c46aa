//! The copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016):
//! remember k symbols across a delay and write them back after a go
//! marker. `model.rs` holds the task's layout, data generator and model,
//! `trainer.rs` the training loop and held-out evaluation (progress
//! through a per-step callback). It may import `crate::jobs::{seq, step}`
//! and the layers below them; only the CLI, tests and embedding
//! applications import it.

pub mod model;
pub mod trainer;

pub use model::{copy_batch, CopyBatch, CopyModel, CopySpec, IGNORE};
pub use trainer::{evaluate, train_copy, CopyEval, CopyProgress, CopyRun};
pub use crate::jobs::seq::SeqConfig;
