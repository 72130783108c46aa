//! Scoring a character model on a text (`kairo eval seq`): bits per
//! character, the mean of −log₂ p(next character) over the text.
//!
//! The text is cut into `batch` contiguous streams read side by side,
//! `seq_len` characters of every stream per forward (one batched forward
//! per chunk, no tape, dropout off), the recurrent state carried from chunk
//! to chunk, so each prediction after a stream's first character has the
//! whole stream before it as context. A stream starts from a zero state;
//! the last `(n − 1) mod batch` characters are not scored.

use std::path::Path;

use super::model::{CharModel, CharState};
use crate::error::{Error, Result};
use crate::nn::loss::{cross_entropy, Reduction};
use crate::{no_grad, Context, Tensor};

/// What [`bits_per_char`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextEval {
    /// Mean cross-entropy in bits per predicted character.
    pub bits_per_char: f64,
    /// Characters predicted (batch × stream length).
    pub predicted: usize,
    /// Forwards run (one per chunk of `seq_len` steps).
    pub forwards: usize,
}

impl TextEval {
    /// The same in nats per character (the training loss's unit).
    pub fn nats_per_char(&self) -> f64 {
        self.bits_per_char * std::f64::consts::LN_2
    }
}

/// Bits per character of `model` on `text` (see the module doc). Every
/// character must be in the model's vocabulary (the error names the first
/// that is not).
pub fn bits_per_char(ctx: &Context, model: &CharModel, text: &str, batch: usize, seq_len: usize) -> Result<TextEval> {
    let ids = model.vocab.encode(text)?;
    bits_per_char_ids(ctx, model, &ids, batch, seq_len)
}

/// [`bits_per_char`] on a UTF-8 file; errors name the file.
pub fn bits_per_char_file(ctx: &Context, model: &CharModel, path: &Path, batch: usize, seq_len: usize) -> Result<TextEval> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::data(path, format!("not UTF-8 text: {e}")))?;
    let ids = model.vocab.encode(&text).map_err(|e| Error::data(path, format!("{e} (the model's vocabulary was taken from its training text)")))?;
    bits_per_char_ids(ctx, model, &ids, batch, seq_len)
}

/// [`bits_per_char`] on vocabulary ids.
pub fn bits_per_char_ids(ctx: &Context, model: &CharModel, ids: &[u32], batch: usize, seq_len: usize) -> Result<TextEval> {
    crate::jobs::limits::at_least("--batch", batch, 1)?;
    crate::jobs::limits::at_least("--seq-len", seq_len, 1)?;
    let span = ids.len().saturating_sub(1) / batch;
    if span == 0 {
        return Err(Error::InvalidArgument(format!(
            "a text of {} characters cannot feed {batch} streams: use a smaller --batch (at most {})",
            ids.len(),
            ids.len().saturating_sub(1)
        )));
    }
    let training = model.rnn.training();
    model.rnn.set_training(false);
    let result = no_grad(|| -> Result<TextEval> {
        let (mut nats, mut forwards) = (0.0f64, 0);
        let mut state: Option<CharState> = None;
        let mut pos = 0;
        while pos < span {
            let len = seq_len.min(span - pos);
            let (mut x, mut y) = (Vec::with_capacity(len * batch), Vec::with_capacity(len * batch));
            for t in 0..len {
                for b in 0..batch {
                    let i = b * span + pos + t;
                    x.push(ids[i]);
                    y.push(ids[i + 1] as i32);
                }
            }
            let x = Tensor::from_u32(ctx, &x, &[len, batch])?;
            let y = Tensor::from_i32(ctx, &y, &[len * batch])?;
            let (logits, next) = model.forward(&x, state.as_ref())?;
            nats += cross_entropy(&logits, &y, None, Reduction::Sum)?.value().to_vec()?[0] as f64;
            state = Some(next);
            forwards += 1;
            pos += len;
        }
        let predicted = span * batch;
        Ok(TextEval { bits_per_char: nats / predicted as f64 / std::f64::consts::LN_2, predicted, forwards })
    });
    model.rnn.set_training(training);
    result
}
