//! Launcher of shaders/batchnorm.wgsl: BatchNorm2d over x (N, C, L = H·W),
//! channel statistics in two bounded passes (partials, then a merge per
//! channel), the normalisation, and the backward in the same two steps.
//! Shape checks and chunking are in `ops::batchnorm`.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::{Binding, Context};
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "batchnorm";

super::params! {
    /// Mirrors `Params` in shaders/batchnorm.wgsl.
    pub struct Params as "Params" {
        n: u32,
        c: u32,
        l: u32,
        chunk: u32,
        chunks: u32,
        total: u32,
        momentum: f32,
        eps: f32,
    }
}

/// The shader's specialisation: `HAS_AFFINE` and `TRAINING`, passed to every
/// entry point alike (one pipeline per mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// y = x̂·w + b (false: y = x̂; weight and bias are not read).
    pub affine: bool,
    /// Batch statistics (false: running statistics).
    pub training: bool,
}

impl Mode {
    fn constants(self) -> [(&'static str, f64); 2] {
        let b = |v: bool| if v { 1.0 } else { 0.0 };
        [("HAS_AFFINE", b(self.affine)), ("TRAINING", b(self.training))]
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `x`: (N, C, L).
pub const X: Slot = Slot::read("x", 1);
/// `dy`: (N, C, L).
pub const DY: Slot = Slot::read("dy", 2);
/// `weight`: (C,).
pub const WEIGHT: Slot = Slot::read("weight", 3);
/// `bias`: (C,).
pub const BIAS: Slot = Slot::read("bias", 4);
/// `part`: (C, chunks, 3) statistics or (C, chunks, 2) gradient partials.
pub const PART: Slot = Slot::read_write("part", 5);
/// `stats`: (2, C), mean and rstd.
pub const STATS: Slot = Slot::read_write("stats", 6);
/// `running_mean`: (C,), updated in place in training.
pub const RUNNING_MEAN: Slot = Slot::read_write("running_mean", 7);
/// `running_var`: (C,), updated in place in training.
pub const RUNNING_VAR: Slot = Slot::read_write("running_var", 8);
/// `y`: (N, C, L), the output or dx.
pub const Y: Slot = Slot::read_write("y", 9);
/// `dweight`: (C,).
pub const DWEIGHT: Slot = Slot::read_write("dweight", 10);
/// `dbias`: (C,).
pub const DBIAS: Slot = Slot::read_write("dbias", 11);

/// One invocation per (channel, chunk): count, chunk mean, Σ (x − mean)².
pub const BN_STATS_PARTIAL: Entry = Entry { name: "bn_stats_partial", slots: &[P, X, PART] };
/// One invocation per channel: merges the partials into stats and the running statistics.
pub const BN_STATS_FINALIZE: Entry = Entry { name: "bn_stats_finalize", slots: &[P, PART, STATS, RUNNING_MEAN, RUNNING_VAR] };
/// One invocation per channel: stats from the running statistics.
pub const BN_STATS_EVAL: Entry = Entry { name: "bn_stats_eval", slots: &[P, STATS, RUNNING_MEAN, RUNNING_VAR] };
/// One invocation per value: y = x̂·w + b.
pub const BN_FORWARD: Entry = Entry { name: "bn_forward", slots: &[P, X, WEIGHT, BIAS, STATS, Y] };
/// One invocation per (channel, chunk): Σ dy, Σ dy·x̂.
pub const BN_BACKWARD_PARTIAL: Entry = Entry { name: "bn_backward_partial", slots: &[P, X, DY, PART, STATS] };
/// One invocation per channel: dbias, dweight from the partials.
pub const BN_BACKWARD_FINALIZE: Entry = Entry { name: "bn_backward_finalize", slots: &[P, PART, DWEIGHT, DBIAS] };
/// One invocation per value: dx.
pub const BN_BACKWARD_INPUT: Entry = Entry { name: "bn_backward_input", slots: &[P, X, DY, WEIGHT, STATS, Y, DWEIGHT, DBIAS] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[
        BN_STATS_PARTIAL,
        BN_STATS_FINALIZE,
        BN_STATS_EVAL,
        BN_FORWARD,
        BN_BACKWARD_PARTIAL,
        BN_BACKWARD_FINALIZE,
        BN_BACKWARD_INPUT,
    ],
};

fn run(ctx: &Context, entry: &Entry, p: &Params, mode: Mode, bindings: &[Binding<'_>], groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, entry, &mode.constants(), p, bindings, groups)
}

/// part (C, chunks, 3) from x (N, C, L); `p.total` = C·chunks invocations
/// over `groups` folded 256-wide workgroups.
pub fn record_bn_stats_partial(ctx: &Context, p: &Params, mode: Mode, x: &Tensor, part: &Tensor, groups: [u32; 3]) -> Result<()> {
    run(ctx, &BN_STATS_PARTIAL, p, mode, &[X.bind(x), PART.bind(part)], groups)
}

/// stats (2, C) from part (C, chunks, 3); running_mean, running_var (C,)
/// updated; one invocation per channel over `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_bn_stats_finalize(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    part: &Tensor,
    stats: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let b = [PART.bind(part), STATS.bind(stats), RUNNING_MEAN.bind(running_mean), RUNNING_VAR.bind(running_var)];
    run(ctx, &BN_STATS_FINALIZE, p, mode, &b, groups)
}

/// stats (2, C) from running_mean, running_var (C,); one invocation per
/// channel over `groups`.
pub fn record_bn_stats_eval(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    stats: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let b = [STATS.bind(stats), RUNNING_MEAN.bind(running_mean), RUNNING_VAR.bind(running_var)];
    run(ctx, &BN_STATS_EVAL, p, mode, &b, groups)
}

/// y (N, C, L) from x (N, C, L), stats (2, C) and, with `mode.affine`,
/// weight and bias (C,) (x stands in for them otherwise); one invocation
/// per value over `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_bn_forward(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    stats: &Tensor,
    y: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    // Without affine the weight/bias bindings are never read; x stands in.
    let (w, b) = (weight.unwrap_or(x), bias.unwrap_or(x));
    let bindings = [X.bind(x), WEIGHT.bind(w), BIAS.bind(b), STATS.bind(stats), Y.bind(y)];
    run(ctx, &BN_FORWARD, p, mode, &bindings, groups)
}

/// part (C, chunks, 2) from x, dy (N, C, L) and stats (2, C); `p.total` =
/// C·chunks invocations over `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_bn_backward_partial(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    x: &Tensor,
    dy: &Tensor,
    part: &Tensor,
    stats: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let b = [X.bind(x), DY.bind(dy), PART.bind(part), STATS.bind(stats)];
    run(ctx, &BN_BACKWARD_PARTIAL, p, mode, &b, groups)
}

/// dweight, dbias (C,) from part (C, chunks, 2); one invocation per channel
/// over `groups`.
pub fn record_bn_backward_finalize(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    part: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    run(ctx, &BN_BACKWARD_FINALIZE, p, mode, &[PART.bind(part), DWEIGHT.bind(dweight), DBIAS.bind(dbias)], groups)
}

/// dx (N, C, L) from x, dy (N, C, L), stats (2, C), dweight and dbias (C,)
/// and, with `mode.affine`, weight (C,) (x stands in otherwise); one
/// invocation per value over `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_bn_backward_input(
    ctx: &Context,
    p: &Params,
    mode: Mode,
    x: &Tensor,
    dy: &Tensor,
    weight: Option<&Tensor>,
    stats: &Tensor,
    dx: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let w = weight.unwrap_or(x);
    let b = [X.bind(x), DY.bind(dy), WEIGHT.bind(w), STATS.bind(stats), Y.bind(dx), DWEIGHT.bind(dweight), DBIAS.bind(dbias)];
    run(ctx, &BN_BACKWARD_INPUT, p, mode, &b, groups)
}
