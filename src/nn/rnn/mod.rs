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
//! Where the adapter has subgroups of at least 8 and H is a multiple of 4,
//! an LSTM or GRU step is instead one dispatch that fuses the product with
//! W_hh and the cell, forward and backward ([`super::rnn_fused`]).
//!
//! Here: the layer and its forward; `sweep` the tensors a sweep keeps, the
//! unfused sweeps and the parameter gradients; `slice` the row slices of
//! the packed output.
//!
//! Limit: G·H ≤ 4096 (kept from the fused kernels that looped over the rows
//! of W_hh); larger sizes are an error.

use std::str::FromStr;

use rand::Rng;

use super::rnn_fused::StepKernel;
use super::{rnn_fused, Module};
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::{self, as_u32, MatmulOptions};
use crate::tensor::{DType, Tensor};

mod slice;
mod sweep;

use slice::split_packed_output;
use sweep::{backward_sweep_unfused, forward_sweep_unfused, parameter_grads};
pub(crate) use sweep::{fits, GateGrads, Gates, SweepState};

/// Steps of the forward sweep autotune times per step kernel.
const TUNE_STEPS: usize = 8;

/// Most gate rows (G·H) one layer may have.
pub const MAX_GATE_ROWS: usize = 4096;

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
    /// Every kind: tanh RNN, LSTM, GRU.
    pub const ALL: [CellKind; 3] = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];

    /// The name configs, checkpoints and the command line use ("rnn",
    /// "lstm", "gru"); [`FromStr`] reads it back.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// G: gate blocks in the weights (1, 4, 3).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
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

impl FromStr for CellKind {
    type Err = Error;

    /// The kind [`CellKind::name`] calls `s`; an error lists the valid names.
    fn from_str(s: &str) -> Result<CellKind> {
        CellKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = CellKind::ALL.iter().map(|k| k.name()).collect();
            Error::InvalidArgument(format!("unknown cell kind {s:?}: expected one of {}", names.join(", ")))
        })
    }
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
    /// Run each step as one fused dispatch (shaders/rnn_fused.wgsl or
    /// rnn_fused_wg.wgsl, [`rnn_fused::step_kernel`]) where it can
    /// (default); false keeps a matmul and a cell kernel per step.
    pub fused: bool,
    /// Force the step kernel (None: [`rnn_fused::step_kernel`]'s choice,
    /// default); forward is an error where the forced one cannot run.
    pub step_kernel: Option<StepKernel>,
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
            step_kernel: None,
        })
    }

    /// Runs the layer over x (T, B, I), time first, from h0 (B, H) and,
    /// for LSTM, c0 (B, H); None means zeros.
    pub fn forward(&self, x: &Var, h0: Option<&Var>, c0: Option<&Var>) -> Result<RecurrentOutput> {
        let (steps, batch) = self.check_input(x)?;
        let h0 = self.initial_state(x, h0, "h0", batch)?;
        let c0 = self.initial_cell_state(x, c0, batch)?;
        let xw = self.input_projection(x)?;
        let ctx = x.value().context();
        let c0_value = c0.as_ref().map(Var::value);
        let (w_hh, b_hh) = (self.weight_hh.value(), self.bias_hh.value());
        let sweep_of = |step, steps| -> Result<SweepState> {
            let sweep = SweepState::allocate(self.kind, steps, self.hidden_size, h0.value(), c0_value, step)?;
            forward_sweep(&sweep, &xw, w_hh, b_hh)?;
            Ok(sweep)
        };
        // Autotune's timing: the forward and reverse sweeps of a few steps
        // of these operands (the backward's cost differs more than the
        // forward's between kernels).
        let time = |step: StepKernel| -> Result<f64> {
            ctx.sync()?;
            let start = web_time::Instant::now();
            let sweep = sweep_of(step, steps.min(TUNE_STEPS))?;
            let (dy, grads) = (Tensor::zeros(ctx, sweep.out.shape())?, GateGrads::allocate(&sweep)?);
            reverse_sweep(&sweep, w_hh, &dy, &grads, false)?;
            ctx.sync()?;
            Ok(start.elapsed().as_secs_f64())
        };
        let shape = (batch, self.hidden_size);
        let step = rnn_fused::tuned_step_kernel(ctx, self.kind, shape, self.fused, self.step_kernel, time)?;
        let sweep = sweep_of(step, steps)?;
        let packed = self.packed_output_on_tape(x, &h0, c0.as_ref(), sweep);
        split_packed_output(&packed, self.kind, steps)
    }

    /// (T, B) of an input x (T, B, I) this layer can run, and the limits checked.
    fn check_input(&self, x: &Var) -> Result<(usize, usize)> {
        let kind = self.kind;
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
            return Err(Error::invalid_shape(&format!("{kind:?}"), format!("input {s:?} has no steps or no batch")));
        }
        x.value().expect_dtype("Recurrent", DType::F32)?;
        x.value().same_context("Recurrent", self.weight_ih.value())?;
        let op = format!("{kind:?}");
        as_u32(&op, "T·B·G·H", steps * batch * kind.gates() * self.hidden_size)?;
        as_u32(&op, "T·B·I", steps * batch * self.input_size)?;
        Ok((steps, batch))
    }

    /// The given initial state `what` (h0 or c0), checked to be (B, H), or zeros.
    fn initial_state(&self, x: &Var, v: Option<&Var>, what: &str, batch: usize) -> Result<Var> {
        let hidden = self.hidden_size;
        let Some(v) = v else {
            return Ok(Var::constant(Tensor::zeros(x.value().context(), &[batch, hidden])?));
        };
        if v.shape() != [batch, hidden] {
            return Err(Error::shape(
                &format!("{:?} {what} (expected (B, H))", self.kind),
                v.shape(),
                &[batch, hidden],
            ));
        }
        v.value().expect_dtype("Recurrent", DType::F32)?;
        v.value().same_context("Recurrent", x.value())?;
        Ok(v.clone())
    }

    /// For LSTM the given c0 or zeros, as [`Self::initial_state`]; for the
    /// other kinds None, and an error if c0 is given.
    fn initial_cell_state(&self, x: &Var, c0: Option<&Var>, batch: usize) -> Result<Option<Var>> {
        match (self.kind, c0) {
            (CellKind::Lstm, c) => Ok(Some(self.initial_state(x, c, "c0", batch)?)),
            (_, None) => Ok(None),
            (kind, Some(_)) => Err(Error::InvalidArgument(format!("{kind:?} has no cell state: c0 must be None"))),
        }
    }

    /// xw = x·W_ihᵀ + b_ih for every step, (T·B, G·H): one matmul.
    fn input_projection(&self, x: &Var) -> Result<Tensor> {
        let x2 = x.value().reshape(&[x.shape()[0] * x.shape()[1], self.input_size])?;
        let options = MatmulOptions { trans_b: true, bias: Some(self.bias_ih.value()), ..Default::default() };
        ops::matmul_ex(&x2, self.weight_ih.value(), &options)
    }

    /// The sweep's packed output as one op on the tape over x, the four
    /// parameters, h0 and c0, its backward the reverse sweep.
    fn packed_output_on_tape(&self, x: &Var, h0: &Var, c0: Option<&Var>, sweep: SweepState) -> Var {
        let mut inputs: Vec<&Var> = vec![x, &self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh, h0];
        inputs.extend(c0);
        let out = sweep.out.clone();
        let input_size = self.input_size;
        Var::from_op(out, &inputs, Box::new(move |dy, inputs, _y| backward(&sweep, dy, inputs, input_size)))
    }
}

