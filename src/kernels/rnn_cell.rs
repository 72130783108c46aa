//! Launcher of shaders/rnn_cell.wgsl: the elementwise part of one time step
//! of a tanh RNN layer, forward and backward, and the row-slice copy that
//! splits a recurrent layer's packed output (the sweeps are in `nn::rnn`).
//! Its [`Params`] is also the uniform block of lstm_cell.wgsl and
//! gru_cell.wgsl, which copy the struct.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "rnn_cell";

/// Invocations per workgroup of every entry point here (and in
/// lstm_cell.wgsl, gru_cell.wgsl); the grid is 1-D folded into 2-D.
pub const WORKGROUP: usize = 64;

super::params! {
    /// Mirrors `Params` in shaders/rnn_cell.wgsl (copied as is in
    /// lstm_cell.wgsl and gru_cell.wgsl).
    pub struct Params as "Params" {
        t: u32,
        steps: u32,
        batch: u32,
        hidden: u32,
        offset: u32,
        count: u32,
        total: u32,
        _pad: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `xw`: (T, B, H), x·W_ihᵀ + b_ih.
pub const XW: Slot = Slot::read("xw", 1);
/// `h0`: (B, H).
pub const H0: Slot = Slot::read("h0", 4);
/// `out`: (T, B, H), h_1 … h_T.
pub const OUT: Slot = Slot::read_write("out", 6);
/// `hprev`: (T, B, H), h_0 … h_{T−1}.
pub const HPREV: Slot = Slot::read_write("hprev", 7);
/// `dy`: (T, B, H).
pub const DY: Slot = Slot::read("dy", 10);
/// `dg`: (T, B, H), pre-activation gradients.
pub const DG: Slot = Slot::read_write("dg", 11);
/// `src`: rows_slice: x (total,); rows_slice_backward: dy (count,).
pub const SRC: Slot = Slot::read("src", 15);
/// `dst`: rows_slice: y (count,); rows_slice_backward: dx (total,).
pub const DST: Slot = Slot::read_write("dst", 16);
/// `hw`: (B, H), h_{t-1}·W_hhᵀ + b_hh.
pub const HW: Slot = Slot::read("hw", 17);
/// `hcur`: (B, H), h_t for the next step's matmul.
pub const HCUR: Slot = Slot::read_write("hcur", 18);
/// `dhh`: (B, H), dG_{t+1}·W_hh (read for t < T−1).
pub const DHH: Slot = Slot::read("dhh", 19);
/// `dgstep`: (B, H), dG_t for the next matmul.
pub const DGSTEP: Slot = Slot::read_write("dgstep", 20);

/// h_t = tanh(xw_t + hw), one invocation per (b, j).
pub const RNN_FORWARD: Entry = Entry { name: "rnn_forward", slots: &[P, XW, H0, OUT, HPREV, HW, HCUR] };
/// dG_t = (dy_t + dhh) ⊙ (1 − h_t²), one invocation per (b, j).
pub const RNN_BACKWARD: Entry = Entry { name: "rnn_backward", slots: &[P, OUT, DY, DG, DHH, DGSTEP] };
/// dst[i] = src[offset + i], i < count.
pub const ROWS_SLICE: Entry = Entry { name: "rows_slice", slots: &[P, SRC, DST] };
/// dst[i] = src[i − offset] inside the slice, 0 elsewhere, i < total.
pub const ROWS_SLICE_BACKWARD: Entry = Entry { name: "rows_slice_backward", slots: &[P, SRC, DST] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[RNN_FORWARD, RNN_BACKWARD, ROWS_SLICE, ROWS_SLICE_BACKWARD],
};

/// What one forward step `p.t` reads and writes.
pub struct Forward<'a> {
    /// (T, B, H), x·W_ihᵀ + b_ih of every step.
    pub xw: &'a Tensor,
    /// (B, H).
    pub h0: &'a Tensor,
    /// (T, B, H): row t written.
    pub out: &'a Tensor,
    /// (T, B, H): rows t (at t = 0) and t + 1 written.
    pub hprev: &'a Tensor,
    /// (B, H), h_{t-1}·W_hhᵀ + b_hh.
    pub hw: &'a Tensor,
    /// (B, H): h_t, written.
    pub hcur: &'a Tensor,
}

/// What one backward step `p.t` reads and writes.
pub struct Backward<'a> {
    /// (T, B, H), the forward's output.
    pub out: &'a Tensor,
    /// (T, B, H).
    pub dy: &'a Tensor,
    /// (B, H), dG_{t+1}·W_hh (any read-only tensor at t = T−1).
    pub dhh: &'a Tensor,
    /// (T, B, H): row t written.
    pub dg: &'a Tensor,
    /// (B, H): dG_t, written.
    pub dgstep: &'a Tensor,
}

/// Step `p.t` of the forward (see [`Forward`]) over the B·H-invocation grid `groups`.
pub fn record_rnn_forward(ctx: &Context, p: &Params, s: &Forward, groups: [u32; 3]) -> Result<()> {
    let b = [XW.bind(s.xw), H0.bind(s.h0), OUT.bind(s.out), HPREV.bind(s.hprev), HW.bind(s.hw), HCUR.bind(s.hcur)];
    record(ctx, KERNEL, &RNN_FORWARD, &[], p, &b, groups)
}

/// Step `p.t` of the backward (see [`Backward`]) over the B·H-invocation grid `groups`.
pub fn record_rnn_backward(ctx: &Context, p: &Params, s: &Backward, groups: [u32; 3]) -> Result<()> {
    let b = [OUT.bind(s.out), DY.bind(s.dy), DHH.bind(s.dhh), DG.bind(s.dg), DGSTEP.bind(s.dgstep)];
    record(ctx, KERNEL, &RNN_BACKWARD, &[], p, &b, groups)
}

/// x: (p.total,) → y: (p.count,) = x[p.offset ..], over a p.count-invocation grid.
pub fn record_rows_slice(ctx: &Context, p: &Params, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &ROWS_SLICE, &[], p, &[SRC.bind(x), DST.bind(y)], groups)
}

/// dy: (p.count,) → dx: (p.total,), dy at p.offset and zeros around it, over
/// a p.total-invocation grid.
pub fn record_rows_slice_backward(ctx: &Context, p: &Params, dy: &Tensor, dx: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &ROWS_SLICE_BACKWARD, &[], p, &[SRC.bind(dy), DST.bind(dx)], groups)
}
