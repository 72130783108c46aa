//! CTC decoding and recognition metrics, on the host (decoding reads back
//! one (T, C) matrix per utterance, a few kilobytes, once per evaluation).
//!
//! - [`Alphabet`]: classes ↔ characters, blank included; [`Alphabet::english`]
//!   is blank, a–z, space and apostrophe.
//! - [`greedy`]: best path — argmax per frame, collapse repeats, drop blanks.
//! - [`beam_search`]: CTC prefix beam search (Hannun et al. 2014, without a
//!   language model) keeping `p_b` (ending in blank) and `p_nb` (ending in
//!   a label) per prefix, in log space.
//! - [`edit_distance`], [`cer`], [`wer`] and [`ErrorRate`] for corpus totals.
//!
//! Frames are rows of `c` log-probabilities (or any scores whose argmax is
//! meant, for greedy; beam search needs log-probabilities).

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Class indices ↔ characters. Index `blank` has no character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alphabet {
    /// Character of each class; `None` at the blank.
    symbols: Vec<Option<char>>,
    blank: usize,
}

impl Alphabet {
    /// The speech alphabet: blank 0, 'a'..='z' 1..=26, space 27, apostrophe 28 (29 classes).
    pub fn english() -> Alphabet {
        let mut chars: Vec<char> = ('a'..='z').collect();
        chars.push(' ');
        chars.push('\'');
        Alphabet::new(&chars).expect("distinct characters")
    }

    /// Blank at 0, then `chars` in order at 1, 2, …; errors on a repeated character.
    pub fn new(chars: &[char]) -> Result<Alphabet> {
        let mut symbols = vec![None];
        for &ch in chars {
            if symbols.contains(&Some(ch)) {
                return Err(Error::InvalidArgument(format!("alphabet: character {ch:?} appears twice")));
            }
            symbols.push(Some(ch));
        }
        Ok(Alphabet { symbols, blank: 0 })
    }

    /// Classes including the blank (the C of the model's output).
    pub fn classes(&self) -> usize {
        self.symbols.len()
    }

    /// The blank class.
    pub fn blank(&self) -> usize {
        self.blank
    }

    /// The character of class `index` (None for the blank or out of range).
    pub fn char_of(&self, index: usize) -> Option<char> {
        self.symbols.get(index).copied().flatten()
    }

    /// The class of `ch`, if the alphabet has it.
    pub fn index_of(&self, ch: char) -> Option<usize> {
        self.symbols.iter().position(|&s| s == Some(ch))
    }

    /// Labels for `text`. ASCII capitals are read as lower case when only the
    /// lower-case letter is in the alphabet; any other character outside the
    /// alphabet is an error naming it and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        text.chars()
            .enumerate()
            .map(|(i, ch)| {
                self.index_of(ch)
                    .or_else(|| self.index_of(ch.to_ascii_lowercase()))
                    .map(|k| k as u32)
                    .ok_or_else(|| Error::InvalidArgument(format!("character {ch:?} at position {i} of {text:?} is not in the alphabet")))
            })
            .collect()
    }

    /// Text for labels (blanks and unknown classes are dropped; no collapsing).
    pub fn decode(&self, labels: &[u32]) -> String {
        labels.iter().filter_map(|&k| self.char_of(k as usize)).collect()
    }

    /// A transcript for labels: [`Alphabet::decode`], then [`tidy_spaces`]
    /// (a model may emit the space class before the first word, after the
    /// last, or twice between words; none of that is text).
    pub fn transcript(&self, labels: &[u32]) -> String {
        tidy_spaces(&self.decode(labels))
    }
}

/// `text` without leading or trailing whitespace and with every run of
/// whitespace inside it one space.
pub fn tidy_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Best path of one utterance: `frames` is (T, c) row-major; argmax per
/// frame (the first on ties), repeats collapsed, blanks dropped.
pub fn greedy(frames: &[f32], c: usize, blank: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut prev = None;
    for row in frames.chunks_exact(c) {
        let best = crate::sampling::argmax(row).0;
        if Some(best) != prev && best != blank {
            out.push(best as u32);
        }
        prev = Some(best);
    }
    out
}

/// `greedy` for each utterance of a batch (T, N, C) time-first, as the CTC
/// loss takes it, over its first `lengths[n]` frames.
pub fn greedy_batch(lp: &[f32], shape: [usize; 3], lengths: &[usize], blank: usize) -> Result<Vec<Vec<u32>>> {
    let frames = batch_frames(lp, shape, lengths)?;
    Ok(frames.iter().map(|f| greedy(f, shape[2], blank)).collect())
}

/// Utterance n's frames (lengths[n], C) out of a (T, N, C) batch.
fn batch_frames(lp: &[f32], shape: [usize; 3], lengths: &[usize]) -> Result<Vec<Vec<f32>>> {
    let [t, n, c] = shape;
    if lp.len() != t * n * c || lengths.len() != n {
        return Err(Error::InvalidArgument(format!(
            "decode: {} values and {} lengths for a batch of shape {shape:?}",
            lp.len(),
            lengths.len()
        )));
    }
    if let Some(&l) = lengths.iter().find(|&&l| l > t) {
        return Err(Error::InvalidArgument(format!("decode: length {l} exceeds the {t} frames")));
    }
    Ok((0..n).map(|b| (0..lengths[b]).flat_map(|ti| lp[(ti * n + b) * c..(ti * n + b + 1) * c].iter().copied()).collect()).collect())
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// One hypothesis of [`beam_search`]: labels and log-probability (summed over
/// the alignments that collapse to it).
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Collapsed labels, no blanks.
    pub labels: Vec<u32>,
    /// log p(labels | frames).
    pub log_prob: f64,
}

