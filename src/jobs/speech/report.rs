//! What a trained recogniser says: greedy (or beam) transcripts of
//! held-out examples and of WAV files, which the trainer scores per epoch.

use std::path::Path;

use super::trainer::make_batch;
use crate::error::Result;
use crate::speech::window::{transcribe_samples, Windowing};
use crate::speech::manifest::Example;
use crate::speech::model::SpeechModel;
use crate::speech::text;
use crate::{no_grad, Context};

/// Greedy transcripts of `data`, `batch` at a time, no tape.
pub fn transcribe_examples(ctx: &Context, model: &SpeechModel, data: &[Example], batch: usize, beam: usize) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(data.len());
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&i| data[i].features.frames);
    let mut hyps = vec![String::new(); data.len()];
    for chunk in order.chunks(batch.max(1)) {
        let items: Vec<&Example> = chunk.iter().map(|&i| &data[i]).collect();
        let b = make_batch(ctx, model, &items)?;
        let logits = no_grad(|| model.forward(&b.x))?;
        let (t, n, c) = (logits.shape()[0], logits.shape()[1], logits.shape()[2]);
        let values = logits.value().to_vec()?;
        for (bi, &i) in chunk.iter().enumerate() {
            let frames: Vec<f32> = (0..b.input_lengths[bi]).flat_map(|ti| values[(ti * n + bi) * c..(ti * n + bi + 1) * c].to_vec()).collect();
            debug_assert!(b.input_lengths[bi] <= t);
            hyps[i] = text::decode(&frames, c, beam);
        }
    }
    out.extend(hyps);
    Ok(out)
}

/// The text of one WAV file (greedy, or prefix beam search with `beam` > 1,
/// at most [`crate::decode::MAX_BEAM`]): audio of any length, in
/// overlapping windows that fit the device (see [`crate::speech::window`]).
pub fn transcribe_file(ctx: &Context, model: &SpeechModel, wav: &Path, beam: usize) -> Result<String> {
    crate::jobs::limits::at_most("--beam", beam, crate::decode::MAX_BEAM)?;
    let samples = crate::speech::wav::load_16k(wav)?;
    transcribe_samples(ctx, model, &samples, beam, windowing(ctx, model))
}

/// The default 30 s windows, shortened until one window's biggest buffer fits the device.
pub fn windowing(ctx: &Context, model: &SpeechModel) -> Windowing {
    let mut w = Windowing::default();
    let device = crate::jobs::limits::Budget::of(ctx).device;
    let stride = model.config.conv_stride.max(1);
    while w.window > 4 * stride && super::validate::batch_need(&model.config, 1, w.window).device > device {
        w.window /= 2;
        w.overlap = (w.window / 8).max(stride);
    }
    w
}
