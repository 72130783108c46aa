//! The tensors one layer's sweep writes and its backward reads, the unfused
//! sweeps (per step a matmul and a cell kernel: shaders/rnn_cell.wgsl,
//! lstm_cell.wgsl, gru_cell.wgsl) and the parameter gradients after the
//! reverse sweep, for either path.

use super::CellKind;
use crate::autograd::Var;
use crate::error::Result;
use crate::gpu::Context;
use crate::kernels::{gru_cell, lstm_cell, rnn_cell, Entry};
use crate::nn::rnn_fused::StepKernel;
use crate::ops::{self, grid_1d, MatmulOptions};
use crate::tensor::{DType, Tensor};

/// What a cell kind keeps beyond h: its initial cell state and saved gates.
pub(crate) enum Gates {
    /// The tanh RNN keeps nothing more.
    Tanh,
    /// c0 (B, H), the gates i, f, g, o (T, B, 4H) and c_1 … c_T (T, B, H).
    Lstm { c0: Tensor, act: Tensor, cs: Tensor },
    /// The gates r, z, n (T, B, 3H) and hn = h_{t-1}·W_hnᵀ + b_hn (T, B, H).
    Gru { act: Tensor, hn: Tensor },
}

/// One layer's sweep: the tensors its forward writes and its backward reads.
pub(crate) struct SweepState {
    /// T, B, H.
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    /// The kernel the steps run (fused: shaders/rnn_fused.wgsl or rnn_fused_wg.wgsl).
    pub step: StepKernel,
    /// (B, H).
    pub h0: Tensor,
    /// The packed output (T, B, H), or (T+1, B, H) for LSTM with c_T in row T.
    pub out: Tensor,
    /// h_0 … h_{T−1}, (T, B, H).
    pub hprev: Tensor,
    /// What the kind keeps besides.
    pub gates: Gates,
}

impl SweepState {
    /// Allocates a `kind` sweep of `steps` steps from h0 (B, H) and, for
    /// LSTM, c0 (B, H).
    pub fn allocate(
        kind: CellKind,
        steps: usize,
        hidden: usize,
        h0: &Tensor,
        c0: Option<&Tensor>,
        step: StepKernel,
    ) -> Result<Self> {
        let (ctx, batch, g) = (h0.context(), h0.shape()[0], kind.gates());
        let packed_rows = steps + usize::from(kind == CellKind::Lstm);
        let empty = |shape: &[usize]| Tensor::empty(ctx, shape, DType::F32);
        let out = empty(&[packed_rows, batch, hidden])?;
        let hprev = empty(&[steps, batch, hidden])?;
        let gates = match (kind, c0) {
            (CellKind::RnnTanh, _) => Gates::Tanh,
            (CellKind::Lstm, Some(c0)) => {
                Gates::Lstm { c0: c0.clone(), act: empty(&[steps, batch, g * hidden])?, cs: empty(&[steps, batch, hidden])? }
            }
            (CellKind::Lstm, None) => unreachable!("Recurrent::forward passes c0 for LSTM"),
            (CellKind::Gru, _) => Gates::Gru { act: empty(&[steps, batch, g * hidden])?, hn: empty(&[steps, batch, hidden])? },
        };
        Ok(SweepState { steps, batch, hidden, step, h0: h0.clone(), out, hprev, gates })
    }

    /// The recurrence.
    pub fn kind(&self) -> CellKind {
        match self.gates {
            Gates::Tanh => CellKind::RnnTanh,
            Gates::Lstm { .. } => CellKind::Lstm,
            Gates::Gru { .. } => CellKind::Gru,
        }
    }

    /// The saved gates and the kind's (T, B, H) extra (c_t or hn); None for the tanh RNN.
    pub fn saved_gates(&self) -> Option<(&Tensor, &Tensor)> {
        match &self.gates {
            Gates::Tanh => None,
            Gates::Lstm { act, cs, .. } => Some((act, cs)),
            Gates::Gru { act, hn } => Some((act, hn)),
        }
    }

    fn context(&self) -> &Context {
        self.out.context()
    }

    /// The cell kernels' params for step t.
    fn cell_params(&self, t: usize) -> rnn_cell::Params {
        rnn_cell::Params {
            t: t as u32,
            steps: self.steps as u32,
            batch: self.batch as u32,
            hidden: self.hidden as u32,
            offset: 0,
            count: 0,
            total: 0,
            _pad: 0,
        }
    }

    /// The cell kernels' grid: one invocation per (b, j).
    fn cell_groups(&self) -> Result<[u32; 3]> {
        grid_1d(self.context(), (self.batch * self.hidden).div_ceil(rnn_cell::WORKGROUP) as u64)
    }

