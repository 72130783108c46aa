//! CTC loss kernels (shaders/ctc.wgsl): the α and β recursions in log space
//! with the time loop inside the shader, the gradient with respect to the
//! log-probabilities (PyTorch's, which is the exact gradient with respect to
//! the logits when the log-probabilities are a log_softmax), and the
//! weighted sum behind the "sum" and "mean" reductions.
//!
//! The autograd op with PyTorch's `ctc_loss` contract is
//! [`crate::nn::ctc::ctc_loss`]; this module is the layer below it: a
//! validated, uploaded batch ([`CtcBatch`]), the choice of layout, the
//! chunking of the time axis and the buffers, with the dispatches recorded
//! by the launchers `kernels::ctc` and `kernels::ctc_subgroup`.
//!
//! llvmpipe ends a shader's loops after 65535 iterations per invocation, so
//! the recursions run the time axis in chunks of at most [`MAX_LOOP`]
//! (frames × positions) per invocation, one dispatch per chunk, with α and
//! β in global memory: any length works, long ones cost more dispatches.

use super::{as_u32, grid_1d};
use crate::error::{Error, Result};
use crate::kernels::ctc::{self as kernel, Backward, Batch, Forward, PackedBackward, Params, WG_LANES};
use crate::kernels::{ctc_subgroup, Entry};
use crate::tensor::Tensor;
use crate::{Context, DType};

/// Most loop iterations one invocation runs per dispatch.
pub const MAX_LOOP: usize = 32768;

/// Positions per lane in the subgroup layout (CHUNK in
/// shaders/ctc_subgroup.wgsl): it takes L ≤ 8·SUBGROUP_CHUNK.
pub const SUBGROUP_CHUNK: usize = ctc_subgroup::CHUNK;

/// Targets in either of PyTorch's layouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtcTargets {
    /// (N, s) row-major; utterance n's labels are `data[n·s .. n·s + target_lengths[n]]`,
    /// the rest of the row is padding and ignored.
    Padded {
        /// N·s labels.
        data: Vec<u32>,
        /// Row length (the padded maximum target length).
        s: usize,
    },
    /// All utterances' labels back to back; lengths from `target_lengths`.
    Concatenated(Vec<u32>),
}

/// How the α/β recursions are laid out on the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CtcLayout {
    /// On software adapters (CPU device type): subgroup where it applies,
    /// else serial; workgroup elsewhere.
    #[default]
    Auto,
    /// One invocation per utterance looping over label positions: no
    /// barriers, few invocations (the fast one on llvmpipe).
    Serial,
    /// One 64-lane workgroup per utterance, lanes over label positions, a
    /// storage barrier per frame (meant for real GPUs).
    Workgroup,
    /// One subgroup of 8 per utterance, each lane owning
    /// [`SUBGROUP_CHUNK`] positions (shaders/ctc_subgroup.wgsl): α in
    /// registers in the forward, β in registers fused with the gradient
    /// in the backward. Needs subgroups of at least 8 and
    /// L ≤ 8·SUBGROUP_CHUNK; `Serial` runs otherwise.
    Subgroup,
}

impl CtcLayout {
    /// Lower-case name, as `kairo info` prints it.
    pub fn name(self) -> &'static str {
        match self {
            CtcLayout::Auto => "auto",
            CtcLayout::Serial => "serial",
            CtcLayout::Workgroup => "workgroup",
            CtcLayout::Subgroup => "subgroup",
        }
    }
}

/// Frames an alignment of `labels` needs: one per label plus one blank
/// between each pair of equal neighbours.
pub fn min_frames(labels: &[u32]) -> usize {
    labels.len() + labels.windows(2).filter(|w| w[0] == w[1]).count()
}

/// A validated batch on the device: targets concatenated, per-utterance
/// metadata (T_n, S_n, offset, impossible).
#[derive(Debug)]
pub struct CtcBatch {
    /// T: frames of the log-probabilities.
    pub t: usize,
    /// N: batch size.
    pub n: usize,
    /// C: classes, blank included.
    pub c: usize,
    /// The blank class.
    pub blank: usize,
    /// L = 2·max S_n + 1.
    pub l: usize,
    /// Per-utterance input lengths.
    pub input_lengths: Vec<usize>,
    /// Per-utterance target lengths.
    pub target_lengths: Vec<usize>,
    /// Per utterance: no alignment exists (T_n < [`min_frames`]).
    pub impossible: Vec<bool>,
    targets: Tensor,
    meta: Tensor,
}

