//! Launcher of shaders/gru_cell.wgsl: the elementwise part of one time step
//! of a GRU layer, gates (r, z, n), forward and backward (the sweeps are in
//! `nn::rnn`). The uniform block is rnn_cell.wgsl's, copied.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

pub use super::rnn_cell::{Params, WORKGROUP};

/// The file stem in the registry.
pub const KERNEL: &str = "gru_cell";

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `xw`: (T, B, 3H), x·W_ihᵀ + b_ih.
pub const XW: Slot = Slot::read("xw", 1);
/// `h0`: (B, H).
pub const H0: Slot = Slot::read("h0", 4);
/// `out`: (T, B, H), h_1 … h_T.
pub const OUT: Slot = Slot::read_write("out", 6);
/// `hprev`: (T, B, H), h_0 … h_{T−1}.
pub const HPREV: Slot = Slot::read_write("hprev", 7);
/// `act`: (T, B, 3H), r, z, n.
pub const ACT: Slot = Slot::read_write("act", 8);
/// `hn`: (T, B, H), h_{t-1}·W_hnᵀ + b_hn.
pub const HN: Slot = Slot::read_write("hn", 9);
/// `dy`: (T, B, H).
pub const DY: Slot = Slot::read("dy", 10);
/// `dg`: (T, B, 3H), input-side gradients dGih.
pub const DG: Slot = Slot::read_write("dg", 11);
/// `dghh`: (T, B, 3H), hidden-side gradients dGhh.
pub const DGHH: Slot = Slot::read_write("dghh", 12);
/// `dh_carry`: (B, H), z_{t+1} ⊙ dh_{t+1}.
pub const DH_CARRY: Slot = Slot::read_write("dh_carry", 13);
/// `hw`: (B, 3H), h_{t-1}·W_hhᵀ + b_hh.
pub const HW: Slot = Slot::read("hw", 17);
/// `hcur`: (B, H), h_t for the next step's matmul.
pub const HCUR: Slot = Slot::read_write("hcur", 18);
/// `dhh`: (B, H), dGhh_{t+1}·W_hh (read for t < T−1).
pub const DHH: Slot = Slot::read("dhh", 19);
/// `dgstep`: (B, 3H), dGhh_t for the next matmul.
pub const DGSTEP: Slot = Slot::read_write("dgstep", 20);

/// h_t = (1 − z)⊙n + z⊙h_{t−1}, one invocation per (b, j).
pub const GRU_FORWARD: Entry =
    Entry { name: "gru_forward", slots: &[P, XW, H0, OUT, HPREV, ACT, HN, HW, HCUR] };
/// dGih_t, the next matmul's dGhh_t and the carried z⊙dh from dy_t, dhh and
/// the saved gates, one invocation per (b, j); [`GRU_DGHH`] writes dGhh
/// after the sweep.
pub const GRU_BACKWARD: Entry =
    Entry { name: "gru_backward", slots: &[P, HPREV, ACT, HN, DY, DG, DH_CARRY, DHH, DGSTEP] };
/// dGhh of every step from dGih and r, one invocation per (t, b, j).
pub const GRU_DGHH: Entry = Entry { name: "gru_dghh", slots: &[P, ACT, DG, DGHH] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[GRU_FORWARD, GRU_BACKWARD, GRU_DGHH] };

/// What one forward step `p.t` reads and writes.
pub struct Forward<'a> {
    /// (T, B, 3H), x·W_ihᵀ + b_ih of every step.
    pub xw: &'a Tensor,
    /// (B, H).
    pub h0: &'a Tensor,
    /// (T, B, H): row t written.
    pub out: &'a Tensor,
    /// (T, B, H): row t read, rows t (at t = 0) and t + 1 written.
    pub hprev: &'a Tensor,
    /// (T, B, 3H): row t written.
    pub act: &'a Tensor,
    /// (T, B, H): row t written.
    pub hn: &'a Tensor,
    /// (B, 3H), h_{t-1}·W_hhᵀ + b_hh.
    pub hw: &'a Tensor,
    /// (B, H): h_t, written.
    pub hcur: &'a Tensor,
}

/// What one backward step `p.t` reads and writes.
pub struct Backward<'a> {
    /// (T, B, H), h_0 … h_{T−1}.
    pub hprev: &'a Tensor,
    /// (T, B, 3H), the forward's gates.
    pub act: &'a Tensor,
    /// (T, B, H), the forward's hn.
    pub hn: &'a Tensor,
    /// (T, B, H).
    pub dy: &'a Tensor,
    /// (B, H), dGhh_{t+1}·W_hh (any read-only tensor at t = T−1).
    pub dhh: &'a Tensor,
    /// (T, B, 3H): row t written.
    pub dg: &'a Tensor,
    /// (B, H): z_t ⊙ dh_t, read (t < T−1) and written.
    pub dh_carry: &'a Tensor,
    /// (B, 3H): dGhh_t, written.
    pub dgstep: &'a Tensor,
}

/// Step `p.t` of the forward (see [`Forward`]) over the B·H-invocation grid `groups`.
pub fn record_gru_forward(ctx: &Context, p: &Params, s: &Forward, groups: [u32; 3]) -> Result<()> {
    let b = [
        XW.bind(s.xw),
        H0.bind(s.h0),
        OUT.bind(s.out),
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        HN.bind(s.hn),
        HW.bind(s.hw),
        HCUR.bind(s.hcur),
    ];
    record(ctx, KERNEL, &GRU_FORWARD, &[], p, &b, groups)
}

/// Step `p.t` of the backward (see [`Backward`]) over the B·H-invocation
/// grid `groups`; [`record_gru_dghh`] writes dGhh after the sweep.
pub fn record_gru_backward(ctx: &Context, p: &Params, s: &Backward, groups: [u32; 3]) -> Result<()> {
    let b = [
        HPREV.bind(s.hprev),
        ACT.bind(s.act),
        HN.bind(s.hn),
        DY.bind(s.dy),
        DHH.bind(s.dhh),
        DG.bind(s.dg),
        DH_CARRY.bind(s.dh_carry),
        DGSTEP.bind(s.dgstep),
    ];
    record(ctx, KERNEL, &GRU_BACKWARD, &[], p, &b, groups)
}

/// dghh (T, B, 3H) from dg (T, B, 3H) and the gates act (T, B, 3H), all
/// steps (`p.steps`, `p.batch`, `p.hidden` set), over the T·B·H-invocation grid `groups`.
pub fn record_gru_dghh(ctx: &Context, p: &Params, act: &Tensor, dg: &Tensor, dghh: &Tensor, groups: [u32; 3]) -> Result<()> {
    let b = [ACT.bind(act), DG.bind(dg), DGHH.bind(dghh)];
    record(ctx, KERNEL, &GRU_DGHH, &[], p, &b, groups)
}
