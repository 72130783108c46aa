//! The character model: Embedding → LSTM/GRU stack → Linear, its carried
//! recurrent state, and sampling from it.

use rand::Rng;

use crate::autograd::reshape;
use crate::data::text::Vocab;
use crate::error::{Error, Result};
use crate::nn::rnn::CellKind;
use crate::nn::rnn_layers::RecurrentStack;
use crate::nn::{prefixed, Embedding, Linear, Module};
use crate::sampling::argmax;
use crate::{no_grad, Context, Tensor, Var};

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
    let best = argmax(logits);
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
/// character is fed back. One readback per character. Blocks; on the web
/// use [`sample_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn sample(
    ctx: &Context,
    model: &CharModel,
    prompt: &str,
    len: usize,
    temperature: f32,
    rng: &mut impl Rng,
) -> Result<String> {
    pollster::block_on(sample_async(ctx, model, prompt, len, temperature, rng))
}

/// [`sample`] as a future: the one implementation.
pub async fn sample_async(
    ctx: &Context,
    model: &CharModel,
    prompt: &str,
    len: usize,
    temperature: f32,
    rng: &mut impl Rng,
) -> Result<String> {
    if prompt.is_empty() {
        return Err(Error::InvalidArgument("the prompt must hold at least one character".into()));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(Error::InvalidArgument(format!("temperature must be >= 0, got {temperature}")));
    }
    let ids = model.vocab.encode(prompt)?;
    let _eval = EvalMode::of(model);
    let v = model.vocab.len();
    // Each forward is recorded without a tape; the readbacks between them
    // are awaited outside no_grad, so nothing else runs with it disabled.
    let input = Tensor::from_u32(ctx, &ids, &[ids.len(), 1])?;
    let (mut logits, mut state) = no_grad(|| model.forward(&input, None))?;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let all = logits.value().to_vec_async().await?;
        let next = sample_logits(&all[all.len() - v..], temperature, rng) as u32;
        out.push(next);
        let input = Tensor::from_u32(ctx, &[next], &[1, 1])?;
        (logits, state) = no_grad(|| model.forward(&input, Some(&state)))?;
    }
    Ok(model.vocab.decode(&out))
}

/// Dropout off while held; the model's mode is restored on drop.
struct EvalMode<'a> {
    model: &'a CharModel,
    training: bool,
}

impl<'a> EvalMode<'a> {
    fn of(model: &'a CharModel) -> EvalMode<'a> {
        let training = model.rnn.training();
        model.rnn.set_training(false);
        EvalMode { model, training }
    }
}

impl Drop for EvalMode<'_> {
    fn drop(&mut self) {
        self.model.rnn.set_training(self.training);
    }
}
