//! Launcher of shaders/ctc.wgsl: the CTC α and β recursions in log space in
//! two layouts (serial: one invocation per utterance; workgroup: one 64-lane
//! workgroup per utterance), the gradient with respect to the
//! log-probabilities, and the weighted sum behind "sum" and "mean". Which
//! layout runs, the chunking of the time axis and the buffers' allocation
//! are in `ops::ctc`; shaders/ctc_subgroup.wgsl (`super::ctc_subgroup`)
//! shares this Params block and these bindings.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::{Binding, Context};
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "ctc";

/// Lanes per workgroup of the `*_wg` entries (each owns positions lane,
/// lane + 64, …).
pub const WG_LANES: usize = 64;

super::params! {
    /// Mirrors `Params` in shaders/ctc.wgsl (and its copy in
    /// shaders/ctc_subgroup.wgsl).
    pub struct Params as "Params" {
        n: u32,
        c: u32,
        t: u32,
        l: u32,
        blank: u32,
        t0: u32,
        steps: u32,
        zero_inf: u32,
        g_stride: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `lp`: (T, N, C) log-probabilities (logits with `LOGITS`).
pub const LP: Slot = Slot::read("lp", 1);
/// `targets`: (Σ S_n,) concatenated labels.
pub const TARGETS: Slot = Slot::read("targets", 2);
/// `info`: (N, 4) (T_n, S_n, offset into targets, impossible).
pub const INFO: Slot = Slot::read("info", 3);
/// `alpha`: (N, T, L) log α.
pub const ALPHA: Slot = Slot::read_write("alpha", 4);
/// `beta`: (N, T, L) log β ((N, L) in the subgroup layout).
pub const BETA: Slot = Slot::read_write("beta", 5);
/// `nll`: (N,) −log p, finite (sentinel-sized when impossible).
pub const NLL: Slot = Slot::read_write("nll", 6);
/// `loss`: (N,) per-utterance loss (+inf / 0 when impossible).
pub const LOSS: Slot = Slot::read_write("loss", 7);
/// `g`: (N,) or (1,) upstream gradient, per `g_stride`.
pub const G: Slot = Slot::read("g", 8);
/// `scale`: (N,) reduction weight per utterance.
pub const SCALE: Slot = Slot::read("scale", 9);
/// `grad`: (T, N, C).
pub const GRAD: Slot = Slot::read_write("grad", 10);
/// `reduced`: (1,) Σ_n loss[n]·scale[n].
pub const REDUCED: Slot = Slot::read_write("reduced", 11);
/// `row_lse`: (T, N) logsumexp of each logits row (read only with `LOGITS`).
pub const ROW_LSE: Slot = Slot::read_write("row_lse", 12);
/// `weights`: (2N,) nll, then g[n·g_stride]·scale[n] (ctc_pack_weights).
pub const WEIGHTS: Slot = Slot::read_write("weights", 13);

/// Forward, one invocation per utterance, looping over positions.
pub const CTC_ALPHA_SERIAL: Entry =
    Entry { name: "ctc_alpha_serial", slots: &[P, LP, TARGETS, INFO, ALPHA, NLL, LOSS, ROW_LSE] };
/// Backward fused with the gradient rows, one invocation per utterance.
pub const CTC_BETA_GRAD_SERIAL: Entry = Entry {
    name: "ctc_beta_grad_serial",
    slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, NLL, G, SCALE, GRAD, ROW_LSE],
};
/// Forward, one 64-lane workgroup per utterance.
pub const CTC_ALPHA_WG: Entry = Entry { name: "ctc_alpha_wg", slots: &[P, LP, TARGETS, INFO, ALPHA, NLL, LOSS] };
/// Backward, one 64-lane workgroup per utterance.
pub const CTC_BETA_WG: Entry = Entry { name: "ctc_beta_wg", slots: &[P, LP, TARGETS, INFO, BETA] };
/// Gradient from α and β, one invocation per (t, n).
pub const CTC_GRAD: Entry =
    Entry { name: "ctc_grad", slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, NLL, G, SCALE, GRAD] };
/// Σ_n loss[n]·scale[n] in one invocation.
pub const CTC_REDUCE: Entry = Entry { name: "ctc_reduce", slots: &[P, LOSS, SCALE, REDUCED] };
/// [`CTC_BETA_GRAD_SERIAL`] reading nll and g·scale from `weights`: 8 storage buffers.
pub const CTC_BETA_GRAD_SERIAL_PACKED: Entry = Entry {
    name: "ctc_beta_grad_serial_packed",
    slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, GRAD, ROW_LSE, WEIGHTS],
};
/// [`CTC_GRAD`] reading nll and g·scale from `weights`: 7 storage buffers.
pub const CTC_GRAD_PACKED: Entry =
    Entry { name: "ctc_grad_packed", slots: &[P, LP, TARGETS, INFO, ALPHA, BETA, GRAD, WEIGHTS] };
