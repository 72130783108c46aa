//! The fused recurrent sweeps: one dispatch per time step, forward and
//! backward, the product with W_hh and the cell in one kernel, in one of two
//! kernels with the same buffers and layout (and the same tiles and grids):
//!
//! * [`StepKernel::Subgroup8`], shaders/rnn_fused.wgsl (`kernels::rnn_fused`):
//!   8-invocation workgroups = one subgroup of 8 sharing A rows by
//!   subgroupBroadcast; needs subgroups of at least 8 whose sizes all hold
//!   the 8-invocation workgroup ([`Context::subgroup_kernels_run`]).
//! * [`StepKernel::Workgroup`], shaders/rnn_fused_wg.wgsl
//!   (`kernels::rnn_fused_wg`): 64-invocation workgroups sharing A rows
//!   through workgroup memory; no subgroup operations, so it runs on every
//!   adapter (GL, 4-lane subgroups, 32/64-lane GPUs).
//!
//! [`StepKernel::Unfused`] is the path of src/nn/rnn/sweep.rs: per step a
//! matmul and an elementwise cell kernel (the tanh RNN and H not a multiple
//! of 4 always take it). [`step_kernel`] is the rule that picks among them
//! from the adapter; where more than one runs, a layer of enough work
//! times them once per shape class and keeps the fastest in the autotune
//! cache ([`tuned_step_kernel`]); `Recurrent::step_kernel` forces one per layer and the
//! environment variable `KAIRO_RNN_STEP=subgroup8|workgroup|unfused`
//! (read once per process) overrides the rule wherever the named kernel
//! can run (`KAIRO_RNN_STEP=all` leaves the rule alone and makes
//! `kairo bench --only rnn` time every kernel that runs, side by side).
//!
//! Every entry binds at most 8 storage buffers (WebGPU's default limit):
//! the LSTM forward reads h_0 from row 0 of hprev, where one buffer copy
//! puts it before the sweep, and the GRU backward's last dispatch leaves
//! dh_0 in the carry.

use std::str::FromStr;
use std::sync::OnceLock;

use super::rnn::{fits, CellKind, GateGrads, Gates, SweepState};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::rnn_fused::{self, Grads, Params, Sweep};
use crate::kernels::rnn_fused_wg;
use crate::ops::as_u32;
use crate::tensor::{DType, Tensor};

const OP: &str = "fused recurrent sweep";

/// Which kernel runs an LSTM/GRU layer's time steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKernel {
    /// shaders/rnn_fused.wgsl: one subgroup of 8 per workgroup.
    Subgroup8,
    /// shaders/rnn_fused_wg.wgsl: 64 invocations sharing workgroup memory.
    Workgroup,
    /// A matmul and a cell dispatch per step (src/nn/rnn/sweep.rs).
    Unfused,
}

impl StepKernel {
    /// Every kernel, fused first.
    pub const ALL: [StepKernel; 3] = [StepKernel::Subgroup8, StepKernel::Workgroup, StepKernel::Unfused];

    /// `subgroup8`, `workgroup` or `unfused` (what `KAIRO_RNN_STEP` takes).
    pub fn name(self) -> &'static str {
        match self {
            StepKernel::Subgroup8 => "subgroup8",
            StepKernel::Workgroup => "workgroup",
            StepKernel::Unfused => "unfused",
        }
    }

    /// Whether a step is one dispatch (the product and the cell fused).
    pub fn is_fused(self) -> bool {
        self != StepKernel::Unfused
    }

    /// Whether this kernel can run a `kind` layer of width `hidden` on `ctx`.
    pub fn runs(self, ctx: &Context, kind: CellKind, hidden: usize) -> bool {
        let fusable = matches!(kind, CellKind::Lstm | CellKind::Gru) && hidden >= 4 && hidden.is_multiple_of(4);
        match self {
            StepKernel::Subgroup8 => fusable && ctx.subgroup_kernels_run(),
            StepKernel::Workgroup => fusable && workgroup_kernel_fits(ctx),
            StepKernel::Unfused => true,
        }
    }
}

impl FromStr for StepKernel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        StepKernel::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Error::InvalidArgument(format!("unknown recurrent step kernel {s:?}: expected subgroup8, workgroup or unfused"))
        })
    }
}

