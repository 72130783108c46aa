//! Launcher of shaders/rnn_fused_wg.wgsl: the fused recurrent step of
//! shaders/rnn_fused.wgsl (one dispatch per time step of an LSTM or GRU
//! layer, forward and backward, the product with W_hh and the cell in one
//! kernel) without subgroup operations, in 64-invocation workgroups with the
//! product's A rows staged through workgroup memory; it runs on every
//! adapter. Same params and bindings as `kernels::rnn_fused` (its [`Params`],
//! [`Sweep`] and [`Grads`] are reused); twice its units per workgroup; H a multiple of 4.
//! `nn::rnn_fused` decides when and runs the sweeps.

use super::{record, rnn_fused, Contract, Entry};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "rnn_fused_wg";

/// Batch rows per workgroup (the grid's y), forward and backward.
pub const ROW_TILE: usize = 32;
/// Hidden units per workgroup of the forward (the grid's x).
pub const FORWARD_UNIT_TILE: usize = 64;
/// Hidden units per workgroup of the backward (the grid's x).
pub const BACKWARD_UNIT_TILE: usize = 128;

/// `Params` in shaders/rnn_fused_wg.wgsl: the same block as rnn_fused.wgsl's.
pub use super::rnn_fused::Params;

/// The bindings: the same variables at the same bindings as rnn_fused.wgsl
/// (the contract test checks them against this shader too).
pub use super::rnn_fused::{ACT, AUX, BHH, C0, CARRY, DG, DGHH, DH0, DY, H0, HPREV, OUT, P, W, XW};

/// LSTM step t: h_{t-1}·W_hhᵀ and the cell, 32 batch rows × 64 units per 64-invocation workgroup;
/// h_0 is read from row 0 of `hprev` (no `h0` bound, so it fits 8 storage
/// buffers).
pub const LSTM_WG_FORWARD: Entry =
    Entry { name: "lstm_wg_forward", slots: rnn_fused::LSTM_FUSED_FORWARD.slots };
/// GRU step t: h_{t-1}·W_hhᵀ and the cell, 32 batch rows × 64 units per 64-invocation workgroup.
pub const GRU_WG_FORWARD: Entry =
    Entry { name: "gru_wg_forward", slots: rnn_fused::GRU_FUSED_FORWARD.slots };
/// LSTM backward step t (mode 0) or dh_0 (mode 1), 32 batch rows × 128 units per 64-invocation workgroup.
pub const LSTM_WG_BACKWARD: Entry =
    Entry { name: "lstm_wg_backward", slots: rnn_fused::LSTM_FUSED_BACKWARD.slots };
/// GRU backward step t (mode 0) or dh_0 (mode 1, written into `carry`; no
/// `dh0` bound, so it fits 8 storage buffers), 32 batch rows × 128 units per 64-invocation workgroup.
pub const GRU_WG_BACKWARD: Entry =
    Entry { name: "gru_wg_backward", slots: rnn_fused::GRU_FUSED_BACKWARD.slots };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[
        LSTM_WG_FORWARD,
        GRU_WG_FORWARD,
        LSTM_WG_BACKWARD,
        GRU_WG_BACKWARD,
    ],
};

pub use super::rnn_fused::{Grads, Sweep};

/// LSTM step `p.t` from xw (T, B, 4H), b_hh (4H,) and c0 (B, H), h_0 read
/// from row 0 of `s.hprev` (copied there before the sweep; `s.h0` unbound).
pub fn record_lstm_wg_forward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    c0: &Tensor,
    xw: &Tensor,
    bhh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LSTM_WG_FORWARD, &[], p, &rnn_fused::lstm_forward_bindings(s, c0, xw, bhh), groups)
}

/// GRU step `p.t` from xw (T, B, 3H) and b_hh (3H,), over
/// [ceil(H / 64), ceil(B / 32), 1] workgroups.
pub fn record_gru_wg_forward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    xw: &Tensor,
    bhh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &GRU_WG_FORWARD, &[], p, &rnn_fused::gru_forward_bindings(s, xw, bhh), groups)
}

/// LSTM backward step `p.t` into dg (T, B, 4H) (mode 0) or dh_0 (mode 1),
/// with c0 (B, H), over [ceil(H / 128), ceil(B / 32), 1] workgroups.
pub fn record_lstm_wg_backward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    c0: &Tensor,
    g: &Grads,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LSTM_WG_BACKWARD, &[], p, &rnn_fused::lstm_backward_bindings(s, c0, g), groups)
}

/// GRU backward step `p.t` into dg and the hidden-side dghh (T, B, 3H)
/// (mode 0) or dh_0 into `g.carry` (mode 1; `g.dh0` unbound).
pub fn record_gru_wg_backward(
    ctx: &Context,
    p: &Params,
    s: &Sweep,
    g: &Grads,
    dghh: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &GRU_WG_BACKWARD, &[], p, &rnn_fused::gru_backward_bindings(s, g, dghh), groups)
}
