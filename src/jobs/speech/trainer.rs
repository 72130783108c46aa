//! Speech training: data preparation (manifest or synthetic digits,
//! featurised, filtered, split), length-bucketed batches, and the epoch
//! loop with held-out CER/WER and a checkpoint after every epoch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::checkpoint;
use super::report::transcribe_examples;
use crate::dist::{self, Comm, GradReducer};
use crate::error::{Error, Result};
use crate::io::lock::OutputLock;
use crate::io::training::load_training;
use crate::jobs::step;
use crate::nn::ctc::{ctc_loss, min_frames, CtcOptions, CtcTargets, Reduction};
use crate::optim::{Adam, Optimizer};
use crate::speech::features::LogMel;
use crate::speech::manifest::{load_examples, read_manifest, Example, LoadReport};
use crate::speech::model::{SpeechConfig, SpeechModel};
use crate::speech::{synth, text};
use crate::{Context, Tensor, Var};

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
    /// Fraction of the data held out for CER/WER (at least one utterance),
    /// in (0, 1); unused with `valid_manifest`.
    pub holdout: f32,
    /// A manifest scored after every epoch instead of a held-out part of
    /// `manifest` (its utterances in its order; the same filter applies).
    pub valid_manifest: Option<PathBuf>,
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
            valid_manifest: None,
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
    super::eval::check_holdout(cfg)?;
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
    let mut valid = cfg.valid_manifest.as_deref().map(|p| super::eval::load_manifest(p, cfg.model.n_mels)).transpose()?;
    let mut usable = |e: &Example| match text::encode(&e.transcript) {
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
    };
    all.retain(&mut usable);
    if let Some((v, valid_report)) = &mut valid {
        v.retain(|(_, e)| usable(e));
        let test = v.drain(..).map(|(_, e)| e).collect::<Vec<_>>();
        dropped.extend(valid_report.skipped.iter().map(|(p, why)| format!("{} (--valid-manifest): {why}", p.display())));
        super::eval::check_split(cfg, all.len(), test.len())?;
        all.shuffle(&mut rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5EED));
        return Ok(SpeechData { train: all, test, report, dropped });
    }
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
pub(crate) struct Batch {
    /// (T, B, F), zeros past each utterance's end.
    pub(crate) x: Var,
    pub(crate) targets: CtcTargets,
    pub(crate) input_lengths: Vec<usize>,
    pub(crate) target_lengths: Vec<usize>,
}

pub(crate) fn make_batch(ctx: &Context, model: &SpeechModel, items: &[&Example]) -> Result<Batch> {
    make_batch_padded(ctx, model, items, 1)
}

/// A batch padded to at least `frames` frames: a rank pads its share to
/// the global batch's longest utterance, so the reverse GRU direction
/// reads the same padding as in one process.
pub(crate) fn make_batch_padded(ctx: &Context, model: &SpeechModel, items: &[&Example], frames: usize) -> Result<Batch> {
    let f = model.config.n_mels;
    let t = items.iter().map(|e| e.features.frames).max().unwrap_or(1).max(frames);
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
    /// The checkpoint written after this epoch, if any.
    pub checkpoint: Option<PathBuf>,
    /// Wall seconds per training step (all ranks take each step together).
    pub seconds_per_step: f32,
    /// Gradient bytes each rank all-reduced per step (0 in one process).
    pub allreduce_bytes_per_step: u64,
    /// Buckets (all-reduces) those bytes took per step.
    pub allreduce_buckets_per_step: f32,
}

/// What a run did.
pub struct SpeechRun {
    pub model: SpeechModel,
    pub epochs: Vec<EpochReport>,
}

/// Trains per `cfg` (resuming from `out` when asked); calls `progress`
/// after every step and epoch. A step whose loss, gradient norm or (before
/// a save) parameters come back not finite ends the run with
/// [`Error::Diverged`]: the checkpoint of the last finished epoch stays.
pub fn train_speech(ctx: &Context, cfg: &SpeechTrainConfig, data: &SpeechData, progress: impl FnMut(SpeechEvent)) -> Result<SpeechRun> {
    train_speech_on(ctx, cfg, data, None, progress)
}

