//! The alternating DCGAN trainer.
//!
//! One iteration, read top to bottom in [`GanTrainer::step`]:
//! `d_steps` discriminator updates, each on a batch of real images and an
//! equal batch of fakes, with binary cross-entropy on logits (real → 1,
//! fake → 0) and the fakes detached from G; then one generator update with
//! the non-saturating loss, i.e. cross-entropy of D(G(z)) against "real"
//! (maximising log D(G(z))). During D's update G is out of reach (D sees
//! detached fakes), during G's update D's parameters are frozen. Both use
//! Adam (lr 2e-4, β1 0.5 by default).
//!
//! The fakes of the last D step are G's forward with its tape kept: D sees
//! them as a detached constant, and G's update then back-propagates D's
//! verdict on the same images through that tape (as the PyTorch example
//! does), so G runs forward once per iteration. Each iteration is one
//! submit and one small readback of the four logged numbers.
//!
//! Noise and real batches of iteration i come from a generator seeded by
//! (seed, i), so a resumed run continues exactly as an unbroken one. A
//! conditional run (`GanConfig::conditional`) draws from the same
//! generator the real images' labels and uniformly drawn classes for the
//! fakes, which G and D both see ([`crate::nn::dcgan`]'s conditional pair).

use std::path::PathBuf;

use rand::{Rng, SeedableRng};

use crate::data::images::ImageFolder;
use crate::data::shapes::Shapes;
use crate::error::{Error, Result};
use crate::dist::{self, GradReducer, Share};
use crate::jobs::step::{parameter_sum_of_squares, read_checked, read_checked_async, record_update_with};
use crate::nn::dcgan::{label_tensor, set_frozen, DcganConfig, Discriminator, Generator};
use crate::nn::loss::{binary_cross_entropy_with_logits as bce, Reduction};
use crate::nn::Module;
use crate::ops::{self, BinaryOp, UnaryOp};
use crate::optim::Adam;
use crate::{autograd, no_grad, Context, Tensor, Var};

/// Where real images come from.
pub enum GanData {
    /// The built-in procedural shapes (labelled, so samples can be judged).
    Shapes(Shapes),
    /// An image folder, streamed.
    Folder(ImageFolder),
}

impl GanData {
    /// `n` real images (n, C, S, S) for one D step.
    fn batch(&mut self, n: usize, rng: &mut impl Rng) -> Result<Vec<f32>> {
        match self {
            // A random window of the endless set: fresh images every step.
            GanData::Shapes(s) => Ok(s.batch(rng.random_range(0..1u64 << 40), n).0),
            GanData::Folder(f) => f.random_batch(n, rng),
        }
    }

    /// `n` real images and their classes (a conditional run's D step).
    pub fn labelled_batch(&mut self, n: usize, rng: &mut impl Rng) -> Result<(Vec<f32>, Vec<u32>)> {
        match self {
            GanData::Shapes(s) => {
                let (x, y) = s.batch(rng.random_range(0..1u64 << 40), n);
                Ok((x, y.into_iter().map(|l| l as u32).collect()))
            }
            GanData::Folder(f) => f.random_labelled_batch(n, rng),
        }
    }

    /// Class names in label order; empty for images without labels.
    pub fn classes(&self) -> Vec<String> {
        match self {
            GanData::Shapes(_) => crate::data::shapes::CLASS_NAMES.iter().map(|c| c.to_string()).collect(),
            GanData::Folder(f) => f.classes().to_vec(),
        }
    }

    /// (side, channels) of its images.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            GanData::Shapes(s) => (s.size, s.channels),
            GanData::Folder(f) => (f.size(), f.channels()),
        }
    }
}

/// Everything a run is configured by.
#[derive(Clone, Debug)]
pub struct GanConfig {
    /// Model sizes (image size and channels must match the data).
    pub model: DcganConfig,
    /// Real images per D step (and as many fakes).
    pub batch: usize,
    /// Iterations to reach (counting those of a resumed run).
    pub iters: u64,
    /// D updates per G update.
    pub d_steps: usize,
    /// Sample grid, loss curve, checkpoint (and judgement) every this many iterations.
    pub every: u64,
    /// Adam learning rate of both nets.
    pub lr: f32,
    /// Adam β1 of both nets.
    pub beta1: f32,
    /// D's target for real images: 1 is the plain cross-entropy; 0.9 is
    /// one-sided label smoothing (Salimans et al. 2016), which keeps D from
    /// growing over-confident on real images early on. G's target for its
    /// fakes stays 1 either way.
    pub real_label: f32,
    /// Seeds the models' init, the noise and the batches.
    pub seed: u64,
    /// Output folder for grids, curves, checkpoints.
    pub out: PathBuf,
    /// Images in the fixed-noise sample grid (a conditional run draws
    /// grid / classes per class, at least one, one row per class).
    pub grid: usize,
    /// Class-conditional G and projection D (needs labelled data).
    pub conditional: bool,
}

