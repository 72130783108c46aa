//! Files the engine reads and writes: safetensors checkpoints.

pub mod safetensors;
