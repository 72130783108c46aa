//! Long audio in overlapping windows: the recogniser sees at most
//! `window` feature frames at a time (30 s by default), consecutive windows
//! overlap by `overlap` frames (4 s), and each window contributes the output
//! frames between the middles of its overlaps with its neighbours. The kept
//! logits are decoded as one utterance (greedy or beam), so the transcript
//! is stitched at the middle of each overlap, where both windows have
//! context on either side. Device memory is bounded by one window; audio
//! no longer than a window is transcribed exactly as one utterance.

use std::ops::Range;

use super::features::{LogMel, HOP, WINDOW};
use super::model::SpeechModel;
use super::text;
use crate::error::{Error, Result};
use crate::{no_grad, Context, Tensor, Var};

/// Window and overlap, in feature frames (10 ms each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windowing {
    pub window: usize,
    pub overlap: usize,
}

impl Default for Windowing {
    /// 30 s windows overlapping by 4 s.
    fn default() -> Self {
        Windowing { window: 3000, overlap: 400 }
    }
}

/// One window: its input frames and the output frames (global, in the
/// model's strided time) it contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub frames: Range<usize>,
    pub keep: Range<usize>,
}

/// The windows covering `total` input frames for a model striding by
/// `stride`: starts are multiples of the stride, every input frame lies in
/// some window, and the kept output ranges tile 0..∞ in order.
pub fn plan(total: usize, w: Windowing, stride: usize) -> Result<Vec<Span>> {
    let stride = stride.max(1);
    if w.window <= w.overlap || w.window < 2 * stride || w.overlap < stride {
        return Err(Error::InvalidArgument(format!(
            "transcription windows of {} frames overlapping by {} do not advance (stride {stride})",
            w.window, w.overlap
        )));
    }
    let step = (w.window - w.overlap) / stride * stride;
    let mut starts = vec![0];
    while starts[starts.len() - 1] + w.window < total {
        let s = starts[starts.len() - 1] + step;
        starts.push(s);
    }
    let cuts: Vec<usize> = starts[1..].iter().map(|&s| (s + w.overlap / 2) / stride).collect();
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, &s)| Span {
            frames: s..(s + w.window).min(total.max(1)),
            keep: if i == 0 { 0 } else { cuts[i - 1] }..cuts.get(i).copied().unwrap_or(usize::MAX),
        })
        .collect())
}

/// The text of 16 kHz `samples`, window by window (see the module doc);
/// `beam` > 1 decodes with prefix beam search of that width.
pub fn transcribe_samples(ctx: &Context, model: &SpeechModel, samples: &[f32], beam: usize, w: Windowing) -> Result<String> {
    let mel = LogMel::new(model.config.n_mels)?;
    let total = super::features::frame_count(samples.len());
    let stride = model.config.conv_stride.max(1);
    let classes = model.config.classes;
    let mut kept = Vec::new();
    for span in plan(total, w, stride)? {
        let first = span.frames.start * HOP;
        let last = if span.frames.end >= total { samples.len() } else { ((span.frames.end - 1) * HOP + WINDOW).min(samples.len()) };
        let f = mel.features(&samples[first..last.max(first)]);
        let x = Var::constant(Tensor::from_slice(ctx, &f.data, &[f.frames, 1, f.n_mels])?);
        let logits = no_grad(|| model.forward(&x))?;
        let rows = logits.shape()[0].min(model.out_len(f.frames));
        let values = logits.value().to_vec()?;
        let offset = span.frames.start / stride;
        for j in 0..rows {
            if span.keep.contains(&(offset + j)) {
                kept.extend_from_slice(&values[j * classes..(j + 1) * classes]);
            }
        }
    }
    Ok(text::decode(&kept, classes, beam))
}
