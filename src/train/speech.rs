//! `kairo train speech`: the Deep Speech 2 style recogniser
//! (`crate::speech::model`) trained with the CTC loss, Adam and gradient
//! clipping, on a manifest or on the built-in synthetic spoken digits.
//!
//! A step, top to bottom: a batch of similar-length utterances padded to
//! the longest (zeros = the normalised mean past each end) → conv → GRU →
//! logits → CTC from logits with each utterance's own frame count → backward
//! → clip → Adam → one submit, one readback (the loss). Each epoch ends with
//! greedy decoding of the held-out set (CER, WER) and a kill-safe checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{optimizer_step, zero_grad};
use crate::error::{Error, Result};
use crate::io::training::{load_training, save_training};
use crate::nn::ctc::{ctc_loss, min_frames, CtcOptions, CtcTargets, Reduction};
use crate::nn::Module;
use crate::optim::{clip_grad_norm, Adam};
use crate::speech::features::LogMel;
use crate::speech::manifest::{load_examples, read_manifest, Example, LoadReport};
use crate::speech::model::{SpeechConfig, SpeechModel};
use crate::speech::{synth, text};
use crate::{no_grad, Context, Tensor, Var};

/// The checkpoint file inside `--out`.
pub const CHECKPOINT: &str = "speech.safetensors";

/// A training run's settings.
#[derive(Clone, Debug)]
pub struct SpeechTrainConfig {
    /// A CSV manifest; None: the built-in synthetic digits.
    pub manifest: Option<PathBuf>,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// Gradient clipping: the total norm is scaled to at most this.
    pub clip: f32,
    pub seed: u64,
    /// Fraction of the data held out for CER/WER (at least one utterance).
    pub holdout: f32,
    /// Synthetic set size (train + held out) when there is no manifest.
    pub synth_utterances: usize,
    /// Checkpoint folder (`speech.safetensors` inside); None: no checkpoints.
    pub out: Option<PathBuf>,
    /// Continue from the checkpoint in `out`.
    pub resume: bool,
    /// Reference/hypothesis pairs shown per epoch.
    pub show: usize,
    pub model: SpeechConfig,
}

impl Default for SpeechTrainConfig {
    fn default() -> Self {
        SpeechTrainConfig {
            manifest: None,
            epochs: 12,
            batch: 16,
            lr: 3e-3,
            clip: 5.0,
            seed: 1,
            holdout: 0.1,
            synth_utterances: 500,
            out: None,
            resume: false,
            show: 3,
            model: SpeechConfig::default(),
        }
    }
}

/// Train and held-out utterances.
pub struct SpeechData {
    pub train: Vec<Example>,
    pub test: Vec<Example>,
    /// What loading a manifest skipped (None for the synthetic set).
    pub report: Option<LoadReport>,
    /// Utterances dropped because their transcript cannot be aligned with
    /// their frames (or holds characters outside the alphabet), with why.
    pub dropped: Vec<String>,
}

/// Loads the manifest (or synthesises the built-in set), featurises it,
/// drops what cannot be trained on, and splits off the held-out part
/// (seeded shuffle).
pub fn load_data(cfg: &SpeechTrainConfig) -> Result<SpeechData> {
    let mel = LogMel::new(cfg.model.n_mels)?;
    let (mut all, report) = match &cfg.manifest {
        Some(path) => {
            let entries = read_manifest(path)?;
            let (examples, report) = load_examples(&entries, &mel);
            (examples, Some(report))
        }
        None => (synthetic_examples(cfg.synth_utterances, cfg.seed, &mel), None),
    };
    let stride_out = |frames: usize| crate::speech::conv::out_len(frames, cfg.model.conv_kernel, cfg.model.conv_stride, cfg.model.conv_kernel / 2);
    let mut dropped = Vec::new();
    all.retain(|e| match text::encode(&e.transcript) {
        Ok(labels) if labels.is_empty() => {
            dropped.push(format!("{:?}: empty transcript", e.transcript));
            false
        }
        Ok(labels) if min_frames(&labels) > stride_out(e.features.frames) => {
            dropped.push(format!("{:?}: {} s is too short for its transcript", e.transcript, e.seconds));
            false
        }
        Ok(_) => true,
        Err(err) => {
            dropped.push(err.to_string());
            false
        }
    });
    if all.len() < 2 {
        return Err(Error::InvalidArgument(format!("speech: need at least 2 usable utterances, have {}", all.len())));
    }
    all.shuffle(&mut rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5EED));
    let n_test = ((all.len() as f32 * cfg.holdout).round() as usize).clamp(1, all.len() - 1);
    let test = all.split_off(all.len() - n_test);
    Ok(SpeechData { train: all, test, report, dropped })
}

