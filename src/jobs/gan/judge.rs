//! A measure of a generator's quality on the built-in shapes: a small
//! convolutional classifier, trained on the labelled real images, judges
//! generated samples. A class counts as covered when at least
//! [`COVER_FRACTION`] of its fair share of samples is assigned to it with
//! probability ≥ [`CONFIDENT`]; mean confidence is the classifier's mean
//! top probability over all samples. This is mode coverage in the spirit of
//! the stacked-MNIST evaluations: a collapsed generator covers one class,
//! a blurry one has low confidence.

use rand::SeedableRng;

use crate::data::shapes::{Shapes, NUM_CLASSES};
use crate::error::{Error, Result};
use crate::io::parameters::{load_parameters, Scope};
use crate::jobs::step::record_update;
use crate::nn::conv::Conv2d;
use crate::nn::linear::Linear;
use crate::nn::loss::{cross_entropy, Reduction};
use crate::nn::{prefixed, Module};
use crate::ops::UnaryOp;
use crate::optim::Adam;
use crate::sampling::argmax;
use crate::{autograd, no_grad, Context, Tensor, Var};

/// Top probability at which a sample counts as confidently assigned.
pub const CONFIDENT: f32 = 0.9;

/// A class is covered when it confidently receives at least this fraction
/// of its fair share (n / classes) of the samples.
pub const COVER_FRACTION: f32 = 0.25;

/// The judge's architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassifierKind {
    /// conv(4, stride 2) + LeakyReLU blocks down to 4×4, then a linear
    /// layer to one logit per shape class: the more accurate judge.
    Conv,
    /// One hidden layer of 256 LeakyReLU units on the raw pixels: less
    /// accurate, but its matmuls suit software adapters far better (quick
    /// enough for CI).
    Mlp,
}

/// A shape classifier: convolutions (none for the MLP), an optional
/// hidden linear layer, and a linear layer to one logit per class.
pub struct ShapeClassifier {
    convs: Vec<Conv2d>,
    hidden: Option<Linear>,
    head: Linear,
    /// Side and channels of the images it takes.
    pub size: usize,
    pub channels: usize,
}

impl ShapeClassifier {
    /// A fresh classifier for `size`×`size` images (32 or 64).
    pub fn new(
        ctx: &Context,
        kind: ClassifierKind,
        size: usize,
        channels: usize,
        rng: &mut impl rand::Rng,
    ) -> Result<ShapeClassifier> {
        if size != 32 && size != 64 {
            return Err(Error::InvalidArgument(format!(
                "shape classifier: size must be 32 or 64, got {size}"
            )));
        }
        if kind == ClassifierKind::Mlp {
            let hidden = Linear::new(ctx, channels * size * size, 256, true, rng)?;
            let head = Linear::new(ctx, 256, NUM_CLASSES, true, rng)?;
            return Ok(ShapeClassifier {
                convs: Vec::new(),
                hidden: Some(hidden),
                head,
                size,
                channels,
            });
        }
        let widths: &[usize] = if size == 64 {
            &[8, 16, 32, 32]
        } else {
            &[16, 32, 32]
        };
        let mut convs = Vec::new();
        let mut in_ch = channels;
        for &w in widths {
            convs.push(Conv2d::new(ctx, in_ch, w, 4, 2, 1, true, rng)?);
            in_ch = w;
        }
        let head = Linear::new(ctx, in_ch * 16, NUM_CLASSES, true, rng)?;
        Ok(ShapeClassifier {
            convs,
            hidden: None,
            head,
            size,
            channels,
        })
    }

    /// Logits (N, classes) for images (N, C, S, S).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let n = x.shape()[0];
        let mut h = x.clone();
        for c in &self.convs {
            h = autograd::unary(&c.forward(&h)?, UnaryOp::LeakyRelu(0.2))?;
        }
        let flat = h.value().numel() / n;
        let mut h = autograd::reshape(&h, &[n, flat])?;
        if let Some(hidden) = &self.hidden {
            h = hidden.forward_act(&h, crate::ops::Activation::LeakyRelu(0.2))?;
        }
        self.head.forward(&h)
    }

    /// Class probabilities (N, classes) for images given as host values.
    pub fn probabilities(&self, ctx: &Context, images: &[f32]) -> Result<Vec<f32>> {
        let per = self.channels * self.size * self.size;
        if images.is_empty() || images.len() % per != 0 {
            return Err(Error::invalid_shape(
                "shape classifier",
                format!(
                    "{} values is not a whole number of {per}-value images",
                    images.len()
                ),
            ));
        }
        let n = images.len() / per;
        let x = Var::constant(Tensor::from_slice(
            ctx,
            images,
            &[n, self.channels, self.size, self.size],
        )?);
        let logits = no_grad(|| self.forward(&x))?;
        crate::ops::softmax(logits.value(), 1)?.to_vec()
    }
}

impl Module for ShapeClassifier {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = Vec::new();
        for (i, c) in self.convs.iter().enumerate() {
            p.extend(prefixed(&format!("convs.{i}"), c.parameters()));
        }
        if let Some(h) = &self.hidden {
            p.extend(prefixed("hidden", h.parameters()));
        }
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}