    /// Records a copy of h0 into row 0 of hprev (a buffer copy, no
    /// dispatch), for the LSTM forward kernels, which read h_0 there
    /// instead of binding h0 (so they fit 8 storage buffers).
    pub fn copy_h0_into_hprev(&self) {
        self.context().copy_buffer(self.h0.buffer(), self.hprev.buffer(), self.h0.bytes());
    }
}

/// Whether `entry` binds no more storage buffers than `ctx`'s device allows
/// per shader stage (WebGPU's default limit is 8; every recurrent entry
/// binds at most 8, rnn_fused_wg checks its own with this).
pub(crate) fn fits(ctx: &Context, entry: &Entry) -> bool {
    entry.storage_buffers() <= ctx.limits().max_storage_buffers_per_shader_stage
}

/// The gate gradients a reverse sweep writes.
pub(crate) struct GateGrads {
    /// dG, (T·B, G·H): the gradient of xw, the input side.
    pub dg: Tensor,
    /// GRU only: the hidden side dGhh, (T·B, 3H), which differs from dG in n.
    pub dghh: Option<Tensor>,
    /// (B, H): f⊙dc (LSTM) or z⊙dh (GRU) carried to the previous step;
    /// after the sweep, dc_0 for LSTM.
    pub carry: Tensor,
}

impl GateGrads {
    /// Allocates the gradients of `sweep`'s gates.
    pub fn allocate(sweep: &SweepState) -> Result<Self> {
        let (ctx, rows, g) = (sweep.context(), sweep.steps * sweep.batch, sweep.kind().gates());
        let dg = Tensor::empty(ctx, &[rows, g * sweep.hidden], DType::F32)?;
        let dghh = match sweep.gates {
            Gates::Gru { .. } => Some(Tensor::empty(ctx, &[rows, g * sweep.hidden], DType::F32)?),
            _ => None,
        };
        let carry = Tensor::empty(ctx, &[sweep.batch, sweep.hidden], DType::F32)?;
        Ok(GateGrads { dg, dghh, carry })
    }

    /// The gradient of h·W_hhᵀ + b_hh: dGhh for GRU, dG otherwise.
    pub fn hidden_side(&self) -> &Tensor {
        self.dghh.as_ref().unwrap_or(&self.dg)
    }
}

/// a·w (or aᵀ·w), no bias.
fn matmul(a: &Tensor, w: &Tensor, trans_a: bool) -> Result<Tensor> {
    ops::matmul_ex(a, w, &MatmulOptions { trans_a, ..Default::default() })
}

