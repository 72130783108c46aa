//! Scoring a trained recogniser on a manifest (`kairo eval speech`): every
//! utterance decoded, featurised as in training, and transcribed `batch` at
//! a time (one forward per batch, no tape), then corpus CER and WER
//! (Σ edits / Σ reference length) and each utterance's own.
//!
//! Batches are formed as the trainer forms its held-out batches (sorted by
//! length, stable, zeros past each end), so a manifest scored with
//! `batch` = twice the training batch gives the CER and WER the training
//! run printed for it as `--valid-manifest` (the bidirectional GRU reads
//! the padding of a batch's shorter utterances, so other batch sizes can
//! differ in a few characters).

use std::path::{Path, PathBuf};

use crate::decode::ErrorRate;
use crate::error::{Error, Result};
use crate::jobs::limits::{at_least, at_most, fits, Budget};
use crate::speech::features::LogMel;
use crate::speech::manifest::{load_examples, read_manifest, Example, LoadReport};
use crate::speech::model::SpeechModel;
use crate::speech::text;
use crate::{no_grad, Context, Tensor, Var};

/// Utterances per forward by default: twice `kairo train speech`'s default
/// batch, as the trainer scores its held-out set.
pub const EVAL_BATCH: usize = 32;

/// One utterance's result.
#[derive(Clone, Debug)]
pub struct Scored {
    pub path: PathBuf,
    pub reference: String,
    pub hypothesis: String,
    /// Character edits and reference characters.
    pub chars: ErrorRate,
    /// Word edits and reference words.
    pub words: ErrorRate,
    pub seconds: f32,
}

impl Scored {
    pub fn cer(&self) -> f32 {
        self.chars.rate() as f32
    }
    pub fn wer(&self) -> f32 {
        self.words.rate() as f32
    }
}

/// A manifest's scores.
#[derive(Clone, Debug)]
pub struct SpeechEval {
    /// In manifest order (files that could not be decoded left out).
    pub utterances: Vec<Scored>,
    /// Corpus totals.
    pub chars: ErrorRate,
    pub words: ErrorRate,
    /// Files of the manifest that could not be decoded, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl SpeechEval {
    /// Corpus character error rate.
    pub fn cer(&self) -> f32 {
        self.chars.rate() as f32
    }
    /// Corpus word error rate.
    pub fn wer(&self) -> f32 {
        self.words.rate() as f32
    }
    /// Seconds of audio scored.
    pub fn seconds(&self) -> f32 {
        self.utterances.iter().map(|u| u.seconds).sum()
    }
}

/// The utterances of a manifest, featurised for a model with `n_mels`
/// bands, each with its WAV path, and what could not be decoded.
pub fn load_manifest(path: &Path, n_mels: usize) -> Result<(Vec<(PathBuf, Example)>, LoadReport)> {
    let entries = read_manifest(path)?;
    let (examples, report) = load_examples(&entries, &LogMel::new(n_mels)?);
    let skipped: std::collections::HashSet<&PathBuf> = report.skipped.iter().map(|(p, _)| p).collect();
    let paths = entries.iter().map(|e| &e.path).filter(|p| !skipped.contains(p)).cloned();
    let items: Vec<(PathBuf, Example)> = paths.zip(examples).collect();
    if items.len() != report.loaded {
        return Err(Error::data(path, "a WAV file is listed twice with different outcomes"));
    }
    Ok((items, report))
}

/// Transcripts of `data` (in its order), `batch` utterances per forward,
/// no tape: greedy, or prefix beam search with `beam` > 1. Errors if one
/// batch of the longest utterances does not fit the device, naming the
/// largest `--batch` that does.
pub fn transcribe_batched(ctx: &Context, model: &SpeechModel, data: &[&Example], batch: usize, beam: usize) -> Result<Vec<String>> {
    at_least("--batch", batch, 1)?;
    at_most("--beam", beam, crate::decode::MAX_BEAM)?;
    let longest = data.iter().map(|e| e.features.frames).max().unwrap_or(1);
    fits(&Budget::of(ctx), "--batch", batch.min(data.len().max(1)), |b| super::validate::batch_need(&model.config, b, longest))?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&i| data[i].features.frames);
    let mut hyps = vec![String::new(); data.len()];
    for chunk in order.chunks(batch) {
        let items: Vec<&Example> = chunk.iter().map(|&i| data[i]).collect();
        let (x, lengths) = features_batch(ctx, model, &items)?;
        let logits = no_grad(|| model.forward(&x))?;
        let (n, c) = (logits.shape()[1], logits.shape()[2]);
        let values = logits.value().to_vec()?;
        for (bi, &i) in chunk.iter().enumerate() {
            let rows = lengths[bi].min(logits.shape()[0]);
            let frames: Vec<f32> = (0..rows).flat_map(|t| values[(t * n + bi) * c..(t * n + bi + 1) * c].iter().copied()).collect();
            hyps[i] = text::decode(&frames, c, beam);
        }
    }
    Ok(hyps)
}

