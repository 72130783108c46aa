//! The DCGAN job (`kairo train gan`, `kairo sample gan`): alternating D
//! and G updates on the built-in shapes or an image folder. `trainer.rs`
//! holds the configuration, the data source and one iteration,
//! `checkpoint.rs` the run's whole state in one file, `report.rs` sample
//! grids, the loss curve, snapshots and the loop that makes them (progress
//! through callbacks), `conditional.rs` sampling by class,
//! `quality.rs` the Fréchet distance and per-class accuracy in the features
//! of a classifier trained on the data, `judge.rs` the shape classifier that scores samples
//! on the built-in data; the nets themselves are [`crate::nn::dcgan`]. It
//! may import `crate::jobs::{step, plot}`, `crate::io`, `crate::data` and
//! the layers below; only the CLI, tests, benchmarks and embedding
//! applications import it.

pub mod checkpoint;
pub mod conditional;
pub mod judge;
pub mod quality;
pub mod report;
pub mod trainer;
pub mod validate;

pub use validate::validate;
pub use trainer::{generate, generate_labelled, uniform_noise, GanConfig, GanData, GanTrainer, IterStats};
