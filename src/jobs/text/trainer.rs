//! Training the character model by truncated BPTT (see the module doc of
//! [`crate::jobs::text`]); progress through a per-step callback.

#[cfg(not(target_arch = "wasm32"))]
use crate::io::lock::OutputLock;
use std::path::PathBuf;

use rand::SeedableRng;

use super::checkpoint::{resume, save};
#[cfg(not(target_arch = "wasm32"))]
use super::model::sample;
use super::model::{CharModel, CharShape, CharState};
use crate::data::text::TextCorpus;
use crate::error::{Error, Result};
use crate::jobs::step::{record_step, RecordedStep};
use crate::nn::loss::{cross_entropy, Reduction, MAX_CLASSES};
use crate::nn::rnn::CellKind;
use crate::nn::rnn_layers::detach;
use crate::optim::Adam;
use crate::{no_grad, Context, Tensor};

/// Mean cross-entropy (nats per character) of `model` over the whole
/// corpus, read as `batch` streams in chunks of `seq_len` with the state
/// carried, no tape, dropout off.
pub fn evaluate(
    ctx: &Context,
    model: &CharModel,
    corpus: &TextCorpus,
    batch: usize,
    seq_len: usize,
) -> Result<f32> {
    let streams = Streams::new(corpus.ids.len(), batch)?;
    let training = model.rnn.training();
    model.rnn.set_training(false);
    let result = no_grad(|| -> Result<f32> {
        let (mut total, mut count) = (0.0f64, 0usize);
        let mut state: Option<CharState> = None;
        let mut pos = 0;
        while pos < streams.span {
            let len = seq_len.min(streams.span - pos);
            let (x, y) = streams.chunk(ctx, &corpus.ids, pos, len)?;
            let (logits, next) = model.forward(&x, state.as_ref())?;
            let loss = cross_entropy(&logits, &y, None, Reduction::Sum)?;
            total += loss.value().to_vec()?[0] as f64;
            count += len * batch;
            state = Some(next);
            pos += len;
        }
        Ok((total / count as f64) as f32)
    });
    model.rnn.set_training(training);
    result
}

/// `batch` contiguous streams of `span` input characters each.
pub(crate) struct Streams {
    batch: usize,
    span: usize,
}

impl Streams {
    fn new(chars: usize, batch: usize) -> Result<Streams> {
        let span = chars.saturating_sub(1) / batch.max(1);
        if batch == 0 || span == 0 {
            return Err(Error::InvalidArgument(format!(
                "a text of {chars} characters cannot feed {batch} streams: use a smaller --batch (at most {})",
                chars.saturating_sub(1)
            )));
        }
        Ok(Streams { batch, span })
    }

    /// Inputs (len, B) U32 and next-character targets (len·B,) I32 for
    /// steps pos..pos+len of every stream.
    fn chunk(
        &self,
        ctx: &Context,
        ids: &[u32],
        pos: usize,
        len: usize,
    ) -> Result<(Tensor, Tensor)> {
        let mut x = Vec::with_capacity(len * self.batch);
        let mut y = Vec::with_capacity(len * self.batch);
        for t in 0..len {
            for b in 0..self.batch {
                let i = b * self.span + pos + t;
                x.push(ids[i]);
                y.push(ids[i + 1] as i32);
            }
        }
        Ok((
            Tensor::from_u32(ctx, &x, &[len, self.batch])?,
            Tensor::from_i32(ctx, &y, &[len * self.batch])?,
        ))
    }
}

/// A training run's settings.
#[derive(Clone, Debug)]
pub struct TextConfig {
    pub shape: CharShape,
    /// Dropout between recurrent layers.
    pub dropout: f32,
    /// Truncation length k1 = k2: characters per stream per step.
    pub seq_len: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f32,
    /// Gradient clipping: the total norm is scaled to at most this.
    pub clip: f32,
    pub seed: u64,
    /// A sample every this many steps (and after the last); 0: never.
    pub sample_every: usize,
    pub sample_len: usize,
    pub temperature: f32,
    /// Samples start from this text (characters of the vocabulary only).
    pub prompt: String,
    /// Where to save the checkpoint (model, optimiser, vocabulary).
    pub checkpoint: Option<PathBuf>,
    /// Save every this many steps (and after the last); 0: only at the end.
    pub checkpoint_every: usize,
    /// Continue from `checkpoint` if it exists (model, optimiser, step
    /// count, the carried recurrent state and the dropout counter; `steps`
    /// is then the total): with the same settings the resumed run is bit for
    /// bit the uninterrupted one. Resumed with another `batch`, the streams
    /// start from a zero state.
    pub resume: bool,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            shape: CharShape {
                cell: CellKind::Lstm,
                embed: 32,
                hidden: 128,
                layers: 2,
            },
            dropout: 0.0,
            seq_len: 64,
            batch: 32,
            steps: 1000,
            lr: 0.005,
            clip: 5.0,
            seed: 1,
            sample_every: 200,
            sample_len: 200,
            temperature: 0.8,
            prompt: "The ".into(),
            checkpoint: None,
            checkpoint_every: 200,
            resume: false,
        }
    }
}

