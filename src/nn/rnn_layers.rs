//! Multi-layer, optionally bidirectional recurrent stacks with PyTorch's
//! `nn.RNN` / `nn.LSTM` / `nn.GRU` semantics, built from the fused
//! single-layer [`Recurrent`] (src/nn/rnn.rs), plus variable-length batches
//! and truncated back-propagation through time.
//!
//! * Layer k's input is layer k−1's output; in training mode [`Dropout`]
//!   with p = `dropout` is applied between layers (not after the last).
//! * The reverse direction runs on the time-reversed sequence and its output
//!   is reversed back; both directions are concatenated on the feature axis,
//!   (T, B, D·H). `h_n` / `c_n` are (L·D, B, H), layer-major, forward then
//!   reverse, as PyTorch.
//! * `batch_first`: (B, T, I) in, (B, T, D·H) out (states stay (L·D, B, H)).
//! * [`RecurrentStack::forward_with_lengths`]: as PyTorch's
//!   `pack_padded_sequence` → module → `pad_packed_sequence`: steps t ≥ len_b
//!   are never read, their outputs are 0, h_n / c_n are the states after
//!   step len_b − 1, and the reverse direction starts at len_b − 1. It runs
//!   the layer once per distinct length on that sub-batch and its first len
//!   steps (sequential dispatches: Σ over distinct lengths of len per layer
//!   and direction), so it is exact for every output, including LSTM's c_n.
//!
//! All the reshuffles (time reversal, slicing, concatenation, stacking,
//! transposes) are one op, [`gather`]: an index copy (shaders/rnn_layers.wgsl)
//! whose maps are injective, so its backward is the same copy with the
//! inverse map. Indices are built on the host, one u32 per output element.

use std::collections::BTreeMap;

use rand::Rng;

use super::rnn::{CellKind, Recurrent, RecurrentOutput};
use super::{Dropout, Module};
use crate::autograd::{self, Var};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::rnn_layers as kernel;
use crate::ops::{as_u32, grid_1d, BinaryOp};
use crate::tensor::Tensor;

/// Marks an output element that reads nothing (it is 0).
const NONE: u32 = u32::MAX;

fn dispatch_gather(ctx: &Context, src: &Tensor, idx: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let dst = Tensor::empty(ctx, shape, crate::tensor::DType::F32)?;
    let p = kernel::Params { n: as_u32("rnn_layers gather", "elements", n)?, _pad0: 0, _pad1: 0, _pad2: 0 };
    kernel::record_gather(ctx, &p, src, idx, &dst, grid_1d(ctx, n.div_ceil(64) as u64)?)?;
    Ok(dst)
}

/// y (shape) with y[i] = x[idx[i]] (flat), 0 where idx[i] = NONE. The map
/// must be injective; the backward gathers with the inverse map.
fn gather(x: &Var, idx: &[u32], shape: &[usize]) -> Result<Var> {
    let n: usize = shape.iter().product();
    let total = x.value().numel();
    if idx.len() != n {
        return Err(Error::invalid_shape("rnn_layers gather", format!("{} indices for shape {shape:?}", idx.len())));
    }
    as_u32("rnn_layers gather", "source elements", total)?;
    let mut inv = vec![NONE; total];
    for (i, &j) in idx.iter().enumerate() {
        if j == NONE {
            continue;
        }
        let j = j as usize;
        if j >= total || inv[j] != NONE {
            return Err(Error::InvalidArgument(format!(
                "rnn_layers gather: index {j} out of range or repeated (source has {total} elements)"
            )));
        }
        inv[j] = i as u32;
    }
    let ctx = x.value().context().clone();
    let idx_t = Tensor::from_u32(&ctx, idx, &[n])?;
    let y = dispatch_gather(&ctx, x.value(), &idx_t, shape)?;
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, inputs, _y| {
            let x = inputs[0].value();
            let inv_t = Tensor::from_u32(x.context(), &inv, &[inv.len()])?;
            Ok(vec![Some(dispatch_gather(x.context(), g, &inv_t, x.shape())?)])
        }),
    ))
}

