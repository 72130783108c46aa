//! Deep Speech 2 in miniature: a convolution striding in time over log-mel
//! frames, stacked bidirectional GRU layers (or a unidirectional GRU with a
//! look-ahead convolution, for online use), and a linear layer to the
//! characters plus the CTC blank.
//!
//! Time-first throughout: features (T, B, F) → conv (T', B, C) →
//! GRU (T', B, D·H) → [look-ahead] → logits (T', B, classes).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::conv::TimeConv;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::nn::lookahead::LookAhead;
use crate::nn::rnn::CellKind;
use crate::nn::rnn_layers::RecurrentStack;
use crate::nn::{prefixed, Linear, Module};
use crate::ops::Activation;

/// The model's shape; saved in checkpoints so `kairo transcribe` can
/// rebuild it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeechConfig {
    /// Mel bands per frame (the input width).
    pub n_mels: usize,
    /// Convolution output channels.
    pub conv_channels: usize,
    /// Convolution taps (frames) and stride (in frames).
    pub conv_kernel: usize,
    pub conv_stride: usize,
    /// GRU hidden size per direction, and layers.
    pub hidden: usize,
    pub layers: usize,
    /// Bidirectional GRU; when false, `lookahead` future steps are seen
    /// through a look-ahead convolution instead.
    pub bidirectional: bool,
    pub lookahead: usize,
    /// Output classes: the characters plus the blank.
    pub classes: usize,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            n_mels: 40,
            conv_channels: 128,
            conv_kernel: 7,
            conv_stride: 3,
            hidden: 128,
            layers: 1,
            bidirectional: true,
            lookahead: 0,
            classes: 29,
        }
    }
}

/// The recogniser.
pub struct SpeechModel {
    pub config: SpeechConfig,
    pub conv: TimeConv,
    pub rnn: RecurrentStack,
    pub lookahead: Option<LookAhead>,
    pub head: Linear,
}

impl SpeechModel {
    /// A fresh model with PyTorch's initialisations, drawn from `rng`.
    pub fn new(ctx: &Context, config: &SpeechConfig, rng: &mut impl Rng) -> Result<SpeechModel> {
        let c = config;
        if c.n_mels == 0 || c.conv_channels == 0 || c.hidden == 0 || c.layers == 0 || c.classes < 2 {
            return Err(Error::InvalidArgument(format!("speech model: every size must be at least 1 (classes ≥ 2), got {c:?}")));
        }
        let conv = TimeConv::new(ctx, c.n_mels, c.conv_channels, c.conv_kernel, c.conv_stride, c.conv_kernel / 2, Activation::Relu, rng)?;
        let rnn = RecurrentStack::new(ctx, CellKind::Gru, c.conv_channels, c.hidden, c.layers, c.bidirectional, false, 0.0, rng)?;
        let width = c.hidden * if c.bidirectional { 2 } else { 1 };
        let lookahead =
            if !c.bidirectional && c.lookahead > 0 { Some(LookAhead::new(ctx, width, c.lookahead, true, rng)?) } else { None };
        let head = Linear::new(ctx, width, c.classes, true, rng)?;
        Ok(SpeechModel { config: c.clone(), conv, rnn, lookahead, head })
    }

    /// Output frames for `frames` input frames.
    pub fn out_len(&self, frames: usize) -> usize {
        self.conv.out_len(frames)
    }

    /// Logits (T', B, classes) for features (T, B, n_mels).
    pub fn forward(&self, features: &Var) -> Result<Var> {
        let h = self.conv.forward(features)?;
        let mut y = self.rnn.forward(&h, None, None)?.output;
        if let Some(la) = &self.lookahead {
            y = la.forward(&y)?;
        }
        super::conv::linear_rows(&self.head, &y, Activation::None)
    }
}

impl Module for SpeechModel {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = prefixed("conv", self.conv.parameters());
        p.extend(prefixed("rnn", self.rnn.parameters()));
        if let Some(la) = &self.lookahead {
            p.extend(prefixed("lookahead", la.parameters()));
        }
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}