/// Packs nll and g·scale into `weights` for the `*_packed` entries.
pub const CTC_PACK_WEIGHTS: Entry = Entry { name: "ctc_pack_weights", slots: &[P, NLL, G, SCALE, WEIGHTS] };


/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[
        CTC_ALPHA_SERIAL,
        CTC_BETA_GRAD_SERIAL,
        CTC_ALPHA_WG,
        CTC_BETA_WG,
        CTC_GRAD,
        CTC_REDUCE,
        CTC_BETA_GRAD_SERIAL_PACKED,
        CTC_GRAD_PACKED,
        CTC_PACK_WEIGHTS,
    ],
};

/// What every recursion reads: the network output and the batch.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// `lp`: (T, N, C) log-probabilities, or logits with `logits`.
    pub lp: &'a Tensor,
    /// `targets`: (Σ S_n,) concatenated labels (at least one element).
    pub targets: &'a Tensor,
    /// `info`: (N, 4) (T_n, S_n, offset, impossible).
    pub info: &'a Tensor,
}

/// What the forward writes and the backward reads back.
#[derive(Clone, Copy, Debug)]
pub struct Forward<'a> {
    /// `alpha`: (N, T, L).
    pub alpha: &'a Tensor,
    /// `nll`: (N,).
    pub nll: &'a Tensor,
    /// `loss`: (N,).
    pub loss: &'a Tensor,
    /// `row_lse`: (T, N) with `logits`, else any one-element stand-in (the
    /// serial and subgroup entries name it either way).
    pub row_lse: &'a Tensor,
}

/// What the backward writes, and the gradient's weights.
#[derive(Clone, Copy, Debug)]
pub struct Backward<'a> {
    /// `beta`: (N, T, L), or (N, L) for the subgroup layout.
    pub beta: &'a Tensor,
    /// `g`: (N,) or (1,) upstream gradient.
    pub g: &'a Tensor,
    /// `scale`: (N,).
    pub scale: &'a Tensor,
    /// `grad`: (T, N, C).
    pub grad: &'a Tensor,
}

/// The backward of a device with few storage buffers per stage: nll and
/// g·scale packed into one buffer by [`record_ctc_pack_weights`].
#[derive(Clone, Copy, Debug)]
pub struct PackedBackward<'a> {
    /// `beta`: (N, T, L), or (N, L) for the subgroup layout.
    pub beta: &'a Tensor,
    /// `weights`: (2N,).
    pub weights: &'a Tensor,
    /// `grad`: (T, N, C).
    pub grad: &'a Tensor,
}

/// The `LOGITS` override: whether `lp` holds logits.
pub(crate) fn logits_constant(logits: bool) -> [(&'static str, f64); 1] {
    [("LOGITS", if logits { 1.0 } else { 0.0 })]
}

/// What an α pass that also keeps row_lse binds (the serial and subgroup layouts).
pub(crate) fn alpha_bindings<'a>(batch: &Batch<'a>, fwd: &Forward<'a>) -> [Binding<'a>; 7] {
    [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(fwd.alpha),
        NLL.bind(fwd.nll),
        LOSS.bind(fwd.loss),
        ROW_LSE.bind(fwd.row_lse),
    ]
}

/// What a fused β-and-gradient pass binds (the serial and subgroup layouts).
pub(crate) fn beta_grad_bindings<'a>(batch: &Batch<'a>, fwd: &Forward<'a>, bwd: &Backward<'a>) -> [Binding<'a>; 10] {
    [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(fwd.alpha),
        BETA.bind(bwd.beta),
        NLL.bind(fwd.nll),
        G.bind(bwd.g),
        SCALE.bind(bwd.scale),
        GRAD.bind(bwd.grad),
        ROW_LSE.bind(fwd.row_lse),
    ]
}

/// [`beta_grad_bindings`] with nll and g·scale packed in bwd.weights.
pub(crate) fn beta_grad_packed_bindings<'a>(batch: &Batch<'a>, fwd: &Forward<'a>, bwd: &PackedBackward<'a>) -> [Binding<'a>; 8] {
    [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(fwd.alpha),
        BETA.bind(bwd.beta),
        GRAD.bind(bwd.grad),
        ROW_LSE.bind(fwd.row_lse),
        WEIGHTS.bind(bwd.weights),
    ]
}

/// Forward frames [p.t0, p.t0 + p.steps) of every utterance: batch → fwd
/// (α, and nll / loss at each utterance's last frame; row_lse with
/// `logits`). One invocation per utterance, 8 per workgroup, over `groups`.
pub fn record_ctc_alpha_serial(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = alpha_bindings(batch, fwd);
    record(ctx, KERNEL, &CTC_ALPHA_SERIAL, &logits_constant(logits), p, &bindings, groups)
}