/// Records the forward from xw = x·W_ihᵀ + b_ih (T·B, G·H): per step t the
/// matmul hw = h_{t-1}·W_hhᵀ + b_hh and one cell dispatch. The LSTM's
/// lstm_forward reads h_0 from row 0 of hprev, copied there first.
pub(crate) fn forward_sweep_unfused(s: &SweepState, xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> Result<()> {
    let ctx = s.context();
    if matches!(s.gates, Gates::Lstm { .. }) {
        s.copy_h0_into_hprev();
    }
    // h_t of the latest step, the next step's matmul input.
    let hcur = Tensor::empty(ctx, &[s.batch, s.hidden], DType::F32)?;
    let groups = s.cell_groups()?;
    let options = MatmulOptions { trans_b: true, bias: Some(b_hh), ..Default::default() };
    for t in 0..s.steps {
        let hw = ops::matmul_ex(if t == 0 { &s.h0 } else { &hcur }, w_hh, &options)?;
        let (p, h0, out, hprev, hw, hcur) = (s.cell_params(t), &s.h0, &s.out, &s.hprev, &hw, &hcur);
        match &s.gates {
            Gates::Tanh => {
                let step = rnn_cell::Forward { xw, h0, out, hprev, hw, hcur };
                rnn_cell::record_rnn_forward(ctx, &p, &step, groups)?
            }
            Gates::Lstm { c0, act, cs } => {
                let step = lstm_cell::Forward { xw, c0, out, hprev, act, cs, hw, hcur };
                lstm_cell::record_lstm_forward(ctx, &p, &step, groups)?
            }
            Gates::Gru { act, hn } => {
                let step = gru_cell::Forward { xw, h0, out, hprev, act, hn, hw, hcur };
                gru_cell::record_gru_forward(ctx, &p, &step, groups)?
            }
        }
    }
    Ok(())
}

/// Records the reverse sweep t = T−1 … 0 from dy, the gradient of the
/// packed output, into `grads`: per step the matmul dhh = dG_{t+1}·W_hh
/// (t < T−1) and one cell dispatch; then, if `want_dh0`, returns
/// dh_0 = dG_0·W_hh (+ the carried z_0⊙dh_0 for GRU). For GRU one
/// gru_dghh dispatch after the steps writes dGhh.
pub(crate) fn backward_sweep_unfused(
    s: &SweepState,
    w_hh: &Tensor,
    dy: &Tensor,
    grads: &GateGrads,
    want_dh0: bool,
) -> Result<Option<Tensor>> {
    let ctx = s.context();
    // dG_t (hidden side) of the latest step, (B, G·H): the next matmul's input.
    let dgstep = Tensor::empty(ctx, &[s.batch, s.kind().gates() * s.hidden], DType::F32)?;
    let groups = s.cell_groups()?;
    for t in (0..s.steps).rev() {
        // At t = T−1 the kernel reads no dhh (dy, read-only, stands in for the binding).
        let dhh = if t + 1 < s.steps { Some(matmul(&dgstep, w_hh, false)?) } else { None };
        let (p, dhh, dg, dgstep) = (s.cell_params(t), dhh.as_ref().unwrap_or(dy), &grads.dg, &dgstep);
        match &s.gates {
            Gates::Tanh => {
                let step = rnn_cell::Backward { out: &s.out, dy, dhh, dg, dgstep };
                rnn_cell::record_rnn_backward(ctx, &p, &step, groups)?
            }
            Gates::Lstm { c0, act, cs } => {
                let step = lstm_cell::Backward { c0, act, cs, dy, dhh, dg, dc_carry: &grads.carry, dgstep };
                lstm_cell::record_lstm_backward(ctx, &p, &step, groups)?
            }
            Gates::Gru { act, hn } => {
                let (hprev, dh_carry) = (&s.hprev, &grads.carry);
                let step = gru_cell::Backward { hprev, act, hn, dy, dhh, dg, dh_carry, dgstep };
                gru_cell::record_gru_backward(ctx, &p, &step, groups)?
            }
        }
    }
    if let Gates::Gru { act, .. } = &s.gates {
        let all = grid_1d(ctx, (s.steps * s.batch * s.hidden).div_ceil(gru_cell::WORKGROUP) as u64)?;
        gru_cell::record_gru_dghh(ctx, &s.cell_params(0), act, &grads.dg, grads.hidden_side(), all)?;
    }
    if !want_dh0 {
        return Ok(None);
    }
    let dh0 = matmul(&dgstep, w_hh, false)?;
    Ok(Some(if s.kind() == CellKind::Gru { ops::add(&dh0, &grads.carry)? } else { dh0 }))
}

/// dx, dW_ih, dW_hh, db_ih and db_hh (each only where `want(i)` of input i
/// = x, W_ih, W_hh, b_ih, b_hh) from the reverse sweep's gate gradients:
/// dx = dG·W_ih, dW_ih = dGᵀ·x, dW_hh = dGhhᵀ·h_prev, the biases sums over
/// all steps.
pub(crate) fn parameter_grads(
    s: &SweepState,
    grads: &GateGrads,
    inputs: &[Var],
    input_size: usize,
    want: impl Fn(usize) -> bool,
) -> Result<Vec<Option<Tensor>>> {
    let (steps, batch) = (s.steps, s.batch);
    let (dg, dg_hh) = (&grads.dg, grads.hidden_side());
    let x2 = inputs[0].value().reshape(&[steps * batch, input_size])?;
    let h2 = s.hprev.reshape(&[steps * batch, s.hidden])?;
    let dx = if want(0) { Some(matmul(dg, inputs[1].value(), false)?.reshape(&[steps, batch, input_size])?) } else { None };
    let dw_ih = if want(1) { Some(matmul(dg, &x2, true)?) } else { None };
    let dw_hh = if want(2) { Some(matmul(dg_hh, &h2, true)?) } else { None };
    let db_ih = if want(3) { Some(ops::sum(dg, 0)?) } else { None };
    // Where dG is the same on both sides (all but GRU) db_hh = db_ih:
    // copy the sum rather than reduce (T·B, G·H) twice.
    let db_hh = match (want(4), &db_ih) {
        (false, _) => None,
        (true, Some(d)) if grads.dghh.is_none() => Some(d.deep_clone()?),
        (true, _) => Some(ops::sum(dg_hh, 0)?),
    };
    Ok(vec![dx, dw_ih, dw_hh, db_ih, db_hh])
}