/// Trains a classifier on `steps` batches of 64 labelled shapes (seeded,
/// disjoint from any GAN run's images by its own data seed); returns it
/// with its accuracy on 500 held-out images.
pub fn train_classifier(
    ctx: &Context,
    kind: ClassifierKind,
    size: usize,
    channels: usize,
    steps: usize,
    seed: u64,
) -> Result<(ShapeClassifier, f32)> {
    let data = Shapes::new(size, channels, seed ^ 0x00C1_A551_F1E5)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let model = ShapeClassifier::new(ctx, kind, size, channels, &mut rng)?;
    let mut opt = Adam::new(if kind == ClassifierKind::Mlp {
        1e-3
    } else {
        2e-3
    });
    let batch = 64;
    for step in 0..steps {
        let (x, labels) = data.batch((step * batch) as u64, batch);
        let x = Var::constant(Tensor::from_slice(ctx, &x, &[batch, channels, size, size])?);
        let y: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
        let y = Tensor::from_i32(ctx, &y, &[batch])?;
        let loss = cross_entropy(&model.forward(&x)?, &y, None, Reduction::Mean)?;
        record_update(&loss, &model, &mut opt, None)?;
        if step % 50 == 49 {
            ctx.sync()?; // bound the recorded work; no readback
        }
    }
    let (x, labels) = data.batch(1 << 40, 500);
    let probs = model.probabilities(ctx, &x)?;
    let right = probs
        .chunks(NUM_CLASSES)
        .zip(&labels)
        .filter(|(p, &l)| argmax(p).0 == l)
        .count();
    Ok((model, right as f32 / labels.len() as f32))
}

/// The classifier's verdict on a set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// Samples judged.
    pub samples: usize,
    /// Per class: samples assigned to it with probability ≥ [`CONFIDENT`].
    pub confident_counts: Vec<usize>,
    /// Classes covered (see the module doc).
    pub classes_covered: usize,
    /// Mean top probability.
    pub mean_confidence: f32,
    /// Mean RMS distance between pairs of samples (pixel values in [-1, 1]):
    /// near 0 when the samples are all alike.
    pub diversity: f32,
}

impl std::fmt::Display for Judgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "classes covered {}/{} (confident per class {:?}), mean confidence {:.3}, diversity {:.3}",
            self.classes_covered,
            NUM_CLASSES,
            self.confident_counts,
            self.mean_confidence,
            self.diversity
        )
    }
}

/// Judges `images` (n, C, S, S) with `classifier`.
pub fn judge(ctx: &Context, classifier: &ShapeClassifier, images: &[f32]) -> Result<Judgement> {
    let probs = classifier.probabilities(ctx, images)?;
    let n = probs.len() / NUM_CLASSES;
    let mut counts = vec![0usize; NUM_CLASSES];
    let mut total = 0.0f64;
    for p in probs.chunks(NUM_CLASSES) {
        let (c, v) = argmax(p);
        total += v as f64;
        if v >= CONFIDENT {
            counts[c] += 1;
        }
    }
    let need = ((COVER_FRACTION * n as f32 / NUM_CLASSES as f32).ceil() as usize).max(1);
    Ok(Judgement {
        samples: n,
        classes_covered: counts.iter().filter(|&&c| c >= need).count(),
        confident_counts: counts,
        mean_confidence: (total / n as f64) as f32,
        diversity: mean_pairwise_distance(images, images.len() / n),
    })
}

/// Mean over pairs of the RMS difference of two images of `len` values.
pub fn mean_pairwise_distance(images: &[f32], len: usize) -> f32 {
    let imgs: Vec<&[f32]> = images.chunks(len).collect();
    let (mut sum, mut pairs) = (0.0f64, 0usize);
    for i in 0..imgs.len() {
        for j in i + 1..imgs.len() {
            let d: f64 = imgs[i]
                .iter()
                .zip(imgs[j])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            sum += (d / len as f64).sqrt();
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        (sum / pairs as f64) as f32
    }
}

/// Training steps of the judge (batches of 64).
pub const CLASSIFIER_STEPS: usize = 150;

/// The judge for `size`×`size`×`channels` shapes: loaded from `cache` if
/// that file exists, else trained (seed 0) and saved there. Returns the
/// held-out accuracy when it was trained.
pub fn classifier_for(
    ctx: &Context,
    size: usize,
    channels: usize,
    cache: &std::path::Path,
) -> Result<(ShapeClassifier, Option<f32>)> {
    if cache.exists() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let model = ShapeClassifier::new(ctx, ClassifierKind::Conv, size, channels, &mut rng)?;
        let params = model.parameters();
        let targets: Vec<(&str, &Tensor)> = params
            .iter()
            .map(|(n, v)| (n.as_str(), v.value()))
            .collect();
        load_parameters(cache, Scope::ALL, &targets)?;
        return Ok((model, None));
    }
    let (model, acc) = train_classifier(
        ctx,
        ClassifierKind::Conv,
        size,
        channels,
        CLASSIFIER_STEPS,
        0,
    )?;
    let params = model.parameters();
    let named: Vec<(&str, &Tensor)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.value()))
        .collect();
    let acc_s = acc.to_string();
    crate::io::safetensors::save(cache, &named, &[("accuracy", &acc_s)])?;
    Ok((model, Some(acc)))
}