/// The built-in set: `count` synthetic utterances of 1 to 3 digit words.
pub fn synthetic_examples(count: usize, seed: u64, mel: &LogMel) -> Vec<Example> {
    synth::digit_set(count, 1, 3, seed)
        .into_iter()
        .map(|u| Example {
            seconds: u.samples.len() as f32 / crate::speech::wav::SAMPLE_RATE as f32,
            features: mel.features(&u.samples),
            transcript: u.transcript,
        })
        .collect()
}

/// A padded batch on the device.
struct Batch {
    /// (T, B, F), zeros past each utterance's end.
    x: Var,
    targets: CtcTargets,
    input_lengths: Vec<usize>,
    target_lengths: Vec<usize>,
}

fn make_batch(ctx: &Context, model: &SpeechModel, items: &[&Example]) -> Result<Batch> {
    let f = model.config.n_mels;
    let t = items.iter().map(|e| e.features.frames).max().unwrap_or(1);
    let b = items.len();
    let mut x = vec![0.0f32; t * b * f];
    let mut labels = Vec::new();
    let mut target_lengths = Vec::with_capacity(b);
    for (bi, e) in items.iter().enumerate() {
        if e.features.n_mels != f {
            return Err(Error::shape("speech batch (features vs model n_mels)", &[e.features.frames, e.features.n_mels], &[t, f]));
        }
        for ti in 0..e.features.frames {
            x[(ti * b + bi) * f..(ti * b + bi + 1) * f].copy_from_slice(&e.features.data[ti * f..(ti + 1) * f]);
        }
        let l = text::encode(&e.transcript)?;
        target_lengths.push(l.len());
        labels.extend(l);
    }
    let input_lengths = items.iter().map(|e| model.out_len(e.features.frames)).collect();
    Ok(Batch {
        x: Var::constant(Tensor::from_slice(ctx, &x, &[t, b, f])?),
        targets: CtcTargets::Concatenated(labels),
        input_lengths,
        target_lengths,
    })
}

/// Batches of similar lengths: shuffle, sort pools of 16 batches by
/// length, cut into batches, shuffle the batches (little padding, random order).
fn batches(data: &[Example], batch: usize, rng: &mut impl Rng) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..data.len()).collect();
    idx.shuffle(rng);
    let mut out = Vec::new();
    for pool in idx.chunks(batch * 16) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| data[i].features.frames);
        out.extend(pool.chunks(batch).map(|c| c.to_vec()));
    }
    out.shuffle(rng);
    out
}

/// What the callback hears.
#[derive(Clone, Debug)]
pub enum SpeechEvent {
    /// An epoch starts with this many batches.
    EpochStart { epoch: usize, batches: usize },
    /// A step's loss (mean CTC loss per target character).
    Step { loss: f32 },
    /// An epoch's held-out scores and a few (reference, hypothesis) pairs.
    Epoch(EpochReport),
}

/// Held-out results after an epoch.
#[derive(Clone, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f32,
    pub cer: f32,
    pub wer: f32,
    pub samples: Vec<(String, String)>,
    /// Training throughput: seconds of audio trained on per wall second.
    pub audio_seconds_per_second: f32,
}

