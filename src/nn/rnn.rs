//! Recurrent layers on the tape: tanh RNN, LSTM and GRU, one layer, one
//! direction, full back-propagation through time, as `torch.nn.RNN` /
//! `LSTM` / `GRU` with `batch_first = False` (shaders/rnn_cell.wgsl,
//! lstm_cell.wgsl, gru_cell.wgsl).
//!
//! Data flow of a forward: the input projection of all steps is one matmul,
//! xw = x·W_ihᵀ + b_ih, (T·B, G·H); then each step is one matmul
//! hw = h_{t-1}·W_hhᵀ + b_hh, (B, G·H), and one fused elementwise dispatch
//! that applies the gates and the state update, writes h_t to a (B, H)
//! tensor for the next step's matmul and saves what the backward needs.
//! The backward is a reverse sweep of, per step, one matmul
//! dhh = dG_{t+1}·W_hh (t < T−1) and one elementwise dispatch producing the
//! gate pre-activation gradients dG (T, B, G·H) and the carried dh (and dc);
//! after it, dh_0 = dG_0·W_hh, dW_ih = dGᵀ·x, dW_hh = dGᵀ·h_prev and
//! dx = dG·W_ih are one matmul each over all steps and the biases one sum.
//! Nothing is read back.
//!
//! The whole layer is one op on the tape whose value is the packed output
//! (T, B, H), or (T+1, B, H) for LSTM with c_T in row T. `output`, `h_n`
//! (= row T−1) and `c_n` are row slices of it (a small copy op each, whose
//! backward scatters into a zero gradient), so gradients reaching the layer
//! through any mix of them add up on the tape.
//!
//! Limit: G·H ≤ 4096 (kept from the fused kernels that looped over the rows
//! of W_hh); larger sizes are an error.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use super::{rnn_fused, Module};
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::{self, as_u32, grid_1d, MatmulOptions};
use crate::tensor::{DType, Tensor};

/// Most gate rows (G·H) one layer may have.
pub const MAX_GATE_ROWS: usize = 4096;

/// Invocations per workgroup in the cell kernels.
const WORKGROUP: usize = 64;

/// Which recurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
    RnnTanh,
    /// Gates (i, f, g, o); c' = f⊙c + i⊙g; h' = o⊙tanh(c').
    Lstm,
    /// Gates (r, z, n); n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)); h' = (1−z)⊙n + z⊙h.
    Gru,
}