impl Default for GanConfig {
    fn default() -> Self {
        GanConfig {
            model: DcganConfig {
                image_size: 32,
                channels: 3,
                nz: 100,
                ngf: 32,
                ndf: 32,
            },
            batch: 64,
            iters: 1500,
            d_steps: 1,
            every: 250,
            lr: 2e-4,
            beta1: 0.5,
            real_label: 1.0,
            seed: 1,
            out: PathBuf::from("gan-out"),
            grid: 64,
            conditional: false,
        }
    }
}

/// What one iteration logged.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IterStats {
    /// D's loss of its last step: BCE(D(x), 1) + BCE(D(G(z)), 0).
    pub loss_d: f32,
    /// G's loss: BCE(D(G(z)), 1).
    pub loss_g: f32,
    /// Mean σ(D(x)) over the real batch of D's last step.
    pub d_x: f32,
    /// Mean σ(D(G(z))) over the fakes of D's last step (before D's update).
    pub d_g_z: f32,
}

/// A run in progress: both nets, both optimisers, the data, the fixed
/// noise of the sample grids and the history of logged numbers.
pub struct GanTrainer {
    pub ctx: Context,
    pub config: GanConfig,
    pub generator: Generator,
    pub discriminator: Discriminator,
    pub opt_g: Adam,
    pub opt_d: Adam,
    pub data: GanData,
    /// (grid, nz) uniform noise in [-1, 1], fixed for the whole run.
    pub fixed_noise: Tensor,
    /// A conditional run's labels of the fixed noise (row r is class r).
    pub fixed_labels: Option<Tensor>,
    /// A conditional run's class names in label order (empty otherwise).
    pub class_names: Vec<String>,
    /// Iterations done.
    pub iteration: u64,
    /// One entry per iteration done.
    pub history: Vec<IterStats>,
    ones: Var,
    real_targets: Var,
    zeros: Var,
    /// Data-parallel: see [`GanTrainer::set_reducer`].
    reducer: Option<GradReducer>,
}

/// `n`×`nz` uniform noise in [-1, 1] (the DCGAN paper's prior).
pub fn uniform_noise(n: usize, nz: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..n * nz).map(|_| rng.random_range(-1.0..=1.0)).collect()
}

/// The generator of iteration `i` of a run seeded `seed`.
fn iteration_rng(seed: u64, i: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(
        seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xD1B5_4A32_D192_ED03,
    )
}

