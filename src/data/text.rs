//! Text for character-level language models: a UTF-8 file (or the built-in
//! corpus) becomes a vocabulary of its distinct characters and the ids of
//! its characters. The vocabulary travels in checkpoint metadata as a JSON
//! string, so a saved model samples without the file it learned from.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};

/// A few KB of plain English about kairo and recurrent nets, written for
/// this project (no third-party text), compiled into the binary so that
/// `kairo train seq --task text` runs with no file at all.
pub const BUILTIN_CORPUS: &str = include_str!("corpus.txt");

/// The characters a model knows, sorted by code point; a character's id is
/// its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// Every distinct character of `text`, sorted.
    pub fn from_text(text: &str) -> Vocab {
        let set: BTreeSet<char> = text.chars().collect();
        Vocab {
            chars: set.into_iter().collect(),
        }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The character with id `id`.
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// The id of `c`, if known.
    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    /// Ids of `text`; a character outside the vocabulary is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        text.chars()
            .map(|c| {
                self.id(c).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "character {c:?} is not in the model's vocabulary of {} characters",
                        self.len()
                    ))
                })
            })
            .collect()
    }

    /// The text of `ids` (unknown ids are skipped).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().filter_map(|&i| self.char(i as usize)).collect()
    }

    /// The vocabulary as one JSON string (for checkpoint metadata).
    pub fn to_json(&self) -> String {
        let s: String = self.chars.iter().collect();
        serde_json::to_string(&s).expect("a string serialises")
    }

    /// Reads what [`to_json`](Self::to_json) wrote; the characters must be
    /// distinct and sorted, as a vocabulary built here always is.
    pub fn from_json(json: &str) -> Result<Vocab> {
        let s: String = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("vocabulary is not a JSON string: {e}")))?;
        let chars: Vec<char> = s.chars().collect();
        if chars.is_empty() || chars.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidArgument(
                "vocabulary must be non-empty, distinct, sorted characters".into(),
            ));
        }
        Ok(Vocab { chars })
    }
}

/// A text as ids over its own vocabulary.
#[derive(Clone, Debug)]
pub struct TextCorpus {
    pub vocab: Vocab,
    /// One id per character of the text.
    pub ids: Vec<u32>,
}

impl TextCorpus {
    /// The corpus of `text`, which must hold at least two characters (one
    /// input and one target).
    pub fn from_text(text: &str) -> Result<TextCorpus> {
        if text.chars().nth(1).is_none() {
            return Err(Error::InvalidArgument(
                "text corpus must hold at least 2 characters".into(),
            ));
        }
        let vocab = Vocab::from_text(text);
        let ids = vocab.encode(text)?;
        Ok(TextCorpus { vocab, ids })
    }

    /// The built-in corpus.
    pub fn builtin() -> TextCorpus {
        TextCorpus::from_text(BUILTIN_CORPUS).expect("the built-in corpus is not empty")
    }

    /// Reads a UTF-8 text file; a missing, unreadable, empty or non-UTF-8
    /// file is an error naming it.
    pub fn from_file(path: &Path) -> Result<TextCorpus> {
        let shown = path.display().to_string();
        let bad = |problem: String| Error::data(path, problem);
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: shown.clone(),
            source: e,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            bad(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        if text.chars().nth(1).is_none() {
            return Err(bad(format!(
                "holds {} character(s); a language model needs at least 2",
                text.chars().count()
            )));
        }
        TextCorpus::from_text(&text)
    }

    /// The entropy of the character frequencies, nats per character: what
    /// a model that knows only how often each character occurs scores.
    pub fn unigram_entropy(&self) -> f32 {
        let mut counts = vec![0usize; self.vocab.len()];
        for &i in &self.ids {
            counts[i as usize] += 1;
        }
        let n = self.ids.len() as f64;
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.ln()
            })
            .sum::<f64>() as f32
    }
}
