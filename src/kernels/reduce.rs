//! Launcher of shaders/reduce.wgsl: sum, mean or max over the middle axis of
//! an (outer, D, inner) view, in chunks (the multi-pass logic is in
//! `ops::reduce`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "reduce";

super::params! {
    /// Mirrors `Params` in shaders/reduce.wgsl.
    pub struct Params as "Params" {
        outer: u32,
        d: u32,
        inner: u32,
        chunk: u32,
        divisor: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `x`: (outer, D, inner).
pub const X: Slot = Slot::read("x", 1);
/// `y`: (outer, ceil(D / chunk), inner).
pub const Y: Slot = Slot::read_write("y", 2);

/// One invocation per output chunk, a plain loop.
pub const REDUCE_ROWS: Entry = Entry { name: "reduce_rows", slots: &[P, X, Y] };
/// One 256-invocation workgroup per output chunk.
pub const REDUCE_WIDE: Entry = Entry { name: "reduce_wide", slots: &[P, X, Y] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[REDUCE_ROWS, REDUCE_WIDE] };

/// Which reduction, as the shader's `OP` override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Σ
    Sum = 0,
    /// Σ / divisor
    Mean = 1,
    /// max
    Max = 2,
}

/// x: (outer, D, inner) → y: (outer, ceil(D / chunk), inner), one invocation
/// per output (64 per workgroup) over `groups` workgroups.
pub fn record_reduce_rows(ctx: &Context, p: &Params, op: Op, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &REDUCE_ROWS, &[("OP", op as u32 as f64)], p, &[X.bind(x), Y.bind(y)], groups)
}

/// x: (outer, D, inner) → y: (outer, ceil(D / chunk), inner), one workgroup
/// per output over `groups` workgroups.
pub fn record_reduce_wide(ctx: &Context, p: &Params, op: Op, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &REDUCE_WIDE, &[("OP", op as u32 as f64)], p, &[X.bind(x), Y.bind(y)], groups)
}
