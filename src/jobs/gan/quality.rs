//! Scores of a generator on labelled data: a Fréchet distance between real
//! and generated images in the feature space of a small classifier kairo
//! trains on the same data, and, for a conditional generator, that
//! classifier's accuracy on generated images of each class.
//!
//! This is NOT the Inception FID: the features are the 64-wide last hidden
//! layer of a three-convolution classifier trained here (not Inception-v3's
//! 2048-wide pool layer trained on ImageNet), on few samples, so the
//! numbers are only comparable between runs scored by the same classifier
//! (same data, size, steps and seed), never to published FIDs.
//!
//! The distance is Fréchet's between Gaussians fitted to the two feature
//! sets: |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), the square roots
//! by a symmetric eigen-decomposition (cyclic Jacobi, f64, on the CPU).

use std::path::Path;

use rand::SeedableRng;

use super::trainer::{cycled_labels, generate_labelled, uniform_noise, GanData, GanTrainer};
use crate::error::{Error, Result};
use crate::jobs::plot::{render_plot, Curve, PlotStyle};
use crate::jobs::step::record_update;
use crate::nn::conv::Conv2d;
use crate::nn::linear::Linear;
use crate::nn::loss::{cross_entropy, Reduction};
use crate::nn::{prefixed, Module};
use crate::ops::{Activation, UnaryOp};
use crate::optim::Adam;
use crate::sampling::argmax;
use crate::{autograd, no_grad, Context, Tensor, Var};

/// Width of the feature layer the distance is measured in.
pub const FEATURES: usize = 64;

/// Images per forward when featurising many.
const CHUNK: usize = 250;

/// The scoring classifier: three stride-2 convolutions (16, 32, 32
/// channels, LeakyReLU 0.2), a 64-wide hidden layer (the features) and a
/// linear head to one logit per class.
pub struct FeatureClassifier {
    convs: Vec<Conv2d>,
    hidden: Linear,
    head: Linear,
    /// Side and channels of the images it takes, and its classes.
    pub size: usize,
    pub channels: usize,
    pub classes: usize,
}

impl FeatureClassifier {
    /// A fresh classifier for `size`×`size` images (32 or 64).
    pub fn new(ctx: &Context, size: usize, channels: usize, classes: usize, rng: &mut impl rand::Rng) -> Result<Self> {
        if (size != 32 && size != 64) || classes < 2 {
            return Err(Error::InvalidArgument(format!(
                "feature classifier: size must be 32 or 64 and classes at least 2, got {size} and {classes}"
            )));
        }
        let widths: &[usize] = if size == 64 { &[8, 16, 32, 32] } else { &[16, 32, 32] };
        let mut convs = Vec::new();
        let mut in_ch = channels;
        for &w in widths {
            convs.push(Conv2d::new(ctx, in_ch, w, 4, 2, 1, true, rng)?);
            in_ch = w;
        }
        let hidden = Linear::new(ctx, in_ch * 16, FEATURES, true, rng)?;
        let head = Linear::new(ctx, FEATURES, classes, true, rng)?;
        Ok(FeatureClassifier { convs, hidden, head, size, channels, classes })
    }

    /// (features (N, 64), logits (N, classes)) for images (N, C, S, S).
    fn forward(&self, x: &Var) -> Result<(Var, Var)> {
        let n = x.shape()[0];
        let mut h = x.clone();
        for c in &self.convs {
            h = autograd::unary(&c.forward(&h)?, UnaryOp::LeakyRelu(0.2))?;
        }
        let flat = h.value().numel() / n;
        let f = self.hidden.forward_act(&autograd::reshape(&h, &[n, flat])?, Activation::LeakyRelu(0.2))?;
        let logits = self.head.forward(&f)?;
        Ok((f, logits))
    }

    /// Features (N × 64) and class probabilities (N × classes) of host
    /// images, in chunks.
    pub fn features_and_probabilities(&self, ctx: &Context, images: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let per = self.channels * self.size * self.size;
        if images.is_empty() || !images.len().is_multiple_of(per) {
            return Err(Error::invalid_shape("feature classifier", format!("{} values is not a whole number of {per}-value images", images.len())));
        }
        let (mut feats, mut probs) = (Vec::new(), Vec::new());
        for chunk in images.chunks(CHUNK * per) {
            let n = chunk.len() / per;
            let x = Var::constant(Tensor::from_slice(ctx, chunk, &[n, self.channels, self.size, self.size])?);
            let (f, logits) = no_grad(|| self.forward(&x))?;
            feats.extend(f.value().to_vec()?);
            probs.extend(crate::ops::softmax(logits.value(), 1)?.to_vec()?);
        }
        Ok((feats, probs))
    }

    /// Fraction of `images` whose most probable class is their label.
    pub fn accuracy(&self, ctx: &Context, images: &[f32], labels: &[u32]) -> Result<f32> {
        let (_, probs) = self.features_and_probabilities(ctx, images)?;
        Ok(per_class_accuracy(&probs, labels, self.classes).1)
    }
}

