//! Launcher of shaders/rnn_fused.wgsl: one dispatch per time step of an LSTM
//! or GRU layer, forward and backward, the product with W_hh and the cell in
//! one kernel (see that file for the tiling). Needs subgroups of at least 8
//! and H a multiple of 4; `nn::rnn_fused` decides when and runs the sweeps.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::{Binding, Context};
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "rnn_fused";

/// Batch rows per workgroup (the grid's y), forward and backward.
pub const ROW_TILE: usize = 32;
/// Hidden units per workgroup of the forward (the grid's x).
pub const FORWARD_UNIT_TILE: usize = 32;
/// Hidden units per workgroup of the backward (the grid's x).
pub const BACKWARD_UNIT_TILE: usize = 64;

super::params! {
    /// Mirrors `Params` in shaders/rnn_fused.wgsl.
    pub struct Params as "Params" {
        t: u32,
        steps: u32,
        batch: u32,
        hidden: u32,
        kchunks: u32,
        mode: u32,
        src: u32,
        _pad: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `xw`: (T, B, G·H), x·W_ihᵀ + b_ih.
pub const XW: Slot = Slot::read("xw", 1);
/// `w`: W_hh (G·H, H).
pub const W: Slot = Slot::read("w", 2);
/// `bhh`: b_hh (G·H,).
pub const BHH: Slot = Slot::read("bhh", 3);
/// `h0`: (B, H).
pub const H0: Slot = Slot::read("h0", 4);
/// `c0`: (B, H), LSTM.
pub const C0: Slot = Slot::read("c0", 5);
/// `out`: (T[+1], B, H), h_1 … h_T [, c_T].
pub const OUT: Slot = Slot::read_write("out", 6);
/// `hprev`: (T, B, H), h_0 … h_{T−1}.
pub const HPREV: Slot = Slot::read_write("hprev", 7);
/// `act`: (T, B, G·H), gates after σ / tanh.
pub const ACT: Slot = Slot::read_write("act", 8);
/// `aux`: (T, B, H), LSTM: c_t; GRU: hn.
pub const AUX: Slot = Slot::read_write("aux", 9);
/// `dy`: like `out`.
pub const DY: Slot = Slot::read("dy", 10);
/// `dg`: (T, B, G·H), input-side dG.
pub const DG: Slot = Slot::read_write("dg", 11);
/// `dghh`: (T, B, G·H), GRU hidden-side dG.
pub const DGHH: Slot = Slot::read_write("dghh", 12);
/// `carry`: (B, H), LSTM f⊙dc; GRU z⊙dh.
pub const CARRY: Slot = Slot::read_write("carry", 13);
/// `dh0`: (B, H), mode 1's output.
pub const DH0: Slot = Slot::read_write("dh0", 14);

/// LSTM step t: h_{t-1}·W_hhᵀ and the cell, 32 batch rows × 32 units per workgroup;
/// h_0 is read from row 0 of `hprev` (no `h0` bound, so it fits 8 storage
/// buffers).
pub const LSTM_FUSED_FORWARD: Entry =
    Entry { name: "lstm_fused_forward", slots: &[P, XW, W, BHH, C0, OUT, HPREV, ACT, AUX] };
/// GRU step t: h_{t-1}·W_hhᵀ and the cell, 32 batch rows × 32 units per workgroup.
pub const GRU_FUSED_FORWARD: Entry =
    Entry { name: "gru_fused_forward", slots: &[P, XW, W, BHH, H0, OUT, HPREV, ACT, AUX] };
/// LSTM backward step t (mode 0) or dh_0 (mode 1), 32 batch rows × 64 units per workgroup.
pub const LSTM_FUSED_BACKWARD: Entry =
    Entry { name: "lstm_fused_backward", slots: &[P, W, C0, ACT, AUX, DY, DG, CARRY, DH0] };
/// GRU backward step t (mode 0) or dh_0 (mode 1, written into `carry`; no
/// `dh0` bound, so it fits 8 storage buffers), 32 batch rows × 64 units per workgroup.
pub const GRU_FUSED_BACKWARD: Entry =
    Entry { name: "gru_fused_backward", slots: &[P, W, HPREV, ACT, AUX, DY, DG, DGHH, CARRY] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[
        LSTM_FUSED_FORWARD,
        GRU_FUSED_FORWARD,
        LSTM_FUSED_BACKWARD,
        GRU_FUSED_BACKWARD,
    ],
};

/// The layer's tensors the fused dispatches bind, as `nn::rnn` allocates
/// them (each entry point binds those it uses: the backward reads neither
/// `h0` nor `out`, LSTM's not `hprev` either).
pub struct Sweep<'a> {
    /// W_hh (G·H, H).
    pub w: &'a Tensor,
    /// (B, H).
    pub h0: &'a Tensor,
    /// (T[+1], B, H): h_1 … h_T [, c_T].
    pub out: &'a Tensor,
    /// (T, B, H): h_0 … h_{T−1}.
    pub hprev: &'a Tensor,
    /// (T, B, G·H): gate activations.
    pub act: &'a Tensor,
    /// (T, B, H): c_t (LSTM) or h_{t-1}·W_hnᵀ + b_hn (GRU).
    pub aux: &'a Tensor,
}

/// What a backward dispatch reads and writes besides the [`Sweep`].
pub struct Grads<'a> {
    /// Like `out`.
    pub dy: &'a Tensor,
    /// (T, B, G·H): row t written, row p.src read.
    pub dg: &'a Tensor,
    /// (B, H): f⊙dc (LSTM) or z⊙dh (GRU), read and written.
    pub carry: &'a Tensor,
    /// (B, H): written in mode 1.
    pub dh0: &'a Tensor,
}

