//! Transcripts ↔ labels and decoding for the speech model: the one place
//! the training loop meets the alphabet, decoders and metrics
//! (`crate::decode`).

use crate::decode::{self, Alphabet, ErrorRate};
use crate::error::Result;

/// The CTC blank class of [`Alphabet::english`].
pub const BLANK: u32 = 0;
/// Names the alphabet in checkpoints.
pub const ALPHABET_NAME: &str = "english: blank, a-z, space, apostrophe";

/// Labels for a transcript (lower-cased first); a character outside the
/// alphabet is an error naming it.
pub fn encode(text: &str) -> Result<Vec<u32>> {
    Alphabet::english().encode(&text.to_lowercase())
}

/// Text for one utterance's logits (T, classes): greedy best path, or
/// prefix beam search with `beam` > 1 (on log-softmaxed rows); no
/// leading, trailing or doubled spaces ([`Alphabet::transcript`]).
pub fn decode(logits: &[f32], classes: usize, beam: usize) -> String {
    let alphabet = Alphabet::english();
    let labels = if beam > 1 {
        let lp: Vec<f32> = logits.chunks_exact(classes).flat_map(log_softmax).collect();
        match decode::beam_search(&lp, classes, BLANK as usize, beam) {
            Ok(h) => h.into_iter().next().map(|h| h.labels).unwrap_or_default(),
            Err(_) => decode::greedy(logits, classes, BLANK as usize),
        }
    } else {
        decode::greedy(logits, classes, BLANK as usize)
    };
    alphabet.transcript(&labels)
}

fn log_softmax(row: &[f32]) -> Vec<f32> {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
    row.iter().map(|v| v - lse).collect()
}

/// Corpus character error rate: Σ edits / Σ reference characters.
pub fn cer(refs: &[&str], hyps: &[String]) -> f32 {
    let mut e = ErrorRate::default();
    refs.iter().zip(hyps).for_each(|(r, h)| e.add_chars(r, h));
    e.rate() as f32
}

/// Corpus word error rate: Σ word edits / Σ reference words.
pub fn wer(refs: &[&str], hyps: &[String]) -> f32 {
    let mut e = ErrorRate::default();
    refs.iter().zip(hyps).for_each(|(r, h)| e.add_words(r, h));
    e.rate() as f32
}