/// Records `sweep`'s forward from xw in the kernel it was allocated for.
fn forward_sweep(sweep: &SweepState, xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> Result<()> {
    if sweep.step.is_fused() {
        rnn_fused::forward_sweep_fused(sweep, xw, w_hh, b_hh)
    } else {
        forward_sweep_unfused(sweep, xw, w_hh, b_hh)
    }
}

/// Records `sweep`'s reverse sweep from dy into `grads` in its kernel;
/// dh_0 if `want_dh0`.
fn reverse_sweep(sweep: &SweepState, w_hh: &Tensor, dy: &Tensor, grads: &GateGrads, want_dh0: bool) -> Result<Option<Tensor>> {
    if sweep.step.is_fused() {
        rnn_fused::backward_sweep_fused(sweep, w_hh, dy, grads, want_dh0)
    } else {
        backward_sweep_unfused(sweep, w_hh, dy, grads, want_dh0)
    }
}

/// The gradients of the layer's inputs (x, W_ih, W_hh, b_ih, b_hh, h0
/// [, c0]) from dy, the gradient of the packed output: the reverse sweep,
/// then one matmul or sum per parameter over all steps.
fn backward(sweep: &SweepState, dy: &Tensor, inputs: &[Var], input_size: usize) -> Result<Vec<Option<Tensor>>> {
    let want = |i: usize| inputs.get(i).is_some_and(|v| v.requires_grad());
    let w_hh = inputs[2].value();
    let grads = GateGrads::allocate(sweep)?;
    let dh0 = reverse_sweep(sweep, w_hh, dy, &grads, want(5))?;
    let mut out = parameter_grads(sweep, &grads, inputs, input_size, want)?;
    out.push(dh0);
    if inputs.len() > 6 {
        out.push(want(6).then(|| grads.carry.clone()));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::CellKind;

    #[test]
    fn cell_names_read_back_and_an_unknown_one_lists_the_valid_names() {
        for kind in CellKind::ALL {
            assert_eq!(kind.name().parse::<CellKind>().unwrap(), kind);
        }
        let e = "tanh".parse::<CellKind>().unwrap_err().to_string();
        assert!(e.contains("\"tanh\"") && e.contains("rnn, lstm, gru"), "{e}");
    }
}