/// LSTM step `p.t` from xw (T, B, 4H), b_hh (4H,) and c0 (B, H), h_0 read
/// from row 0 of `s.hprev` (copied there before the sweep; `s.h0` unbound).
pub fn record_lstm_fused_forward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    c0: &Tensor,
    xw: &Tensor,
    bhh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LSTM_FUSED_FORWARD, &[], p, &lstm_forward_bindings(s, c0, xw, bhh), groups)
}

/// GRU step `p.t` from xw (T, B, 3H) and b_hh (3H,), over
/// [ceil(H / 32), ceil(B / 32), 1] workgroups.
pub fn record_gru_fused_forward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    xw: &Tensor,
    bhh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &GRU_FUSED_FORWARD, &[], p, &gru_forward_bindings(s, xw, bhh), groups)
}

/// LSTM backward step `p.t` into dg (T, B, 4H) (mode 0) or dh_0 (mode 1),
/// with c0 (B, H), over [ceil(H / 64), ceil(B / 32), 1] workgroups.
pub fn record_lstm_fused_backward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    c0: &Tensor,
    g: &Grads,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LSTM_FUSED_BACKWARD, &[], p, &lstm_backward_bindings(s, c0, g), groups)
}

/// GRU backward step `p.t` into dg and the hidden-side dghh (T, B, 3H)
/// (mode 0) or dh_0 into `g.carry` (mode 1; `g.dh0` unbound).
pub fn record_gru_fused_backward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    g: &Grads,
    dghh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &GRU_FUSED_BACKWARD, &[], p, &gru_backward_bindings(s, g, dghh), groups)
}

/// The bindings of an LSTM step, the same in this shader and rnn_fused_wg.wgsl.
pub(crate) fn lstm_forward_bindings<'a>(s: &Sweep<'a>, c0: &'a Tensor, xw: &'a Tensor, bhh: &'a Tensor) -> [Binding<'a>; 8] {
    [
        XW.bind(xw),
        W.bind(s.w),
        BHH.bind(bhh),
        C0.bind(c0),
        OUT.bind(s.out),
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        AUX.bind(s.aux),
    ]
}

/// The bindings of a GRU step, the same in this shader and rnn_fused_wg.wgsl.
pub(crate) fn gru_forward_bindings<'a>(s: &Sweep<'a>, xw: &'a Tensor, bhh: &'a Tensor) -> [Binding<'a>; 8] {
    [
        XW.bind(xw),
        W.bind(s.w),
        BHH.bind(bhh),
        H0.bind(s.h0),
        OUT.bind(s.out),
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        AUX.bind(s.aux),
    ]
}

/// The bindings of an LSTM backward step, the same in this shader and rnn_fused_wg.wgsl.
pub(crate) fn lstm_backward_bindings<'a>(s: &Sweep<'a>, c0: &'a Tensor, g: &Grads<'a>) -> [Binding<'a>; 8] {
    [
        W.bind(s.w),
        C0.bind(c0),
        ACT.bind(s.act),
        AUX.bind(s.aux),
        DY.bind(g.dy),
        DG.bind(g.dg),
        CARRY.bind(g.carry),
        DH0.bind(g.dh0),
    ]
}

/// The bindings of a GRU backward step, the same in this shader and rnn_fused_wg.wgsl.
pub(crate) fn gru_backward_bindings<'a>(s: &Sweep<'a>, g: &Grads<'a>, dghh: &'a Tensor) -> [Binding<'a>; 8] {
    [
        W.bind(s.w),
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        AUX.bind(s.aux),
        DY.bind(g.dy),
        DG.bind(g.dg),
        DGHH.bind(dghh),
        CARRY.bind(g.carry),
    ]
}
