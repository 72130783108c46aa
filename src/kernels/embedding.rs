//! Launcher of shaders/embedding.wgsl: table lookup and its deterministic
//! gradient, one invocation per element of W over a chunk of indices (the
//! chunking is in `nn::embedding`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "embedding";

/// Indices one backward pass may loop over (llvmpipe caps loops per invocation).
pub const MAX_CHUNK: usize = 32768;

super::params! {
    /// Mirrors `Params` in shaders/embedding.wgsl.
    pub struct Params as "Params" {
        n_idx: u32,
        num: u32,
        dim: u32,
        padding: u32,
        start: u32,
        count: u32,
        accumulate: u32,
        _pad: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `idx`: (n_idx,), U32 or I32 read as u32.
pub const IDX: Slot = Slot::read("idx", 1);
/// `weight`: W (num, dim).
pub const WEIGHT: Slot = Slot::read("weight", 2);
/// `y`: (n_idx, dim).
pub const Y: Slot = Slot::read_write("y", 3);
/// `dy`: (n_idx, dim).
pub const DY: Slot = Slot::read("dy", 4);
/// `dw`: dW (num, dim).
pub const DW: Slot = Slot::read_write("dw", 5);

/// y[i, c] = W[idx[i], c], one invocation per element of y.
pub const EMBEDDING_FORWARD: Entry = Entry { name: "embedding_forward", slots: &[P, IDX, WEIGHT, Y] };
/// dW[r, c] (+)= Σ over a chunk of idx == r of dy[i, c], one invocation per element of W.
pub const EMBEDDING_BACKWARD: Entry = Entry { name: "embedding_backward", slots: &[P, IDX, DY, DW] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract =
    Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[EMBEDDING_FORWARD, EMBEDDING_BACKWARD] };

/// idx: (n_idx,), weight: (num, dim) → y: (n_idx, dim), 256 elements of y per
/// workgroup over the 1-D grid `groups`.
pub fn record_embedding_forward(
    ctx: &Context,
    p: &Params,
    idx: &Tensor,
    weight: &Tensor,
    y: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &EMBEDDING_FORWARD, &[], p, &[IDX.bind(idx), WEIGHT.bind(weight), Y.bind(y)], groups)
}

/// idx: (n_idx,), dy: (n_idx, dim) → dw: (num, dim) over indices
/// [p.start, p.start + p.count) (count ≤ [`MAX_CHUNK`]), 256 elements of dW
/// per workgroup over the 1-D grid `groups`.
pub fn record_embedding_backward(
    ctx: &Context,
    p: &Params,
    idx: &Tensor,
    dy: &Tensor,
    dw: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &EMBEDDING_BACKWARD, &[], p, &[IDX.bind(idx), DY.bind(dy), DW.bind(dw)], groups)
}
