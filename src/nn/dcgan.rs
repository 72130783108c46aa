//! DCGAN (Radford, Metz & Chintala 2016) as the PyTorch example builds it,
//! with the same `state_dict` names (`main.0.weight`, `main.1.running_mean`).
//!
//! Generator: noise (N, nz, 1, 1) → transposed convolutions 1 → 4 → 8 →
//! 16 → 32 (→ 64) with batch norm and ReLU between and tanh at the end.
//! Discriminator: strided convolutions 64 (or 32) → … → 4, batch norm from
//! the second layer on, LeakyReLU 0.2, and a last 4×4 convolution to one
//! logit per image (no sigmoid: the loss takes logits).
//!
//! Init as the paper: convolution weights N(0, 0.02), batch-norm weights
//! N(1, 0.02), biases 0 (the convolutions have none).
//!
//! Class-conditional pair ([`Generator::conditional`],
//! [`Discriminator::conditional`]): G embeds the label (`label_embed.weight`,
//! classes × classes, N(0, 1) as `torch.nn.Embedding`) and joins it to the
//! noise, `main.0` taking nz + classes input channels, as
//! `main(torch.cat([z, label_embed(y)], 1))` would. D is a projection
//! discriminator (Miyato & Koyama 2018): logit = main(x) + ⟨label_embed(y),
//! Σ_{4×4} φ(x)⟩, φ(x) the features before the last convolution, summed over
//! their 4×4 positions, `label_embed.weight` (classes × ndf·m) N(0, 0.02).
//! Projection rather than channel concatenation because it keeps D's
//! `main.*` exactly the unconditional one (same names and shapes), costs one
//! product and sum instead of `classes` extra input planes at full
//! resolution, and conditions D where its verdict is formed, which Miyato &
//! Koyama found trains better than concatenating at the input. The join
//! composes existing taped ops: the concatenation is z·[I 0] + e·[0 I] with
//! two constant selection matrices (matmul, add), the projection a product,
//! reshape and two sums: no new kernel.

use rand::Rng;

use super::batchnorm::BatchNorm2d;
use super::conv::{Conv2d, ConvTranspose2d};
use super::embedding::Embedding;
use super::Module;
use crate::autograd::{self, Var};
use crate::ops::{Activation, BinaryOp, ReduceOp};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::UnaryOp;
use crate::tensor::Tensor;

/// Sizes of a DCGAN pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcganConfig {
    /// Image side: 32 or 64.
    pub image_size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Noise dimension (100 in the paper).
    pub nz: usize,
    /// Generator width (feature maps of its last hidden layer).
    pub ngf: usize,
    /// Discriminator width (feature maps of its first layer).
    pub ndf: usize,
}

impl Default for DcganConfig {
    fn default() -> Self {
        DcganConfig {
            image_size: 64,
            channels: 3,
            nz: 100,
            ngf: 64,
            ndf: 64,
        }
    }
}

impl DcganConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.image_size != 32 && self.image_size != 64 {
            return Err(Error::InvalidArgument(format!(
                "dcgan: image size must be 32 or 64, got {}",
                self.image_size
            )));
        }
        if self.channels != 1 && self.channels != 3 {
            return Err(Error::InvalidArgument(format!(
                "dcgan: channels must be 1 or 3, got {}",
                self.channels
            )));
        }
        if self.nz == 0 || self.ngf == 0 || self.ndf == 0 {
            return Err(Error::InvalidArgument(format!(
                "dcgan: nz ({}), ngf ({}) and ndf ({}) must be at least 1",
                self.nz, self.ngf, self.ndf
            )));
        }
        Ok(())
    }

    /// Width multipliers of the hidden layers, widest first: 8,4,2,1 (64×64)
    /// or 4,2,1 (32×32).
    fn multipliers(&self) -> Vec<usize> {
        if self.image_size == 64 {
            vec![8, 4, 2, 1]
        } else {
            vec![4, 2, 1]
        }
    }
}

/// One entry of a `main` Sequential; its index is its position.
enum Layer {
    Conv(Conv2d),
    ConvT(ConvTranspose2d),
    Bn(BatchNorm2d),
    Relu,
    LeakyRelu,
    Tanh,
}

/// The layers of `torch.nn.Sequential` named `main`.
struct Sequential(Vec<Layer>);

/// `layers` applied in order.
fn run_layers(layers: &[Layer], x: &Var) -> Result<Var> {
    let mut h = x.clone();
    for layer in layers {
        h = match layer {
            Layer::Conv(c) => c.forward(&h)?,
            Layer::ConvT(c) => c.forward(&h)?,
            Layer::Bn(b) => b.forward(&h)?,
            Layer::Relu => autograd::unary(&h, UnaryOp::Relu)?,
            Layer::LeakyRelu => autograd::unary(&h, UnaryOp::LeakyRelu(0.2))?,
            Layer::Tanh => autograd::unary(&h, UnaryOp::Tanh)?,
        };
    }
    Ok(h)
}