/// Backward frames p.t0 down to p.t0 − p.steps + 1 with the gradient rows
/// of those frames: batch, fwd → bwd.beta (N, T, L), bwd.grad (T, N, C)
/// weighted by g·scale. One invocation per utterance, 8 per workgroup,
/// over `groups`.
pub fn record_ctc_beta_grad_serial(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    bwd: &Backward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = beta_grad_bindings(batch, fwd, bwd);
    record(ctx, KERNEL, &CTC_BETA_GRAD_SERIAL, &logits_constant(logits), p, &bindings, groups)
}

/// Forward frames [p.t0, p.t0 + p.steps): batch (log-probabilities) → fwd
/// (α, nll, loss; row_lse unused). One 64-lane workgroup per utterance:
/// `groups` is [N, 1, 1].
pub fn record_ctc_alpha_wg(ctx: &Context, p: &Params, batch: &Batch<'_>, fwd: &Forward<'_>, groups: [u32; 3]) -> Result<()> {
    let bindings = [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(fwd.alpha),
        NLL.bind(fwd.nll),
        LOSS.bind(fwd.loss),
    ];
    record(ctx, KERNEL, &CTC_ALPHA_WG, &[], p, &bindings, groups)
}

/// Backward frames p.t0 down to p.t0 − p.steps + 1: batch → beta (N, T, L).
/// One 64-lane workgroup per utterance: `groups` is [N, 1, 1].
pub fn record_ctc_beta_wg(ctx: &Context, p: &Params, batch: &Batch<'_>, beta: &Tensor, groups: [u32; 3]) -> Result<()> {
    let bindings = [LP.bind(batch.lp), TARGETS.bind(batch.targets), INFO.bind(batch.info), BETA.bind(beta)];
    record(ctx, KERNEL, &CTC_BETA_WG, &[], p, &bindings, groups)
}

/// The gradient from α and β: batch, fwd (α, nll), bwd (β, g, scale) →
/// bwd.grad (T, N, C). One invocation per (t, n), 64 per workgroup, over the
/// 1-D grid `groups`.
pub fn record_ctc_grad(
    ctx: &Context,
    p: &Params,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    bwd: &Backward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(fwd.alpha),
        BETA.bind(bwd.beta),
        NLL.bind(fwd.nll),
        G.bind(bwd.g),
        SCALE.bind(bwd.scale),
        GRAD.bind(bwd.grad),
    ];
    record(ctx, KERNEL, &CTC_GRAD, &[], p, &bindings, groups)
}

/// loss: (N,), scale: (N,) → reduced: (1,) or 0-d, Σ_n loss[n]·scale[n] in
/// one invocation (p.n = N ≤ 32768).
pub fn record_ctc_reduce(ctx: &Context, p: &Params, loss: &Tensor, scale: &Tensor, reduced: &Tensor) -> Result<()> {
    record(ctx, KERNEL, &CTC_REDUCE, &[], p, &[LOSS.bind(loss), SCALE.bind(scale), REDUCED.bind(reduced)], [1, 1, 1])
}

/// nll (N,), g ((N,) or (1,) per p.g_stride), scale (N,) → weights (2N,) =
/// (nll, g·scale). One invocation per utterance, 64 per workgroup, over `groups`.
pub fn record_ctc_pack_weights(
    ctx: &Context,
    p: &Params,
    nll: &Tensor,
    g: &Tensor,
    scale: &Tensor,
    weights: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [NLL.bind(nll), G.bind(g), SCALE.bind(scale), WEIGHTS.bind(weights)];
    record(ctx, KERNEL, &CTC_PACK_WEIGHTS, &[], p, &bindings, groups)
}

/// [`record_ctc_beta_grad_serial`] with nll and g·scale from bwd.weights.
pub fn record_ctc_beta_grad_serial_packed(
    ctx: &Context,
    p: &Params,
    logits: bool,
    batch: &Batch<'_>,
    fwd: &Forward<'_>,
    bwd: &PackedBackward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = beta_grad_packed_bindings(batch, fwd, bwd);
    record(ctx, KERNEL, &CTC_BETA_GRAD_SERIAL_PACKED, &logits_constant(logits), p, &bindings, groups)
}

/// [`record_ctc_grad`] with nll and g·scale from bwd.weights.
pub fn record_ctc_grad_packed(
    ctx: &Context,
    p: &Params,
    batch: &Batch<'_>,
    alpha: &Tensor,
    bwd: &PackedBackward<'_>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [
        LP.bind(batch.lp),
        TARGETS.bind(batch.targets),
        INFO.bind(batch.info),
        ALPHA.bind(alpha),
        BETA.bind(bwd.beta),
        GRAD.bind(bwd.grad),
        WEIGHTS.bind(bwd.weights),
    ];
    record(ctx, KERNEL, &CTC_GRAD_PACKED, &[], p, &bindings, groups)
}
