//! Launcher of shaders/unfold_time.wgsl: the unfold (im2col over time) of the
//! speech front end's strided convolution and its gradient (the autograd op
//! and the matmul that follows are in `speech::conv`).
//!
//! x (T, B, F), K taps, stride S, zero padding P at both ends → cols
//! (T_out, B, K·F), T_out = ⌊(T + 2P − K)/S⌋ + 1.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "unfold_time";

/// Most taps: the backward's per-element loop stays under llvmpipe's cap of
/// 65535 iterations per invocation.
pub const MAX_TAPS: usize = 32768;

super::params! {
    /// Mirrors `Params` in shaders/unfold_time.wgsl.
    pub struct Params as "Params" {
        t: u32,
        b: u32,
        f: u32,
        k: u32,
        s: u32,
        p: u32,
        t_out: u32,
        _pad: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `x`: (T, B, F).
pub const X: Slot = Slot::read("x", 1);
/// `cols`: (T_out, B, K·F).
pub const COLS: Slot = Slot::read_write("cols", 2);
/// `dcols`: (T_out, B, K·F).
pub const DCOLS: Slot = Slot::read("dcols", 3);
/// `dx`: (T, B, F).
pub const DX: Slot = Slot::read_write("dx", 4);

/// cols[t', b, k·F + f] = x[t'·S + k − P, b, f], one invocation per element of cols.
pub const UNFOLD_FORWARD: Entry = Entry { name: "unfold_forward", slots: &[P, X, COLS] };
/// dx[t, b, f] = Σ over taps reading it of dcols, one invocation per element of dx.
pub const UNFOLD_BACKWARD: Entry = Entry { name: "unfold_backward", slots: &[P, DCOLS, DX] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract =
    Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[UNFOLD_FORWARD, UNFOLD_BACKWARD] };

/// x: (T, B, F) → cols: (T_out, B, K·F), 256 elements per workgroup over the
/// 1-D grid `groups`.
pub fn record_unfold_forward(ctx: &Context, p: &Params, x: &Tensor, cols: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &UNFOLD_FORWARD, &[], p, &[X.bind(x), COLS.bind(cols)], groups)
}

/// dcols: (T_out, B, K·F) → dx: (T, B, F), 256 elements per workgroup over
/// the 1-D grid `groups`.
pub fn record_unfold_backward(ctx: &Context, p: &Params, dcols: &Tensor, dx: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &UNFOLD_BACKWARD, &[], p, &[DCOLS.bind(dcols), DX.bind(dx)], groups)
}
