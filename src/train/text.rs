//! A character-level language model: Embedding → LSTM/GRU stack → Linear,
//! trained with cross-entropy on the next character by truncated BPTT.
//!
//! The text is cut into `batch` contiguous streams, one per batch row; each
//! optimiser step reads the next `seq_len` characters of every stream and
//! carries the recurrent state into the next step [`detach`]ed (so the
//! gradient flows back `seq_len` steps at most, while the state remembers
//! further). A stream that reaches its end starts again with a zero state.
//! Adam with global-norm gradient clipping; one readback (the loss) per
//! step. Checkpoints are `io::training` files (model + optimiser) whose
//! metadata hold the vocabulary and the model's shape, so
//! [`CharModel::load`] rebuilds the model from the file alone.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use super::{optimizer_step, zero_grad};
use crate::autograd::reshape;
use crate::data::text::{TextCorpus, Vocab};
use crate::error::{Error, Result};
use crate::io::training::{load_training, save_training};
use crate::nn::loss::{cross_entropy, Reduction, MAX_CLASSES};
use crate::nn::rnn::CellKind;
use crate::nn::rnn_layers::{detach, RecurrentStack};
use crate::nn::{prefixed, Embedding, Linear, Module};
use crate::optim::Optimizer;
use crate::optim::{clip_grad_norm, Adam};
use crate::{no_grad, Context, Tensor, Var};

/// Metadata key that marks a character-model checkpoint.
const TASK_KEY: &str = "kairo.task";
const TASK: &str = "char-lm";

/// The layer sizes of a [`CharModel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharShape {
    /// LSTM or GRU (a tanh RNN works too).
    pub cell: CellKind,
    /// Embedding width.
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
}

/// Embedding → recurrent stack (time first) → Linear to the vocabulary.
pub struct CharModel {
    pub vocab: Vocab,
    pub shape: CharShape,
    pub embed: Embedding,
    pub rnn: RecurrentStack,
    pub head: Linear,
}

/// The recurrent state carried between calls: h (and c for LSTM), (L, B, H).
#[derive(Clone)]
pub struct CharState {
    pub h: Var,
    pub c: Option<Var>,
}

fn cell_name(cell: CellKind) -> &'static str {
    match cell {
        CellKind::RnnTanh => "rnn",
        CellKind::Lstm => "lstm",
        CellKind::Gru => "gru",
    }
}

fn cell_from_name(name: &str) -> Option<CellKind> {
    match name {
        "rnn" => Some(CellKind::RnnTanh),
        "lstm" => Some(CellKind::Lstm),
        "gru" => Some(CellKind::Gru),
        _ => None,
    }
}

impl CharModel {
    /// A fresh model with PyTorch's init.
    pub fn new(
        ctx: &Context,
        vocab: Vocab,
        shape: CharShape,
        dropout: f32,
        rng: &mut impl Rng,
    ) -> Result<CharModel> {
        let v = vocab.len();
        let embed = Embedding::new(ctx, v, shape.embed, None, rng)?;
        let rnn = RecurrentStack::new(
            ctx,
            shape.cell,
            shape.embed,
            shape.hidden,
            shape.layers,
            false,
            false,
            dropout,
            rng,
        )?;
        let head = Linear::new(ctx, shape.hidden, v, true, rng)?;
        Ok(CharModel {
            vocab,
            shape,
            embed,
            rnn,
            head,
        })
    }

    /// Logits (T·B, V) for ids (T, B) (U32), from `state` (None: zeros),
    /// and the state after the last step.
    pub fn forward(&self, ids: &Tensor, state: Option<&CharState>) -> Result<(Var, CharState)> {
        let s = ids.shape();
        if s.len() != 2 {
            return Err(Error::invalid_shape(
                "CharModel",
                format!("ids must be (T, B), got {s:?}"),
            ));
        }
        let (t, b) = (s[0], s[1]);
        let x = self.embed.forward(ids)?;
        let out = self
            .rnn
            .forward(&x, state.map(|s| &s.h), state.and_then(|s| s.c.as_ref()))?;
        let logits = self
            .head
            .forward(&reshape(&out.output, &[t * b, self.shape.hidden])?)?;
        Ok((
            logits,
            CharState {
                h: out.h_n,
                c: out.c_n,
            },
        ))
    }