impl GanTrainer {
    /// A fresh run: DCGAN-initialised nets, new optimisers, iteration 0.
    pub fn new(ctx: &Context, config: GanConfig, data: GanData) -> Result<GanTrainer> {
        let m = config.model;
        m.validate()?;
        super::validate(ctx, &config)?;
        if data.dims() != (m.image_size, m.channels) {
            return Err(Error::InvalidArgument(format!(
                "gan: data gives {:?} (size, channels) but the model is configured for ({}, {})",
                data.dims(),
                m.image_size,
                m.channels
            )));
        }
        if config.batch < 2 || config.d_steps == 0 || config.every == 0 || config.grid == 0 {
            return Err(Error::InvalidArgument(format!(
                "gan: batch ({}) must be >= 2 (batch norm), d_steps ({}), every ({}) and grid ({}) >= 1",
                config.batch, config.d_steps, config.every, config.grid
            )));
        }
        if !(config.real_label > 0.5 && config.real_label <= 1.0) {
            return Err(Error::InvalidArgument(format!(
                "gan: the real-image label must be in (0.5, 1], got {}",
                config.real_label
            )));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
        let class_names = if config.conditional { conditional_classes(&data)? } else { Vec::new() };
        let k = class_names.len();
        let (generator, discriminator) = if config.conditional {
            (Generator::conditional(ctx, m, k, &mut rng)?, Discriminator::conditional(ctx, m, k, &mut rng)?)
        } else {
            (Generator::new(ctx, m, &mut rng)?, Discriminator::new(ctx, m, &mut rng)?)
        };
        let grid = if config.conditional { class_grid_len(config.grid, k) } else { config.grid };
        let fixed_noise = Tensor::from_slice(ctx, &uniform_noise(grid, m.nz, &mut rng), &[grid, m.nz])?;
        let fixed_labels = if config.conditional {
            let per_row = grid / k;
            let rows: Vec<u32> = (0..grid).map(|i| (i / per_row) as u32).collect();
            Some(label_tensor(ctx, &rows, k)?)
        } else {
            None
        };
        let adam = || Adam::new(config.lr).betas(config.beta1, 0.999);
        let (opt_g, opt_d) = (adam(), adam());
        let ones = Var::constant(Tensor::full(ctx, &[config.batch], 1.0)?);
        let real_targets = Var::constant(Tensor::full(ctx, &[config.batch], config.real_label)?);
        let zeros = Var::constant(Tensor::zeros(ctx, &[config.batch])?);
        Ok(GanTrainer {
            ctx: ctx.clone(),
            config,
            generator,
            discriminator,
            opt_g,
            opt_d,
            data,
            fixed_noise,
            fixed_labels,
            class_names,
            iteration: 0,
            history: Vec::new(),
            ones,
            real_targets,
            zeros,
            reducer: None,
        })
    }

    /// Data-parallel training (`crate::dist`): rank 0's nets, batch-norm
    /// buffers and optimisers are broadcast; then every iteration draws
    /// the single-process batches and noise and trains on this rank's
    /// rows (the batch must divide by the ranks), D's and G's gradients
    /// are each summed (weight 1/ranks) before their update, and the ranks
    /// agree that every value read back is finite. Batch norm keeps
    /// per-rank statistics.
    pub fn set_reducer(&mut self, reducer: GradReducer) -> Result<()> {
        let (b, ranks) = (self.config.batch, reducer.comm().size());
        if b % ranks != 0 || b / ranks < 2 {
            return Err(Error::InvalidArgument(format!("gan: --batch {b} must split into {ranks} ranks' equal shares of at least 2 (batch norm)")));
        }
        for m in [&self.generator as &dyn Module, &self.discriminator] {
            dist::sync_module(reducer.comm(), m)?;
        }
        dist::sync_optimizer(reducer.comm(), &mut self.opt_g)?;
        dist::sync_optimizer(reducer.comm(), &mut self.opt_d)?;
        let n = b / ranks;
        self.ones = Var::constant(Tensor::full(&self.ctx, &[n], 1.0)?);
        self.real_targets = Var::constant(Tensor::full(&self.ctx, &[n], self.config.real_label)?);
        self.zeros = Var::constant(Tensor::zeros(&self.ctx, &[n])?);
        self.reducer = Some(reducer);
        Ok(())
    }

    /// The data-parallel reducer, if any (its byte counts).
    pub fn reducer(&self) -> Option<&GradReducer> {
        self.reducer.as_ref()
    }

    /// Whether a snapshot (grid, curve, checkpoint) follows iteration `done`.
    pub fn snapshot_due(&self, done: u64) -> bool {
        done.is_multiple_of(self.config.every) || done == self.config.iters
    }

    /// One iteration: `d_steps` D updates, then one G update. Errors with
    /// [`Error::Diverged`], with nothing else changed on the host side (the
    /// iteration is not counted), when a value read back is not finite.
    /// Blocks; on the web use [`GanTrainer::step_async`].
    pub fn step(&mut self) -> Result<IterStats> {
        let (done, read, weight) = self.record_iteration()?;
        let v = read_checked(done, &read.iter().collect::<Vec<_>>());
        self.finish_iteration(done, v, weight)
    }

    /// [`GanTrainer::step`] as a future (the web's form).
    pub async fn step_async(&mut self) -> Result<IterStats> {
        let (done, read, weight) = self.record_iteration()?;
        let v = read_checked_async(done, &read.iter().collect::<Vec<_>>()).await;
        self.finish_iteration(done, v, weight)
    }

    /// Records the iteration's D and G updates; returns its number and
    /// what its one readback reads: the four logged scalars (and the
    /// parameter check on snapshot iterations), all required finite.
    fn record_iteration(&mut self) -> Result<(u64, Vec<Tensor>, f32)> {
        let (b, nz) = (self.config.batch, self.config.model.nz);
        let (s, c) = self.data.dims();
        let mut rng = iteration_rng(self.config.seed, self.iteration);
        // Data-parallel: this rank's rows of each batch, its gradient weight.
        let share = self.reducer.as_ref().map(|r| r.share(b));
        let (n, weight) = share.as_ref().map_or((b, 1.0), |s| (s.items.len(), s.weight()));
        let rows = |v: Vec<f32>| match &share {
            Some(s) => s.rows(&v).to_vec(),
            None => v,
        };
        let hook = |m: &dyn Module| self.reducer.as_ref().map_or(Ok(()), |r| r.reduce_module(m, weight).map(drop));
        let mut fake = None;
        let mut d_metrics = None;
        for k in 0..self.config.d_steps {
            let last = k + 1 == self.config.d_steps;
            let (real, real_y) = real_batch(&mut self.data, self.config.conditional, b, &mut rng)?;
            let real = Var::constant(Tensor::from_slice(&self.ctx, &rows(real), &[n, c, s, s])?);
            let real_y = self.label_rows(real_y, share.as_ref())?;
            let z = Var::constant(Tensor::from_slice(
                &self.ctx,
                &rows(uniform_noise(b, nz, &mut rng)),
                &[n, nz],
            )?);
            // A conditional run's fakes are of uniformly drawn classes.
            let fake_y = self.fake_labels(b, &mut rng);
            let fake_y = self.label_rows(fake_y, share.as_ref())?;
            let (gen, fy) = (&self.generator, fake_y.as_ref());
            // Only the last D step's fakes feed G's update: keep their tape.
            let g_out = if last {
                gen.forward_labelled(&z, fy)?
            } else {
                no_grad(|| gen.forward_labelled(&z, fy))?
            };
            // D sees the fakes as constants: its loss has no path back to
            // G, which is how G stays frozen during D's update.
            let detached = Var::constant(g_out.value().clone());
            let d_real = self.discriminator.forward_labelled(&real, real_y.as_ref())?;
            let d_fake = self.discriminator.forward_labelled(&detached, fy)?;
            let loss_d = autograd::binary(
                &bce(&d_real, &self.real_targets, Reduction::Mean)?,
                &bce(&d_fake, &self.zeros, Reduction::Mean)?,
                BinaryOp::Add,
            )?;
            record_update_with(&loss_d, &self.discriminator, &mut self.opt_d, None, Some(&hook))?;
            if last {
                d_metrics = Some((
                    loss_d,
                    mean_sigmoid(d_real.value())?,
                    mean_sigmoid(d_fake.value())?,
                ));
                fake = Some((g_out, fake_y));
            }
        }
        let (fake, (loss_d, d_x, d_g_z)) = (
            fake.expect("d_steps >= 1"),
            d_metrics.expect("d_steps >= 1"),
        );
        set_frozen(&self.discriminator, true)?;
        let loss_g = bce(
            &self.discriminator.forward_labelled(&fake.0, fake.1.as_ref())?,
            &self.ones,
            Reduction::Mean,
        )?;
        record_update_with(&loss_g, &self.generator, &mut self.opt_g, None, Some(&hook))?;
        set_frozen(&self.discriminator, false)?;
        // A snapshot (and checkpoint) follows this iteration: check the weights too.
        let done = self.iteration + 1;
        let params = if self.snapshot_due(done) {
            Some(parameter_sum_of_squares(&[&self.generator, &self.discriminator])?)
        } else {
            None
        };
        let mut read = vec![loss_d.value().clone(), loss_g.value().clone(), d_x, d_g_z];
        read.extend(params);
        Ok((done, read, weight))
    }

    /// `n` uniformly drawn classes in a conditional run.
    fn fake_labels(&self, n: usize, rng: &mut impl Rng) -> Option<Vec<u32>> {
        let k = self.class_names.len() as u32;
        (k > 0).then(|| (0..n).map(|_| rng.random_range(0..k)).collect())
    }

    /// A conditional run's labels as a tensor: this rank's share of them
    /// in a data-parallel run.
    fn label_rows(&self, y: Option<Vec<u32>>, share: Option<&Share>) -> Result<Option<Tensor>> {
        let Some(y) = y else { return Ok(None) };
        let y = share.map_or(&y[..], |s| s.rows(&y));
        Ok(Some(label_tensor(&self.ctx, y, self.class_names.len())?))
    }

    /// Counts the iteration whose four logged values `v` came back (the
    /// ranks of a data-parallel run first agree that all are finite and
    /// average them, `weight` being this rank's share).
    fn finish_iteration(&mut self, done: u64, v: Result<Vec<Vec<f32>>>, weight: f32) -> Result<IterStats> {
        let v = v.map(|v| [v[0][0], v[1][0], v[2][0], v[3][0]]);
        let v = match &self.reducer {
            Some(r) => dist::agree_values(r.comm(), done, v, weight)?,
            None => v?,
        };
        let stats = IterStats { loss_d: v[0], loss_g: v[1], d_x: v[2], d_g_z: v[3] };
        self.iteration = done;
        self.history.push(stats);
        Ok(stats)
    }

    /// The sample grid's images: G's on the fixed noise (with a
    /// conditional run's class rows), read back.
    pub fn generate_grid(&self) -> Result<Vec<f32>> {
        record_generate_labelled(&self.generator, &self.fixed_noise, self.fixed_labels.as_ref())?.to_vec()
    }

    /// G's images for `noise` (n, nz), batch norm with batch statistics
    /// as during training, read back (n, C, S, S). A conditional run
    /// gives the classes in turn (image i of class i mod classes).
    pub fn generate(&self, noise: &Tensor) -> Result<Vec<f32>> {
        generate(&self.generator, noise)
    }

    /// [`GanTrainer::generate`] as a future.
    pub async fn generate_async(&self, noise: &Tensor) -> Result<Vec<f32>> {
        record_generate(&self.generator, noise)?.to_vec_async().await
    }
}

/// `n` real images, with their labels in a conditional run.
fn real_batch(data: &mut GanData, conditional: bool, n: usize, rng: &mut impl Rng) -> Result<(Vec<f32>, Option<Vec<u32>>)> {
    if !conditional {
        return Ok((data.batch(n, rng)?, None));
    }
    let (x, y) = data.labelled_batch(n, rng)?;
    Ok((x, Some(y)))
}

/// Labels 0, 1, …, k−1, 0, 1, … (n of them).
pub fn cycled_labels(ctx: &Context, n: usize, k: usize) -> Result<Tensor> {
    let y: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    label_tensor(ctx, &y, k)
}

/// Images in a conditional run's class grid: `grid / classes` per class
/// (at least 1), one row per class.
pub fn class_grid_len(grid: usize, classes: usize) -> usize {
    (grid / classes).max(1) * classes
}

/// The classes of a conditional run's data: at least two, or an error
/// saying what labelled data looks like.
fn conditional_classes(data: &GanData) -> Result<Vec<String>> {
    let names = data.classes();
    if names.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "gan: --conditional needs labelled data with at least 2 classes, found {} (IDX images with their labels file, \
             or an image folder with one subfolder per class, or the built-in shapes)",
            names.len()
        )));
    }
    Ok(names)
}

