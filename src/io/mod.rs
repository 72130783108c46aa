//! Files the engine reads and writes: safetensors checkpoints, the one
//! strict parameter loader, whole training states (model, optimiser, step)
//! built on them, and the lock that keeps one writer per output.
//!
//! May import: `tensor`, `nn` (the `Module` trait), `optim`, `error`.
//! Imported by: `jobs`, the CLI, and applications.

pub mod atomic;
pub mod lock;
pub mod parameters;
pub mod safetensors;
pub mod training;