/// What a run did.
pub struct SpeechRun {
    pub model: SpeechModel,
    pub epochs: Vec<EpochReport>,
}

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

/// Trains per `cfg` (resuming from `out` when asked); calls `progress`
/// after every step and epoch.
pub fn train_speech(ctx: &Context, cfg: &SpeechTrainConfig, data: &SpeechData, mut progress: impl FnMut(SpeechEvent)) -> Result<SpeechRun> {
    if cfg.epochs == 0 || cfg.batch == 0 || !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "speech training needs epochs, batch ≥ 1 and a positive learning rate; got {}, {}, {}",
            cfg.epochs, cfg.batch, cfg.lr
        )));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let model = SpeechModel::new(ctx, &cfg.model, &mut rng)?;
    let mut opt = Adam::new(cfg.lr);
    let ckpt = cfg.out.as_ref().map(|d| d.join(CHECKPOINT));
    let mut first_epoch = 0;
    if cfg.resume {
        let path = ckpt.as_ref().ok_or_else(|| Error::InvalidArgument("--resume needs --out DIR holding a checkpoint".into()))?;
        let meta = load_training(ctx, path, &model, &mut opt)?;
        check_config(path, &meta, &cfg.model)?;
        first_epoch = meta.get("epoch").and_then(|e| e.parse().ok()).unwrap_or(0);
    }
    if let Some(dir) = &cfg.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
    }
    let mut reports = Vec::new();
    for epoch in first_epoch..cfg.epochs {
        let mut data_rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
        let plan = batches(&data.train, cfg.batch, &mut data_rng);
        progress(SpeechEvent::EpochStart { epoch, batches: plan.len() });
        let start = Instant::now();
        let (mut loss_sum, mut audio) = (0.0f64, 0.0f64);
        for idx in &plan {
            let items: Vec<&Example> = idx.iter().map(|&i| &data.train[i]).collect();
            audio += items.iter().map(|e| e.seconds as f64).sum::<f64>();
            let b = make_batch(ctx, &model, &items)?;
            let l = train_step(&model, &mut opt, &b, cfg.clip)?;
            loss_sum += l as f64;
            progress(SpeechEvent::Step { loss: l });
        }
        let elapsed = start.elapsed().as_secs_f64();
        let hyps = transcribe_examples(ctx, &model, &data.test, cfg.batch * 2, 0)?;
        let refs: Vec<&str> = data.test.iter().map(|e| e.transcript.as_str()).collect();
        let report = EpochReport {
            epoch,
            train_loss: (loss_sum / plan.len().max(1) as f64) as f32,
            cer: text::cer(&refs, &hyps),
            wer: text::wer(&refs, &hyps),
            samples: refs.iter().zip(&hyps).take(cfg.show).map(|(r, h)| (r.to_string(), h.clone())).collect(),
            audio_seconds_per_second: (audio / elapsed) as f32,
        };
        if let Some(path) = &ckpt {
            let config = serde_json::to_string(&cfg.model).expect("config serialises");
            let e = (epoch + 1).to_string();
            save_training(path, &model, &opt, &[("speech_config", &config), ("epoch", &e), ("alphabet", text::ALPHABET_NAME)])?;
        }
        progress(SpeechEvent::Epoch(report.clone()));
        reports.push(report);
    }
    Ok(SpeechRun { model, epochs: reports })
}

fn check_config(path: &Path, meta: &std::collections::HashMap<String, String>, want: &SpeechConfig) -> Result<()> {
    let saved = config_from_meta(path, meta)?;
    if &saved != want {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            problem: format!("saved model {saved:?} differs from the requested {want:?}"),
        });
    }
    Ok(())
}

fn config_from_meta(path: &Path, meta: &std::collections::HashMap<String, String>) -> Result<SpeechConfig> {
    let problem = |p: String| Error::Checkpoint { path: path.display().to_string(), problem: p };
    let text = meta.get("speech_config").ok_or_else(|| problem("no speech_config in the metadata: not a speech checkpoint".into()))?;
    serde_json::from_str(text).map_err(|e| problem(format!("speech_config is not valid: {e}")))
}