impl CellKind {
    /// G: gate blocks in the weights (1, 4, 3).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    fn kernel(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "rnn_cell",
            CellKind::Lstm => "lstm_cell",
            CellKind::Gru => "gru_cell",
        }
    }

    fn entry(self, what: &str) -> String {
        let p = match self {
            CellKind::RnnTanh => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        };
        format!("{p}_{what}")
    }

    /// The largest hidden size this cell supports.
    pub fn max_hidden(self) -> usize {
        MAX_GATE_ROWS / self.gates()
    }

    fn check_hidden(self, hidden: usize) -> Result<()> {
        if hidden == 0 {
            return Err(Error::InvalidArgument(format!(
                "{self:?}: hidden_size must be at least 1"
            )));
        }
        if self.gates() * hidden > MAX_GATE_ROWS {
            return Err(Error::OverLimit {
                what: format!(
                    "{self:?} with hidden_size {hidden} ({} gate rows)",
                    self.gates() * hidden
                ),
                needed: (self.gates() * hidden) as u64,
                limit_name:
                    "gate rows G·H looped over per shader invocation (software adapters cap loops)",
                limit: MAX_GATE_ROWS as u64,
            });
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    t: u32,
    steps: u32,
    batch: u32,
    hidden: u32,
    offset: u32,
    count: u32,
    total: u32,
    _pad: u32,
}

/// One recurrent layer with PyTorch's parameters (layer 0).
#[derive(Clone, Debug)]
pub struct Recurrent {
    /// The recurrence.
    pub kind: CellKind,
    /// I.
    pub input_size: usize,
    /// H.
    pub hidden_size: usize,
    /// (G·H, I), named `weight_ih_l0`.
    pub weight_ih: Var,
    /// (G·H, H), named `weight_hh_l0`.
    pub weight_hh: Var,
    /// (G·H,), named `bias_ih_l0`.
    pub bias_ih: Var,
    /// (G·H,), named `bias_hh_l0`.
    pub bias_hh: Var,
    /// Run each step as one fused dispatch (shaders/rnn_fused.wgsl) where
    /// the adapter allows (default); false keeps a matmul and a cell kernel
    /// per step, the path adapters without subgroups take.
    pub fused: bool,
}

/// What [`Recurrent::forward`] returns.
#[derive(Clone, Debug)]
pub struct RecurrentOutput {
    /// h_1 … h_T, (T, B, H).
    pub output: Var,
    /// h_T, (B, H).
    pub h_n: Var,
    /// c_T, (B, H): LSTM only.
    pub c_n: Option<Var>,
}

impl Recurrent {
    /// PyTorch's init: all four parameters ~ U(−1/√H, 1/√H).
    pub fn new(
        ctx: &Context,
        kind: CellKind,
        input_size: usize,
        hidden_size: usize,
        rng: &mut impl Rng,
    ) -> Result<Recurrent> {
        kind.check_hidden(hidden_size)?;
        if input_size == 0 {
            return Err(Error::InvalidArgument(format!(
                "{kind:?}: input_size must be at least 1"
            )));
        }
        let rows = kind.gates() * hidden_size;
        let bound = 1.0 / (hidden_size as f32).sqrt();
        let mut u =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
        let w_ih = Tensor::from_slice(ctx, &u(rows * input_size), &[rows, input_size])?;
        let w_hh = Tensor::from_slice(ctx, &u(rows * hidden_size), &[rows, hidden_size])?;
        let b_ih = Tensor::from_slice(ctx, &u(rows), &[rows])?;
        let b_hh = Tensor::from_slice(ctx, &u(rows), &[rows])?;
        Self::from_tensors(kind, w_ih, w_hh, b_ih, b_hh)
    }

    /// A layer with the given weight_ih (G·H, I), weight_hh (G·H, H),
    /// bias_ih and bias_hh (G·H,), as parameters.
    pub fn from_tensors(
        kind: CellKind,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias_ih: Tensor,
        bias_hh: Tensor,
    ) -> Result<Recurrent> {
        let g = kind.gates();
        let op = "Recurrent::from_tensors";
        if weight_ih.shape().len() != 2 || !weight_ih.shape()[0].is_multiple_of(g) {
            return Err(Error::invalid_shape(
                op,
                format!("weight_ih must be ({g}·H, I), got {:?}", weight_ih.shape()),
            ));
        }
        let (rows, input_size) = (weight_ih.shape()[0], weight_ih.shape()[1]);
        let hidden_size = rows / g;
        kind.check_hidden(hidden_size)?;
        if weight_hh.shape() != [rows, hidden_size] {
            return Err(Error::shape(
                "Recurrent weight_hh (vs weight_ih)",
                weight_hh.shape(),
                weight_ih.shape(),
            ));
        }
        for b in [&bias_ih, &bias_hh] {
            if b.shape() != [rows] {
                return Err(Error::shape(
                    "Recurrent bias (vs weight_ih)",
                    b.shape(),
                    weight_ih.shape(),
                ));
            }
        }
        for t in [&weight_ih, &weight_hh, &bias_ih, &bias_hh] {
            t.expect_dtype(op, DType::F32)?;
            t.same_context(op, &weight_ih)?;
        }
        let param = |t: Tensor, name: &str| {
            let v = Var::parameter(t);
            v.set_name(name);
            v
        };
        Ok(Recurrent {
            kind,
            input_size,
            hidden_size,
            weight_ih: param(weight_ih, "weight_ih_l0"),
            weight_hh: param(weight_hh, "weight_hh_l0"),
            bias_ih: param(bias_ih, "bias_ih_l0"),
            bias_hh: param(bias_hh, "bias_hh_l0"),
            fused: true,
        })
    }

    /// Runs the layer over x (T, B, I), time first, from h0 (B, H) and,
    /// for LSTM, c0 (B, H); None means zeros.
    pub fn forward(&self, x: &Var, h0: Option<&Var>, c0: Option<&Var>) -> Result<RecurrentOutput> {
        let kind = self.kind;
        let (hidden, g) = (self.hidden_size, kind.gates());
        let s = x.shape();
        if s.len() != 3 || s[2] != self.input_size {
            return Err(Error::shape(
                &format!("{kind:?} (input (T, B, I) vs weight_ih (G·H, I))"),
                s,
                self.weight_ih.shape(),
            ));
        }
        let (steps, batch) = (s[0], s[1]);
        if steps == 0 || batch == 0 {
            return Err(Error::invalid_shape(
                &format!("{kind:?}"),
                format!("input {s:?} has no steps or no batch"),
            ));
        }
        x.value().expect_dtype("Recurrent", DType::F32)?;
        x.value()
            .same_context("Recurrent", self.weight_ih.value())?;
        let ctx = x.value().context().clone();
        let state = |v: Option<&Var>, what: &str| -> Result<Var> {
            match v {
                Some(v) => {
                    if v.shape() != [batch, hidden] {
                        return Err(Error::shape(
                            &format!("{kind:?} {what} (expected (B, H))"),
                            v.shape(),
                            &[batch, hidden],
                        ));
                    }
                    v.value().expect_dtype("Recurrent", DType::F32)?;
                    v.value().same_context("Recurrent", x.value())?;
                    Ok(v.clone())
                }
                None => Ok(Var::constant(Tensor::zeros(&ctx, &[batch, hidden])?)),
            }
        };
        let h0 = state(h0, "h0")?;
        let c0 = match (kind, c0) {
            (CellKind::Lstm, c) => Some(state(c, "c0")?),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "{kind:?} has no cell state: c0 must be None"
                )))
            }
        };
        let op = format!("{kind:?}");
        as_u32(&op, "T·B·G·H", steps * batch * g * hidden)?;
        as_u32(&op, "T·B·I", steps * batch * self.input_size)?;

        // One matmul for the input projection of every step.
        let x2 = x.value().reshape(&[steps * batch, self.input_size])?;
        let xw = ops::matmul_ex(
            &x2,
            self.weight_ih.value(),
            &MatmulOptions {
                trans_b: true,
                bias: Some(self.bias_ih.value()),
                ..Default::default()
            },
        )?;
        let packed_rows = steps + usize::from(kind == CellKind::Lstm);
        let out = Tensor::empty(&ctx, &[packed_rows, batch, hidden], DType::F32)?;
        let hprev = Tensor::empty(&ctx, &[steps, batch, hidden], DType::F32)?;
        let (act, aux) = if kind == CellKind::RnnTanh {
            (None, None)
        } else {
            (
                Some(Tensor::empty(
                    &ctx,
                    &[steps, batch, g * hidden],
                    DType::F32,
                )?),
                Some(Tensor::empty(&ctx, &[steps, batch, hidden], DType::F32)?),
            )
        };
        let base = Params {
            t: 0,
            steps: steps as u32,
            batch: batch as u32,
            hidden: hidden as u32,
            offset: 0,
            count: 0,
            total: 0,
            _pad: 0,
        };
        let groups = grid_1d(&ctx, (batch * hidden).div_ceil(WORKGROUP) as u64)?;
        let fused = self.fused && rnn_fused::available(&ctx, kind, hidden);
        let forward_entry = kind.entry("forward");
        // h_t of the latest step, the next step's matmul input.
        let hcur = Tensor::empty(&ctx, &[batch, hidden], DType::F32)?;
        if let (true, Some(act), Some(aux)) = (fused, &act, &aux) {
            rnn_fused::Sweep {
                kind,
                steps,
                batch,
                hidden,
                w_hh: self.weight_hh.value(),
                h0: h0.value(),
                c0: c0.as_ref().map(|c| c.value()),
                out: &out,
                hprev: &hprev,
                act,
                aux,
            }
            .forward(&ctx, &xw, self.bias_hh.value())?;
        }
        for t in (0..steps).filter(|_| !fused) {
            // hw = h_{t-1}·W_hhᵀ + b_hh, (B, G·H)
            let hw = ops::matmul_ex(
                if t == 0 { h0.value() } else { &hcur },
                self.weight_hh.value(),
                &MatmulOptions {
                    trans_b: true,
                    bias: Some(self.bias_hh.value()),
                    ..Default::default()
                },
            )?;
            let mut b = vec![
                xw.binding(1),
                h0.value().binding(4),
                out.binding(6),
                hprev.binding(7),
                hw.binding(17),
                hcur.binding(18),
            ];
            if let Some(c0) = &c0 {
                b.push(c0.value().binding(5));
            }
            if let (Some(act), Some(aux)) = (&act, &aux) {
                b.push(act.binding(8));
                b.push(aux.binding(9));
            }
            let p = Params {
                t: t as u32,
                ..base
            };
            ctx.dispatch(
                kind.kernel(),
                &forward_entry,
                &[],
                bytemuck::bytes_of(&p),
                &b,
                groups,
            )?;
        }

        let mut inputs: Vec<&Var> = vec![
            x,
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
            &h0,
        ];
        if let Some(c0) = &c0 {
            inputs.push(c0);
        }
        let input_size = self.input_size;
        let packed = Var::from_op(
            out,
            &inputs,
            Box::new(move |dy, inputs, y| {
                let ctx = y.context();
                let want = |i: usize| inputs.get(i).is_some_and(|v| v.requires_grad());
                let (xv, w_ih, w_hh, h0v) = (
                    inputs[0].value(),
                    inputs[1].value(),
                    inputs[2].value(),
                    inputs[5].value(),
                );
                let dg = Tensor::empty(ctx, &[steps * batch, g * hidden], DType::F32)?;
                let dghh = if kind == CellKind::Gru {
                    Some(Tensor::empty(
                        ctx,
                        &[steps * batch, g * hidden],
                        DType::F32,
                    )?)
                } else {
                    None
                };
                let carry = Tensor::empty(ctx, &[batch, hidden], DType::F32)?;
                // dG_t (hidden side) of the latest step, (B, G·H): the next matmul's input.
                let dgstep = Tensor::empty(ctx, &[batch, g * hidden], DType::F32)?;
                let mm = |a: &Tensor, w: &Tensor, trans_a: bool| {
                    ops::matmul_ex(
                        a,
                        w,
                        &MatmulOptions {
                            trans_a,
                            ..Default::default()
                        },
                    )
                };
                let mut b = vec![
                    h0v.binding(4),
                    y.binding(6),
                    hprev.binding(7),
                    dy.binding(10),
                    dg.binding(11),
                    carry.binding(13),
                    dgstep.binding(20),
                ];
                if let Some(c0) = inputs.get(6) {
                    b.push(c0.value().binding(5));
                }
                if let (Some(act), Some(aux)) = (&act, &aux) {
                    b.push(act.binding(8));
                    b.push(aux.binding(9));
                }
                if let Some(d) = &dghh {
                    b.push(d.binding(12));
                }
                let backward_entry = kind.entry("backward");
                let fused_dh0 = match (fused, &act, &aux) {
                    (true, Some(act), Some(aux)) => Some(
                        rnn_fused::Sweep {
                            kind,
                            steps,
                            batch,
                            hidden,
                            w_hh,
                            h0: h0v,
                            c0: inputs.get(6).map(|c| c.value()),
                            out: y,
                            hprev: &hprev,
                            act,
                            aux,
                        }
                        .backward(ctx, dy, &dg, dghh.as_ref(), &carry, want(5))?,
                    ),
                    _ => None,
                };
                for t in (0..steps).rev().filter(|_| !fused) {
                    let p = Params {
                        t: t as u32,
                        ..base
                    };
                    // dhh = dG_{t+1}·W_hh; at t = T−1 the kernel reads none
                    // (dy, read-only, stands in for the binding).
                    let dhh = if t + 1 < steps {
                        Some(mm(&dgstep, w_hh, false)?)
                    } else {
                        None
                    };
                    let mut bt = b.clone();
                    bt.push(dhh.as_ref().unwrap_or(dy).binding(19));
                    ctx.dispatch(
                        kind.kernel(),
                        &backward_entry,
                        &[],
                        bytemuck::bytes_of(&p),
                        &bt,
                        groups,
                    )?;
                }
                let dh0 = if let Some(d) = fused_dh0 {
                    d
                } else if want(5) {
                    // dh_0 = dG_0·W_hh (+ z_0 ⊙ dh_0 for GRU, the carry)
                    let d = mm(&dgstep, w_hh, false)?;
                    Some(if kind == CellKind::Gru {
                        ops::add(&d, &carry)?
                    } else {
                        d
                    })
                } else {
                    None
                };
                let dg_hh = dghh.as_ref().unwrap_or(&dg);
                let x2 = xv.reshape(&[steps * batch, input_size])?;
                let h2 = hprev.reshape(&[steps * batch, hidden])?;
                let dx = if want(0) {
                    Some(mm(&dg, w_ih, false)?.reshape(&[steps, batch, input_size])?)
                } else {
                    None
                };
                let dw_ih = if want(1) {
                    Some(mm(&dg, &x2, true)?)
                } else {
                    None
                };
                let dw_hh = if want(2) {
                    Some(mm(dg_hh, &h2, true)?)
                } else {
                    None
                };
                let db_ih = if want(3) {
                    Some(ops::sum(&dg, 0)?)
                } else {
                    None
                };
                // Where dG is the same on both sides (all but GRU) db_hh = db_ih:
                // copy the sum rather than reduce (T·B, G·H) twice.
                let db_hh = match (want(4), &db_ih) {
                    (false, _) => None,
                    (true, Some(d)) if dghh.is_none() => Some(d.deep_clone()?),
                    (true, _) => Some(ops::sum(dg_hh, 0)?),
                };
                let mut grads = vec![dx, dw_ih, dw_hh, db_ih, db_hh, dh0];
                if inputs.len() > 6 {
                    grads.push(if want(6) { Some(carry.clone()) } else { None });
                }
                Ok(grads)
            }),
        );

        let h_n = rows(&packed, steps - 1, 1)?.reshape_var(&[batch, hidden])?;
        let (output, c_n) = if kind == CellKind::Lstm {
            (
                rows(&packed, 0, steps)?,
                Some(rows(&packed, steps, 1)?.reshape_var(&[batch, hidden])?),
            )
        } else {
            (packed, None)
        };
        Ok(RecurrentOutput { output, h_n, c_n })
    }
}

