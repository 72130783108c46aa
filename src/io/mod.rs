//! Files the engine reads and writes: safetensors checkpoints, whole
//! training states (model, optimiser, step) built on them, and the lock
//! that keeps one writer per output.

pub mod atomic;
pub mod lock;
pub mod safetensors;
pub mod training;
