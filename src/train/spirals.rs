//! The built-in first training job: an MLP separates two spirals. Used by
//! `kairo demo`; writes a picture of the learned decision regions.

use std::path::Path;

use rand::SeedableRng;

use super::{optimizer_step, zero_grad};
use crate::data::spirals::two_spirals;
use crate::error::{Error, Result};
use crate::nn::loss::{cross_entropy, Reduction};
use crate::nn::Mlp;
use crate::ops::Activation;
use crate::optim::Adam;
use crate::{no_grad, Context, Tensor, Var};

/// What the run did.
pub struct SpiralRun {
    /// The trained network.
    pub model: Mlp,
    /// Training points (N, 2) and labels.
    pub points: Vec<f32>,
    pub labels: Vec<i32>,
    /// Loss after each step.
    pub losses: Vec<f32>,
    /// Fraction of training points classified right, at the end.
    pub accuracy: f32,
}

/// Trains a 2-48-48-2 tanh MLP with Adam on 2×`per_class` points for
/// `steps` full-batch steps; `progress(step, loss)` after every step.
pub fn train_spirals(ctx: &Context, per_class: usize, steps: usize, seed: u64, mut progress: impl FnMut(usize, f32)) -> Result<SpiralRun> {
    let (points, labels) = two_spirals(per_class, 1.5, 0.02, seed);
    let n = labels.len();
    let x = Var::constant(Tensor::from_slice(ctx, &points, &[n, 2])?);
    let y = Tensor::from_i32(ctx, &labels, &[n])?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let model = Mlp::new(ctx, &[2, 48, 48, 2], Activation::Tanh, &mut rng)?;
    let mut opt = Adam::new(0.02);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        zero_grad(&model);
        let loss = cross_entropy(&model.forward(&x)?, &y, None, Reduction::Mean)?;
        loss.backward()?;
        optimizer_step(&model, &mut opt)?;
        let value = loss.value().to_vec()?[0]; // the step's one submit
        if !value.is_finite() {
            return Err(Error::InvalidArgument(format!("loss became {value} at step {step}")));
        }
        losses.push(value);
        progress(step, value);
    }
    let accuracy = classify(&model, ctx, &points)?.iter().zip(&labels).filter(|(p, l)| p.0 == **l).count() as f32 / n as f32;
    Ok(SpiralRun { model, points, labels, losses, accuracy })
}

/// (class, probability of class 1) for each (x, y) point.
fn classify(model: &Mlp, ctx: &Context, points: &[f32]) -> Result<Vec<(i32, f32)>> {
    let n = points.len() / 2;
    let x = Var::constant(Tensor::from_slice(ctx, points, &[n, 2])?);
    let probs = no_grad(|| -> Result<Tensor> { crate::ops::softmax(model.forward(&x)?.value(), 1) })?.to_vec()?;
    Ok(probs.chunks(2).map(|p| ((p[1] > p[0]) as i32, p[1])).collect())
}

/// Draws the decision regions over [-1.2, 1.2]² (`size`×`size` pixels)
/// with the training points on top, as a PNG written kill-safely.
pub fn render_png(run: &SpiralRun, ctx: &Context, size: u32, path: &Path) -> Result<()> {
    let span = 1.2f32;
    let to_world = |p: u32| (p as f32 + 0.5) / size as f32 * 2.0 * span - span;
    let grid: Vec<f32> = (0..size).flat_map(|py| (0..size).flat_map(move |px| [to_world(px), -to_world(py)])).collect();
    let probs = classify(&run.model, ctx, &grid)?;
    let mut img = image::RgbImage::new(size, size);
    for (i, &(_, p1)) in probs.iter().enumerate() {
        let (a, b) = ([250.0, 200.0, 170.0], [170.0, 200.0, 250.0]); // class 0 warm, class 1 cool
        let mix: Vec<u8> = (0..3).map(|c| (a[c] * (1.0 - p1) + b[c] * p1) as u8).collect();
        img.put_pixel(i as u32 % size, i as u32 / size, image::Rgb([mix[0], mix[1], mix[2]]));
    }
    for (pt, &label) in run.points.chunks(2).zip(&run.labels) {
        let px = ((pt[0] + span) / (2.0 * span) * size as f32) as i64;
        let py = ((span - pt[1]) / (2.0 * span) * size as f32) as i64;
        let color = if label == 0 { image::Rgb([200, 40, 20]) } else { image::Rgb([20, 60, 200]) };
        for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] {
            let (x, y) = (px + dx, py + dy);
            if x >= 0 && y >= 0 && x < size as i64 && y < size as i64 {
                img.put_pixel(x as u32, y as u32, color);
            }
        }
    }
    crate::io::atomic::write_png(path, &img)
}