/// Whether shaders/rnn_fused_wg.wgsl's entries fit `ctx`'s limits: 8 × 8
/// invocations, 8 KiB of workgroup memory and 8 storage buffers, all
/// within WebGPU's defaults.
fn workgroup_kernel_fits(ctx: &Context) -> bool {
    let l = ctx.limits();
    l.max_compute_invocations_per_workgroup >= 64
        && l.max_compute_workgroup_size_x >= 8
        && l.max_compute_workgroup_size_y >= 8
        && l.max_compute_workgroup_storage_size >= 8192
        && rnn_fused_wg::CONTRACT.entries.iter().all(|e| fits(ctx, e))
}

/// `KAIRO_RNN_STEP`, read once: Some(kernel) to force, None to keep the
/// rule (unset, `all`, or a value that names no kernel, which is logged).
fn env_override() -> Option<StepKernel> {
    static ONCE: OnceLock<Option<StepKernel>> = OnceLock::new();
    *ONCE.get_or_init(|| match std::env::var("KAIRO_RNN_STEP") {
        Ok(v) if v == "all" => None,
        Ok(v) => v.parse().map_err(|e| log::warn!("KAIRO_RNN_STEP ignored: {e}")).ok(),
        Err(_) => None,
    })
}

/// Whether `KAIRO_RNN_STEP=all` asks benchmarks to time every kernel that runs.
pub fn bench_every_step_kernel() -> bool {
    std::env::var("KAIRO_RNN_STEP").is_ok_and(|v| v == "all")
}

/// The kernel a `kind` layer of width `hidden` runs on `ctx` unless the
/// layer forces one: `KAIRO_RNN_STEP`'s where it names one that runs here,
/// else [`step_kernel_rule`]. Cheap (no device work).
pub fn step_kernel(ctx: &Context, kind: CellKind, hidden: usize) -> StepKernel {
    match env_override() {
        Some(k) if k.runs(ctx, kind, hidden) => k,
        _ => step_kernel_rule(ctx, kind, hidden),
    }
}

/// The rule, from the adapter's device type, subgroup sizes (via
/// [`Context::subgroup_kernels_run`]) and limits, never its name. Set from
/// `KAIRO_RNN_STEP=all kairo bench --only rnn` (T 50, B 32, I 128, H 256;
/// wall time, median of 5, on a 2-core machine shared with other work, so
/// noisy; forward / training step in ms, workgroup vs unfused):
/// * CPU adapters where Subgroup8 runs: Subgroup8. On lavapipe at 8 lanes
///   it was fastest or level (LSTM 77 / 154 vs workgroup 103 / 270 and
///   unfused 76 / 217; GRU 44 / 130 vs 79 / 210 and 49 / 124), and ahead
///   of the workgroup kernel at 32 lanes too: the 8-lane broadcast shares
///   each A and W_hh load over 32 rows, and on a CPU every load is a gather.
/// * CPU adapters without it: Workgroup. llvmpipe GL: LSTM 122 / 400 vs
///   145 / 402, GRU 117 / 288 vs 148 / 354; lavapipe at 4 lanes: LSTM
///   126 / 431 vs 145 / 404, GRU 101 / 294 vs 135 / 324. Behind on
///   SwiftShader for LSTM (432 / 928 vs 325 / 810; GRU level, 251 / 645 vs
///   244 / 624), which nothing in its adapter properties tells apart from
///   lavapipe at 4 lanes, so it is not singled out.
/// * Other device types (real GPUs, 32/64-lane subgroups): Workgroup,
///   unmeasured — nothing here has one. Its 64-invocation workgroups fill a
///   warp or wave where Subgroup8's 8 invocations use a quarter of one.
/// * Unfused where neither fused kernel runs (the tanh RNN, H not a
///   multiple of 4, limits below WebGPU's defaults).
pub fn step_kernel_rule(ctx: &Context, kind: CellKind, hidden: usize) -> StepKernel {
    let cpu = ctx.adapter_info().device_type == wgpu::DeviceType::Cpu;
    let order = if cpu { [StepKernel::Subgroup8, StepKernel::Workgroup] } else { [StepKernel::Workgroup, StepKernel::Subgroup8] };
    order.into_iter().find(|k| k.runs(ctx, kind, hidden)).unwrap_or(StepKernel::Unfused)
}

