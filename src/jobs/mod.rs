//! Training jobs, one folder each, every folder with the same small set of
//! files where it has them: `model.rs` (the job's model and task data),
//! `trainer.rs` (the loop; progress reaches the caller through a callback
//! taking a per-step or per-epoch report), `checkpoint.rs` (save and
//! strict load) and `report.rs` (what the run measures and draws). Shared
//! by all jobs: [`step`] (the one training step and the divergence rule),
//! [`plot`] (the one plotting module) and [`seq`] (settings of the
//! synthetic sequence tasks). Nothing here prints: terminal output belongs
//! to `src/bin/`. Jobs may import each other's shared modules and
//! everything below them (`nn`, `optim`, `io`, `data`, `speech`); only the
//! CLI, tests, benchmarks and embedding applications import the jobs.

pub mod adding;
pub mod copy;
pub mod gan;
pub mod limits;
pub mod plot;
pub mod seq;
pub mod speech;
pub mod spirals;
pub mod step;
pub mod text;

pub use step::{train_step, StepValues};
