//! Launcher of shaders/optim.wgsl: fused optimiser updates (SGD, SGD with
//! momentum, Adam/AdamW), each one pass over one parameter updated in place,
//! and gradient clipping by global norm. The optimiser logic (validation,
//! state, bias corrections) is in `crate::optim`.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "optim";

super::params! {
    /// Mirrors `SgdParams` in shaders/optim.wgsl.
    pub struct SgdParams as "SgdParams" {
        n: u32,
        first: u32,
        nesterov: u32,
        _pad: u32,
        lr: f32,
        momentum: f32,
        dampening: f32,
        weight_decay: f32,
    }
}

super::params! {
    /// Mirrors `AdamParams` in shaders/optim.wgsl.
    pub struct AdamParams as "AdamParams" {
        n: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        step_size: f32,
        bc2_sqrt: f32,
        _pad3: f32,
    }
}

super::params! {
    /// Mirrors `ClipParams` in shaders/optim.wgsl.
    pub struct ClipParams as "ClipParams" {
        n: u32,
        max_norm: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// `sp`: the SGD params block.
pub const SP: Slot = Slot::uniform("sp", 0);
/// `ap`: the Adam params block.
pub const AP: Slot = Slot::uniform("ap", 6);
/// `cp`: the clipping params block.
pub const CP: Slot = Slot::uniform("cp", 7);
/// `param`: (n,), updated in place.
pub const PARAM: Slot = Slot::read_write("param", 1);
/// `grad`: (n,).
pub const GRAD: Slot = Slot::read("grad", 2);
/// `buf`: (n,), the momentum buffer or Adam's exp_avg.
pub const BUF: Slot = Slot::read_write("buf", 3);
/// `sq`: (n,), Adam's exp_avg_sq.
pub const SQ: Slot = Slot::read_write("sq", 4);
/// `sumsq`: (1,), Σ‖g‖² over all gradients.
pub const SUMSQ: Slot = Slot::read("sumsq", 8);
/// `total`: (1,), the total norm.
pub const TOTAL: Slot = Slot::read_write("total", 9);
/// `coef_out`: (1,), the clip coefficient written.
pub const COEF_OUT: Slot = Slot::read_write("coef_out", 10);
/// `gscale`: (n,), a gradient scaled in place.
pub const GSCALE: Slot = Slot::read_write("gscale", 11);
/// `coef`: (1,), the clip coefficient read.
pub const COEF: Slot = Slot::read("coef", 12);

/// p -= lr·(grad + wd·p).
pub const SGD: Entry = Entry { name: "sgd", slots: &[SP, PARAM, GRAD] };
/// SGD with a momentum buffer (Nesterov optional).
pub const SGD_MOMENTUM: Entry = Entry { name: "sgd_momentum", slots: &[SP, PARAM, GRAD, BUF] };
/// Adam or AdamW (`DECOUPLED`), bias-corrected.
pub const ADAM: Entry = Entry { name: "adam", slots: &[AP, PARAM, GRAD, BUF, SQ] };
/// total = √Σ‖g‖², coef = min(1, max_norm / (total + 1e-6)), one invocation.
pub const CLIP_COEF: Entry = Entry { name: "clip_coef", slots: &[CP, SUMSQ, TOTAL, COEF_OUT] };
/// g *= coef.
pub const CLIP_SCALE: Entry = Entry { name: "clip_scale", slots: &[CP, GSCALE, COEF] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[SgdParams::LAYOUT, AdamParams::LAYOUT, ClipParams::LAYOUT],
    entries: &[SGD, SGD_MOMENTUM, ADAM, CLIP_COEF, CLIP_SCALE],
};

/// Updates param (n,) in place from grad (n,), over `groups` folded
/// 256-wide workgroups (⌈n / 256⌉ in all).
pub fn record_sgd(ctx: &Context, p: &SgdParams, param: &Tensor, grad: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &SGD, &[], p, &[PARAM.bind(param), GRAD.bind(grad)], groups)
}

/// Updates param and the momentum buffer buf (n,) in place from grad (n,),
/// over `groups` folded 256-wide workgroups.
pub fn record_sgd_momentum(ctx: &Context, p: &SgdParams, param: &Tensor, grad: &Tensor, buf: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &SGD_MOMENTUM, &[], p, &[PARAM.bind(param), GRAD.bind(grad), BUF.bind(buf)], groups)
}

/// Updates param and the moments m, v (n,) in place from grad (n,); AdamW
/// with `decoupled`; over `groups` folded 256-wide workgroups.
#[allow(clippy::too_many_arguments)]
pub fn record_adam(
    ctx: &Context,
    p: &AdamParams,
    decoupled: bool,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let constants = [("DECOUPLED", if decoupled { 1.0 } else { 0.0 })];
    record(ctx, KERNEL, &ADAM, &constants, p, &[PARAM.bind(param), GRAD.bind(grad), BUF.bind(m), SQ.bind(v)], groups)
}

/// total (1,) and coef (1,) from sumsq (1,); one workgroup of one invocation.
pub fn record_clip_coef(ctx: &Context, p: &ClipParams, sumsq: &Tensor, total: &Tensor, coef: &Tensor) -> Result<()> {
    record(ctx, KERNEL, &CLIP_COEF, &[], p, &[SUMSQ.bind(sumsq), TOTAL.bind(total), COEF_OUT.bind(coef)], [1, 1, 1])
}

/// g (n,) *= coef (1,) in place, over `groups` folded 256-wide workgroups.
pub fn record_clip_scale(ctx: &Context, p: &ClipParams, g: &Tensor, coef: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &CLIP_SCALE, &[], p, &[GSCALE.bind(g), COEF.bind(coef)], groups)
}
