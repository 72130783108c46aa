//! A measure of a generator's quality on the built-in shapes: a small
//! convolutional classifier, trained on the labelled real images, judges
//! generated samples. A class counts as covered when at least
//! [`COVER_FRACTION`] of its fair share of samples is assigned to it with
//! probability ≥ [`CONFIDENT`]; mean confidence is the classifier's mean
//! top probability over all samples. This is mode coverage in the spirit of
//! the stacked-MNIST evaluations: a collapsed generator covers one class,
//! a blurry one has low confidence.
//!
//! A classifier is confident about many inputs unlike anything it was
//! trained on (an untrained generator's noise drew 0.84), so a judgement
//! first asks whether each sample looks like the data at all, by three
//! tests calibrated on held-out real images (other than those the means
//! were taken from):
//! - structure: the standard deviation of the sample's 8×8 thumbnail (its
//!   average-pooled image) is at least [`CONTRAST_MARGIN`] × the real
//!   images' 1st percentile (a shape on a background has large-scale
//!   contrast; a young generator's grey blur has none);
//! - texture: the mean absolute difference of neighbouring pixels is at
//!   most [`OOD_MARGIN`] × the real images' 99th percentile (pixel noise);
//! - features: the mean squared z-score of the classifier's last hidden
//!   layer against the real images' per-feature mean and spread is at most
//!   [`OOD_MARGIN`] × its 99th percentile on real images.
//!
//! When fewer than [`IN_DISTRIBUTION`] of the samples pass all three, the
//! set is "not judged" ([`Judgement::judged`] false).
//!
//! Training the judge takes minutes on a CPU adapter; [`classifier_for`]
//! caches it once per data configuration under [`cache_dir`].

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

/// Quantile of the held-out real images' feature scores the threshold is
/// taken from, and the margin it is multiplied by.
pub const OOD_QUANTILE: f32 = 0.99;
pub const OOD_MARGIN: f32 = 1.5;

/// Fraction of samples that must look like the data for a set to be judged.
pub const IN_DISTRIBUTION: f32 = 0.5;

/// The real images' feature statistics: per-feature mean and standard
/// deviation, and the score below which a sample looks like the data.
#[derive(Clone, Debug)]
pub struct FeatureStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub threshold: f32,
}

impl FeatureStats {
    /// Statistics of `features` (rows of `dim`), the threshold from the
    /// scores of `calibration` (other real images).
    fn fit(features: &[f32], calibration: &[f32], dim: usize) -> FeatureStats {
        let n = (features.len() / dim) as f64;
        let mut mean = vec![0.0f64; dim];
        let mut var = vec![0.0f64; dim];
        for row in features.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64 / n;
            }
        }
        for row in features.chunks(dim) {
            for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
                *s += (v as f64 - m).powi(2) / n;
            }
        }
        let mut stats = FeatureStats {
            mean: mean.iter().map(|&m| m as f32).collect(),
            // A floor so that features constant on real images still count.
            std: var.iter().map(|&v| (v.sqrt() as f32).max(1e-3)).collect(),
            threshold: 0.0,
        };
        stats.threshold = quantile(stats.scores(calibration), OOD_QUANTILE) * OOD_MARGIN;
        stats
    }

    /// Mean squared z-score of each row of `features`.
    pub fn scores(&self, features: &[f32]) -> Vec<f32> {
        features
            .chunks(self.mean.len())
            .map(|row| {
                let sum: f64 = row
                    .iter()
                    .zip(&self.mean)
                    .zip(&self.std)
                    .map(|((&v, &m), &s)| (((v - m) / s) as f64).powi(2))
                    .sum();
                (sum / row.len() as f64) as f32
            })
            .collect()
    }
}

/// The `q` quantile of `values` (nearest rank).
fn quantile(mut values: Vec<f32>, q: f32) -> f32 {
    values.sort_by(f32::total_cmp);
    values[((values.len() as f32 * q) as usize).min(values.len() - 1)]
}

/// The bounds of the structure and texture tests (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelBounds {
    pub min_contrast: f32,
    pub max_texture: f32,
}