/// Small helper so reshapes read left to right.
trait ReshapeVar {
    fn reshape_var(&self, shape: &[usize]) -> Result<Var>;
}

impl ReshapeVar for Var {
    fn reshape_var(&self, shape: &[usize]) -> Result<Var> {
        crate::autograd::reshape(self, shape)
    }
}

/// Rows [start, start + count) of x (R, …) along its first axis, as a Var:
/// a copy (rows_slice) whose backward writes the gradient into a zero
/// tensor shaped like x (rows_slice_backward).
fn rows(x: &Var, start: usize, count: usize) -> Result<Var> {
    let s = x.shape();
    let row: usize = s[1..].iter().product();
    let mut shape = s.to_vec();
    shape[0] = count;
    let ctx = x.value().context();
    let y = Tensor::empty(ctx, &shape, DType::F32)?;
    let p = Params {
        offset: as_u32("Recurrent rows", "offset", start * row)?,
        count: as_u32("Recurrent rows", "count", count * row)?,
        total: as_u32("Recurrent rows", "total", x.value().numel())?,
        ..Params::zeroed()
    };
    fn groups(ctx: &Context, n: usize) -> Result<[u32; 3]> {
        grid_1d(ctx, n.div_ceil(WORKGROUP) as u64)
    }
    ctx.dispatch(
        "rnn_cell",
        "rows_slice",
        &[],
        bytemuck::bytes_of(&p),
        &[x.value().binding(15), y.binding(16)],
        groups(ctx, count * row)?,
    )?;
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, inputs, _y| {
            let x = inputs[0].value();
            let ctx = x.context();
            let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
            ctx.dispatch(
                "rnn_cell",
                "rows_slice_backward",
                &[],
                bytemuck::bytes_of(&p),
                &[g.binding(15), dx.binding(16)],
                groups(ctx, x.numel())?,
            )?;
            Ok(vec![Some(dx)])
        }),
    ))
}

impl Module for Recurrent {
    fn parameters(&self) -> Vec<(String, Var)> {
        vec![
            ("weight_ih_l0".to_string(), self.weight_ih.clone()),
            ("weight_hh_l0".to_string(), self.weight_hh.clone()),
            ("bias_ih_l0".to_string(), self.bias_ih.clone()),
            ("bias_hh_l0".to_string(), self.bias_hh.clone()),
        ]
    }
}