impl Module for FeatureClassifier {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = Vec::new();
        for (i, c) in self.convs.iter().enumerate() {
            p.extend(prefixed(&format!("convs.{i}"), c.parameters()));
        }
        p.extend(prefixed("hidden", self.hidden.parameters()));
        p.extend(prefixed("head", self.head.parameters()));
        p
    }
}

/// Per class, the fraction of images of that label classified as it (NaN
/// for a class with no images), and the overall fraction.
pub fn per_class_accuracy(probs: &[f32], labels: &[u32], classes: usize) -> (Vec<f32>, f32) {
    let (mut right, mut total) = (vec![0usize; classes], vec![0usize; classes]);
    for (p, &l) in probs.chunks(classes).zip(labels) {
        total[l as usize] += 1;
        right[l as usize] += (argmax(p).0 == l as usize) as usize;
    }
    let per = right.iter().zip(&total).map(|(&r, &t)| if t == 0 { f32::NAN } else { r as f32 / t as f32 }).collect();
    (per, right.iter().sum::<usize>() as f32 / labels.len().max(1) as f32)
}

/// Trains a scoring classifier on `steps` labelled batches of 64 from
/// `data` (Adam 2e-3, seeded).
pub fn train_classifier(ctx: &Context, data: &mut GanData, steps: usize, seed: u64) -> Result<FeatureClassifier> {
    let classes = data.classes().len();
    let (size, channels) = data.dims();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5C04E5);
    let model = FeatureClassifier::new(ctx, size, channels, classes, &mut rng)?;
    let mut opt = Adam::new(2e-3);
    let batch = 64;
    for step in 0..steps {
        let (x, y) = data.labelled_batch(batch, &mut rng)?;
        let x = Var::constant(Tensor::from_slice(ctx, &x, &[batch, channels, size, size])?);
        let y: Vec<i32> = y.iter().map(|&l| l as i32).collect();
        let loss = cross_entropy(&model.forward(&x)?.1, &Tensor::from_i32(ctx, &y, &[batch])?, None, Reduction::Mean)?;
        record_update(&loss, &model, &mut opt, None)?;
        if step % 50 == 49 {
            ctx.sync()?; // bound the recorded work; no readback
        }
    }
    Ok(model)
}

/// A Gaussian fitted to feature rows: mean and covariance (f64).
#[derive(Clone, Debug)]
pub struct Gaussian {
    pub dim: usize,
    pub mean: Vec<f64>,
    /// dim × dim, row-major (normalised by n − 1).
    pub cov: Vec<f64>,
}

impl Gaussian {
    /// The mean and covariance of `rows` (each `dim` wide, at least two rows).
    pub fn fit(rows: &[f32], dim: usize) -> Result<Gaussian> {
        let n = rows.len() / dim.max(1);
        if dim == 0 || n < 2 || rows.len() != n * dim {
            return Err(Error::InvalidArgument(format!("Gaussian: {} values are not two or more rows of {dim}", rows.len())));
        }
        let mut mean = vec![0.0f64; dim];
        for r in rows.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += v as f64 / n as f64;
            }
        }
        let mut cov = vec![0.0f64; dim * dim];
        for r in rows.chunks(dim) {
            let d: Vec<f64> = r.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect();
            for i in 0..dim {
                for j in 0..dim {
                    cov[i * dim + j] += d[i] * d[j] / (n - 1) as f64;
                }
            }
        }
        Ok(Gaussian { dim, mean, cov })
    }
}

/// Eigenvalues and eigenvectors (columns of a row-major n × n matrix) of
/// the symmetric matrix `a` by cyclic Jacobi rotations, to round-off.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * n + j].powi(2)).sum();
        if off.sqrt() <= 1e-15 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The square root of a symmetric positive semi-definite matrix
/// (eigenvalues clamped at 0): V √Λ Vᵀ.
pub fn sqrt_psd(a: &[f64], n: usize) -> Vec<f64> {
    let (vals, v) = symmetric_eigen(a, n);
    let mut out = vec![0.0f64; n * n];
    for (k, &l) in vals.iter().enumerate() {
        let r = l.max(0.0).sqrt();
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] += v[i * n + k] * r * v[j * n + k];
            }
        }
    }
    out
}

fn matmul_sq(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// Fréchet distance between two Gaussians of the same dimension.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> Result<f64> {
    if a.dim != b.dim {
        return Err(Error::InvalidArgument(format!("Fréchet distance: dimensions {} and {}", a.dim, b.dim)));
    }
    let n = a.dim;
    let mean: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y).powi(2)).sum();
    let ra = sqrt_psd(&a.cov, n);
    let m = matmul_sq(&matmul_sq(&ra, &b.cov, n), &ra, n);
    // Symmetrise against round-off before the eigen-decomposition.
    let m: Vec<f64> = (0..n * n).map(|k| 0.5 * (m[k] + m[(k % n) * n + k / n])).collect();
    let tr_sqrt: f64 = symmetric_eigen(&m, n).0.iter().map(|l| l.max(0.0).sqrt()).sum();
    let tr = |c: &[f64]| (0..n).map(|i| c[i * n + i]).sum::<f64>();
    Ok((mean + tr(&a.cov) + tr(&b.cov) - 2.0 * tr_sqrt).max(0.0))
}

