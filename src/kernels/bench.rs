//! Launcher of shaders/bench.wgsl: the smallest useful dispatch, for
//! measuring dispatch overhead (`crate::bench`).

use super::{Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "bench";

/// `x`: (n,), every element bumped by 1.
pub const X: Slot = Slot::read_write("x", 1);

/// x += 1, one invocation per element (64 per workgroup).
pub const BUMP: Entry = Entry { name: "bump", slots: &[X] };

/// Everything above, for the contract test (the shader has no uniform).
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[], entries: &[BUMP] };

/// x (n,) += 1 over `groups` workgroups of 64 (⌈n / 64⌉ covers x).
pub fn record_bump(ctx: &Context, x: &Tensor, groups: [u32; 3]) -> Result<()> {
    // No params block: nothing goes to the uniform arena.
    ctx.dispatch(KERNEL, BUMP.name, &[], &[], &[X.bind(x)], groups)
}