/// G's images for `noise` (n, nz), read back (n, C, S, S). Batch norm uses
/// the batch's statistics, as in training and in the PyTorch example's
/// sample grids; the running averages are left as they were. See
/// [`record_generate`] for a conditional generator.
pub fn generate(generator: &Generator, noise: &Tensor) -> Result<Vec<f32>> {
    record_generate(generator, noise)?.to_vec()
}

/// G's images for `noise`, recorded (n, C, S, S); the running averages
/// are put back in the same submission, after the forward that read them.
/// A conditional generator gives the classes in turn (image i of class
/// i mod classes).
pub fn record_generate(generator: &Generator, noise: &Tensor) -> Result<Tensor> {
    let k = generator.classes();
    let labels = if k > 0 { Some(cycled_labels(noise.context(), noise.shape()[0], k)?) } else { None };
    record_generate_labelled(generator, noise, labels.as_ref())
}

/// [`generate`] for a conditional generator: images of `labels` (n,).
pub fn generate_labelled(generator: &Generator, noise: &Tensor, labels: Option<&Tensor>) -> Result<Vec<f32>> {
    record_generate_labelled(generator, noise, labels)?.to_vec()
}

/// [`record_generate`] with labels for a conditional generator.
pub fn record_generate_labelled(generator: &Generator, noise: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
    let saved: Vec<(String, Tensor)> =
        generator.buffers().into_iter().map(|(n, t)| Ok((n, t.deep_clone()?))).collect::<Result<_>>()?;
    let images = no_grad(|| generator.forward_labelled(&Var::constant(noise.clone()), labels))?.value().clone();
    for ((_, now), (_, before)) in generator.buffers().iter().zip(&saved) {
        now.deep_copy_from(before)?;
    }
    Ok(images)
}

/// mean(σ(logits)) as a 1-element tensor (recorded, not read back).
fn mean_sigmoid(logits: &Tensor) -> Result<Tensor> {
    let n = logits.numel();
    ops::mean(
        &ops::unary(&logits.reshape(&[n])?, UnaryOp::Sigmoid)?.reshape(&[n])?,
        0,
    )?
    .reshape(&[1])
}