    /// What a checkpoint needs besides the tensors to rebuild the model.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (TASK_KEY.into(), TASK.into()),
            ("vocab".into(), self.vocab.to_json()),
            ("cell".into(), cell_name(self.shape.cell).into()),
            ("embed".into(), self.shape.embed.to_string()),
            ("hidden".into(), self.shape.hidden.to_string()),
            ("layers".into(), self.shape.layers.to_string()),
        ]
    }

    /// Rebuilds a model from a checkpoint written by [`train_text`] (its
    /// optimiser state is ignored): the metadata give the vocabulary and
    /// sizes, then every parameter is read by name, shapes checked.
    pub fn load(ctx: &Context, path: &Path) -> Result<CharModel> {
        let problem = |p: String| Error::Checkpoint {
            path: path.display().to_string(),
            problem: p,
        };
        let ckpt = crate::io::safetensors::load(ctx, path)?;
        let meta = &ckpt.metadata;
        if meta.get(TASK_KEY).map(String::as_str) != Some(TASK) {
            return Err(problem(format!(
                "not a character-model checkpoint (no {TASK_KEY} = {TASK} in its metadata)"
            )));
        }
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| problem(format!("metadata lacks `{k}`")))
        };
        let num = |k: &str| -> Result<usize> {
            get(k)?
                .parse()
                .map_err(|_| problem(format!("metadata `{k}` is not a number")))
        };
        let vocab = Vocab::from_json(get("vocab")?).map_err(|e| problem(e.to_string()))?;
        let cell = cell_from_name(get("cell")?)
            .ok_or_else(|| problem("metadata `cell` is not rnn, lstm or gru".into()))?;
        let shape = CharShape {
            cell,
            embed: num("embed")?,
            hidden: num("hidden")?,
            layers: num("layers")?,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let model = CharModel::new(ctx, vocab, shape, 0.0, &mut rng)?;
        for (name, var) in model.parameters() {
            let src = ckpt
                .get(&name)
                .ok_or_else(|| problem(format!("missing tensor `{name}`")))?;
            if src.shape() != var.shape() {
                return Err(problem(format!(
                    "`{name}`: file has {:?}, model has {:?}",
                    src.shape(),
                    var.shape()
                )));
            }
            var.value().deep_copy_from(src)?;
        }
        Ok(model)
    }
}

impl Module for CharModel {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = prefixed("embed", self.embed.parameters());
        p.extend(prefixed("rnn", self.rnn.parameters()));
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}

/// Draws from softmax(logits / temperature); temperature 0 takes the arg-max.
pub fn sample_logits(logits: &[f32], temperature: f32, rng: &mut impl Rng) -> usize {
    let best =
        logits.iter().enumerate().fold(
            (0, f32::NEG_INFINITY),
            |m, (i, &v)| if v > m.1 { (i, v) } else { m },
        );
    if temperature <= 0.0 {
        return best.0;
    }
    let w: Vec<f64> = logits
        .iter()
        .map(|&v| (((v - best.1) / temperature) as f64).exp())
        .collect();
    let mut u = rng.random::<f64>() * w.iter().sum::<f64>();
    for (i, &p) in w.iter().enumerate() {
        u -= p;
        if u < 0.0 {
            return i;
        }
    }
    best.0
}

