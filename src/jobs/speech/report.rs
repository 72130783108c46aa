//! What a trained recogniser says: greedy (or beam) transcripts of
//! held-out examples and of WAV files, which the trainer scores per epoch.

use std::path::Path;

use super::trainer::make_batch;
use crate::error::Result;
use crate::speech::features::LogMel;
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

/// The text of one WAV file (greedy, or prefix beam search with `beam` > 1).
pub fn transcribe_file(ctx: &Context, model: &SpeechModel, wav: &Path, beam: usize) -> Result<String> {
    let samples = crate::speech::wav::load_16k(wav)?;
    let mel = LogMel::new(model.config.n_mels)?;
    let e = Example { seconds: samples.len() as f32 / crate::speech::wav::SAMPLE_RATE as f32, features: mel.features(&samples), transcript: String::new() };
    Ok(transcribe_examples(ctx, model, std::slice::from_ref(&e), 1, beam)?.remove(0))
}
