//! Training the spirals MLP: full-batch Adam, one step helper call per step.

use rand::SeedableRng;

use crate::data::spirals::two_spirals;
use crate::error::Result;
use crate::jobs::step::train_step;
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

/// What `progress` is told after every step.
#[derive(Clone, Copy, Debug)]
pub struct SpiralProgress {
    pub step: usize,
    pub loss: f32,
}

/// Trains a 2-48-48-2 tanh MLP with Adam on 2×`per_class` points for
/// `steps` full-batch steps; `progress` after every step.
pub fn train_spirals(ctx: &Context, per_class: usize, steps: usize, seed: u64, mut progress: impl FnMut(SpiralProgress)) -> Result<SpiralRun> {
    let (points, labels) = two_spirals(per_class, 1.5, 0.02, seed);
    let n = labels.len();
    let x = Var::constant(Tensor::from_slice(ctx, &points, &[n, 2])?);
    let y = Tensor::from_i32(ctx, &labels, &[n])?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let model = Mlp::new(ctx, &[2, 48, 48, 2], Activation::Tanh, &mut rng)?;
    let mut opt = Adam::new(0.02);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let loss = cross_entropy(&model.forward(&x)?, &y, None, Reduction::Mean)?;
        let value = train_step(step as u64 + 1, &loss, &model, &mut opt, None, step + 1 == steps)?.loss;
        losses.push(value);
        progress(SpiralProgress { step, loss: value });
    }
    let accuracy = classify(&model, ctx, &points)?.iter().zip(&labels).filter(|(p, l)| p.0 == **l).count() as f32 / n as f32;
    Ok(SpiralRun { model, points, labels, losses, accuracy })
}

/// (class, probability of class 1) for each (x, y) point.
pub(crate) fn classify(model: &Mlp, ctx: &Context, points: &[f32]) -> Result<Vec<(i32, f32)>> {
    let n = points.len() / 2;
    let x = Var::constant(Tensor::from_slice(ctx, points, &[n, 2])?);
    let probs = no_grad(|| -> Result<Tensor> { crate::ops::softmax(model.forward(&x)?.value(), 1) })?.to_vec()?;
    Ok(probs.chunks(2).map(|p| ((p[1] > p[0]) as i32, p[1])).collect())
}