impl PixelBounds {
    /// Bounds from real images (n, C, S, S).
    fn fit(images: &[f32], channels: usize, size: usize) -> PixelBounds {
        let d = pixel_descriptors(images, channels, size);
        PixelBounds {
            min_contrast: quantile(d.iter().map(|p| p.1).collect(), 0.01) * CONTRAST_MARGIN,
            max_texture: quantile(d.iter().map(|p| p.0).collect(), OOD_QUANTILE) * OOD_MARGIN,
        }
    }
}

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
    /// The real images' feature statistics (set by training or loading).
    pub features: Option<FeatureStats>,
    /// The bounds of the structure and texture tests (set by training or loading).
    pub pixels: Option<PixelBounds>,
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
                features: None,
                pixels: None,
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
            features: None,
            pixels: None,
        })
    }

    /// Width of the last hidden layer (the features).
    pub fn feature_dim(&self) -> usize {
        self.head.weight.shape()[1]
    }

    /// Logits (N, classes) for images (N, C, S, S).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.head.forward(&self.hidden_features(x)?)
    }

    /// The last hidden layer (N, features) for images (N, C, S, S).
    fn hidden_features(&self, x: &Var) -> Result<Var> {
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
        Ok(h)
    }

    /// Class probabilities (N, classes) and features (N, features) for
    /// images given as host values.
    pub fn probabilities_and_features(&self, ctx: &Context, images: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let x = self.images(ctx, images)?;
        let (logits, h) = no_grad(|| -> Result<(Var, Var)> {
            let h = self.hidden_features(&x)?;
            Ok((self.head.forward(&h)?, h))
        })?;
        Ok((crate::ops::softmax(logits.value(), 1)?.to_vec()?, h.value().to_vec()?))
    }

    /// Class probabilities (N, classes) for images given as host values.
    pub fn probabilities(&self, ctx: &Context, images: &[f32]) -> Result<Vec<f32>> {
        let x = self.images(ctx, images)?;
        let logits = no_grad(|| self.forward(&x))?;
        crate::ops::softmax(logits.value(), 1)?.to_vec()
    }

    /// Host images as a constant (N, C, S, S).
    fn images(&self, ctx: &Context, images: &[f32]) -> Result<Var> {
        let per = self.channels * self.size * self.size;
        if images.is_empty() || !images.len().is_multiple_of(per) {
            return Err(Error::invalid_shape(
                "shape classifier",
                format!(
                    "{} values is not a whole number of {per}-value images",
                    images.len()
                ),
            ));
        }
        let n = images.len() / per;
        Ok(Var::constant(Tensor::from_slice(
            ctx,
            images,
            &[n, self.channels, self.size, self.size],
        )?))
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
    let data = Shapes::new(size, channels, seed ^ DATA_SEED)?;
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
    let mut model = model;
    let (x, labels) = data.batch(1 << 40, 500);
    let (probs, features) = model.probabilities_and_features(ctx, &x)?;
    let (calibration_images, _) = data.batch((1 << 40) + 500, 500);
    let (_, calibration) = model.probabilities_and_features(ctx, &calibration_images)?;
    model.features = Some(FeatureStats::fit(&features, &calibration, model.feature_dim()));
    model.pixels = Some(PixelBounds::fit(&calibration_images, channels, size));
    let right = probs
        .chunks(NUM_CLASSES)
        .zip(&labels)
        .filter(|(p, &l)| argmax(p).0 == l)
        .count();
    Ok((model, right as f32 / labels.len() as f32))
}

/// The structure test's margin below the real images' 1st percentile.
pub const CONTRAST_MARGIN: f32 = 0.5;