/// (T, B, F) → (L, |bs|, F): steps 0..L of the sequences `bs`, reversed in
/// time (step t reads step L−1−t) when `reverse`.
fn select(x: &Var, len: usize, bs: &[usize], reverse: bool) -> Result<Var> {
    let s = x.shape();
    let (batch, f) = (s[1], s[2]);
    let mut idx = Vec::with_capacity(len * bs.len() * f);
    for t in 0..len {
        let ts = if reverse { len - 1 - t } else { t };
        for &b in bs {
            for j in 0..f {
                idx.push(((ts * batch + b) * f + j) as u32);
            }
        }
    }
    gather(x, &idx, &[len, bs.len(), f])
}

/// The inverse of [`select`]: (L, |bs|, F) placed into (T, B, F), zeros
/// elsewhere.
fn place(y: &Var, steps: usize, batch: usize, bs: &[usize], reverse: bool) -> Result<Var> {
    let s = y.shape();
    let (len, f) = (s[0], s[2]);
    let mut pos = vec![None; batch];
    for (i, &b) in bs.iter().enumerate() {
        pos[b] = Some(i);
    }
    let mut idx = Vec::with_capacity(steps * batch * f);
    for t in 0..steps {
        for p in pos.iter() {
            for j in 0..f {
                idx.push(match p {
                    Some(i) if t < len => {
                        let ts = if reverse { len - 1 - t } else { t };
                        ((ts * bs.len() + i) * f + j) as u32
                    }
                    _ => NONE,
                });
            }
        }
    }
    gather(y, &idx, &[steps, batch, f])
}

/// Slot k of a state (S, B, H), rows `bs`: (|bs|, H).
fn state_slot(h: &Var, k: usize, bs: &[usize]) -> Result<Var> {
    let s = h.shape();
    let (batch, hidden) = (s[1], s[2]);
    let mut idx = Vec::with_capacity(bs.len() * hidden);
    for &b in bs {
        for j in 0..hidden {
            idx.push(((k * batch + b) * hidden + j) as u32);
        }
    }
    gather(h, &idx, &[bs.len(), hidden])
}

/// (|bs|, H) placed at slot k, rows `bs`, of a zero (S, B, H).
fn place_state(h: &Var, k: usize, slots: usize, batch: usize, bs: &[usize]) -> Result<Var> {
    let hidden = h.shape()[1];
    let mut idx = vec![NONE; slots * batch * hidden];
    for (i, &b) in bs.iter().enumerate() {
        for j in 0..hidden {
            idx[(k * batch + b) * hidden + j] = (i * hidden + j) as u32;
        }
    }
    gather(h, &idx, &[slots, batch, hidden])
}

/// Concatenation of (…, Fa) and (…, Fb) on the last axis.
fn concat_last(a: &Var, b: &Var) -> Result<Var> {
    let (fa, fb) = (*a.shape().last().unwrap_or(&0), *b.shape().last().unwrap_or(&0));
    let rows = a.value().numel() / fa.max(1);
    let mut shape = a.shape().to_vec();
    *shape.last_mut().expect("rank ≥ 1") = fa + fb;
    let (mut ia, mut ib) = (Vec::with_capacity(rows * (fa + fb)), Vec::with_capacity(rows * (fa + fb)));
    for r in 0..rows {
        for j in 0..fa + fb {
            if j < fa {
                ia.push((r * fa + j) as u32);
                ib.push(NONE);
            } else {
                ia.push(NONE);
                ib.push((r * fb + j - fa) as u32);
            }
        }
    }
    autograd::binary(&gather(a, &ia, &shape)?, &gather(b, &ib, &shape)?, BinaryOp::Add)
}

/// Swaps the first two axes of a rank-3 value.
fn swap01(x: &Var) -> Result<Var> {
    let s = x.shape();
    let (d0, d1, f) = (s[0], s[1], s[2]);
    let mut idx = Vec::with_capacity(d0 * d1 * f);
    for i in 0..d1 {
        for k in 0..d0 {
            for j in 0..f {
                idx.push(((k * d1 + i) * f + j) as u32);
            }
        }
    }
    gather(x, &idx, &[d1, d0, f])
}

