//! The adding problem (Hochreiter & Schmidhuber), the classic
//! demonstration of vanishing gradients: a plain tanh RNN fails once the
//! two marked numbers lie far apart, LSTM and GRU learn it. `model.rs`
//! holds the data generator and the model, `trainer.rs` the training loop
//! (progress through a per-step callback), `report.rs` the per-step input
//! gradient norms. It may import `crate::jobs::{seq, step, plot}` and the
//! layers below them; only the CLI, tests and embedding applications
//! import it.

pub mod model;
pub mod report;
pub mod trainer;

pub use model::{adding_batch, AddingBatch, SeqModel, ADDING_BASELINE_MSE};
pub use report::{input_grad_norms, input_grad_norms_async};
pub use trainer::{train_adding, AddingTrainer, SeqProgress, SeqRun};
pub use crate::jobs::seq::SeqConfig;
