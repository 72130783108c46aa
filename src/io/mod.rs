//! Files the engine reads and writes: safetensors checkpoints, and whole
//! training states (model, optimiser, step) built on them.

pub mod atomic;
pub mod safetensors;
pub mod training;
