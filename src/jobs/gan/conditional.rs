//! Sampling a class-conditional generator: images of one class, and the
//! class grid (one row per class).
//!
//! G's batch norm uses the batch's statistics (as in training), so a batch
//! of a single class would be normalised unlike any training batch (whose
//! classes are mixed). Images of one class are therefore drawn from a
//! class-balanced batch (the classes in turn) and the wanted ones kept.

use rand::Rng;

use super::trainer::{cycled_labels, generate_labelled, uniform_noise};
use crate::error::{Error, Result};
use crate::nn::dcgan::{label_tensor, Generator};
use crate::{Context, Tensor};

/// The label of `class`, given by number (`3`) or by name (`Sandal`, case
/// insensitive) among `names`.
pub fn resolve_class(names: &[String], class: &str) -> Result<u32> {
    if names.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "--class {class}: the checkpoint is unconditional (train with --conditional to sample by class)"
        )));
    }
    if let Ok(k) = class.parse::<usize>() {
        if k < names.len() {
            return Ok(k as u32);
        }
    }
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(class))
        .map(|k| k as u32)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "--class {class}: not a class of this checkpoint (0..{} or one of: {})",
                names.len() - 1,
                names.join(", ")
            ))
        })
}

/// `n` images (n, C, S, S) of class `class` from a conditional generator,
/// drawn from a class-balanced batch of n × classes.
pub fn sample_class(ctx: &Context, g: &Generator, n: usize, class: u32, rng: &mut impl Rng) -> Result<Vec<f32>> {
    let k = g.classes();
    if k == 0 || class as usize >= k {
        return Err(Error::InvalidArgument(format!("sample: class {class} of a generator with {k} classes")));
    }
    let total = n * k;
    let nz = g.config.nz;
    let noise = Tensor::from_slice(ctx, &uniform_noise(total, nz, rng), &[total, nz])?;
    let images = generate_labelled(g, &noise, Some(&cycled_labels(ctx, total, k)?))?;
    let per = images.len() / total;
    Ok((0..n).flat_map(|i| images[(i * k + class as usize) * per..][..per].to_vec()).collect())
}

/// The class grid: `per_row` images of each class, row r of class r, as
/// (classes × per_row, C, S, S).
pub fn class_grid(ctx: &Context, g: &Generator, per_row: usize, rng: &mut impl Rng) -> Result<Vec<f32>> {
    let k = g.classes();
    if k == 0 || per_row == 0 {
        return Err(Error::InvalidArgument(format!("class grid: {k} classes, {per_row} a row")));
    }
    let total = per_row * k;
    let nz = g.config.nz;
    let noise = Tensor::from_slice(ctx, &uniform_noise(total, nz, rng), &[total, nz])?;
    let rows: Vec<u32> = (0..total).map(|i| (i / per_row) as u32).collect();
    generate_labelled(g, &noise, Some(&label_tensor(ctx, &rows, k)?))
}
