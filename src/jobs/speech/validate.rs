//! The speech job's settings checked before anything is built: batch,
//! hidden size and layers at least 1 and the batch against host memory and
//! the device's buffer limits (for the longest utterance of the data), and
//! `--resume`'s checkpoint found and matching before data is prepared.

use super::trainer::{SpeechTrainConfig, CHECKPOINT};
use crate::error::{Error, Result};
use crate::jobs::limits::{at_least, f32s, fits, Budget, Need};
use crate::speech::model::SpeechConfig;
use crate::Context;

/// A padded batch of `frames`-long utterances: features on the host; on the
/// device the largest of the unfolded convolution input, the convolution
/// output and the GRU gate pre-activations of both directions.
pub fn batch_need(m: &SpeechConfig, batch: usize, frames: usize) -> Need {
    let rows = batch.saturating_mul(frames);
    let host = f32s(&[rows, m.n_mels]);
    let unfolded = f32s(&[rows, m.n_mels, m.conv_kernel]);
    let conv = f32s(&[rows, m.conv_channels]);
    let gates = f32s(&[rows, 6, m.hidden]);
    Need { host, device: unfolded.max(conv).max(gates) }
}

/// Checks sizes for data whose longest utterance has `frames` frames.
pub fn validate(ctx: &Context, cfg: &SpeechTrainConfig, frames: usize) -> Result<()> {
    at_least("--batch", cfg.batch, 1)?;
    at_least("--epochs", cfg.epochs, 1)?;
    at_least("--hidden", cfg.model.hidden, 1)?;
    at_least("--layers", cfg.model.layers, 1)?;
    // Held-out utterances are decoded twice the batch at a time.
    fits(&Budget::of(ctx), "--batch", cfg.batch, |b| batch_need(&cfg.model, b.saturating_mul(2), frames))
}

/// With `--resume`: the checkpoint in `--out` exists, reads, and was
/// written for this model; checked before any data is prepared.
pub fn check_resume(ctx: &Context, cfg: &SpeechTrainConfig) -> Result<()> {
    if !cfg.resume {
        return Ok(());
    }
    let dir = cfg.out.as_ref().ok_or_else(|| Error::InvalidArgument("--resume needs --out DIR holding a checkpoint".into()))?;
    let path = dir.join(CHECKPOINT);
    if !path.is_file() {
        return Err(Error::checkpoint(&path, "--resume: no checkpoint there (train without --resume first)"));
    }
    let ckpt = crate::io::safetensors::load(ctx, &path)?;
    super::checkpoint::check_config(&path, &ckpt.metadata, &cfg.model)
}
