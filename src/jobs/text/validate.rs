//! The text job's sizes checked before anything is built: every size at
//! least 1, `seq_len` no longer than a stream of the corpus, and batch,
//! seq-len, hidden and layers against host memory and the device's limits.

use super::trainer::TextConfig;
use crate::data::text::TextCorpus;
use crate::error::{Error, Result};
use crate::jobs::limits::{at_least, f32s, fits_all, Budget, Need};
use crate::Context;

/// What `cfg` needs on `corpus` with `vocab` output classes: a step's
/// chunk (inputs, targets) on the host; on the device the largest of the
/// saved gate activations over a chunk (gates × H wide), the logits of a
/// chunk and the weights.
fn need(cfg: &TextConfig, vocab: usize) -> Need {
    let s = cfg.shape;
    let rows = cfg.seq_len.saturating_mul(cfg.batch);
    let host = f32s(&[rows, 2]).saturating_mul(s.layers.max(1) as u64);
    let gates = f32s(&[rows, s.cell.gates(), s.hidden]);
    let logits = f32s(&[rows, vocab]);
    let weights = f32s(&[4, s.hidden, s.hidden.saturating_add(s.embed)]);
    Need { host, device: gates.max(logits).max(weights).max(f32s(&[rows, s.embed])) }
}

/// Checks `cfg` against `corpus` and `ctx`'s limits; errors name the option.
pub fn validate(ctx: &Context, corpus: &TextCorpus, cfg: &TextConfig) -> Result<()> {
    let s = cfg.shape;
    for (option, value) in [
        ("--batch", cfg.batch),
        ("--seq-len", cfg.seq_len),
        ("--hidden", s.hidden),
        ("--layers", s.layers),
        ("--embed", s.embed),
        ("--steps", cfg.steps),
    ] {
        at_least(option, value, 1)?;
    }
    let inputs = corpus.ids.len().saturating_sub(1);
    if cfg.batch > inputs {
        return Err(Error::InvalidArgument(format!(
            "--batch {}: a text of {} characters feeds at most {inputs} streams",
            cfg.batch,
            corpus.ids.len()
        )));
    }
    // A step reads min(seq_len, characters per stream): longer is the same run.
    if cfg.seq_len > inputs {
        return Err(Error::InvalidArgument(format!(
            "--seq-len {}: a text of {} characters allows at most {inputs} (each of the {} streams holds {})",
            cfg.seq_len,
            corpus.ids.len(),
            cfg.batch,
            inputs / cfg.batch
        )));
    }
    let v = corpus.vocab.len();
    let with = |f: &dyn Fn(&mut TextConfig)| {
        let mut c = cfg.clone();
        f(&mut c);
        need(&c, v)
    };
    let batch = |b| with(&|c| c.batch = b);
    let seq_len = |l| with(&|c| c.seq_len = l);
    let hidden = |h| with(&|c| c.shape.hidden = h);
    let layers = |l| with(&|c| c.shape.layers = l);
    fits_all(
        &Budget::of(ctx),
        &[("--batch", cfg.batch, &batch), ("--seq-len", cfg.seq_len, &seq_len), ("--hidden", s.hidden, &hidden), ("--layers", s.layers, &layers)],
    )
}