/// Whether a `kind` layer of width `hidden` runs fused on `ctx` (one
/// dispatch per step) unless the layer says otherwise.
pub fn available(ctx: &Context, kind: CellKind, hidden: usize) -> bool {
    step_kernel(ctx, kind, hidden).is_fused()
}

/// The kernel a layer runs: `forced` (an error where it cannot run here),
/// else Unfused where `fused` is false, else [`step_kernel`].
pub fn layer_step_kernel(
    ctx: &Context,
    kind: CellKind,
    hidden: usize,
    fused: bool,
    forced: Option<StepKernel>,
) -> Result<StepKernel> {
    match forced {
        Some(k) if k.runs(ctx, kind, hidden) => Ok(k),
        Some(k) => Err(Error::InvalidArgument(format!(
            "{kind:?} H={hidden}: the {} step kernel cannot run on {}",
            k.name(),
            ctx.describe()
        ))),
        None if !fused => Ok(StepKernel::Unfused),
        None => Ok(step_kernel(ctx, kind, hidden)),
    }
}

/// Below this many multiply-adds per step (B·G·H·H) the choice is not
/// worth timing; the rule decides.
const TUNE_MIN_STEP_MACS: usize = 1 << 18;

/// The kernel a layer runs, as [`layer_step_kernel`], except that where the
/// rule would decide and more than one kernel runs here, `time(kernel)`
/// (the forward and reverse sweeps of a few steps of the layer's own
/// operands, in seconds) picks the fastest once per shape class — kind, B and H rounded
/// up to powers of two — remembered on the context and in the autotune
/// cache on disk (key `rnn_step/…`), as matmul's choices are. The rule's
/// figures (see [`step_kernel_rule`]) show why: which kernel wins depends
/// on the adapter in ways its properties do not tell (SwiftShader and
/// lavapipe at 4 lanes look alike and disagree). `KAIRO_AUTOTUNE=0`
/// and `KAIRO_RNN_STEP` keep the rule or the named kernel.
pub(crate) fn tuned_step_kernel(
    ctx: &Context,
    kind: CellKind,
    (batch, hidden): (usize, usize),
    fused: bool,
    forced: Option<StepKernel>,
    mut time: impl FnMut(StepKernel) -> Result<f64>,
) -> Result<StepKernel> {
    let rule = layer_step_kernel(ctx, kind, hidden, fused, forced)?;
    let candidates: Vec<StepKernel> = StepKernel::ALL.into_iter().filter(|k| k.runs(ctx, kind, hidden)).collect();
    let small = batch * kind.gates() * hidden * hidden < TUNE_MIN_STEP_MACS;
    if forced.is_some() || !fused || env_override().is_some() || small || candidates.len() < 2 {
        return Ok(rule);
    }
    // On the web nothing can be timed here, but a choice made ahead by
    // [`tune_step_kernel_async`] is remembered on the context.
    let web = cfg!(target_arch = "wasm32");
    if !web && !crate::ops::matmul::autotune_enabled() {
        return Ok(rule);
    }
    let key = tune_key(kind, batch, hidden);
    if let Some(k) = ctx.tuned(&key).and_then(|name| name.parse::<StepKernel>().ok()).filter(|k| candidates.contains(k)) {
        return Ok(k);
    }
    if web {
        return Ok(rule);
    }
    let mut best = (f64::INFINITY, rule);
    for k in candidates {
        // The first run builds the pipelines (and tunes the unfused path's matmul).
        time(k)?;
        let t = time(k)?.min(time(k)?);
        log::debug!("autotune {key}: {} {:.3} ms", k.name(), t * 1e3);
        if t < best.0 {
            best = (t, k);
        }
    }
    log::info!("autotune {key}: chose {}", best.1.name());
    ctx.set_tuned(&key, best.1.name());
    Ok(best.1)
}