/// `len` characters generated after `prompt` (which must be non-empty and
/// in the vocabulary): the prompt is read in one forward, then each drawn
/// character is fed back. One readback per character.
pub fn sample(
    ctx: &Context,
    model: &CharModel,
    prompt: &str,
    len: usize,
    temperature: f32,
    rng: &mut impl Rng,
) -> Result<String> {
    if prompt.is_empty() {
        return Err(Error::InvalidArgument(
            "the prompt must hold at least one character".into(),
        ));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "temperature must be >= 0, got {temperature}"
        )));
    }
    let ids = model.vocab.encode(prompt)?;
    let training = model.rnn.training();
    model.rnn.set_training(false);
    let result = no_grad(|| -> Result<String> {
        let v = model.vocab.len();
        let input = Tensor::from_u32(ctx, &ids, &[ids.len(), 1])?;
        let (mut logits, mut state) = model.forward(&input, None)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            let all = logits.value().to_vec()?;
            let next = sample_logits(&all[all.len() - v..], temperature, rng) as u32;
            out.push(next);
            let input = Tensor::from_u32(ctx, &[next], &[1, 1])?;
            (logits, state) = model.forward(&input, Some(&state))?;
        }
        Ok(model.vocab.decode(&out))
    });
    model.rnn.set_training(training);
    result
}

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
struct Streams {
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
    /// count; `steps` is then the total). The carried recurrent state is
    /// not saved: the resumed run starts its streams from a zero state.
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

/// Trains a character model on `corpus` (see the module comment).
pub fn train_text(
    ctx: &Context,
    corpus: &TextCorpus,
    cfg: &TextConfig,
    mut progress: impl FnMut(TextProgress),
) -> Result<TextRun> {
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
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let model = CharModel::new(ctx, corpus.vocab.clone(), cfg.shape, cfg.dropout, &mut rng)?;
    model.rnn.set_training(true);
    let mut sample_rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5A3D);
    let mut opt = Adam::new(cfg.lr);
    let meta = model.metadata();
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let resumed_at = match &cfg.checkpoint {
        Some(path) if cfg.resume && path.exists() => resume(ctx, path, &model, &mut opt)?,
        _ => 0,
    };
    let mut losses = Vec::with_capacity(cfg.steps.saturating_sub(resumed_at));
    let (mut state, mut pos): (Option<CharState>, usize) = (None, 0);
    // Where the streams stand after the steps already done.
    for _ in 0..resumed_at {
        if pos >= streams.span {
            pos = 0;
        }
        pos += cfg.seq_len.min(streams.span - pos);
    }
    for step in resumed_at..cfg.steps {
        if pos >= streams.span {
            (state, pos) = (None, 0);
        }
        let len = cfg.seq_len.min(streams.span - pos);
        let (x, y) = streams.chunk(ctx, &corpus.ids, pos, len)?;
        zero_grad(&model);
        let (logits, next) = model.forward(&x, state.as_ref())?;
        let loss = cross_entropy(&logits, &y, None, Reduction::Mean)?;
        loss.backward()?;
        let grads: Vec<Tensor> = model
            .parameters()
            .iter()
            .filter_map(|(_, p)| p.grad())
            .collect();
        let refs: Vec<&Tensor> = grads.iter().collect();
        clip_grad_norm(&refs, cfg.clip)?;
        optimizer_step(&model, &mut opt)?;
        // The carried state is a constant: the next step's gradient stops here.
        state = Some(CharState {
            h: detach(&next.h),
            c: next.c.as_ref().map(detach),
        });
        pos += len;
        let value = loss.value().to_vec()?[0]; // the step's one submit
        if !value.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "loss became {value} at step {step}"
            )));
        }
        losses.push(value);
        let done = step + 1;
        let due = |every: usize| done == cfg.steps || (every > 0 && done % every == 0);
        let sample = if cfg.sample_every > 0 && due(cfg.sample_every) {
            Some(sample(
                ctx,
                &model,
                &cfg.prompt,
                cfg.sample_len,
                cfg.temperature,
                &mut sample_rng,
            )?)
        } else {
            None
        };
        let saved = match &cfg.checkpoint {
            Some(path) if due(cfg.checkpoint_every) => {
                save_training(path, &model, &opt, &meta)?;
                Some(path.clone())
            }
            _ => None,
        };
        progress(TextProgress {
            step,
            loss: value,
            sample,
            saved,
        });
    }
    let final_loss = if corpus.ids.len() > EVAL_CHARS {
        let head = TextCorpus {
            vocab: corpus.vocab.clone(),
            ids: corpus.ids[..EVAL_CHARS].to_vec(),
        };
        evaluate(ctx, &model, &head, cfg.batch, cfg.seq_len)?
    } else {
        evaluate(ctx, &model, corpus, cfg.batch, cfg.seq_len)?
    };
    Ok(TextRun {
        model,
        losses,
        final_loss,
        resumed_at,
    })
}

/// Restores model and optimiser from `path`; the checkpoint must have been
/// trained on the same vocabulary with the same sizes. Returns the steps done.
fn resume(ctx: &Context, path: &Path, model: &CharModel, opt: &mut Adam) -> Result<usize> {
    let meta = load_training(ctx, path, model, opt)?;
    if meta.get("vocab") != Some(&model.vocab.to_json()) {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            problem: "was trained on text with a different vocabulary; cannot resume on this one"
                .into(),
        });
    }
    Ok(opt.step_count() as usize)
}
