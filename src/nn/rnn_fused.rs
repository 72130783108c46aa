//! The fused recurrent sweeps of shaders/rnn_fused.wgsl: one dispatch per
//! time step, forward and backward, the product with W_hh and the cell in
//! one kernel (see that file for the layout). [`super::rnn::Recurrent`]
//! routes LSTM and GRU layers here where the adapter has subgroups of at
//! least 8 and H is a multiple of 4; elsewhere (GL, odd H, the tanh RNN) it
//! runs a matmul and an elementwise cell kernel per step.

use bytemuck::{Pod, Zeroable};

use super::rnn::CellKind;
use crate::error::Result;
use crate::gpu::Context;
use crate::ops::as_u32;
use crate::tensor::{DType, Tensor};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    t: u32,
    steps: u32,
    batch: u32,
    hidden: u32,
    kchunks: u32,
    mode: u32,
    src: u32,
    _pad: u32,
}

/// Whether a `kind` layer of width `hidden` can run fused on `ctx`.
pub fn available(ctx: &Context, kind: CellKind, hidden: usize) -> bool {
    matches!(kind, CellKind::Lstm | CellKind::Gru)
        && hidden.is_multiple_of(4)
        && ctx.subgroups_of_8()
}

fn entry(kind: CellKind, what: &str) -> String {
    let k = if kind == CellKind::Lstm { "lstm" } else { "gru" };
    format!("{k}_fused_{what}")
}

/// The tensors a sweep reads and writes, as Recurrent::forward allocates them.
pub(crate) struct Sweep<'a> {
    pub kind: CellKind,
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    /// (G·H, H).
    pub w_hh: &'a Tensor,
    /// (B, H).
    pub h0: &'a Tensor,
    /// (B, H), LSTM only.
    pub c0: Option<&'a Tensor>,
    /// (T[+1], B, H): h_1 … h_T [, c_T].
    pub out: &'a Tensor,
    /// (T, B, H): h_0 … h_{T−1}.
    pub hprev: &'a Tensor,
    /// (T, B, G·H): gate activations.
    pub act: &'a Tensor,
    /// (T, B, H): c_t (LSTM) or h_{t-1}·W_hnᵀ + b_hn (GRU).
    pub aux: &'a Tensor,
}

impl Sweep<'_> {
    fn params(&self, t: usize, kchunks: usize, mode: u32, src: usize) -> Result<Params> {
        let op = "fused recurrent sweep";
        Ok(Params {
            t: as_u32(op, "t", t)?,
            steps: as_u32(op, "T", self.steps)?,
            batch: as_u32(op, "B", self.batch)?,
            hidden: as_u32(op, "H", self.hidden)?,
            kchunks: as_u32(op, "K/4", kchunks)?,
            mode,
            src: as_u32(op, "src", src)?,
            _pad: 0,
        })
    }

    fn rows(&self) -> Result<u32> {
        as_u32("fused recurrent sweep", "row tiles", self.batch.div_ceil(32))
    }

    /// Records the forward from xw = x·W_ihᵀ + b_ih (T, B, G·H) and b_hh
    /// (G·H,): T dispatches, step t reading step t−1's output.
    pub fn forward(&self, ctx: &Context, xw: &Tensor, b_hh: &Tensor) -> Result<()> {
        let mut b = vec![
            xw.binding(1),
            self.w_hh.binding(2),
            b_hh.binding(3),
            self.h0.binding(4),
            self.out.binding(6),
            self.hprev.binding(7),
            self.act.binding(8),
            self.aux.binding(9),
        ];
        if let Some(c0) = self.c0 {
            b.push(c0.binding(5));
        }
        let groups = [as_u32("fused recurrent sweep", "unit tiles", self.hidden.div_ceil(32))?, self.rows()?, 1];
        let e = entry(self.kind, "forward");
        for t in 0..self.steps {
            let p = self.params(t, self.hidden / 4, 0, 0)?;
            ctx.dispatch("rnn_fused", &e, &[], bytemuck::bytes_of(&p), &b, groups)?;
        }
        Ok(())
    }

    /// Records the reverse sweep t = T−1 … 0 into `dg` (T, B, G·H) (and,
    /// for GRU, the hidden-side `dghh`), carrying f⊙dc (LSTM) or z⊙dh (GRU)
    /// in `carry` (B, H); then, if `want_dh0`, returns dh_0.
    pub fn backward(&self, ctx: &Context, dy: &Tensor, dg: &Tensor, dghh: Option<&Tensor>, carry: &Tensor, want_dh0: bool) -> Result<Option<Tensor>> {
        let dh0 = Tensor::empty(ctx, &[self.batch, self.hidden], DType::F32)?;
        let mut b = vec![
            self.w_hh.binding(2),
            self.h0.binding(4),
            self.out.binding(6),
            self.hprev.binding(7),
            self.act.binding(8),
            self.aux.binding(9),
            dy.binding(10),
            dg.binding(11),
            carry.binding(13),
            dh0.binding(14),
        ];
        if let Some(c0) = self.c0 {
            b.push(c0.binding(5));
        }
        if let Some(d) = dghh {
            b.push(d.binding(12));
        }
        let groups = [as_u32("fused recurrent sweep", "unit tiles", self.hidden.div_ceil(64))?, self.rows()?, 1];
        let e = entry(self.kind, "backward");
        let k = self.kind.gates() * self.hidden / 4;
        for t in (0..self.steps).rev() {
            let last = t + 1 == self.steps;
            let p = self.params(t, if last { 0 } else { k }, 0, if last { t } else { t + 1 })?;
            ctx.dispatch("rnn_fused", &e, &[], bytemuck::bytes_of(&p), &b, groups)?;
        }
        if !want_dh0 {
            return Ok(None);
        }
        let p = self.params(0, k, 1, 0)?;
        ctx.dispatch("rnn_fused", &e, &[], bytemuck::bytes_of(&p), &b, groups)?;
        Ok(Some(dh0))
    }
}
