//! Launcher of shaders/rnn_layers.wgsl: the injective index copy every
//! reshuffle of the recurrent stack is built from (the maps are built in
//! `nn::rnn_layers`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "rnn_layers";

super::params! {
    /// Mirrors `Params` in shaders/rnn_layers.wgsl.
    pub struct Params as "Params" {
        n: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `src`: any flat f32 buffer.
pub const SRC: Slot = Slot::read("src", 1);
/// `idx`: (n,), a source index per output, 0xffffffff for none.
pub const IDX: Slot = Slot::read("idx", 2);
/// `dst`: (n,).
pub const DST: Slot = Slot::read_write("dst", 3);

/// dst[i] = src[idx[i]], or 0 where idx[i] = 0xffffffff.
pub const GATHER: Entry = Entry { name: "gather", slots: &[P, SRC, IDX, DST] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[GATHER] };

/// src: (any,), idx: (n,) → dst: (n,), 64 outputs per workgroup over the 1-D
/// grid `groups`.
pub fn record_gather(ctx: &Context, p: &Params, src: &Tensor, idx: &Tensor, dst: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &GATHER, &[], p, &[SRC.bind(src), IDX.bind(idx), DST.bind(dst)], groups)
}