impl CtcBatch {
    /// Checks and uploads a batch for log-probabilities of shape (T, N, C),
    /// as PyTorch's `ctc_loss` checks it: 1 ≤ input_lengths[n] ≤ T,
    /// target lengths within the padded row (or summing to the
    /// concatenated length), every used label in [0, C) and not the blank.
    pub fn new(
        ctx: &crate::Context,
        shape: &[usize],
        targets: &CtcTargets,
        input_lengths: &[usize],
        target_lengths: &[usize],
        blank: usize,
    ) -> Result<CtcBatch> {
        const OP: &str = "ctc_loss";
        let &[t, n, c] = shape else {
            return Err(Error::invalid_shape(OP, format!("log-probs must be (T, N, C), got {shape:?}")));
        };
        if t == 0 || n == 0 || c == 0 {
            return Err(Error::invalid_shape(OP, format!("empty log-probs of shape {shape:?}")));
        }
        if blank >= c {
            return Err(Error::InvalidArgument(format!("{OP}: blank {blank} is not a class of {c}")));
        }
        if input_lengths.len() != n || target_lengths.len() != n {
            return Err(Error::InvalidArgument(format!(
                "{OP}: batch of {n} but {} input lengths and {} target lengths",
                input_lengths.len(),
                target_lengths.len()
            )));
        }
        if let Some((i, &l)) = input_lengths.iter().enumerate().find(|(_, &l)| l == 0 || l > t) {
            return Err(Error::InvalidArgument(format!("{OP}: input_lengths[{i}] = {l} is outside 1..={t}")));
        }
        let mut flat = Vec::with_capacity(target_lengths.iter().sum());
        match targets {
            CtcTargets::Padded { data, s } => {
                if data.len() != n * s {
                    return Err(Error::InvalidArgument(format!("{OP}: padded targets hold {} labels, expected N·S = {n}·{s}", data.len())));
                }
                for (i, &len) in target_lengths.iter().enumerate() {
                    if len > *s {
                        return Err(Error::InvalidArgument(format!("{OP}: target_lengths[{i}] = {len} exceeds the padded length {s}")));
                    }
                    flat.extend_from_slice(&data[i * s..i * s + len]);
                }
            }
            CtcTargets::Concatenated(data) => {
                let total: usize = target_lengths.iter().sum();
                if total != data.len() {
                    return Err(Error::InvalidArgument(format!(
                        "{OP}: target lengths sum to {total} but {} concatenated labels were given",
                        data.len()
                    )));
                }
                flat.extend_from_slice(data);
            }
        }
        if let Some((i, &lab)) = flat.iter().enumerate().find(|(_, &lab)| lab as usize >= c || lab as usize == blank) {
            let why = if lab as usize == blank { "is the blank".to_string() } else { format!("is not a class of {c}") };
            return Err(Error::InvalidArgument(format!("{OP}: target label {lab} (used label {i}) {why}")));
        }
        let s_max = target_lengths.iter().copied().max().unwrap_or(0);
        let l = 2 * s_max + 1;
        // Every invocation's loops stay under MAX_LOOP: the gradient walks
        // 2C + L, a recursion at least one frame of L (+ the frame loop).
        if 2 * c + l + 3 > MAX_LOOP {
            return Err(Error::invalid_shape(
                OP,
                format!("{c} classes and targets of {s_max} labels exceed what one kernel invocation may loop over ({MAX_LOOP})"),
            ));
        }
        as_u32(OP, "alpha elements", n * t * l)?;
        as_u32(OP, "log-prob elements", t * n * c)?;
        let mut meta = Vec::with_capacity(4 * n);
        let mut impossible = Vec::with_capacity(n);
        let mut off = 0;
        for i in 0..n {
            let labels = &flat[off..off + target_lengths[i]];
            let imp = input_lengths[i] < min_frames(labels);
            impossible.push(imp);
            meta.extend_from_slice(&[input_lengths[i] as u32, target_lengths[i] as u32, off as u32, imp as u32]);
            off += target_lengths[i];
        }
        if flat.is_empty() {
            flat.push(0); // a binding needs a non-empty buffer; nothing reads it
        }
        Ok(CtcBatch {
            t,
            n,
            c,
            blank,
            l,
            input_lengths: input_lengths.to_vec(),
            target_lengths: target_lengths.to_vec(),
            impossible,
            targets: Tensor::from_u32(ctx, &flat, &[flat.len()])?,
            meta: Tensor::from_u32(ctx, &meta, &[n, 4])?,
        })
    }