/// [`train_speech`], data-parallel over `comm` when given (see
/// [`crate::dist`]): every rank runs this with the same settings and data;
/// rank 0's initial (or resumed) model and Adam state are broadcast; each
/// global batch (the single-process batch, same order) is split by
/// [`dist::Share`]; gradients are summed, weighted by utterances, before
/// clipping; every step ends with the ranks agreeing that all values
/// were finite. Only rank 0 takes the output lock, scores the held-out set
/// (the other ranks' [`EpochReport`]s hold NaN scores) and writes
/// checkpoints; with `resume` every rank reads the checkpoint (a shared folder).
pub fn train_speech_on(
    ctx: &Context,
    cfg: &SpeechTrainConfig,
    data: &SpeechData,
    comm: Option<Arc<dyn Comm>>,
    mut progress: impl FnMut(SpeechEvent),
) -> Result<SpeechRun> {
    if cfg.epochs == 0 || cfg.batch == 0 || !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "speech training needs epochs, batch ≥ 1 and a positive learning rate; got {}, {}, {}",
            cfg.epochs, cfg.batch, cfg.lr
        )));
    }
    let frames = data.train.iter().chain(&data.test).map(|e| e.features.frames).max().unwrap_or(1);
    super::validate(ctx, cfg, frames)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let model = SpeechModel::new(ctx, &cfg.model, &mut rng)?;
    let mut opt = Adam::new(cfg.lr);
    let writer = comm.as_ref().is_none_or(|c| c.rank() == 0);
    // One run per output folder, held until the run ends (created if missing).
    let _lock = cfg.out.as_deref().filter(|_| writer).map(OutputLock::acquire_dir).transpose()?;
    let ckpt = cfg.out.as_ref().map(|d| d.join(CHECKPOINT));
    let mut first_epoch = 0;
    if cfg.resume {
        let path = ckpt.as_ref().ok_or_else(|| Error::InvalidArgument("--resume needs --out DIR holding a checkpoint".into()))?;
        let meta = load_training(ctx, path, &model, &mut opt)?;
        checkpoint::check_config(path, &meta, &cfg.model)?;
        first_epoch = meta.get("epoch").and_then(|e| e.parse().ok()).unwrap_or(0);
    }
    let reducer = comm.map(|c| Ok::<_, Error>(GradReducer::new(c, dist::bucket_bytes()?))).transpose()?;
    if let Some(r) = &reducer {
        dist::sync_module(r.comm(), &model)?;
        dist::sync_optimizer(r.comm(), &mut opt)?;
    }
    let mut reports = Vec::new();
    for epoch in first_epoch..cfg.epochs {
        let run = run_epoch(ctx, cfg, data, &model, &mut opt, reducer.as_ref(), epoch, ckpt.is_some(), &mut progress)?;
        // Held-out scores on rank 0 only (the others' reports say NaN).
        let test: &[Example] = if writer { &data.test } else { &[] };
        let hyps = transcribe_examples(ctx, &model, test, cfg.batch * 2, 0)?;
        let refs: Vec<&str> = test.iter().map(|e| e.transcript.as_str()).collect();
        let steps = run.steps.max(1) as f64;
        let score = |f: fn(&[&str], &[String]) -> f32| if writer { f(&refs, &hyps) } else { f32::NAN };
        let report = EpochReport {
            epoch,
            train_loss: (run.loss_sum / steps) as f32,
            cer: score(text::cer),
            wer: score(text::wer),
            samples: refs.iter().zip(&hyps).take(cfg.show).map(|(r, h)| (r.to_string(), h.clone())).collect(),
            audio_seconds_per_second: (run.audio / run.seconds) as f32,
            checkpoint: ckpt.clone().filter(|_| writer),
            seconds_per_step: (run.seconds / steps) as f32,
            allreduce_bytes_per_step: (run.allreduce_bytes as f64 / steps) as u64,
            allreduce_buckets_per_step: (run.allreduce_buckets as f64 / steps) as f32,
        };
        if let Some(path) = ckpt.as_ref().filter(|_| writer) {
            checkpoint::save(path, &model, &opt, &cfg.model, epoch + 1)?;
        }
        progress(SpeechEvent::Epoch(report.clone()));
        reports.push(report);
    }
    Ok(SpeechRun { model, epochs: reports })
}

/// What one epoch's training steps add up to.
struct EpochRun {
    loss_sum: f64,
    audio: f64,
    steps: usize,
    seconds: f64,
    allreduce_bytes: u64,
    allreduce_buckets: u64,
}