/// What `progress` is told after every step.
#[derive(Clone, Debug)]
pub struct TextProgress {
    pub step: usize,
    /// This step's mean loss, nats per character.
    pub loss: f32,
    /// A sample drawn after this step, if one was due.
    pub sample: Option<String>,
    /// The checkpoint written after this step, if one was due.
    pub saved: Option<PathBuf>,
}

/// What the run did.
pub struct TextRun {
    pub model: CharModel,
    /// Training loss after each step (nats per character).
    pub losses: Vec<f32>,
    /// Loss over the corpus (its first [`EVAL_CHARS`] characters at most)
    /// after the last step.
    pub final_loss: f32,
    /// Steps already done when this run started (resumed from a checkpoint).
    pub resumed_at: usize,
}

/// The final evaluation reads at most this many characters, so that a
/// large file does not cost a long forward-only pass at the end.
pub const EVAL_CHARS: usize = 100_000;

/// The settings' and the corpus' checks, before anything is built.
fn check(corpus: &TextCorpus, cfg: &TextConfig) -> Result<Streams> {
    if cfg.steps == 0 || cfg.seq_len == 0 {
        return Err(Error::InvalidArgument(format!(
            "text model needs steps and seq_len >= 1, got steps {}, seq_len {}",
            cfg.steps, cfg.seq_len
        )));
    }
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "learning rate must be positive, got {}",
            cfg.lr
        )));
    }
    let streams = Streams::new(corpus.ids.len(), cfg.batch)?;
    if corpus.vocab.len() > MAX_CLASSES {
        return Err(Error::InvalidArgument(format!(
            "the text has {} distinct characters; the output layer supports at most {MAX_CLASSES}",
            corpus.vocab.len()
        )));
    }
    if cfg.sample_every > 0 {
        corpus.vocab.encode(&cfg.prompt)?;
    }
    Ok(streams)
}

/// Loss over the corpus' first [`EVAL_CHARS`] characters at most.
#[cfg(not(target_arch = "wasm32"))]
fn final_loss(ctx: &Context, model: &CharModel, corpus: &TextCorpus, cfg: &TextConfig) -> Result<f32> {
    if corpus.ids.len() > EVAL_CHARS {
        let head = TextCorpus {
            vocab: corpus.vocab.clone(),
            ids: corpus.ids[..EVAL_CHARS].to_vec(),
        };
        evaluate(ctx, model, &head, cfg.batch, cfg.seq_len)
    } else {
        evaluate(ctx, model, corpus, cfg.batch, cfg.seq_len)
    }
}

/// A character model's training state, one step at a time (the blocking
/// [`TextTrainer::step`] natively, [`TextTrainer::step_async`] in a
/// browser); [`train_text`] is its loop with samples and checkpoints.
pub struct TextTrainer {
    ctx: Context,
    cfg: TextConfig,
    corpus: TextCorpus,
    streams: Streams,
    model: CharModel,
    opt: Adam,
    /// The state carried into the next step (None: zeros).
    state: Option<CharState>,
    /// Where the streams stand.
    pos: usize,
    done: usize,
}

impl TextTrainer {
    /// Checks `cfg` against `corpus`, builds the seeded model and, with
    /// `cfg.resume` and an existing `cfg.checkpoint`, restores it.
    pub fn new(ctx: &Context, corpus: TextCorpus, cfg: &TextConfig) -> Result<TextTrainer> {
        super::validate(ctx, &corpus, cfg)?;
        let streams = check(&corpus, cfg)?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        let model = CharModel::new(ctx, corpus.vocab.clone(), cfg.shape, cfg.dropout, &mut rng)?;
        model.rnn.set_training(true);
        let mut opt = Adam::new(cfg.lr);
        let (done, state) = match &cfg.checkpoint {
            Some(path) if cfg.resume && path.exists() => resume(ctx, path, &model, &mut opt, cfg.batch)?,
            _ => (0, None),
        };
        let mut t = TextTrainer { ctx: ctx.clone(), cfg: cfg.clone(), corpus, streams, model, opt, state: None, pos: 0, done };
        // Where the streams stand after the steps already done; the state
        // they carry is the checkpoint's.
        for _ in 0..done {
            t.advance();
        }
        t.state = state;
        Ok(t)
    }