    fn check_lp(&self, lp: &Tensor) -> Result<()> {
        lp.expect_dtype("ctc_loss", DType::F32)?;
        lp.same_context("ctc_loss", &self.meta)?;
        if lp.shape() != [self.t, self.n, self.c] {
            return Err(Error::shape("ctc_loss (log-probs vs batch)", lp.shape(), &[self.t, self.n, self.c]));
        }
        Ok(())
    }

    fn resolve(&self, layout: CtcLayout) -> CtcLayout {
        resolve_layout(self.meta.context(), layout, self.n, self.l)
    }

    /// Frames per dispatch so that frames × positions per invocation ≤ MAX_LOOP.
    fn chunk(&self, layout: CtcLayout) -> usize {
        let per_frame = match layout {
            CtcLayout::Workgroup => self.l.div_ceil(WG_LANES) + 1,
            _ => self.l + 1,
        };
        (MAX_LOOP / per_frame).clamp(1, self.t)
    }

    fn params(&self, t0: usize, steps: usize, zero_infinity: bool, g_stride: u32) -> Params {
        Params {
            n: self.n as u32,
            c: self.c as u32,
            t: self.t as u32,
            l: self.l as u32,
            blank: self.blank as u32,
            t0: t0 as u32,
            steps: steps as u32,
            zero_inf: zero_infinity as u32,
            g_stride,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        }
    }

    /// The batch as the kernels bind it, reading `lp`.
    fn bind<'a>(&'a self, lp: &'a Tensor) -> Batch<'a> {
        Batch { lp, targets: &self.targets, info: &self.meta }
    }

    /// Workgroups of a recursion dispatch: one per utterance (a 64-lane
    /// workgroup or a subgroup of 8), or one invocation per utterance in
    /// workgroups of 8 for the serial layout.
    fn recursion_grid(&self, layout: CtcLayout) -> Result<[u32; 3]> {
        Ok(match layout {
            CtcLayout::Workgroup | CtcLayout::Subgroup => [self.n as u32, 1, 1],
            _ => [as_u32("ctc_loss", "workgroups", self.n.div_ceil(8))?, 1, 1],
        })
    }
}

/// What the forward leaves for the backward.
#[derive(Debug)]
pub struct CtcForward {
    /// (N,) per-utterance loss: −log p, +inf (0 with zero_infinity) where no alignment exists.
    pub loss: Tensor,
    /// (N,) −log p as computed (sentinel-sized where impossible).
    pub nll: Tensor,
    /// (N, T, L) log α.
    pub alpha: Tensor,
    /// The layout that ran.
    pub layout: CtcLayout,
    /// What the kernels read as `lp`: the log-probabilities, or the logits
    /// when `fused_logits`.
    pub input: Tensor,
    /// Whether the serial kernels applied log_softmax themselves.
    pub fused_logits: bool,
    /// (T, N) logsumexp of each logits row when `fused_logits` (else a
    /// one-element stand-in for the binding).
    pub row_lse: Tensor,
}

/// The layout `layout` runs as for `n` utterances of `l` label positions
/// (2·S + 1) on `ctx`: `Auto` takes the workgroup layout on GPUs, and on
/// software adapters the subgroup one where it fits, else serial; a
/// layout that cannot run (too many utterances for one grid dimension, no
/// subgroups of 8, L over 8·[`SUBGROUP_CHUNK`]) runs serial. `kairo info`
/// prints this rule's answer.
pub fn resolve_layout(ctx: &Context, layout: CtcLayout, n: usize, l: usize) -> CtcLayout {
    let max_groups = ctx.limits().max_compute_workgroups_per_dimension as usize;
    let subgroup_fits = ctx.subgroup_kernels_run() && l <= 8 * SUBGROUP_CHUNK;
    match layout {
        CtcLayout::Workgroup if n <= max_groups => CtcLayout::Workgroup,
        CtcLayout::Subgroup if n <= max_groups && subgroup_fits => CtcLayout::Subgroup,
        CtcLayout::Auto if n <= max_groups => {
            let software = matches!(ctx.adapter_info().device_type, wgpu::DeviceType::Cpu);
            if !software {
                CtcLayout::Workgroup
            } else if subgroup_fits {
                CtcLayout::Subgroup
            } else {
                CtcLayout::Serial
            }
        }
        _ => CtcLayout::Serial,
    }
}

