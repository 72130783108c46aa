//! kairo: a training engine whose numeric kernels are hand-written WGSL
//! compute shaders run through wgpu.
//!
//! Data flows one way: `shaders/*.wgsl` → [`kernels`] (the registry) →
//! [`gpu`] (device, pipeline cache, buffer pool, the open encoder) →
//! [`tensor`] → [`ops`] → [`nn`] → [`jobs`] (training jobs that return
//! values and progress events; all printing is in the `kairo` binary).
//! CPU references for every kernel live in [`reference`].

pub mod autograd;
pub mod bench;
pub mod data;
pub mod decode;
pub mod dist;
pub mod error;
pub mod gpu;
pub mod gradcheck;
pub mod io;
pub mod jobs;
pub mod kernels;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod reference;
pub mod sampling;
pub mod speech;
pub mod tensor;

pub use error::{Error, Result};
pub use autograd::{no_grad, Var};
pub use gpu::{Capabilities, Context, Counters, Timing};
pub use tensor::{DType, Tensor};
