//! The built-in first training job: an MLP separates two spirals. Used by
//! `kairo demo`; `trainer.rs` trains it (progress through a per-step
//! callback), `report.rs` draws the learned decision regions. It may
//! import `crate::jobs::step`, `crate::data` and the layers below; only
//! the CLI, tests and embedding applications import it.

pub mod report;
pub mod trainer;

pub use report::render_png;
pub use trainer::{train_spirals, SpiralProgress, SpiralRun};