/// Tuning ahead, where a layer cannot time its kernels as it records (a
/// browser, whose readbacks must be awaited): `time(kernel)` runs and
/// awaits some work of the layer with that kernel forced and returns its
/// seconds (a throwaway copy of the job's step, say). Each kernel that runs
/// here is timed once to build its pipelines, then once more; the fastest
/// is remembered for the shape class, where [`tuned_step_kernel`] finds
/// it. Returns each candidate's time, the choice first; nothing is timed
/// (an empty list) where the rule decides anyway (one candidate, a layer
/// too small to be worth it, `KAIRO_RNN_STEP`).
pub async fn tune_step_kernel_async(
    ctx: &Context,
    kind: CellKind,
    (batch, hidden): (usize, usize),
    mut time: impl AsyncFnMut(StepKernel) -> Result<f64>,
) -> Result<Vec<(StepKernel, f64)>> {
    let candidates: Vec<StepKernel> = StepKernel::ALL.into_iter().filter(|k| k.runs(ctx, kind, hidden)).collect();
    if candidates.len() < 2 || env_override().is_some() || batch * kind.gates() * hidden * hidden < TUNE_MIN_STEP_MACS {
        return Ok(Vec::new());
    }
    let mut times = Vec::with_capacity(candidates.len());
    for k in candidates {
        time(k).await?;
        times.push((k, time(k).await?));
    }
    times.sort_by(|a, b| a.1.total_cmp(&b.1));
    let key = tune_key(kind, batch, hidden);
    log::info!("autotune {key} (ahead): chose {}", times[0].0.name());
    ctx.set_tuned(&key, times[0].0.name());
    Ok(times)
}

/// The autotune key of a `kind` layer's shape class: B and H rounded up to powers of two.
fn tune_key(kind: CellKind, batch: usize, hidden: usize) -> String {
    format!("rnn_step/{}/{}x{}", kind.name(), batch.next_power_of_two(), hidden.next_power_of_two())
}

/// The kernel a `kind` layer of batch `batch` and width `hidden` ran on
/// `ctx` without a forced one: autotune's remembered choice for its shape
/// class where there is one, else [`step_kernel`] (for benchmarks'
/// reports; call it after the layer's first forward).
pub fn chosen_step_kernel(ctx: &Context, kind: CellKind, batch: usize, hidden: usize) -> StepKernel {
    let tuned = ctx.tuned(&tune_key(kind, batch, hidden)).and_then(|name| name.parse::<StepKernel>().ok());
    match tuned {
        Some(k) if env_override().is_none() && k.runs(ctx, kind, hidden) => k,
        _ => step_kernel(ctx, kind, hidden),
    }
}

/// The launcher's view of `s` with W_hh (G·H, H); an error for the tanh
/// RNN, which has no fused kernel.
fn launcher_sweep<'a>(s: &'a SweepState, w_hh: &'a Tensor) -> Result<Sweep<'a>> {
    let Some((act, aux)) = s.saved_gates() else {
        return Err(Error::InvalidArgument(format!("{:?} has no fused sweep", s.kind())));
    };
    Ok(Sweep { w: w_hh, h0: &s.h0, out: &s.out, hprev: &s.hprev, act, aux })
}

/// The params of one dispatch: step t, a product over K = 4·kchunks, `mode`
/// 0 (a step) or 1 (dh_0), the product's A from time row `src` of dG.
fn params(s: &SweepState, t: usize, kchunks: usize, mode: u32, src: usize) -> Result<Params> {
    Ok(Params {
        t: as_u32(OP, "t", t)?,
        steps: as_u32(OP, "T", s.steps)?,
        batch: as_u32(OP, "B", s.batch)?,
        hidden: as_u32(OP, "H", s.hidden)?,
        kchunks: as_u32(OP, "K/4", kchunks)?,
        mode,
        src: as_u32(OP, "src", src)?,
        _pad: 0,
    })
}

/// [ceil(H / unit_tile), ceil(B / 32), 1] workgroups (both kernels tile 32 rows).
fn groups(s: &SweepState, unit_tile: usize) -> Result<[u32; 3]> {
    let rows = as_u32(OP, "row tiles", s.batch.div_ceil(rnn_fused::ROW_TILE))?;
    Ok([as_u32(OP, "unit tiles", s.hidden.div_ceil(unit_tile))?, rows, 1])
}

