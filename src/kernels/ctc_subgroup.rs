//! Launcher of shaders/ctc_subgroup.wgsl: the CTC recursions with one
//! subgroup of 8 per utterance, α (forward) and β (backward, fused with the
//! gradient) in registers. Needs subgroups of at least 8 and L ≤ 8·[`CHUNK`];
//! `ops::ctc` routes here only then.
//!
//! WGSL has no include, so the shader repeats ctc.wgsl's `Params` and
//! bindings; on the Rust side they are the one mirror and the slots of
//! [`super::ctc`], re-exported here, and the contract test checks them
//! against this shader's copies too.

use super::ctc::{logits_constant, Backward, Batch, Forward, PackedBackward};
use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;

pub use super::ctc::{Params, ALPHA, BETA, G, GRAD, INFO, LOSS, LP, NLL, P, ROW_LSE, SCALE, TARGETS};

/// `weights`: (2N,) nll, then g·scale; read-only in this shader, so a slot
/// of its own (kernels::ctc's is read_write: ctc_pack_weights fills it).
pub const WEIGHTS: Slot = Slot::read("weights", 13);

/// The file stem in the registry.
pub const KERNEL: &str = "ctc_subgroup";

/// Positions per lane (`CHUNK` in the shader): L ≤ 8·CHUNK fits.
pub const CHUNK: usize = 12;

/// Forward, one subgroup of 8 per utterance, α in registers.
pub const CTC_ALPHA_SUBGROUP: Entry =
    Entry { name: "ctc_alpha_subgroup", slots: &[P, LP, TARGETS, INFO, ALPHA, NLL, LOSS, ROW_LSE] };
/// Backward fused with the gradient, one subgroup of 8 per utterance, β in
/// registers and one β row per utterance between dispatches.
pub const CTC_BETA_GRAD_SUBGROUP: Entry = Entry {
    name: "ctc_beta_grad_subgroup",
    slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, NLL, G, SCALE, GRAD, ROW_LSE],
};

/// [`CTC_BETA_GRAD_SUBGROUP`] reading nll and g·scale from `weights`: 8 storage buffers.
pub const CTC_BETA_GRAD_SUBGROUP_PACKED: Entry = Entry {
    name: "ctc_beta_grad_subgroup_packed",
    slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, GRAD, ROW_LSE, WEIGHTS],
};

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[CTC_ALPHA_SUBGROUP, CTC_BETA_GRAD_SUBGROUP, CTC_BETA_GRAD_SUBGROUP_PACKED],
};

/// Forward frames [p.t0, p.t0 + p.steps): batch → fwd (α, nll / loss at
/// each utterance's last frame; row_lse with `logits`). One 8-lane
/// workgroup (one subgroup) per utterance: `groups` is [N, 1, 1].
pub fn record_ctc_alpha_subgroup(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = super::ctc::alpha_bindings(batch, fwd);
    record(ctx, KERNEL, &CTC_ALPHA_SUBGROUP, &logits_constant(logits), p, &bindings, groups)
}

/// Backward frames p.t0 down to p.t0 − p.steps + 1 with their gradient
/// rows: batch, fwd → bwd.beta (N, L), the last frame's β row passed to the
/// next dispatch, and bwd.grad (T, N, C) weighted by g·scale. One 8-lane
/// workgroup per utterance: `groups` is [N, 1, 1].
pub fn record_ctc_beta_grad_subgroup(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    bwd: &Backward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = super::ctc::beta_grad_bindings(batch, fwd, bwd);
    record(ctx, KERNEL, &CTC_BETA_GRAD_SUBGROUP, &logits_constant(logits), p, &bindings, groups)
}

/// [`record_ctc_beta_grad_subgroup`] with nll and g·scale from bwd.weights.
pub fn record_ctc_beta_grad_subgroup_packed(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    bwd: &PackedBackward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = super::ctc::beta_grad_packed_bindings(batch, fwd, bwd);
    record(ctx, KERNEL, &CTC_BETA_GRAD_SUBGROUP_PACKED, &logits_constant(logits), p, &bindings, groups)
}
