//! `ctc_loss` on the autodiff tape, with PyTorch's contract
//! (`torch.nn.functional.ctc_loss`): log-probs (T, N, C), targets padded
//! (N, S) or concatenated, per-utterance input and target lengths, a
//! configurable blank, reductions none / sum / mean, zero_infinity.
//!
//! "mean" divides each utterance's loss by its target length (clamped to at
//! least 1), then averages over the batch. An utterance whose target cannot
//! be aligned with its input (it needs more frames than it has, counting
//! the blanks that repeated labels need) loses +inf, or 0 with
//! `zero_infinity`; its gradient is 0 either way (PyTorch gives NaN without
//! zero_infinity; a zero keeps one bad utterance from poisoning a batch's
//! parameters while the +inf loss still says what happened).
//!
//! With `from_logits` the input is raw scores: log_softmax is applied inside
//! the op (inside the recursion kernels in the serial layout) and the
//! gradient is the exact one with respect to the logits, from the same
//! kernel (no separate softmax backward). Without it the input is
//! log-probabilities and the gradient is PyTorch's: exp(lp) − posterior/p,
//! which is exact when the log-probs came from a log_softmax.
//!
//! Work per call: forward ⌈T/chunk⌉ recursion dispatches (one for
//! T·(2S+1) ≤ 32768) plus one reduction; backward as many plus one
//! gradient dispatch (see `crate::ops::ctc`).

use crate::autograd::Var;
use crate::error::Result;
pub use crate::nn::loss::Reduction;
use crate::ops::ctc as k;
pub use crate::ops::ctc::{min_frames, CtcLayout, CtcTargets};
use crate::tensor::Tensor;

/// `CTCLoss` options; `Default` is PyTorch's (blank 0, mean, no
/// zero_infinity), with log-probability input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtcOptions {
    /// The blank class.
    pub blank: usize,
    /// None: (N,) losses; Sum; Mean (per target length, then over the batch).
    pub reduction: Reduction,
    /// Impossible alignments lose 0 instead of +inf.
    pub zero_infinity: bool,
    /// The input is logits: log_softmax over C is applied (fused gradient).
    pub from_logits: bool,
    /// Kernel layout (`Auto` picks per adapter).
    pub layout: CtcLayout,
}

/// The CTC loss of `input` (T, N, C) against `targets`. Returns a 0-d
/// tensor for Sum and Mean, (N,) for None. Errors (never panics) for a
/// wrong shape, an empty batch, mismatched batch sizes, lengths out of
/// range, or a target label that is the blank or not a class.
pub fn ctc_loss(input: &Var, targets: &CtcTargets, input_lengths: &[usize], target_lengths: &[usize], opts: CtcOptions) -> Result<Var> {
    let x = input.value();
    x.expect_dtype("ctc_loss", crate::DType::F32)?;
    let ctx = x.context();
    let batch = k::CtcBatch::new(ctx, x.shape(), targets, input_lengths, target_lengths, opts.blank)?;
    let fwd = k::ctc_forward(x, &batch, opts.from_logits, opts.zero_infinity, opts.layout)?;
    let n = batch.n;
    let scale: Vec<f32> = match opts.reduction {
        Reduction::Mean => batch.target_lengths.iter().map(|&s| 1.0 / (n as f32 * s.max(1) as f32)).collect(),
        _ => vec![1.0; n],
    };
    let scale = Tensor::from_slice(ctx, &scale, &[n])?;
    let value = match opts.reduction {
        Reduction::None => fwd.loss.clone(),
        _ => k::ctc_weighted_sum(&fwd.loss, &scale)?,
    };
    let reduction = opts.reduction;
    Ok(Var::from_op(
        value,
        &[input],
        Box::new(move |g, _inputs, _y| {
            let g_stride = if reduction == Reduction::None { 1 } else { 0 };
            let g = g.reshape(&[g.numel()])?;
            Ok(vec![Some(k::ctc_backward(&batch, &fwd, &g, g_stride, &scale)?)])
        }),
    ))
}