/// The training steps of `epoch`: the single-process batch plan, each
/// batch split across the reducer's ranks when there is one.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    ctx: &Context,
    cfg: &SpeechTrainConfig,
    data: &SpeechData,
    model: &SpeechModel,
    opt: &mut Adam,
    reducer: Option<&GradReducer>,
    epoch: usize,
    saves: bool,
    progress: &mut impl FnMut(SpeechEvent),
) -> Result<EpochRun> {
    let mut data_rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
    let plan = batches(&data.train, cfg.batch, &mut data_rng);
    progress(SpeechEvent::EpochStart { epoch, batches: plan.len() });
    let start = Instant::now();
    let mut run = EpochRun { loss_sum: 0.0, audio: 0.0, steps: plan.len(), seconds: 0.0, allreduce_bytes: 0, allreduce_buckets: 0 };
    let before = reducer.map_or((0, 0), |r| r.totals());
    for (k, idx) in plan.iter().enumerate() {
        let items: Vec<&Example> = idx.iter().map(|&i| &data.train[i]).collect();
        run.audio += items.iter().map(|e| e.seconds as f64).sum::<f64>();
        // The epoch's last step is followed by a save: check the weights too.
        let check = saves && k + 1 == plan.len();
        let l = match reducer {
            None => train_step(model, opt, &make_batch(ctx, model, &items)?, cfg.clip, check, None)?,
            Some(r) => {
                let share = r.share(items.len());
                let longest = items.iter().map(|e| e.features.frames).max().unwrap_or(1);
                let b = make_batch_padded(ctx, model, &items[share.items.clone()], longest)?;
                train_step(model, opt, &b, cfg.clip, check, Some((r, share.weight())))?
            }
        };
        run.loss_sum += l as f64;
        progress(SpeechEvent::Step { loss: l });
    }
    run.seconds = start.elapsed().as_secs_f64();
    let after = reducer.map_or((0, 0), |r| r.totals());
    (run.allreduce_buckets, run.allreduce_bytes) = (after.0 - before.0, after.1 - before.1);
    Ok(run)
}

/// A fixed batch of synthetic utterances (1 to 3 digits, seeded) and the
/// default model, ready to train one step at a time: the `speech`
/// benchmark times [`BenchStep::step`].
pub struct BenchStep {
    model: SpeechModel,
    opt: Adam,
    batch: Batch,
    clip: f32,
    /// Seconds of audio in the batch.
    pub audio_seconds: f64,
}

impl BenchStep {
    /// `batch` utterances.
    pub fn new(ctx: &Context, batch: usize) -> Result<Self> {
        let mel = LogMel::new(SpeechConfig::default().n_mels)?;
        let data = synthetic_examples(batch, 11, &mel);
        let model = SpeechModel::new(ctx, &SpeechConfig::default(), &mut rand::rngs::StdRng::seed_from_u64(3))?;
        let items: Vec<&Example> = data.iter().collect();
        let batch = make_batch(ctx, &model, &items)?;
        let audio_seconds = data.iter().map(|e| e.seconds as f64).sum();
        Ok(BenchStep { model, opt: Adam::new(1e-3), batch, clip: SpeechTrainConfig::default().clip, audio_seconds })
    }

    /// One training step with its submit and loss readback.
    pub fn step(&mut self) -> Result<()> {
        train_step(&self.model, &mut self.opt, &self.batch, self.clip, false, None).map(drop)
    }
}

/// One training step on a batch: CTC from logits (mean over target
/// lengths, zero_infinity), then [`step::train_step`]: backward,
/// global-norm clipping, Adam, the loss and gradient norm read back (the
/// step's one submit and readback) and checked. Data-parallel (`dist` =
/// the reducer and this rank's [`dist::Share::weight`]): the gradients are
/// summed over the ranks between backward and clipping, and the step ends
/// with [`dist::agree`]; the loss returned is then the global batch's.
fn train_step(model: &SpeechModel, opt: &mut Adam, b: &Batch, clip: f32, check_parameters: bool, dist: Option<(&GradReducer, f32)>) -> Result<f32> {
    let opts = CtcOptions { blank: text::BLANK as usize, reduction: Reduction::Mean, zero_infinity: true, from_logits: true, ..Default::default() };
    let loss = ctc_loss(&model.forward(&b.x)?, &b.targets, &b.input_lengths, &b.target_lengths, opts)?;
    let step = opt.step_count() + 1;
    let Some((reducer, weight)) = dist else {
        return Ok(step::train_step(step, &loss, model, opt, Some(clip), check_parameters)?.loss);
    };
    let hook = |m: &dyn crate::nn::Module| reducer.reduce_module(m, weight).map(drop);
    let local = step::train_step_with(step, &loss, model, opt, Some(clip), check_parameters, Some(&hook)).map(|v| v.loss);
    dist::agree(reducer.comm(), step, local, weight)
}
