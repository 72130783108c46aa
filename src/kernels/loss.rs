//! Launcher of shaders/loss.wgsl: cross-entropy over class logits and binary
//! cross-entropy with logits, forward and backward (the reductions and the
//! upstream-gradient scaling are in `nn::loss`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "loss";

/// Most classes `cross_entropy_forward` takes: it walks a row twice per
/// invocation and llvmpipe ends loops after 65535 iterations.
pub const MAX_CLASSES: usize = 10_000;

super::params! {
    /// Mirrors `Params` in shaders/loss.wgsl.
    pub struct Params as "Params" {
        n: u32,
        c: u32,
        ignore_index: i32,
        has_ignore: u32,
        g_stride: u32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `logits`: (N, C).
pub const LOGITS: Slot = Slot::read("logits", 1);
/// `targets`: (N,) class indices, I32 (U32 reads the same).
pub const TARGETS: Slot = Slot::read("targets", 2);
/// `row_loss`: (N,).
pub const ROW_LOSS: Slot = Slot::read_write("row_loss", 3);
/// `valid`: (N,), 1.0 unless the row is ignored.
pub const VALID: Slot = Slot::read_write("valid", 4);
/// `lse_out`: (N,), logsumexp of each row.
pub const LSE_OUT: Slot = Slot::read_write("lse_out", 5);
/// `lse_in`: (N,), as `lse_out`.
pub const LSE_IN: Slot = Slot::read("lse_in", 6);
/// `g`: (N,) / (n,) or (1,), per `g_stride`.
pub const G: Slot = Slot::read("g", 7);
/// `dlogits`: (N, C).
pub const DLOGITS: Slot = Slot::read_write("dlogits", 8);
/// `bx`: (n,) logits, any shape flattened.
pub const BX: Slot = Slot::read("bx", 9);
/// `by`: (n,) targets, the shape of bx.
pub const BY: Slot = Slot::read("by", 10);
/// `bloss`: (n,) elementwise loss.
pub const BLOSS: Slot = Slot::read_write("bloss", 11);
/// `bdx`: (n,) gradient for bx.
pub const BDX: Slot = Slot::read_write("bdx", 12);
/// `bdy`: (n,) gradient for by.
pub const BDY: Slot = Slot::read_write("bdy", 13);

/// loss_i = logsumexp(x_i) − x_i[t_i], one invocation per row.
pub const CROSS_ENTROPY_FORWARD: Entry =
    Entry { name: "cross_entropy_forward", slots: &[P, LOGITS, TARGETS, ROW_LOSS, VALID, LSE_OUT] };
/// dx_ij = (softmax_ij − [j == t_i]) · g_i, one invocation per element.
pub const CROSS_ENTROPY_BACKWARD: Entry =
    Entry { name: "cross_entropy_backward", slots: &[P, LOGITS, TARGETS, LSE_IN, G, DLOGITS] };
/// loss = max(x, 0) − x·y + log(1 + exp(−|x|)), one invocation per element.
pub const BCE_LOGITS_FORWARD: Entry = Entry { name: "bce_logits_forward", slots: &[P, BX, BY, BLOSS] };
/// dx = (σ(x) − y)·G, dy = −x·G, one invocation per element.
pub const BCE_LOGITS_BACKWARD: Entry = Entry { name: "bce_logits_backward", slots: &[P, G, BX, BY, BDX, BDY] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[CROSS_ENTROPY_FORWARD, CROSS_ENTROPY_BACKWARD, BCE_LOGITS_FORWARD, BCE_LOGITS_BACKWARD],
};

/// logits: (N, C), targets: (N,) → row_loss, valid, lse: (N,), 64 rows per
/// workgroup over the 1-D grid `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_cross_entropy_forward(
    ctx: &Context,
    p: &Params,
    logits: &Tensor,
    targets: &Tensor,
    row_loss: &Tensor,
    valid: &Tensor,
    lse: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let bindings =
        [LOGITS.bind(logits), TARGETS.bind(targets), ROW_LOSS.bind(row_loss), VALID.bind(valid), LSE_OUT.bind(lse)];
    record(ctx, KERNEL, &CROSS_ENTROPY_FORWARD, &[], p, &bindings, groups)
}

/// logits: (N, C), targets: (N,), lse: (N,), g: (N,) or (1,) → dlogits:
/// (N, C), 256 elements per workgroup over the 1-D grid `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_cross_entropy_backward(
    ctx: &Context,
    p: &Params,
    logits: &Tensor,
    targets: &Tensor,
    lse: &Tensor,
    g: &Tensor,
    dlogits: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [LOGITS.bind(logits), TARGETS.bind(targets), LSE_IN.bind(lse), G.bind(g), DLOGITS.bind(dlogits)];
    record(ctx, KERNEL, &CROSS_ENTROPY_BACKWARD, &[], p, &bindings, groups)
}

/// x: (n,), y: (n,) → loss: (n,), 256 elements per workgroup over the 1-D
/// grid `groups`.
pub fn record_bce_logits_forward(
    ctx: &Context,
    p: &Params,
    x: &Tensor,
    y: &Tensor,
    loss: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &BCE_LOGITS_FORWARD, &[], p, &[BX.bind(x), BY.bind(y), BLOSS.bind(loss)], groups)
}

/// x: (n,), y: (n,), g: (n,) or (1,) → dx, dy: (n,), 256 elements per
/// workgroup over the 1-D grid `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_bce_logits_backward(
    ctx: &Context,
    p: &Params,
    x: &Tensor,
    y: &Tensor,
    g: &Tensor,
    dx: &Tensor,
    dy: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [BX.bind(x), BY.bind(y), G.bind(g), BDX.bind(dx), BDY.bind(dy)];
    record(ctx, KERNEL, &BCE_LOGITS_BACKWARD, &[], p, &bindings, groups)
}
