//! Files the engine reads and writes: safetensors checkpoints, the one
//! strict parameter loader, and whole training states (model, optimiser,
//! step) built on them.

pub mod atomic;
pub mod parameters;
pub mod safetensors;
pub mod training;