/// A classifier and the real images' feature Gaussian: scores generators.
pub struct Scorer {
    pub classifier: FeatureClassifier,
    pub real: Gaussian,
    /// Generated images per score.
    pub samples: usize,
}

impl Scorer {
    /// Fits the real Gaussian to the features of `real` host images.
    pub fn new(ctx: &Context, classifier: FeatureClassifier, real: &[f32], samples: usize) -> Result<Scorer> {
        let (f, _) = classifier.features_and_probabilities(ctx, real)?;
        Ok(Scorer { real: Gaussian::fit(&f, FEATURES)?, classifier, samples })
    }

    /// The Fréchet distance of host images to the real set.
    pub fn distance(&self, ctx: &Context, images: &[f32]) -> Result<f64> {
        let (f, _) = self.classifier.features_and_probabilities(ctx, images)?;
        frechet_distance(&self.real, &Gaussian::fit(&f, FEATURES)?)
    }

    /// Scores the trainer's generator on fresh seeded noise (the classes in
    /// turn for a conditional one).
    pub fn score(&self, t: &GanTrainer, seed: u64) -> Result<Scores> {
        let (n, nz, k) = (self.samples, t.config.model.nz, t.generator.classes());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let noise = Tensor::from_slice(&t.ctx, &uniform_noise(n, nz, &mut rng), &[n, nz])?;
        let labels = if k > 0 { Some(cycled_labels(&t.ctx, n, k)?) } else { None };
        let images = generate_labelled(&t.generator, &noise, labels.as_ref())?;
        let (f, probs) = self.classifier.features_and_probabilities(&t.ctx, &images)?;
        let frechet = frechet_distance(&self.real, &Gaussian::fit(&f, FEATURES)?)?;
        let (class_accuracy, accuracy) = if k > 0 {
            let y: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
            let (per, all) = per_class_accuracy(&probs, &y, k);
            (per, Some(all))
        } else {
            (Vec::new(), None)
        };
        Ok(Scores { iteration: t.iteration, frechet, accuracy, class_accuracy })
    }
}

/// One snapshot's scores.
#[derive(Clone, Debug)]
pub struct Scores {
    pub iteration: u64,
    pub frechet: f64,
    /// A conditional run's accuracy over all generated images.
    pub accuracy: Option<f32>,
    /// A conditional run's accuracy per class (label order).
    pub class_accuracy: Vec<f32>,
}

impl std::fmt::Display for Scores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fréchet distance {:.3} (kairo classifier features, not Inception FID)", self.frechet)?;
        if let Some(a) = self.accuracy {
            write!(f, ", generated images classified as their class: {:.1}%", a * 100.0)?;
        }
        Ok(())
    }
}

/// The header of quality.csv for scored runs.
pub const CSV_HEADER: &str = "iteration,frechet_distance,accuracy,accuracy_per_class\n";

/// Appends `s` to `csv` (creating it with [`CSV_HEADER`]) and redraws
/// `plot` from every line of it.
pub fn record(s: &Scores, csv: &Path, plot: &Path) -> Result<()> {
    let mut text = std::fs::read_to_string(csv).unwrap_or_else(|_| CSV_HEADER.into());
    let per: Vec<String> = s.class_accuracy.iter().map(|a| format!("{a:.4}")).collect();
    let acc = s.accuracy.map_or(String::new(), |a| format!("{a:.4}"));
    text.push_str(&format!("{},{:.4},{acc},{}\n", s.iteration, s.frechet, per.join(" ")));
    crate::io::atomic::write_atomic(csv, text.as_bytes())?;
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let col = |c: usize| -> Vec<f32> { rows.iter().filter_map(|r| r.get(c)?.parse().ok()).collect() };
    let mut curves = vec![Curve { label: "Fréchet distance".into(), color: [214, 39, 40], values: col(1) }];
    let acc = col(2);
    if !acc.is_empty() {
        curves.push(Curve { label: "accuracy on generated".into(), color: [31, 119, 180], values: acc });
    }
    let style = PlotStyle {
        title: "DCGAN quality (kairo classifier features; not Inception FID)".into(),
        x_label: "iteration".into(),
        y_label: "distance / accuracy".into(),
        log_y: true,
        x: col(0).into_iter().map(f64::from).collect(),
    };
    if curves[0].values.len() >= 2 {
        render_plot(&curves, &style, 720, 400, plot)?;
    }
    Ok(())
}
