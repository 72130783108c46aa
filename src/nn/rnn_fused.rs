//! The fused recurrent sweeps: one dispatch of shaders/rnn_fused.wgsl per
//! time step, forward and backward, the product with W_hh and the cell in
//! one kernel (see that file for the layout; `kernels::rnn_fused` records
//! them). [`super::rnn::Recurrent`] routes LSTM and GRU layers here where the
//! adapter has subgroups of at least 8 and H is a multiple of 4; elsewhere
//! (GL, odd H, the tanh RNN) it runs a matmul and an elementwise cell kernel
//! per step.
//!
//! On a device with fewer storage buffers per stage than
//! lstm_fused_forward or gru_fused_backward bind (9; WebGPU's default
//! limit is 8), their `*_h0_in_hprev` / `*_dh0_in_carry` siblings run
//! instead: the same arithmetic and still one dispatch per step, the LSTM's
//! h0 copied into row 0 of hprev before the sweep.

use super::rnn::{fits, CellKind, GateGrads, Gates, SweepState};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::rnn_fused::{self, Grads, Params, Sweep};
use crate::ops::as_u32;
use crate::tensor::{DType, Tensor};

const OP: &str = "fused recurrent sweep";

/// Whether a `kind` layer of width `hidden` can run fused on `ctx`.
pub fn available(ctx: &Context, kind: CellKind, hidden: usize) -> bool {
    matches!(kind, CellKind::Lstm | CellKind::Gru) && hidden.is_multiple_of(4) && ctx.subgroup_kernels_run()
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

/// [ceil(H / unit_tile), ceil(B / 32), 1] workgroups.
fn groups(s: &SweepState, unit_tile: usize) -> Result<[u32; 3]> {
    let rows = as_u32(OP, "row tiles", s.batch.div_ceil(rnn_fused::ROW_TILE))?;
    Ok([as_u32(OP, "unit tiles", s.hidden.div_ceil(unit_tile))?, rows, 1])
}

/// Records the forward from xw = x·W_ihᵀ + b_ih (T, B, G·H), W_hh and b_hh
/// (G·H,): T dispatches, step t reading step t−1's output.
pub(crate) fn forward_sweep_fused(s: &SweepState, xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> Result<()> {
    let (ctx, sweep) = (s.out.context(), launcher_sweep(s, w_hh)?);
    let groups = groups(s, rnn_fused::FORWARD_UNIT_TILE)?;
    let lstm_h0_in_hprev = matches!(s.gates, Gates::Lstm { .. }) && !fits(ctx, &rnn_fused::LSTM_FUSED_FORWARD);
    if lstm_h0_in_hprev {
        s.copy_h0_into_hprev();
    }
    for t in 0..s.steps {
        let p = params(s, t, s.hidden / 4, 0, 0)?;
        match &s.gates {
            Gates::Lstm { c0, .. } if lstm_h0_in_hprev => {
                rnn_fused::record_lstm_fused_forward_h0_in_hprev(ctx, &p, &sweep, c0, xw, b_hh, groups)?
            }
            Gates::Lstm { c0, .. } => rnn_fused::record_lstm_fused_forward(ctx, &p, &sweep, c0, xw, b_hh, groups)?,
            Gates::Gru { .. } => rnn_fused::record_gru_fused_forward(ctx, &p, &sweep, xw, b_hh, groups)?,
            Gates::Tanh => unreachable!("launcher_sweep refuses the tanh RNN"),
        }
    }
    Ok(())
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
    // GRU on a device short of buffers: mode 1 leaves dh_0 in the carry.
    let gru_dh0_in_carry = matches!(s.gates, Gates::Gru { .. }) && !fits(ctx, &rnn_fused::GRU_FUSED_BACKWARD);
    let dh0 = if gru_dh0_in_carry { grads.carry.clone() } else { Tensor::empty(ctx, &[s.batch, s.hidden], DType::F32)? };
    let g = Grads { dy, dg: &grads.dg, carry: &grads.carry, dh0: &dh0 };
    let groups = groups(s, rnn_fused::BACKWARD_UNIT_TILE)?;
    let dghh = grads.hidden_side();
    let record = |p: &Params| match &s.gates {
        Gates::Lstm { c0, .. } => rnn_fused::record_lstm_fused_backward(ctx, p, &sweep, c0, &g, groups),
        Gates::Gru { .. } if gru_dh0_in_carry => rnn_fused::record_gru_fused_backward_dh0_in_carry(ctx, p, &sweep, &g, dghh, groups),
        Gates::Gru { .. } => rnn_fused::record_gru_fused_backward(ctx, p, &sweep, &g, dghh, groups),
        Gates::Tanh => unreachable!("launcher_sweep refuses the tanh RNN"),
    };
    let k = s.kind().gates() * s.hidden / 4;
    for t in (0..s.steps).rev() {
        let last = t + 1 == s.steps;
        record(&params(s, t, if last { 0 } else { k }, 0, if last { t } else { t + 1 })?)?;
    }
    if !want_dh0 {
        return Ok(None);
    }
    record(&params(s, 0, k, 1, 0)?)?;
    Ok(Some(dh0))
}
