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

use rand::Rng;

use super::batchnorm::BatchNorm2d;
use super::conv::{Conv2d, ConvTranspose2d};
use super::Module;
use crate::autograd::{self, Var};
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

impl Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for layer in &self.0 {
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

/// The DCGAN generator.
pub struct Generator {
    main: Sequential,
    /// Its sizes.
    pub config: DcganConfig,
}

impl Generator {
    /// A generator with DCGAN init.
    pub fn new(ctx: &Context, config: DcganConfig, rng: &mut impl Rng) -> Result<Generator> {
        config.validate()?;
        let mults = config.multipliers();
        let mut layers = Vec::new();
        let mut in_ch = config.nz;
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
        Ok(Generator { main, config })
    }

    /// Images (N, C, S, S) in [-1, 1] from noise (N, nz) or (N, nz, 1, 1).
    pub fn forward(&self, z: &Var) -> Result<Var> {
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
        let z = autograd::reshape(z, &[n, self.config.nz, 1, 1])?;
        self.main.forward(&z)
    }

    /// Batch norm in training mode (batch statistics) or evaluation mode
    /// (running statistics).
    pub fn set_training(&self, training: bool) {
        self.main.set_training(training);
    }
}

impl Module for Generator {
    fn parameters(&self) -> Vec<(String, Var)> {
        self.main.parameters()
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
}

impl Discriminator {
    /// A discriminator with DCGAN init.
    pub fn new(ctx: &Context, config: DcganConfig, rng: &mut impl Rng) -> Result<Discriminator> {
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
        Ok(Discriminator { main, config })
    }

    /// Logits (N,) for images (N, C, S, S).
    pub fn forward(&self, x: &Var) -> Result<Var> {
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
        let y = self.main.forward(x)?;
        autograd::reshape(&y, &[s[0]])
    }

    /// Batch norm in training or evaluation mode.
    pub fn set_training(&self, training: bool) {
        self.main.set_training(training);
    }
}

impl Module for Discriminator {
    fn parameters(&self) -> Vec<(String, Var)> {
        self.main.parameters()
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