    /// Moves to the next chunk; returns its length (a stream at its end
    /// starts again with a zero state).
    fn advance(&mut self) -> usize {
        if self.pos >= self.streams.span {
            (self.state, self.pos) = (None, 0);
        }
        let len = self.cfg.seq_len.min(self.streams.span - self.pos);
        self.pos += len;
        len
    }

    /// The model as trained so far.
    pub fn model(&self) -> &CharModel {
        &self.model
    }

    /// Steps done (including those before a resume).
    pub fn steps_done(&self) -> usize {
        self.done
    }

    /// Records the next step; with `check_parameters` the updated
    /// parameters are checked too. The carried state moves on.
    fn record(&mut self, check_parameters: bool) -> Result<RecordedStep> {
        let len = self.advance();
        let start = self.pos - len;
        let (x, y) = self.streams.chunk(&self.ctx, &self.corpus.ids, start, len)?;
        let (logits, next) = self.model.forward(&x, self.state.as_ref())?;
        let loss = cross_entropy(&logits, &y, None, Reduction::Mean)?;
        let recorded = record_step(self.done as u64 + 1, &loss, &self.model, &mut self.opt, Some(self.cfg.clip), check_parameters)?;
        // The carried state is a constant: the next step's gradient stops here.
        self.state = Some(CharState { h: detach(&next.h), c: next.c.as_ref().map(detach) });
        Ok(recorded)
    }

    /// One step: its mean loss (nats per character). Blocks. A value that
    /// comes back not finite is [`Error::Diverged`]: save nothing after it.
    pub fn step(&mut self, check_parameters: bool) -> Result<f32> {
        let v = self.record(check_parameters)?.finish()?;
        self.done += 1;
        Ok(v.loss)
    }

    /// [`TextTrainer::step`] as a future (the web's form).
    pub async fn step_async(&mut self, check_parameters: bool) -> Result<f32> {
        let v = self.record(check_parameters)?.finish_async().await?;
        self.done += 1;
        Ok(v.loss)
    }

    /// The generator of the sample after `done` steps: seeded by the step,
    /// so a resumed run draws the same samples.
    pub fn sample_rng(&self) -> rand::rngs::StdRng {
        let seed = self.cfg.seed ^ 0x5A3D ^ (self.done as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    /// Saves model, optimiser and carried state to `path` (kill-safely).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        save(path, &self.model, &self.opt, self.state.as_ref())
    }

    /// The checkpoint [`TextTrainer::save`] writes, as bytes (the web's
    /// download).
    pub async fn checkpoint_bytes(&self) -> Result<Vec<u8>> {
        super::checkpoint::to_bytes(&self.model, &self.opt, self.state.as_ref()).await
    }
}

/// Trains a character model on `corpus` (see the module comment). A step
/// whose loss, gradient norm or (on save steps) parameters come back not
/// finite ends the run with [`Error::Diverged`] before it saves: the last
/// checkpoint written stays the last good one.
#[cfg(not(target_arch = "wasm32"))]
pub fn train_text(
    ctx: &Context,
    corpus: &TextCorpus,
    cfg: &TextConfig,
    mut progress: impl FnMut(TextProgress),
) -> Result<TextRun> {
    super::validate(ctx, corpus, cfg)?;
    check(corpus, cfg)?;
    // One run per checkpoint, held until the run ends; its folder must exist.
    let _lock = cfg.checkpoint.as_deref().map(OutputLock::acquire).transpose()?;
    let mut trainer = TextTrainer::new(ctx, corpus.clone(), cfg)?;
    let resumed_at = trainer.steps_done();
    let mut losses = Vec::with_capacity(cfg.steps.saturating_sub(resumed_at));
    for step in resumed_at..cfg.steps {
        let done = step + 1;
        let due = |every: usize| done == cfg.steps || (every > 0 && done % every == 0);
        let save_due = cfg.checkpoint.is_some() && due(cfg.checkpoint_every);
        // Diverged: stop before anything below saves this step's weights.
        let value = trainer.step(save_due)?;
        losses.push(value);
        let sample = if cfg.sample_every > 0 && due(cfg.sample_every) {
            let mut rng = trainer.sample_rng();
            Some(sample(ctx, &trainer.model, &cfg.prompt, cfg.sample_len, cfg.temperature, &mut rng)?)
        } else {
            None
        };
        let saved = match &cfg.checkpoint {
            Some(path) if save_due => {
                trainer.save(path)?;
                Some(path.clone())
            }
            _ => None,
        };
        progress(TextProgress { step, loss: value, sample, saved });
    }
    let final_loss = final_loss(ctx, &trainer.model, corpus, cfg)?;
    Ok(TextRun { model: trainer.model, losses, final_loss, resumed_at })
}
