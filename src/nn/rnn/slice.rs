//! `output`, `h_n` and `c_n` as row slices of a layer's packed output, each a
//! small copy op on the tape whose backward scatters into a zero gradient
//! (rows_slice and rows_slice_backward in shaders/rnn_cell.wgsl).

use bytemuck::Zeroable;

use super::{CellKind, RecurrentOutput};
use crate::autograd::{reshape, Var};
use crate::error::Result;
use crate::gpu::Context;
use crate::kernels::rnn_cell;
use crate::ops::{as_u32, grid_1d};
use crate::tensor::{DType, Tensor};

/// Splits the packed output of a `kind` layer of `steps` steps, (T, B, H)
/// or (T+1, B, H) for LSTM with c_T in row T, into output (T, B, H),
/// h_n = row T−1 (B, H) and, for LSTM, c_n = row T (B, H).
pub(crate) fn split_packed_output(packed: &Var, kind: CellKind, steps: usize) -> Result<RecurrentOutput> {
    let state_shape = &packed.shape()[1..].to_vec(); // (B, H)
    let h_n = reshape(&rows(packed, steps - 1, 1)?, state_shape)?;
    if kind != CellKind::Lstm {
        return Ok(RecurrentOutput { output: packed.clone(), h_n, c_n: None });
    }
    let output = rows(packed, 0, steps)?;
    let c_n = reshape(&rows(packed, steps, 1)?, state_shape)?;
    Ok(RecurrentOutput { output, h_n, c_n: Some(c_n) })
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
    let p = rnn_cell::Params {
        offset: as_u32("Recurrent rows", "offset", start * row)?,
        count: as_u32("Recurrent rows", "count", count * row)?,
        total: as_u32("Recurrent rows", "total", x.value().numel())?,
        ..rnn_cell::Params::zeroed()
    };
    rnn_cell::record_rows_slice(ctx, &p, x.value(), &y, groups(ctx, count * row)?)?;
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, inputs, _y| {
            let x = inputs[0].value();
            let ctx = x.context();
            let dx = Tensor::empty(ctx, x.shape(), DType::F32)?;
            rnn_cell::record_rows_slice_backward(ctx, &p, g, &dx, groups(ctx, x.numel())?)?;
            Ok(vec![Some(dx)])
        }),
    ))
}

/// The grid of `n` invocations of the row-slice kernels.
fn groups(ctx: &Context, n: usize) -> Result<[u32; 3]> {
    grid_1d(ctx, n.div_ceil(rnn_cell::WORKGROUP) as u64)
}