/// (T, B, F) features padded with zeros past each end, and each
/// utterance's output frame count: the trainer's batch without targets,
/// so any transcript can be scored.
fn features_batch(ctx: &Context, model: &SpeechModel, items: &[&Example]) -> Result<(Var, Vec<usize>)> {
    let f = model.config.n_mels;
    let t = items.iter().map(|e| e.features.frames).max().unwrap_or(1).max(1);
    let b = items.len();
    let mut x = vec![0.0f32; t * b * f];
    for (bi, e) in items.iter().enumerate() {
        if e.features.n_mels != f {
            return Err(Error::shape("speech batch (features vs model n_mels)", &[e.features.frames, e.features.n_mels], &[t, f]));
        }
        for ti in 0..e.features.frames {
            x[(ti * b + bi) * f..(ti * b + bi + 1) * f].copy_from_slice(&e.features.data[ti * f..(ti + 1) * f]);
        }
    }
    let lengths = items.iter().map(|e| model.out_len(e.features.frames)).collect();
    Ok((Var::constant(Tensor::from_slice(ctx, &x, &[t, b, f])?), lengths))
}

/// Scores `data` ((WAV path, utterance) pairs): transcripts by
/// [`transcribe_batched`], edits against the references, corpus totals.
pub fn evaluate(ctx: &Context, model: &SpeechModel, data: &[(PathBuf, Example)], batch: usize, beam: usize) -> Result<SpeechEval> {
    let examples: Vec<&Example> = data.iter().map(|(_, e)| e).collect();
    let hyps = transcribe_batched(ctx, model, &examples, batch, beam)?;
    let (mut chars, mut words) = (ErrorRate::default(), ErrorRate::default());
    let utterances = data
        .iter()
        .zip(hyps)
        .map(|((path, e), hypothesis)| {
            let (mut c, mut w) = (ErrorRate::default(), ErrorRate::default());
            c.add_chars(&e.transcript, &hypothesis);
            w.add_words(&e.transcript, &hypothesis);
            chars.add_chars(&e.transcript, &hypothesis);
            words.add_words(&e.transcript, &hypothesis);
            Scored { path: path.clone(), reference: e.transcript.clone(), hypothesis, chars: c, words: w, seconds: e.seconds }
        })
        .collect();
    Ok(SpeechEval { utterances, chars, words, skipped: Vec::new() })
}

/// [`evaluate`] on the utterances of a manifest; files that cannot be
/// decoded are listed in [`SpeechEval::skipped`]; none decodable is an error.
pub fn evaluate_manifest(ctx: &Context, model: &SpeechModel, manifest: &Path, batch: usize, beam: usize) -> Result<SpeechEval> {
    let (data, report) = load_manifest(manifest, model.config.n_mels)?;
    if data.is_empty() {
        return Err(Error::data(manifest, format!("none of its {} WAV files could be decoded", report.skipped.len())));
    }
    let mut eval = evaluate(ctx, model, &data, batch, beam)?;
    eval.skipped = report.skipped;
    Ok(eval)
}

/// `holdout` is a fraction in (0, 1) (it is not read with a validation manifest).
pub fn check_holdout(cfg: &super::SpeechTrainConfig) -> Result<()> {
    if cfg.valid_manifest.is_none() && !(cfg.holdout > 0.0 && cfg.holdout < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "--holdout must be a fraction strictly between 0 and 1 (0.1: a tenth of the utterances held out), got {}",
            cfg.holdout
        )));
    }
    Ok(())
}

/// With `--valid-manifest`: both sets hold at least one usable utterance.
pub(crate) fn check_split(cfg: &super::SpeechTrainConfig, train: usize, valid: usize) -> Result<()> {
    let name = |p: &Option<PathBuf>| p.as_ref().map_or("the built-in synthetic digits".to_string(), |p| p.display().to_string());
    if train == 0 {
        return Err(Error::InvalidArgument(format!("speech: {} holds no usable training utterance", name(&cfg.manifest))));
    }
    if valid == 0 {
        return Err(Error::InvalidArgument(format!("speech: --valid-manifest {} holds no usable utterance", name(&cfg.valid_manifest))));
    }
    Ok(())
}
