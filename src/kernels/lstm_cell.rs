//! Launcher of shaders/lstm_cell.wgsl: the elementwise part of one time step
//! of an LSTM layer, gates (i, f, g, o), forward and backward (the sweeps are
//! in `nn::rnn`). The uniform block is rnn_cell.wgsl's, copied.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

pub use super::rnn_cell::{Params, WORKGROUP};

/// The file stem in the registry.
pub const KERNEL: &str = "lstm_cell";

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `xw`: (T, B, 4H), x·W_ihᵀ + b_ih.
pub const XW: Slot = Slot::read("xw", 1);
/// `c0`: (B, H).
pub const C0: Slot = Slot::read("c0", 5);
/// `out`: (T+1, B, H), h_1 … h_T, c_T.
pub const OUT: Slot = Slot::read_write("out", 6);
/// `hprev`: (T, B, H), h_0 … h_{T−1}.
pub const HPREV: Slot = Slot::read_write("hprev", 7);
/// `act`: (T, B, 4H), i, f, g, o after σ / tanh.
pub const ACT: Slot = Slot::read_write("act", 8);
/// `cs`: (T, B, H), c_1 … c_T.
pub const CS: Slot = Slot::read_write("cs", 9);
/// `dy`: (T+1, B, H).
pub const DY: Slot = Slot::read("dy", 10);
/// `dg`: (T, B, 4H), pre-activation gradients.
pub const DG: Slot = Slot::read_write("dg", 11);
/// `dc_carry`: (B, H), f_{t+1} ⊙ dc_{t+1}.
pub const DC_CARRY: Slot = Slot::read_write("dc_carry", 13);
/// `hw`: (B, 4H), h_{t-1}·W_hhᵀ + b_hh.
pub const HW: Slot = Slot::read("hw", 17);
/// `hcur`: (B, H), h_t for the next step's matmul.
pub const HCUR: Slot = Slot::read_write("hcur", 18);
/// `dhh`: (B, H), dG_{t+1}·W_hh (read for t < T−1).
pub const DHH: Slot = Slot::read("dhh", 19);
/// `dgstep`: (B, 4H), dG_t for the next matmul.
pub const DGSTEP: Slot = Slot::read_write("dgstep", 20);

/// c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙tanh(c_t), one invocation per (b, j);
/// h_0 is read from row 0 of `hprev`.
pub const LSTM_FORWARD: Entry =
    Entry { name: "lstm_forward", slots: &[P, XW, C0, OUT, HPREV, ACT, CS, HW, HCUR] };
/// dG_t and the carried f⊙dc from dy_t, dhh and the saved gates, one invocation per (b, j).
pub const LSTM_BACKWARD: Entry =
    Entry { name: "lstm_backward", slots: &[P, C0, ACT, CS, DY, DG, DC_CARRY, DHH, DGSTEP] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[LSTM_FORWARD, LSTM_BACKWARD] };

/// What one forward step `p.t` reads and writes.
pub struct Forward<'a> {
    /// (T, B, 4H), x·W_ihᵀ + b_ih of every step.
    pub xw: &'a Tensor,
    /// (B, H).
    pub c0: &'a Tensor,
    /// (T+1, B, H): row t (and row T at t = T−1) written.
    pub out: &'a Tensor,
    /// (T, B, H): row 0 holds h_0 (copied before the sweep); row t + 1 written.
    pub hprev: &'a Tensor,
    /// (T, B, 4H): row t written.
    pub act: &'a Tensor,
    /// (T, B, H): row t written, row t − 1 read.
    pub cs: &'a Tensor,
    /// (B, 4H), h_{t-1}·W_hhᵀ + b_hh.
    pub hw: &'a Tensor,
    /// (B, H): h_t, written.
    pub hcur: &'a Tensor,
}

/// What one backward step `p.t` reads and writes.
pub struct Backward<'a> {
    /// (B, H).
    pub c0: &'a Tensor,
    /// (T, B, 4H), the forward's gates.
    pub act: &'a Tensor,
    /// (T, B, H), the forward's cell states.
    pub cs: &'a Tensor,
    /// (T+1, B, H).
    pub dy: &'a Tensor,
    /// (B, H), dG_{t+1}·W_hh (any read-only tensor at t = T−1).
    pub dhh: &'a Tensor,
    /// (T, B, 4H): row t written.
    pub dg: &'a Tensor,
    /// (B, H): f_t ⊙ dc_t, read (t < T−1) and written.
    pub dc_carry: &'a Tensor,
    /// (B, 4H): dG_t, written.
    pub dgstep: &'a Tensor,
}

/// Step `p.t` of the forward (see [`Forward`]) over the B·H-invocation grid `groups`.
pub fn record_lstm_forward(ctx: &Context, p: &Params, s: &Forward, groups: [u32; 3]) -> Result<()> {
    let b = [
        XW.bind(s.xw),
        C0.bind(s.c0),
        OUT.bind(s.out),
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        CS.bind(s.cs),
        HW.bind(s.hw),
        HCUR.bind(s.hcur),
    ];
    record(ctx, KERNEL, &LSTM_FORWARD, &[], p, &b, groups)
}

/// Step `p.t` of the backward (see [`Backward`]) over the B·H-invocation grid `groups`.
pub fn record_lstm_backward(ctx: &Context, p: &Params, s: &Backward, groups: [u32; 3]) -> Result<()> {
    let b = [
        C0.bind(s.c0),
        ACT.bind(s.act),
        CS.bind(s.cs),
        DY.bind(s.dy),
        DHH.bind(s.dhh),
        DG.bind(s.dg),
        DC_CARRY.bind(s.dc_carry),
        DGSTEP.bind(s.dgstep),
    ];
    record(ctx, KERNEL, &LSTM_BACKWARD, &[], p, &b, groups)
}