/// Steps [start, start + len) along the time axis (axis 1 if `batch_first`).
fn time_slice(x: &Var, start: usize, len: usize, batch_first: bool) -> Result<Var> {
    let s = x.shape();
    let (d0, d1, f) = (s[0], s[1], s[2]);
    let mut idx = Vec::new();
    if batch_first {
        for b in 0..d0 {
            for t in start..start + len {
                for j in 0..f {
                    idx.push(((b * d1 + t) * f + j) as u32);
                }
            }
        }
        gather(x, &idx, &[d0, len, f])
    } else {
        for t in start..start + len {
            for b in 0..d1 {
                for j in 0..f {
                    idx.push(((t * d1 + b) * f + j) as u32);
                }
            }
        }
        gather(x, &idx, &[len, d1, f])
    }
}

fn add_opt(acc: Option<Var>, v: Var) -> Result<Option<Var>> {
    Ok(Some(match acc {
        Some(a) => autograd::binary(&a, &v, BinaryOp::Add)?,
        None => v,
    }))
}

/// A constant with the same value as `v` (sharing its storage): the tape
/// stops here. The value must not be written afterwards (no op does).
pub fn detach(v: &Var) -> Var {
    Var::constant(v.value().clone())
}

/// `torch.nn.RNN` (tanh) / `LSTM` / `GRU` with `num_layers`,
/// `bidirectional`, `batch_first` and `dropout`.
#[derive(Debug)]
pub struct RecurrentStack {
    /// The recurrence.
    pub kind: CellKind,
    /// `[layer][direction]`: direction 0 forward, 1 reverse.
    pub layers: Vec<Vec<Recurrent>>,
    /// Two directions.
    pub bidirectional: bool,
    /// (B, T, ·) inputs and outputs instead of (T, B, ·).
    pub batch_first: bool,
    /// Dropout probability between layers (training mode only).
    pub dropout: f32,
    drop: Dropout,
}

