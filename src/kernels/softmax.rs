//! Launcher of shaders/softmax.wgsl: softmax or log_softmax along the middle
//! axis of an (outer, D, inner) view, one invocation per row (long axes are
//! composed from other kernels in `ops::softmax`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "softmax";

super::params! {
    /// Mirrors `Params` in shaders/softmax.wgsl.
    pub struct Params as "Params" {
        outer: u32,
        d: u32,
        inner: u32,
        _pad: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `x`: (outer, D, inner).
pub const X: Slot = Slot::read("x", 1);
/// `y`: (outer, D, inner).
pub const Y: Slot = Slot::read_write("y", 2);

/// One invocation per (outer, inner) row, three walks along D.
pub const SOFTMAX: Entry = Entry { name: "softmax", slots: &[P, X, Y] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[SOFTMAX] };

/// y (outer, D, inner) = softmax (or log_softmax with `log`) of x along D,
/// over `groups` folded 64-wide workgroups (⌈outer·inner / 64⌉ in all).
pub fn record_softmax(ctx: &Context, p: &Params, log: bool, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &SOFTMAX, &[("LOG", if log { 1.0 } else { 0.0 })], p, &[X.bind(x), Y.bind(y)], groups)
}
