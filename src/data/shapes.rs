//! A built-in labelled image set that needs no files: one coloured shape
//! (disc, square, triangle, plus, ring) per image on a plain background,
//! with random position near the centre, size, colour and background
//! colour. Every image is
//! a pure function of (seed, index), so the set is endless, needs no
//! memory and is the same on every machine.
//!
//! Pixels are in [-1, 1] (what a tanh generator produces), laid out
//! (C, H, W) per image; a batch is (N, C, H, W) as PyTorch's convolutions
//! take it. With one channel the shape and background are grey at the
//! colours' HSV values: bright shapes on dark backgrounds.

use rand::{Rng, SeedableRng};

use crate::error::{Error, Result};

/// The shape classes, in label order.
pub const CLASS_NAMES: [&str; 5] = ["disc", "square", "triangle", "plus", "ring"];

/// Number of classes.
pub const NUM_CLASSES: usize = CLASS_NAMES.len();

/// The procedural shapes data set.
#[derive(Clone, Copy, Debug)]
pub struct Shapes {
    /// Side length in pixels (8 … 256).
    pub size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Picks which images the indices map to.
    pub seed: u64,
}

/// Anti-aliasing: each pixel averages SS×SS sub-samples.
const SS: usize = 3;

impl Shapes {
    /// A data set of `size`×`size` images with 1 or 3 channels.
    pub fn new(size: usize, channels: usize, seed: u64) -> Result<Shapes> {
        if !(8..=256).contains(&size) {
            return Err(Error::InvalidArgument(format!(
                "shapes: image size must be 8..=256, got {size}"
            )));
        }
        if channels != 1 && channels != 3 {
            return Err(Error::InvalidArgument(format!(
                "shapes: channels must be 1 or 3, got {channels}"
            )));
        }
        Ok(Shapes {
            size,
            channels,
            seed,
        })
    }

    /// Values per image (C·H·W).
    pub fn image_len(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// The label of image `index`: classes take turns, so any run of
    /// consecutive indices is balanced.
    pub fn label(&self, index: u64) -> usize {
        (index % NUM_CLASSES as u64) as usize
    }

    /// Image `index` (C, H, W) in [-1, 1] and its label.
    pub fn image(&self, index: u64) -> (Vec<f32>, usize) {
        let label = self.label(index);
        let mut rng = rand::rngs::StdRng::seed_from_u64(mix(self.seed, index));
        let s = self.size as f32;
        // Size and position vary, within a band around the centre: the
        // classes differ by outline, which a small GAN learns in minutes
        // when it need not also learn to place shapes anywhere.
        let radius = rng.random_range(0.26..0.38) * s;
        let jitter = (0.5 * s - radius - 1.0).clamp(0.0, 0.12 * s);
        let cx = 0.5 * s + rng.random_range(-1.0f32..1.0) * jitter;
        let cy = 0.5 * s + rng.random_range(-1.0f32..1.0) * jitter;
        // Bright saturated shape on a dark, greyish background. Every
        // component is drawn whatever the channel count, so an image's
        // geometry is the same in grey and in colour.
        let (fh, fs, fv) = (rng.random_range(0.0..1.0), rng.random_range(0.55..1.0), rng.random_range(0.8..1.0));
        let (bh, bs, bv) = (rng.random_range(0.0..1.0), rng.random_range(0.0..0.5), rng.random_range(0.05..0.35));
        // Grey images take the HSV value as the grey level: a saturated blue
        // shape would otherwise have the luminance of its background, and
        // the shape, not its hue, is what the classes are about.
        let (fg, bg) = if self.channels == 1 { ([fv; 3], [bv; 3]) } else { (hsv(fh, fs, fv), hsv(bh, bs, bv)) };
        let n = self.size;
        let mut rgb = vec![[0f32; 3]; n * n];
        for py in 0..n {
            for px in 0..n {
                let mut cover = 0usize;
                for sy in 0..SS {
                    for sx in 0..SS {
                        let x = px as f32 + (sx as f32 + 0.5) / SS as f32 - cx;
                        let y = py as f32 + (sy as f32 + 0.5) / SS as f32 - cy;
                        cover += inside(label, x / radius, y / radius) as usize;
                    }
                }
                let a = cover as f32 / (SS * SS) as f32;
                for c in 0..3 {
                    rgb[py * n + px][c] = a * fg[c] + (1.0 - a) * bg[c];
                }
            }
        }
        let mut out = vec![0f32; self.image_len()];
        for (i, p) in rgb.iter().enumerate() {
            if self.channels == 1 {
                out[i] = p[0] * 2.0 - 1.0;
            } else {
                for c in 0..3 {
                    out[c * n * n + i] = p[c] * 2.0 - 1.0;
                }
            }
        }
        (out, label)
    }

    /// Images `start .. start + n` as one (n, C, H, W) block and their labels.
    pub fn batch(&self, start: u64, n: usize) -> (Vec<f32>, Vec<usize>) {
        let mut data = Vec::with_capacity(n * self.image_len());
        let mut labels = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let (img, label) = self.image(start + i);
            data.extend_from_slice(&img);
            labels.push(label);
        }
        (data, labels)
    }
}

/// Whether (x, y), in units of the shape's radius around its centre, lies
/// inside shape `label`.
fn inside(label: usize, x: f32, y: f32) -> bool {
    match label {
        0 => x * x + y * y <= 1.0,
        1 => x.abs() <= 0.8 && y.abs() <= 0.8,
        // Upward triangle with its apex at y = -1 and base at y = 0.8.
        2 => (-1.0..=0.8).contains(&y) && x.abs() <= (y + 1.0) / 1.8 * 0.95,
        3 => (x.abs() <= 0.3 && y.abs() <= 1.0) || (y.abs() <= 0.3 && x.abs() <= 1.0),
        _ => {
            let r2 = x * x + y * y;
            (0.36..=1.0).contains(&r2)
        }
    }
}

/// A seed per (data-set seed, index) that differs in many bits for
/// neighbouring indices (splitmix64's finaliser).
fn mix(seed: u64, index: u64) -> u64 {
    let mut z =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// HSV (each in [0, 1]) to RGB in [0, 1].
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = (h.fract() * 6.0).min(5.999);
    let i = h6.floor() as usize;
    let f = h6 - i as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}