impl Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        run_layers(&self.0, x)
    }

    /// The features before the last layer, and the last layer's output.
    fn forward_split(&self, x: &Var) -> Result<(Var, Var)> {
        let (last, body) = self.0.split_last().expect("a DCGAN net has layers");
        let h = run_layers(body, x)?;
        let y = run_layers(std::slice::from_ref(last), &h)?;
        Ok((h, y))
    }

    fn parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, layer) in self.0.iter().enumerate() {
            let params = match layer {
                Layer::Conv(c) => c.parameters(),
                Layer::ConvT(c) => c.parameters(),
                Layer::Bn(b) => b.parameters(),
                _ => continue,
            };
            out.extend(super::prefixed(&format!("main.{i}"), params));
        }
        out
    }

    fn buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, layer) in self.0.iter().enumerate() {
            if let Layer::Bn(b) = layer {
                for (n, t) in b.buffers() {
                    out.push((format!("main.{i}.{n}"), t));
                }
            }
        }
        out
    }

    fn set_training(&self, training: bool) {
        for layer in &self.0 {
            if let Layer::Bn(b) = layer {
                b.set_training(training);
            }
        }
    }

    /// DCGAN init of every convolution and batch norm.
    fn dcgan_init(&self, rng: &mut impl Rng) -> Result<()> {
        for layer in &self.0 {
            match layer {
                Layer::Conv(c) => {
                    normal_into(&c.weight, 0.0, 0.02, rng)?;
                    zero_bias(c.bias.as_ref())?;
                }
                Layer::ConvT(c) => {
                    normal_into(&c.weight, 0.0, 0.02, rng)?;
                    zero_bias(c.bias.as_ref())?;
                }
                Layer::Bn(b) => {
                    normal_into(&b.weight, 1.0, 0.02, rng)?;
                    zero_bias(Some(&b.bias))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Writes N(mean, std) values into a parameter (Box–Muller).
fn normal_into(v: &Var, mean: f32, std: f32, rng: &mut impl Rng) -> Result<()> {
    let n = v.value().numel();
    let data: Vec<f32> = (0..n).map(|_| mean + std * standard_normal(rng)).collect();
    v.value().write(&data)
}

fn zero_bias(b: Option<&Var>) -> Result<()> {
    match b {
        Some(b) => b.value().write(&vec![0.0; b.value().numel()]),
        None => Ok(()),
    }
}

pub use crate::sampling::standard_normal;

/// Labels (N,) as an I32 tensor for an [`Embedding`], each checked below `classes`.
pub fn label_tensor(ctx: &Context, labels: &[u32], classes: usize) -> Result<Tensor> {
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
        return Err(Error::InvalidArgument(format!("dcgan: label {bad} out of range for {classes} classes")));
    }
    let v: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
    Tensor::from_i32(ctx, &v, &[labels.len()])
}

/// Checks that `labels` is (n,) for a conditional net, or absent for an
/// unconditional one.
fn check_labels(who: &str, classes: usize, labels: Option<&Tensor>, n: usize) -> Result<()> {
    match (classes, labels) {
        (0, None) => Ok(()),
        (0, Some(_)) => Err(Error::InvalidArgument(format!("{who}: labels given to an unconditional net"))),
        (k, None) => Err(Error::InvalidArgument(format!("{who}: a conditional net ({k} classes) needs labels"))),
        (_, Some(l)) if l.shape() != [n] => {
            Err(Error::invalid_shape(who, format!("labels must be ({n},), got {:?}", l.shape())))
        }
        _ => Ok(()),
    }
}

/// The constant (rows, cols) matrix with ones at (r, offset + r): it
/// places a row vector of `rows` values at columns offset.. of `cols`.
fn selection(ctx: &Context, rows: usize, cols: usize, offset: usize) -> Result<Var> {
    let mut m = vec![0.0f32; rows * cols];
    for r in 0..rows {
        m[r * cols + offset + r] = 1.0;
    }
    Ok(Var::constant(Tensor::from_slice(ctx, &m, &[rows, cols])?))
}

/// G's label embedding and the two selection matrices that concatenate
/// [z, embed(y)].
struct LabelJoin {
    embed: Embedding,
    take_z: Var,
    take_e: Var,
}

/// The DCGAN generator.
pub struct Generator {
    main: Sequential,
    /// Its sizes.
    pub config: DcganConfig,
    join: Option<LabelJoin>,
}

impl Generator {
    /// A generator with DCGAN init.
    pub fn new(ctx: &Context, config: DcganConfig, rng: &mut impl Rng) -> Result<Generator> {
        Self::build(ctx, config, 0, rng)
    }

    /// A class-conditional generator for `classes` classes (at least 2):
    /// `label_embed` (classes × classes) joined to the noise.
    pub fn conditional(ctx: &Context, config: DcganConfig, classes: usize, rng: &mut impl Rng) -> Result<Generator> {
        if classes < 2 {
            return Err(Error::InvalidArgument(format!("dcgan: a conditional generator needs at least 2 classes, got {classes}")));
        }
        Self::build(ctx, config, classes, rng)
    }

    fn build(ctx: &Context, config: DcganConfig, classes: usize, rng: &mut impl Rng) -> Result<Generator> {
        config.validate()?;
        let mults = config.multipliers();
        let mut layers = Vec::new();
        let mut in_ch = config.nz + classes;
        for (i, &m) in mults.iter().enumerate() {
            let out_ch = config.ngf * m;
            // The first layer maps 1×1 to 4×4 (stride 1, no padding); the
            // others double the side (kernel 4, stride 2, padding 1).
            let (stride, padding) = if i == 0 { (1, 0) } else { (2, 1) };
            layers.push(Layer::ConvT(ConvTranspose2d::new(
                ctx, in_ch, out_ch, 4, stride, padding, 0, false, rng,
            )?));
            layers.push(Layer::Bn(BatchNorm2d::new(ctx, out_ch)?));
            layers.push(Layer::Relu);
            in_ch = out_ch;
        }
        layers.push(Layer::ConvT(ConvTranspose2d::new(
            ctx,
            in_ch,
            config.channels,
            4,
            2,
            1,
            0,
            false,
            rng,
        )?));
        layers.push(Layer::Tanh);
        let main = Sequential(layers);
        main.dcgan_init(rng)?;
        let join = if classes == 0 {
            None
        } else {
            let width = config.nz + classes;
            Some(LabelJoin {
                embed: Embedding::new(ctx, classes, classes, None, rng)?,
                take_z: selection(ctx, config.nz, width, 0)?,
                take_e: selection(ctx, classes, width, config.nz)?,
            })
        };
        Ok(Generator { main, config, join })
    }

    /// Classes of a conditional generator; 0 for an unconditional one.
    pub fn classes(&self) -> usize {
        self.join.as_ref().map_or(0, |j| j.embed.weight.shape()[0])
    }

    /// Images (N, C, S, S) in [-1, 1] from noise (N, nz) or (N, nz, 1, 1)
    /// (an unconditional generator).
    pub fn forward(&self, z: &Var) -> Result<Var> {
        self.forward_labelled(z, None)
    }

    /// Images for noise and, for a conditional generator, labels (N,)
    /// (I32 or U32, see [`label_tensor`]).
    pub fn forward_labelled(&self, z: &Var, labels: Option<&Tensor>) -> Result<Var> {
        let s = z.shape();
        let n = s[0];
        let ok = (s.len() == 2 && s[1] == self.config.nz)
            || (s.len() == 4 && s[1..] == [self.config.nz, 1, 1]);
        if !ok {
            return Err(Error::invalid_shape(
                "Generator",
                format!(
                    "noise must be (N, {nz}) or (N, {nz}, 1, 1), got {s:?}",
                    nz = self.config.nz
                ),
            ));
        }
        check_labels("Generator", self.classes(), labels, n)?;
        let input = match (&self.join, labels) {
            (Some(j), Some(y)) => {
                let z = autograd::reshape(z, &[n, self.config.nz])?;
                let e = j.embed.forward(y)?;
                let mm = |a: &Var, b: &Var| autograd::matmul(a, b, None, false, false, Activation::None);
                let joined = autograd::binary(&mm(&z, &j.take_z)?, &mm(&e, &j.take_e)?, BinaryOp::Add)?;
                autograd::reshape(&joined, &[n, self.config.nz + self.classes(), 1, 1])?
            }
            _ => autograd::reshape(z, &[n, self.config.nz, 1, 1])?,
        };
        self.main.forward(&input)
    }

    /// Batch norm in training mode (batch statistics) or evaluation mode
    /// (running statistics).
    pub fn set_training(&self, training: bool) {
        self.main.set_training(training);
    }
}

impl Module for Generator {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = self.main.parameters();
        if let Some(j) = &self.join {
            p.push(("label_embed.weight".into(), j.embed.weight.clone()));
        }
        p
    }

    /// Batch-norm running statistics (`main.1.running_mean`, …).
    fn buffers(&self) -> Vec<(String, Tensor)> {
        self.main.buffers()
    }
}

/// The DCGAN discriminator: one logit per image.
pub struct Discriminator {
    main: Sequential,
    /// Its sizes.
    pub config: DcganConfig,
    /// The projection's class embedding (classes × features), when conditional.
    label_embed: Option<Embedding>,
}

impl Discriminator {
    /// A discriminator with DCGAN init.
    pub fn new(ctx: &Context, config: DcganConfig, rng: &mut impl Rng) -> Result<Discriminator> {
        Self::build(ctx, config, 0, rng)
    }

    /// A projection discriminator for `classes` classes (at least 2).
    pub fn conditional(ctx: &Context, config: DcganConfig, classes: usize, rng: &mut impl Rng) -> Result<Discriminator> {
        if classes < 2 {
            return Err(Error::InvalidArgument(format!("dcgan: a conditional discriminator needs at least 2 classes, got {classes}")));
        }
        Self::build(ctx, config, classes, rng)
    }

    fn build(ctx: &Context, config: DcganConfig, classes: usize, rng: &mut impl Rng) -> Result<Discriminator> {
        config.validate()?;
        let mut mults = config.multipliers();
        mults.reverse();
        let mut layers = Vec::new();
        let mut in_ch = config.channels;
        for (i, &m) in mults.iter().enumerate() {
            let out_ch = config.ndf * m;
            layers.push(Layer::Conv(Conv2d::new(
                ctx, in_ch, out_ch, 4, 2, 1, false, rng,
            )?));
            // No batch norm on the first layer (the paper: not on D's input).
            if i > 0 {
                layers.push(Layer::Bn(BatchNorm2d::new(ctx, out_ch)?));
            }
            layers.push(Layer::LeakyRelu);
            in_ch = out_ch;
        }
        layers.push(Layer::Conv(Conv2d::new(
            ctx, in_ch, 1, 4, 1, 0, false, rng,
        )?));
        let main = Sequential(layers);
        main.dcgan_init(rng)?;
        let label_embed = if classes == 0 {
            None
        } else {
            let e = Embedding::new(ctx, classes, in_ch, None, rng)?;
            normal_into(&e.weight, 0.0, 0.02, rng)?;
            Some(e)
        };
        Ok(Discriminator { main, config, label_embed })
    }

    /// Classes of a projection discriminator; 0 for an unconditional one.
    pub fn classes(&self) -> usize {
        self.label_embed.as_ref().map_or(0, |e| e.weight.shape()[0])
    }

    /// Logits (N,) for images (N, C, S, S) (an unconditional discriminator).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_labelled(x, None)
    }

    /// Logits (N,) for images and, for a projection discriminator, their
    /// labels (N,): main(x) + ⟨label_embed(y), Σ_{h,w} φ(x)⟩.
    pub fn forward_labelled(&self, x: &Var, labels: Option<&Tensor>) -> Result<Var> {
        let c = &self.config;
        let s = x.shape();
        if s.len() != 4 || s[1..] != [c.channels, c.image_size, c.image_size] {
            return Err(Error::invalid_shape(
                "Discriminator",
                format!(
                    "images must be (N, {}, {}, {}), got {s:?}",
                    c.channels, c.image_size, c.image_size
                ),
            ));
        }
        let n = s[0];
        check_labels("Discriminator", self.classes(), labels, n)?;
        let (Some(embed), Some(y)) = (&self.label_embed, labels) else {
            let y = self.main.forward(x)?;
            return autograd::reshape(&y, &[n]);
        };
        let (phi, out) = self.main.forward_split(x)?;
        let (f, hw) = (phi.shape()[1], phi.shape()[2] * phi.shape()[3]);
        let pooled = autograd::reduce(&autograd::reshape(&phi, &[n, f, hw])?, 2, ReduceOp::Sum, false)?;
        let inner = autograd::binary(&pooled, &embed.forward(y)?, BinaryOp::Mul)?;
        let projection = autograd::reduce(&inner, 1, ReduceOp::Sum, false)?;
        autograd::binary(&autograd::reshape(&out, &[n])?, &projection, BinaryOp::Add)
    }

    /// Batch norm in training or evaluation mode.
    pub fn set_training(&self, training: bool) {
        self.main.set_training(training);
    }
}

impl Module for Discriminator {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = self.main.parameters();
        if let Some(e) = &self.label_embed {
            p.push(("label_embed.weight".into(), e.weight.clone()));
        }
        p
    }

    /// Batch-norm running statistics (`main.3.running_mean`, …).
    fn buffers(&self) -> Vec<(String, Tensor)> {
        self.main.buffers()
    }
}

/// Freezes (true) or unfreezes every parameter of a module.
pub fn set_frozen(module: &dyn Module, frozen: bool) -> Result<()> {
    for (_, p) in module.parameters() {
        p.set_frozen(frozen)?;
    }
    Ok(())
}