/// Records the forward from xw = x·W_ihᵀ + b_ih (T, B, G·H), W_hh and b_hh
/// (G·H,): T dispatches of `s.step`'s kernel, step t reading step t−1's output.
pub(crate) fn forward_sweep_fused(s: &SweepState, xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> Result<()> {
    let (ctx, sweep) = (s.out.context(), launcher_sweep(s, w_hh)?);
    let tile = if s.step == StepKernel::Workgroup { rnn_fused_wg::FORWARD_UNIT_TILE } else { rnn_fused::FORWARD_UNIT_TILE };
    let groups = groups(s, tile)?;
    // The LSTM forward reads h_0 from row 0 of hprev (8 storage buffers).
    if matches!(s.gates, Gates::Lstm { .. }) {
        s.copy_h0_into_hprev();
    }
    let wg = s.step == StepKernel::Workgroup;
    for t in 0..s.steps {
        let p = params(s, t, s.hidden / 4, 0, 0)?;
        match &s.gates {
            Gates::Lstm { c0, .. } if wg => rnn_fused_wg::record_lstm_wg_forward(ctx, &p, &sweep, c0, xw, b_hh, groups)?,
            Gates::Gru { .. } if wg => rnn_fused_wg::record_gru_wg_forward(ctx, &p, &sweep, xw, b_hh, groups)?,
            Gates::Lstm { c0, .. } => rnn_fused::record_lstm_fused_forward(ctx, &p, &sweep, c0, xw, b_hh, groups)?,
            Gates::Gru { .. } => rnn_fused::record_gru_fused_forward(ctx, &p, &sweep, xw, b_hh, groups)?,
            Gates::Tanh => unreachable!("launcher_sweep refuses the tanh RNN"),
        }
    }
    Ok(())
}

/// Records one backward dispatch of `s.step`'s kernel with params `p`.
fn record_backward(s: &SweepState, p: &Params, sweep: &Sweep, g: &Grads, dghh: &Tensor) -> Result<()> {
    let ctx = s.out.context();
    let wg = s.step == StepKernel::Workgroup;
    let groups = groups(s, if wg { rnn_fused_wg::BACKWARD_UNIT_TILE } else { rnn_fused::BACKWARD_UNIT_TILE })?;
    match &s.gates {
        Gates::Lstm { c0, .. } if wg => rnn_fused_wg::record_lstm_wg_backward(ctx, p, sweep, c0, g, groups),
        Gates::Gru { .. } if wg => rnn_fused_wg::record_gru_wg_backward(ctx, p, sweep, g, dghh, groups),
        Gates::Lstm { c0, .. } => rnn_fused::record_lstm_fused_backward(ctx, p, sweep, c0, g, groups),
        Gates::Gru { .. } => rnn_fused::record_gru_fused_backward(ctx, p, sweep, g, dghh, groups),
        Gates::Tanh => unreachable!("launcher_sweep refuses the tanh RNN"),
    }
}

/// Records the reverse sweep t = T−1 … 0 from dy into `grads` (dG and, for
/// GRU, the hidden-side dGhh), carrying f⊙dc (LSTM) or z⊙dh (GRU); then,
/// if `want_dh0`, one more dispatch returns dh_0.
pub(crate) fn backward_sweep_fused(
    s: &SweepState,
    w_hh: &Tensor,
    dy: &Tensor,
    grads: &GateGrads,
    want_dh0: bool,
) -> Result<Option<Tensor>> {
    let (ctx, sweep) = (s.out.context(), launcher_sweep(s, w_hh)?);
    // The GRU's mode 1 leaves dh_0 in the carry (8 storage buffers).
    let gru = matches!(s.gates, Gates::Gru { .. });
    let dh0 = if gru { grads.carry.clone() } else { Tensor::empty(ctx, &[s.batch, s.hidden], DType::F32)? };
    let g = Grads { dy, dg: &grads.dg, carry: &grads.carry, dh0: &dh0 };
    let dghh = grads.hidden_side();
    let k = s.kind().gates() * s.hidden / 4;
    for t in (0..s.steps).rev() {
        let last = t + 1 == s.steps;
        let p = params(s, t, if last { 0 } else { k }, 0, if last { t } else { t + 1 })?;
        record_backward(s, &p, &sweep, &g, dghh)?;
    }
    if !want_dh0 {
        return Ok(None);
    }
    record_backward(s, &params(s, 0, k, 1, 0)?, &sweep, &g, dghh)?;
    Ok(Some(dh0))
}