/// The forward recursion for `input` (T, N, C): log-probabilities, or
/// logits with `logits` (log_softmax over C is then applied: inside the
/// serial kernels, as a separate pass before the workgroup ones).
/// Per-utterance losses and α; records ⌈T / chunk⌉ recursion dispatches.
pub fn ctc_forward(input: &Tensor, batch: &CtcBatch, logits: bool, zero_infinity: bool, layout: CtcLayout) -> Result<CtcForward> {
    batch.check_lp(input)?;
    let ctx = input.context();
    let layout = batch.resolve(layout);
    let fused = logits && layout != CtcLayout::Workgroup;
    let input = if logits && !fused { super::log_softmax(input, 2)? } else { input.clone() };
    let alpha = Tensor::empty(ctx, &[batch.n, batch.t, batch.l], DType::F32)?;
    let nll = Tensor::empty(ctx, &[batch.n], DType::F32)?;
    let loss = Tensor::empty(ctx, &[batch.n], DType::F32)?;
    // The serial kernels name row_lse even when they skip it: bind a stand-in.
    let lse_shape = if fused { vec![batch.t, batch.n] } else { vec![1] };
    let row_lse = Tensor::empty(ctx, &lse_shape, DType::F32)?;
    let chunk = match layout {
        CtcLayout::Workgroup => batch.chunk(layout),
        // Per frame: the CHUNK positions twice (copy, recursion) and C/8 classes.
        CtcLayout::Subgroup => (MAX_LOOP / (2 * SUBGROUP_CHUNK + batch.c.div_ceil(8) + 4)).clamp(1, batch.t),
        // Each frame loops over its positions and, with logits, once over C.
        _ => (MAX_LOOP / (batch.l + if fused { batch.c } else { 0 } + 2)).clamp(1, batch.t),
    };
    let grid = batch.recursion_grid(layout)?;
    let bound = batch.bind(&input);
    let out = Forward { alpha: &alpha, nll: &nll, loss: &loss, row_lse: &row_lse };
    let mut t0 = 0;
    while t0 < batch.t {
        let steps = chunk.min(batch.t - t0);
        let params = batch.params(t0, steps, zero_infinity, 0);
        match layout {
            CtcLayout::Workgroup => kernel::record_ctc_alpha_wg(ctx, &params, &bound, &out, grid)?,
            CtcLayout::Subgroup => ctc_subgroup::record_ctc_alpha_subgroup(ctx, &params, fused, &bound, &out, grid)?,
            CtcLayout::Serial | CtcLayout::Auto => kernel::record_ctc_alpha_serial(ctx, &params, fused, &bound, &out, grid)?,
        }
        t0 += steps;
    }
    Ok(CtcForward { loss, nll, alpha, layout, input, fused_logits: fused, row_lse })
}

/// Σ_n loss[n]·scale[n] as a 0-d tensor (one dispatch); `scale` is (N,).
pub fn ctc_weighted_sum(loss: &Tensor, scale: &Tensor) -> Result<Tensor> {
    let n = loss.numel();
    if scale.shape() != [n] || loss.shape() != [n] {
        return Err(Error::shape("ctc_weighted_sum", loss.shape(), scale.shape()));
    }
    if n > MAX_LOOP {
        return super::sum(&super::mul(loss, scale)?, 0);
    }
    let ctx = loss.context();
    let out = Tensor::empty(ctx, &[], DType::F32)?;
    let params = Params { n: n as u32, ..bytemuck::Zeroable::zeroed() };
    kernel::record_ctc_reduce(ctx, &params, loss, scale, &out)?;
    Ok(out)
}