/// Per image (n, C, S, S) in [-1, 1], channels averaged: (texture,
/// contrast), the mean absolute difference of neighbouring pixels (across
/// and down) and the standard deviation of the image average-pooled to 8×8.
pub fn pixel_descriptors(images: &[f32], channels: usize, size: usize) -> Vec<(f32, f32)> {
    let per = channels * size * size;
    let block = size / 8;
    let mut out = Vec::with_capacity(images.len() / per);
    for img in images.chunks(per) {
        let grey: Vec<f32> = (0..size * size)
            .map(|i| (0..channels).map(|c| img[c * size * size + i]).sum::<f32>() / channels as f32)
            .collect();
        let across = grey.chunks(size).flat_map(|r| r.windows(2)).map(|w| (w[1] - w[0]).abs());
        let down = grey.iter().zip(&grey[size..]).map(|(a, b)| (b - a).abs());
        let texture: f32 = across.chain(down).sum();
        let mut thumb = [0.0f32; 64];
        for (y, row) in grey.chunks(size).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                thumb[(y / block) * 8 + x / block] += v / (block * block) as f32;
            }
        }
        let mean = thumb.iter().sum::<f32>() / 64.0;
        let contrast = (thumb.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 64.0).sqrt();
        out.push((texture / (2 * size * (size - 1)) as f32, contrast));
    }
    out
}

/// Which samples look like the data (see the module doc): both scores
/// within their thresholds; all of them when the statistics are missing.
fn like_the_data(classifier: &ShapeClassifier, images: &[f32], features: &[f32]) -> Vec<bool> {
    let n = features.len() / classifier.feature_dim();
    let by_features: Vec<bool> = match &classifier.features {
        Some(s) => s.scores(features).iter().map(|&v| v <= s.threshold).collect(),
        None => vec![true; n],
    };
    let Some(b) = classifier.pixels else {
        return by_features;
    };
    pixel_descriptors(images, classifier.channels, classifier.size)
        .into_iter()
        .zip(by_features)
        .map(|((texture, contrast), f)| f && contrast >= b.min_contrast && texture <= b.max_texture)
        .collect()
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
    /// Fraction of samples whose features look like the real images' (see
    /// the module doc); 1 when the classifier has no feature statistics.
    pub in_distribution: f32,
    /// Whether at least [`IN_DISTRIBUTION`] of the samples look like the
    /// data. When not, coverage and confidence mean nothing.
    pub judged: bool,
}

impl std::fmt::Display for Judgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.judged {
            return write!(
                f,
                "not judged: {:.0}% of samples look like the data (need {:.0}%), diversity {:.3}",
                self.in_distribution * 100.0,
                IN_DISTRIBUTION * 100.0,
                self.diversity
            );
        }
        write!(
            f,
            "classes covered {}/{} (confident per class {:?}), mean confidence {:.3}, diversity {:.3}, {:.0}% like the data",
            self.classes_covered,
            NUM_CLASSES,
            self.confident_counts,
            self.mean_confidence,
            self.diversity,
            self.in_distribution * 100.0
        )
    }
}

/// Judges `images` (n, C, S, S) with `classifier`.
pub fn judge(ctx: &Context, classifier: &ShapeClassifier, images: &[f32]) -> Result<Judgement> {
    let (probs, features) = classifier.probabilities_and_features(ctx, images)?;
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
    let like = like_the_data(classifier, images, &features);
    let in_distribution = like.iter().filter(|&&l| l).count() as f32 / n as f32;
    let need = ((COVER_FRACTION * n as f32 / NUM_CLASSES as f32).ceil() as usize).max(1);
    Ok(Judgement {
        samples: n,
        classes_covered: counts.iter().filter(|&&c| c >= need).count(),
        confident_counts: counts,
        mean_confidence: (total / n as f64) as f32,
        diversity: mean_pairwise_distance(images, images.len() / n),
        in_distribution,
        judged: in_distribution >= IN_DISTRIBUTION,
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

/// How a judge is trained: what its cache file is keyed by, with the image
/// size and channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JudgeSettings {
    pub kind: ClassifierKind,
    pub steps: usize,
    /// Seed of its initialisation; its data seed is derived from it.
    pub seed: u64,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        JudgeSettings { kind: ClassifierKind::Conv, steps: CLASSIFIER_STEPS, seed: 0 }
    }
}

/// Where trained judges are cached: `$KAIRO_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kairo`, else `~/.cache/kairo`; none without a home.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    crate::io::cache_dir()
}