impl RecurrentStack {
    /// PyTorch's init (every parameter ~ U(−1/√H, 1/√H)); the dropout seed
    /// is drawn from `rng` too.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &Context,
        kind: CellKind,
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        bidirectional: bool,
        batch_first: bool,
        dropout: f32,
        rng: &mut impl Rng,
    ) -> Result<RecurrentStack> {
        if num_layers == 0 {
            return Err(Error::InvalidArgument(format!("{kind:?}: num_layers must be at least 1")));
        }
        let dirs = if bidirectional { 2 } else { 1 };
        let mut layers = Vec::with_capacity(num_layers);
        for k in 0..num_layers {
            let input = if k == 0 { input_size } else { dirs * hidden_size };
            let mut l = Vec::with_capacity(dirs);
            for _ in 0..dirs {
                l.push(Recurrent::new(ctx, kind, input, hidden_size, rng)?);
            }
            layers.push(l);
        }
        let seed: u64 = rng.random();
        Self::from_layers(kind, layers, bidirectional, batch_first, dropout, seed)
    }

    /// A stack from given layers (`[layer][direction]`); checks that sizes
    /// chain (layer k's input size is D·H).
    pub fn from_layers(
        kind: CellKind,
        layers: Vec<Vec<Recurrent>>,
        bidirectional: bool,
        batch_first: bool,
        dropout: f32,
        seed: u64,
    ) -> Result<RecurrentStack> {
        let dirs = if bidirectional { 2 } else { 1 };
        if layers.is_empty() {
            return Err(Error::InvalidArgument(format!("{kind:?}: num_layers must be at least 1")));
        }
        let hidden = layers[0].first().map(|l| l.hidden_size).unwrap_or(0);
        let input0 = layers[0].first().map(|l| l.input_size).unwrap_or(0);
        for (k, l) in layers.iter().enumerate() {
            let input = if k == 0 { input0 } else { dirs * hidden };
            if l.len() != dirs || l.iter().any(|c| c.kind != kind || c.hidden_size != hidden || c.input_size != input) {
                return Err(Error::InvalidArgument(format!(
                    "{kind:?} stack: layer {k} must have {dirs} {kind:?} direction(s) of input {input}, hidden {hidden}"
                )));
            }
        }
        let drop = Dropout::new(dropout, seed)?;
        Ok(RecurrentStack { kind, layers, bidirectional, batch_first, dropout, drop })
    }

    /// D: 1 or 2.
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// H.
    pub fn hidden_size(&self) -> usize {
        self.layers[0][0].hidden_size
    }

    /// Training (dropout between layers on) or eval mode.
    pub fn set_training(&self, training: bool) {
        self.drop.set_training(training);
    }

    /// Whether in training mode.
    pub fn training(&self) -> bool {
        self.drop.training()
    }

    /// The between-layer dropout's mask counter (see [`Dropout::counter`]),
    /// for checkpoints that resume a run exactly.
    pub fn dropout_counter(&self) -> u32 {
        self.drop.counter()
    }

    /// Sets the between-layer dropout's mask counter.
    pub fn set_dropout_counter(&self, counter: u32) {
        self.drop.set_counter(counter);
    }

    /// Runs the stack over x ((T, B, I), or (B, T, I) if `batch_first`)
    /// from h0 / c0 (L·D, B, H) (None: zeros; c0 for LSTM only).
    pub fn forward(&self, x: &Var, h0: Option<&Var>, c0: Option<&Var>) -> Result<RecurrentOutput> {
        self.run(x, None, h0, c0)
    }

    /// As [`forward`](Self::forward) with sequence b of length `lengths[b]`
    /// (1 ≤ len ≤ T): steps t ≥ len_b are ignored and their outputs are 0;
    /// h_n / c_n are the states after step len_b − 1 (for the reverse
    /// direction: after original step 0, having started at len_b − 1).
    pub fn forward_with_lengths(
        &self,
        x: &Var,
        lengths: &[usize],
        h0: Option<&Var>,
        c0: Option<&Var>,
    ) -> Result<RecurrentOutput> {
        self.run(x, Some(lengths), h0, c0)
    }

    fn run(&self, x: &Var, lengths: Option<&[usize]>, h0: Option<&Var>, c0: Option<&Var>) -> Result<RecurrentOutput> {
        let kind = self.kind;
        let s = x.shape();
        if s.len() != 3 {
            return Err(Error::invalid_shape(&format!("{kind:?} stack"), format!("input must be rank 3, got {s:?}")));
        }
        let x = if self.batch_first { swap01(x)? } else { x.clone() };
        let (steps, batch) = (x.shape()[0], x.shape()[1]);
        let (dirs, hidden, nl) = (self.num_directions(), self.hidden_size(), self.layers.len());
        let slots = nl * dirs;
        for (v, what) in [(h0, "h0"), (c0, "c0")] {
            if let Some(v) = v {
                if v.shape() != [slots, batch, hidden] {
                    return Err(Error::shape(&format!("{kind:?} stack {what} (expected (L·D, B, H))"), v.shape(), &[slots, batch, hidden]));
                }
            }
        }
        if c0.is_some() && kind != CellKind::Lstm {
            return Err(Error::InvalidArgument(format!("{kind:?} has no cell state: c0 must be None")));
        }
        let lengths: Vec<usize> = match lengths {
            Some(l) => {
                if l.len() != batch || l.iter().any(|&n| n == 0 || n > steps) {
                    return Err(Error::InvalidArgument(format!(
                        "{kind:?} stack: need {batch} lengths in 1..={steps}, got {l:?}"
                    )));
                }
                l.to_vec()
            }
            None => vec![steps; batch],
        };
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (b, &n) in lengths.iter().enumerate() {
            groups.entry(n).or_default().push(b);
        }
        let whole = |len: usize, bs: &[usize]| len == steps && bs.len() == batch;

        let mut input = x;
        let (mut h_n, mut c_n): (Option<Var>, Option<Var>) = (None, None);
        for (k, layer) in self.layers.iter().enumerate() {
            let mut outs = Vec::with_capacity(dirs);
            for (d, cell) in layer.iter().enumerate() {
                let slot = k * dirs + d;
                let reverse = d == 1;
                let mut out: Option<Var> = None;
                for (&len, bs) in &groups {
                    let xg = if whole(len, bs) && !reverse { input.clone() } else { select(&input, len, bs, reverse)? };
                    let h0g = h0.map(|h| state_slot(h, slot, bs)).transpose()?;
                    let c0g = c0.map(|c| state_slot(c, slot, bs)).transpose()?;
                    let r = cell.forward(&xg, h0g.as_ref(), c0g.as_ref())?;
                    let o = if whole(len, bs) && !reverse { r.output } else { place(&r.output, steps, batch, bs, reverse)? };
                    out = add_opt(out, o)?;
                    h_n = add_opt(h_n, place_state(&r.h_n, slot, slots, batch, bs)?)?;
                    if let Some(c) = &r.c_n {
                        c_n = add_opt(c_n, place_state(c, slot, slots, batch, bs)?)?;
                    }
                }
                outs.push(out.expect("at least one group"));
            }
            let mut y = if dirs == 2 { concat_last(&outs[0], &outs[1])? } else { outs.remove(0) };
            if k + 1 < nl && self.dropout > 0.0 && self.drop.training() {
                y = self.drop.forward(&y)?;
            }
            input = y;
        }
        let output = if self.batch_first { swap01(&input)? } else { input };
        Ok(RecurrentOutput { output, h_n: h_n.expect("at least one layer"), c_n })
    }

    /// Truncated BPTT (k2 = k1): runs x in chunks of `k1` steps along its
    /// time axis; for each chunk calls `loss(start, &output)` (output of
    /// that chunk, in the stack's layout), back-propagates it (gradients
    /// accumulate in the parameters), and carries h_n / c_n into the next
    /// chunk [`detach`]ed. Returns the detached final states.
    ///
    /// With k1 ≥ T this is one ordinary full-BPTT step.
    pub fn tbptt(
        &self,
        x: &Var,
        k1: usize,
        h0: Option<&Var>,
        c0: Option<&Var>,
        mut loss: impl FnMut(usize, &RecurrentOutput) -> Result<Var>,
    ) -> Result<(Var, Option<Var>)> {
        if k1 == 0 {
            return Err(Error::InvalidArgument("tbptt: k1 must be at least 1".into()));
        }
        let steps = x.shape().get(usize::from(self.batch_first)).copied().unwrap_or(0);
        let (mut h, mut c) = (h0.cloned(), c0.cloned());
        let mut start = 0;
        while start < steps {
            let len = k1.min(steps - start);
            let xc = if start == 0 && len == steps { x.clone() } else { time_slice(x, start, len, self.batch_first)? };
            let out = self.forward(&xc, h.as_ref(), c.as_ref())?;
            loss(start, &out)?.backward()?;
            h = Some(detach(&out.h_n));
            c = out.c_n.as_ref().map(detach);
            start += len;
        }
        Ok((h.expect("at least one chunk"), c))
    }
}

impl Module for RecurrentStack {
    /// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`,
    /// then the same with `_reverse`, per layer, as PyTorch orders them.
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = Vec::new();
        for (k, layer) in self.layers.iter().enumerate() {
            for (d, cell) in layer.iter().enumerate() {
                let suffix = if d == 1 { "_reverse" } else { "" };
                for (name, v) in [
                    ("weight_ih", &cell.weight_ih),
                    ("weight_hh", &cell.weight_hh),
                    ("bias_ih", &cell.bias_ih),
                    ("bias_hh", &cell.bias_hh),
                ] {
                    p.push((format!("{name}_l{k}{suffix}"), v.clone()));
                }
            }
        }
        p
    }
}
