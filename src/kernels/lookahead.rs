//! Launcher of shaders/lookahead.wgsl: Deep Speech 2's look-ahead (row)
//! convolution over time-first x (T, B, F) with W (K, F), K = τ + 1 taps,
//! and its input and weight gradients (the bias gradient and the sum of the
//! weight-gradient chunks are reduces, in `nn::lookahead`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "lookahead";

/// Rows (t, b) one weight-gradient invocation loops over (llvmpipe caps
/// loops at 65535 iterations per invocation).
pub const CHUNK_ROWS: usize = 32768;
/// Most taps (τ + 1): the per-element loops of the forward and the input
/// gradient stay under the same cap.
pub const MAX_TAPS: usize = 32768;

super::params! {
    /// Mirrors `Params` in shaders/lookahead.wgsl.
    pub struct Params as "Params" {
        t: u32,
        b: u32,
        f: u32,
        k: u32,
        chunk_rows: u32,
        chunks: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `x`: (T, B, F).
pub const X: Slot = Slot::read("x", 1);
/// `weight`: W (K, F).
pub const WEIGHT: Slot = Slot::read("weight", 2);
/// `bias`: (F,), any buffer without `HAS_BIAS`.
pub const BIAS: Slot = Slot::read("bias", 3);
/// `y`: (T, B, F).
pub const Y: Slot = Slot::read_write("y", 4);
/// `dy`: (T, B, F).
pub const DY: Slot = Slot::read("dy", 5);
/// `dx`: (T, B, F).
pub const DX: Slot = Slot::read_write("dx", 6);
/// `part`: (chunks, K, F), partial dW per chunk of rows.
pub const PART: Slot = Slot::read_write("part", 7);

/// y[t, b, f] = bias[f] + Σ_j W[j, f] · x[t + j, b, f], one invocation per element of y.
pub const LOOKAHEAD_FORWARD: Entry = Entry { name: "lookahead_forward", slots: &[P, X, WEIGHT, BIAS, Y] };
/// dx[t, b, f] = Σ_j W[j, f] · dy[t − j, b, f], one invocation per element of dx.
pub const LOOKAHEAD_BACKWARD_INPUT: Entry =
    Entry { name: "lookahead_backward_input", slots: &[P, WEIGHT, DY, DX] };
/// part[c, j, f] = Σ over chunk c of dy[t, b, f] · x[t + j, b, f].
pub const LOOKAHEAD_BACKWARD_WEIGHT: Entry =
    Entry { name: "lookahead_backward_weight", slots: &[P, X, DY, PART] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[LOOKAHEAD_FORWARD, LOOKAHEAD_BACKWARD_INPUT, LOOKAHEAD_BACKWARD_WEIGHT],
};

/// x: (T, B, F), weight: (K, F), bias: (F,) or none → y: (T, B, F), 256
/// elements per workgroup over the 1-D grid `groups`.
pub fn record_lookahead_forward(
    ctx: &Context,
    p: &Params,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    // The bias binding is statically used: bind the weight when there is none.
    let has_bias = [("HAS_BIAS", if bias.is_some() { 1.0 } else { 0.0 })];
    let bindings = [X.bind(x), WEIGHT.bind(weight), BIAS.bind(bias.unwrap_or(weight)), Y.bind(y)];
    record(ctx, KERNEL, &LOOKAHEAD_FORWARD, &has_bias, p, &bindings, groups)
}

/// weight: (K, F), dy: (T, B, F) → dx: (T, B, F), 256 elements per workgroup
/// over the 1-D grid `groups`.
pub fn record_lookahead_backward_input(
    ctx: &Context,
    p: &Params,
    weight: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LOOKAHEAD_BACKWARD_INPUT, &[], p, &[WEIGHT.bind(weight), DY.bind(dy), DX.bind(dx)], groups)
}

/// x: (T, B, F), dy: (T, B, F) → part: (chunks, K, F), 256 elements per
/// workgroup over the 1-D grid `groups`.
pub fn record_lookahead_backward_weight(
    ctx: &Context,
    p: &Params,
    x: &Tensor,
    dy: &Tensor,
    part: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    record(ctx, KERNEL, &LOOKAHEAD_BACKWARD_WEIGHT, &[], p, &[X.bind(x), DY.bind(dy), PART.bind(part)], groups)
}