/// The cache file of the judge for `size`×`size`×`channels` shapes trained
/// with `settings`: `judge-<hash>.safetensors`, the hash (FNV-1a, stable
/// across builds) over everything that decides the trained weights.
pub fn cache_file(dir: &std::path::Path, size: usize, channels: usize, settings: JudgeSettings) -> std::path::PathBuf {
    let key = format!(
        "judge v5; size {size}; channels {channels}; {:?}; steps {}; seed {}; data seed {}; batch 64",
        settings.kind,
        settings.steps,
        settings.seed,
        settings.seed ^ DATA_SEED
    );
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    dir.join(format!("judge-{size}x{channels}-{hash:016x}.safetensors"))
}

/// XORed into the judge's seed for the shapes it trains on, so its images
/// differ from a GAN run's.
const DATA_SEED: u64 = 0x00C1_A551_F1E5;

/// The judge for `size`×`size`×`channels` shapes: loaded strictly from
/// `cache` if that file exists, else trained with `settings` and saved
/// there (kill-safely, creating its folder). Returns the held-out accuracy
/// when it was trained.
pub fn classifier_for(
    ctx: &Context,
    size: usize,
    channels: usize,
    settings: JudgeSettings,
    cache: &std::path::Path,
) -> Result<(ShapeClassifier, Option<f32>)> {
    if cache.exists() {
        return Ok((load_classifier(ctx, size, channels, settings.kind, cache)?, None));
    }
    let (model, acc) = train_classifier(ctx, settings.kind, size, channels, settings.steps, settings.seed)?;
    let stats = model.features.clone().expect("a trained judge has feature statistics");
    let pix = model.pixels.expect("a trained judge has pixel bounds");
    let t = |v: &[f32]| Tensor::from_slice(ctx, v, &[v.len()]);
    let (mean, std) = (t(&stats.mean)?, t(&stats.std)?);
    let params = model.parameters();
    let mut named: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
    named.extend([(FEATURE_MEAN, &mean), (FEATURE_STD, &std)]);
    let (acc_s, threshold) = (acc.to_string(), stats.threshold.to_string());
    let (contrast, texture) = (pix.min_contrast.to_string(), pix.max_texture.to_string());
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
    }
    let meta = [("accuracy", acc_s.as_str()), (THRESHOLD, &threshold), (MIN_CONTRAST, &contrast), (MAX_TEXTURE, &texture)];
    crate::io::safetensors::save(cache, &named, &meta)?;
    Ok((model, Some(acc)))
}

const FEATURE_MEAN: &str = "features.mean";
const FEATURE_STD: &str = "features.std";
const THRESHOLD: &str = "features.threshold";
const MIN_CONTRAST: &str = "pixels.min_contrast";
const MAX_TEXTURE: &str = "pixels.max_texture";

/// A judge saved by [`classifier_for`], every tensor checked by name,
/// shape and dtype.
fn load_classifier(
    ctx: &Context,
    size: usize,
    channels: usize,
    kind: ClassifierKind,
    path: &std::path::Path,
) -> Result<ShapeClassifier> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut model = ShapeClassifier::new(ctx, kind, size, channels, &mut rng)?;
    let dim = model.feature_dim();
    let (mean, std) = (Tensor::zeros(ctx, &[dim])?, Tensor::zeros(ctx, &[dim])?);
    let params = model.parameters();
    let mut targets: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
    targets.extend([(FEATURE_MEAN, &mean), (FEATURE_STD, &std)]);
    load_parameters(path, Scope::ALL, &targets)?;
    let meta = crate::io::safetensors::load(ctx, path)?.metadata;
    let threshold = |key: &str| -> Result<f32> {
        meta.get(key)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Error::checkpoint(path, format!("metadata lacks a numeric `{key}`")))
    };
    let (mean, std, threshold_f) = (mean.to_vec()?, std.to_vec()?, threshold(THRESHOLD)?);
    model.features = Some(FeatureStats { mean, std, threshold: threshold_f });
    model.pixels = Some(PixelBounds { min_contrast: threshold(MIN_CONTRAST)?, max_texture: threshold(MAX_TEXTURE)? });
    Ok(model)
}