/// The widest beam [`beam_search`] accepts: each frame ranks up to
/// beam × classes candidates, so wider beams cost time without changing
/// the best hypothesis of a CTC model in practice.
pub const MAX_BEAM: usize = 1024;

/// CTC prefix beam search over one utterance's log-probabilities `frames`
/// (T, c): keeps the `beam_width` (1 ..= [`MAX_BEAM`]) most probable prefixes per frame
/// and returns them, most probable first (ties broken by the labels, so the
/// result is deterministic). The score of a prefix sums every alignment
/// that collapses to it, so it can beat the best path (see tests/decode.rs).
pub fn beam_search(frames: &[f32], c: usize, blank: usize, beam_width: usize) -> Result<Vec<Hypothesis>> {
    if beam_width > MAX_BEAM {
        return Err(Error::InvalidArgument(format!("beam width must be at most {MAX_BEAM}, got {beam_width}")));
    }
    if beam_width == 0 || c == 0 || blank >= c || !frames.len().is_multiple_of(c) {
        return Err(Error::InvalidArgument(format!(
            "beam_search: beam width {beam_width}, {c} classes, blank {blank}, {} values",
            frames.len()
        )));
    }
    const NEG: f64 = f64::NEG_INFINITY;
    // prefix → (log p_b, log p_nb)
    let mut beams: Vec<(Vec<u32>, (f64, f64))> = vec![(Vec::new(), (0.0, NEG))];
    for row in frames.chunks_exact(c) {
        let mut next: HashMap<Vec<u32>, (f64, f64)> = HashMap::new();
        for (prefix, (pb, pnb)) in &beams {
            let total = log_add(*pb, *pnb);
            for (k, &lp) in row.iter().enumerate() {
                let lp = lp as f64;
                if k == blank {
                    let e = next.entry(prefix.clone()).or_insert((NEG, NEG));
                    e.0 = log_add(e.0, total + lp);
                    continue;
                }
                let mut extended = prefix.clone();
                extended.push(k as u32);
                if prefix.last() == Some(&(k as u32)) {
                    // A repeat extends the prefix only after a blank; without
                    // one it collapses into the same prefix.
                    let e = next.entry(extended).or_insert((NEG, NEG));
                    e.1 = log_add(e.1, pb + lp);
                    let same = next.entry(prefix.clone()).or_insert((NEG, NEG));
                    same.1 = log_add(same.1, pnb + lp);
                } else {
                    let e = next.entry(extended).or_insert((NEG, NEG));
                    e.1 = log_add(e.1, total + lp);
                }
            }
        }
        // Prefixes reached only through impossible steps (probability 0) are dropped.
        let mut ranked: Vec<(Vec<u32>, (f64, f64))> = next.into_iter().filter(|(_, (pb, pnb))| log_add(*pb, *pnb) > NEG).collect();
        ranked.sort_by(|a, b| log_add(b.1 .0, b.1 .1).total_cmp(&log_add(a.1 .0, a.1 .1)).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(beam_width);
        beams = ranked;
    }
    Ok(beams.into_iter().map(|(labels, (pb, pnb))| Hypothesis { labels, log_prob: log_add(pb, pnb) }).collect())
}

/// The best hypothesis of [`beam_search`] for each utterance of a (T, N, C) batch.
pub fn beam_search_batch(lp: &[f32], shape: [usize; 3], lengths: &[usize], blank: usize, beam_width: usize) -> Result<Vec<Vec<u32>>> {
    let frames = batch_frames(lp, shape, lengths)?;
    frames
        .iter()
        .map(|f| Ok(beam_search(f, shape[2], blank, beam_width)?.into_iter().next().map(|h| h.labels).unwrap_or_default()))
        .collect()
}

/// Levenshtein distance: fewest insertions, deletions and substitutions
/// turning `a` into `b`.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = diag + usize::from(x != y);
            diag = row[j + 1];
            row[j + 1] = sub.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Edits and reference length, summed over a corpus: the rate is
/// Σ edits / Σ reference length (a corpus CER/WER, not a mean of rates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorRate {
    /// Σ edit distances.
    pub edits: usize,
    /// Σ reference lengths (characters or words).
    pub reference_len: usize,
}

impl ErrorRate {
    /// Adds one pair's character edits.
    pub fn add_chars(&mut self, reference: &str, hypothesis: &str) {
        let (r, h): (Vec<char>, Vec<char>) = (reference.chars().collect(), hypothesis.chars().collect());
        self.edits += edit_distance(&r, &h);
        self.reference_len += r.len();
    }

    /// Adds one pair's word edits (words split on whitespace).
    pub fn add_words(&mut self, reference: &str, hypothesis: &str) {
        let (r, h): (Vec<&str>, Vec<&str>) = (reference.split_whitespace().collect(), hypothesis.split_whitespace().collect());
        self.edits += edit_distance(&r, &h);
        self.reference_len += r.len();
    }

    /// edits / reference length; an empty reference counts as length 1, so
    /// any hypothesis against it is an error rate ≥ 1 and an empty one 0.
    pub fn rate(&self) -> f64 {
        self.edits as f64 / self.reference_len.max(1) as f64
    }
}

/// Character error rate of one pair: character edits / reference characters.
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let mut e = ErrorRate::default();
    e.add_chars(reference, hypothesis);
    e.rate()
}

/// Word error rate of one pair: word edits / reference words.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let mut e = ErrorRate::default();
    e.add_words(reference, hypothesis);
    e.rate()
}