/// The gradient (T, N, C) for upstream `g` ((N,) with `g_stride` 1, or a
/// single value with 0) times `scale[n]` per utterance: PyTorch's
/// exp(lp) − Σ_{s: l'(s)=c} exp(α + β + nll − lp), zero past each input
/// length and for utterances without an alignment (where PyTorch gives NaN).
pub fn ctc_backward(batch: &CtcBatch, fwd: &CtcForward, g: &Tensor, g_stride: u32, scale: &Tensor) -> Result<Tensor> {
    let lp = &fwd.input;
    let want = if g_stride == 0 { 1 } else { batch.n };
    if g.numel() != want || scale.shape() != [batch.n] {
        return Err(Error::shape("ctc_backward (upstream vs scale)", g.shape(), scale.shape()));
    }
    let ctx = lp.context();
    let layout = fwd.layout;
    // The subgroup layout keeps β in registers and passes only the last
    // frame of each chunk to the next dispatch: one row per utterance.
    let beta_shape = if layout == CtcLayout::Subgroup { vec![batch.n, batch.l] } else { vec![batch.n, batch.t, batch.l] };
    let beta = Tensor::empty(ctx, &beta_shape, DType::F32)?;
    let grad = Tensor::empty(ctx, lp.shape(), DType::F32)?;
    let grid = batch.recursion_grid(layout)?;
    // Serial: β and the gradient rows in one pass per chunk (each frame
    // loops over L positions and twice over C classes).
    // Subgroup: β in registers, per frame the CHUNK positions and two
    // passes over the C/8 class blocks.
    let chunk = match layout {
        CtcLayout::Workgroup => batch.chunk(layout),
        CtcLayout::Subgroup => (MAX_LOOP / (2 * SUBGROUP_CHUNK + 2 * batch.c.div_ceil(8) + 4)).clamp(1, batch.t),
        _ => (MAX_LOOP / (batch.l + 2 * batch.c + 3)).clamp(1, batch.t),
    };
    let bound = batch.bind(lp);
    let f = Forward { alpha: &fwd.alpha, nll: &fwd.nll, loss: &fwd.loss, row_lse: &fwd.row_lse };
    let b = Backward { beta: &beta, g, scale, grad: &grad };
    let logits = fwd.fused_logits;
    let weights = pack_weights(batch, fwd, g, g_stride, scale)?;
    let packed = weights.as_ref().map(|w| PackedBackward { beta: &beta, weights: w, grad: &grad });
    let mut done = 0;
    while done < batch.t {
        let steps = chunk.min(batch.t - done);
        let t0 = batch.t - 1 - done;
        let params = batch.params(t0, steps, false, g_stride);
        match (layout, &packed) {
            (CtcLayout::Workgroup, _) => kernel::record_ctc_beta_wg(ctx, &params, &bound, &beta, grid)?,
            (CtcLayout::Subgroup, None) => ctc_subgroup::record_ctc_beta_grad_subgroup(ctx, &params, logits, &bound, &f, &b, grid)?,
            (CtcLayout::Subgroup, Some(pb)) => {
                ctc_subgroup::record_ctc_beta_grad_subgroup_packed(ctx, &params, logits, &bound, &f, pb, grid)?
            }
            (_, None) => kernel::record_ctc_beta_grad_serial(ctx, &params, logits, &bound, &f, &b, grid)?,
            (_, Some(pb)) => kernel::record_ctc_beta_grad_serial_packed(ctx, &params, logits, &bound, &f, pb, grid)?,
        }
        done += steps;
    }
    if layout != CtcLayout::Workgroup {
        return Ok(grad);
    }
    // The workgroup layout's gradient is a pass of its own over (t, n).
    let params = batch.params(0, 0, false, g_stride);
    let groups = grid_1d(ctx, (batch.t * batch.n).div_ceil(64) as u64)?;
    match &packed {
        None => kernel::record_ctc_grad(ctx, &params, &bound, &f, &b, groups)?,
        Some(pb) => kernel::record_ctc_grad_packed(ctx, &params, &bound, &fwd.alpha, pb, groups)?,
    }
    Ok(grad)
}

/// The entry point that computes the gradient in `layout` (its `*_packed`
/// sibling runs where the device allows fewer storage buffers than it binds).
pub fn gradient_entry(layout: CtcLayout) -> &'static Entry {
    match layout {
        CtcLayout::Workgroup => &kernel::CTC_GRAD,
        CtcLayout::Subgroup => &ctc_subgroup::CTC_BETA_GRAD_SUBGROUP,
        CtcLayout::Serial | CtcLayout::Auto => &kernel::CTC_BETA_GRAD_SERIAL,
    }
}

/// On a device with fewer storage buffers per stage than `fwd.layout`'s
/// gradient entry binds (9 or 10; WebGPU's default limit is 8): nll and
/// g·scale packed into one (2N,) buffer for the `*_packed` entries, which
/// compute the same values from it. `None` where the entry fits.
fn pack_weights(batch: &CtcBatch, fwd: &CtcForward, g: &Tensor, g_stride: u32, scale: &Tensor) -> Result<Option<Tensor>> {
    let ctx = fwd.input.context();
    let entry = gradient_entry(fwd.layout);
    if entry.storage_buffers() <= ctx.limits().max_storage_buffers_per_shader_stage {
        return Ok(None);
    }
    let weights = Tensor::empty(ctx, &[2 * batch.n], DType::F32)?;
    let params = batch.params(0, 0, false, g_stride);
    let groups = [as_u32("ctc_backward", "N / 64", batch.n.div_ceil(64))?, 1, 1];
    kernel::record_ctc_pack_weights(ctx, &params, &fwd.nll, g, scale, &weights, groups)?;
    Ok(Some(weights))
}