/// Rebuilds the model a checkpoint holds (its configuration is in the
/// metadata) with its parameters.
pub fn load_model(ctx: &Context, path: &Path) -> Result<SpeechModel> {
    let ckpt = crate::io::safetensors::load(ctx, path)?;
    let config = config_from_meta(path, &ckpt.metadata)?;
    let model = SpeechModel::new(ctx, &config, &mut rand::rngs::StdRng::seed_from_u64(0))?;
    let params = model.parameters();
    let targets: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
    for (name, t) in &targets {
        let src = ckpt.get(name).ok_or_else(|| Error::Checkpoint { path: path.display().to_string(), problem: format!("missing `{name}`") })?;
        if src.shape() != t.shape() {
            return Err(Error::Checkpoint {
                path: path.display().to_string(),
                problem: format!("`{name}`: file has {:?}, model has {:?}", src.shape(), t.shape()),
            });
        }
        t.deep_copy_from(src)?;
    }
    Ok(model)
}

/// The text of one WAV file (greedy, or prefix beam search with `beam` > 1).
pub fn transcribe_file(ctx: &Context, model: &SpeechModel, wav: &Path, beam: usize) -> Result<String> {
    let samples = crate::speech::wav::load_16k(wav)?;
    let mel = LogMel::new(model.config.n_mels)?;
    let e = Example { seconds: samples.len() as f32 / crate::speech::wav::SAMPLE_RATE as f32, features: mel.features(&samples), transcript: String::new() };
    Ok(transcribe_examples(ctx, model, std::slice::from_ref(&e), 1, beam)?.remove(0))
}

/// One training step's cost on a fixed batch of synthetic utterances
/// (1 to 3 digits, seeded): (wall ms of each of `reps` steps including its submit
/// and readback, seconds of audio in the batch, dispatches per step).
/// Used by the `speech` benchmark group.
pub fn step_timing(ctx: &Context, batch: usize, reps: usize) -> Result<(Vec<f64>, f64, u64)> {
    let mel = LogMel::new(SpeechConfig::default().n_mels)?;
    let data = synthetic_examples(batch, 11, &mel);
    let model = SpeechModel::new(ctx, &SpeechConfig::default(), &mut rand::rngs::StdRng::seed_from_u64(3))?;
    let mut opt = Adam::new(1e-3);
    let items: Vec<&Example> = data.iter().collect();
    let b = make_batch(ctx, &model, &items)?;
    let clip = SpeechTrainConfig::default().clip;
    let mut step = || train_step(&model, &mut opt, &b, clip).map(drop);
    step()?; // warm-up: pipelines, autotuning, pool
    let before = ctx.counters().dispatches;
    step()?;
    let dispatches = ctx.counters().dispatches - before;
    let mut times = Vec::new();
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        step()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let audio = data.iter().map(|e| e.seconds as f64).sum();
    Ok((times, audio, dispatches))
}

/// One training step on a batch: CTC from logits (mean over target
/// lengths, zero_infinity), backward, global-norm clipping, Adam; the
/// loss read back (the step's one submit and readback).
fn train_step(model: &SpeechModel, opt: &mut Adam, b: &Batch, clip: f32) -> Result<f32> {
    let opts = CtcOptions { blank: text::BLANK as usize, reduction: Reduction::Mean, zero_infinity: true, from_logits: true, ..Default::default() };
    zero_grad(model);
    let loss = ctc_loss(&model.forward(&b.x)?, &b.targets, &b.input_lengths, &b.target_lengths, opts)?;
    loss.backward()?;
    let grads: Vec<Tensor> = model.parameters().iter().filter_map(|(_, p)| p.grad()).collect();
    clip_grad_norm(&grads.iter().collect::<Vec<_>>(), clip)?;
    optimizer_step(model, opt)?;
    Ok(loss.value().to_vec()?[0])
}
