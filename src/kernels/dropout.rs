//! Launcher of shaders/dropout.wgsl: inverted dropout whose mask is a hash of
//! (seed, counter, index), so the backward recomputes it (the counter and
//! mode logic are in `nn::dropout`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "dropout";

super::params! {
    /// Mirrors `Params` in shaders/dropout.wgsl.
    pub struct Params as "Params" {
        n: u32,
        seed_lo: u32,
        seed_hi: u32,
        counter: u32,
        p: f32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// `params`: the params block.
pub const PARAMS: Slot = Slot::uniform("params", 0);
/// `x`: x (forward) or dy (backward), (n,).
pub const X: Slot = Slot::read("x", 1);
/// `y`: y (forward) or dx (backward), (n,).
pub const Y: Slot = Slot::read_write("y", 2);

/// y = keep ? x · scale : 0.
pub const DROPOUT_FORWARD: Entry = Entry { name: "dropout_forward", slots: &[PARAMS, X, Y] };
/// dx = keep ? dy · scale : 0 (the same mask, recomputed).
pub const DROPOUT_BACKWARD: Entry = Entry { name: "dropout_backward", slots: &[PARAMS, X, Y] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract =
    Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[DROPOUT_FORWARD, DROPOUT_BACKWARD] };

/// x: (n,) → y: (n,), 256 elements per workgroup over the 1-D grid `groups`.
pub fn record_dropout_forward(ctx: &Context, p: &Params, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &DROPOUT_FORWARD, &[], p, &[X.bind(x), Y.bind(y)], groups)
}

/// dy: (n,) → dx: (n,), 256 elements per workgroup over the 1-D grid `groups`.
pub fn record_dropout_backward(ctx: &Context, p: &Params, dy: &Tensor, dx: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &DROPOUT_BACKWARD, &[], p, &[X.bind(dy), Y.bind(dx)], groups)
}
