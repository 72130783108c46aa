//! A DCGAN run's whole state in one safetensors file, written kill-safely:
//! both nets under `netG.` / `netD.` with PyTorch DCGAN `state_dict` names
//! (`netG.main.0.weight`, `netG.main.1.running_mean`), both Adam states
//! under `optimG.` / `optimD.`, the fixed sample noise, and the history of
//! logged numbers (iterations, 4); metadata holds the iteration count, the
//! step counts, the model sizes and the seed. A conditional run adds
//! `netG.label_embed.weight` / `netD.label_embed.weight` and the metadata
//! `conditional` ("true"), `classes` (the count) and `class_names` (a JSON
//! list); a checkpoint without them is unconditional, as those written
//! before conditioning existed.

use std::collections::HashMap;
use std::path::Path;

use super::trainer::{GanTrainer, IterStats};
use crate::error::{Error, Result};
use crate::io::parameters::{check_parameters, load_parameters, load_parameters_from, Scope};
use crate::io::safetensors::{self, Checkpoint};
use crate::nn::dcgan::{DcganConfig, Generator};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::{Context, Tensor};

/// Named tensors of a generator: parameters then batch-norm buffers.
fn generator_state(g: &Generator) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = g
        .parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().clone()))
        .collect();
    v.extend(g.buffers());
    v
}

fn prefixed(prefix: &str, v: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    v.into_iter()
        .map(|(n, t)| (format!("{prefix}{n}"), t))
        .collect()
}

/// Model sizes as metadata strings.
fn config_meta(m: &DcganConfig) -> Vec<(&'static str, String)> {
    vec![
        ("image_size", m.image_size.to_string()),
        ("channels", m.channels.to_string()),
        ("nz", m.nz.to_string()),
        ("ngf", m.ngf.to_string()),
        ("ndf", m.ndf.to_string()),
    ]
}

/// The model sizes a checkpoint was written with.
pub fn config_from_meta(path: &Path, meta: &HashMap<String, String>) -> Result<DcganConfig> {
    let get = |k: &str| -> Result<usize> {
        meta.get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                Error::checkpoint(
                    path,
                    format!("metadata `{k}` missing or not a number: not a kairo DCGAN checkpoint"),
                )
            })
    };
    Ok(DcganConfig {
        image_size: get("image_size")?,
        channels: get("channels")?,
        nz: get("nz")?,
        ngf: get("ngf")?,
        ndf: get("ndf")?,
    })
}

/// The class names of a conditional checkpoint (label order); empty for
/// an unconditional one (no `conditional` key, or "false").
pub fn classes_from_meta(path: &Path, meta: &HashMap<String, String>) -> Result<Vec<String>> {
    if meta.get("conditional").map(String::as_str) != Some("true") {
        return Ok(Vec::new());
    }
    let k: usize = meta
        .get("classes")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::checkpoint(path, "conditional, but metadata `classes` missing or not a number"))?;
    let names: Vec<String> = match meta.get("class_names") {
        Some(j) => serde_json::from_str(j).map_err(|e| Error::checkpoint(path, format!("metadata `class_names` is not a JSON list of strings: {e}")))?,
        None => (0..k).map(|c| c.to_string()).collect(),
    };
    if names.len() != k || k < 2 {
        return Err(Error::checkpoint(path, format!("metadata says {k} classes but names {} (at least 2 needed)", names.len())));
    }
    Ok(names)
}

/// Saves the trainer's whole state to `path` (tmp + rename).
pub fn save(trainer: &GanTrainer, path: &Path) -> Result<()> {
    let (named, meta) = contents(trainer)?;
    let meta_refs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    safetensors::save(path, &refs(&named), &meta_refs)
}

/// The file [`save`] writes, as bytes (a browser's download).
pub async fn to_bytes(trainer: &GanTrainer) -> Result<Vec<u8>> {
    let (named, meta) = contents(trainer)?;
    let meta_refs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    safetensors::to_bytes(Path::new("kairo-gan.safetensors"), &refs(&named), &meta_refs).await
}

/// A checkpoint's named tensors and metadata strings.
type Contents = (Vec<(String, Tensor)>, Vec<(&'static str, String)>);

/// Every tensor and metadata string of a trainer's checkpoint.
fn contents(t: &GanTrainer) -> Result<Contents> {
    let mut named = prefixed("netG.", generator_state(&t.generator));
    named.extend(prefixed("netD.", discriminator_state(t)));
    named.extend(prefixed("optimG.", t.opt_g.state()?));
    named.extend(prefixed("optimD.", t.opt_d.state()?));
    named.push(("fixed_noise".into(), t.fixed_noise.clone()));
    if !t.history.is_empty() {
        let h: Vec<f32> = t.history.iter().flat_map(|s| [s.loss_d, s.loss_g, s.d_x, s.d_g_z]).collect();
        named.push(("history".into(), Tensor::from_slice(&t.ctx, &h, &[t.history.len(), 4])?));
    }
    let mut meta: Vec<(&str, String)> = config_meta(&t.config.model);
    meta.push(("format", "kairo-dcgan-1".into()));
    meta.push(("iteration", t.iteration.to_string()));
    meta.push(("optimG.step_count", t.opt_g.step_count().to_string()));
    meta.push(("optimD.step_count", t.opt_d.step_count().to_string()));
    meta.push(("seed", t.config.seed.to_string()));
    if t.config.conditional {
        meta.push(("conditional", "true".into()));
        meta.push(("classes", t.class_names.len().to_string()));
        meta.push(("class_names", serde_json::to_string(&t.class_names).expect("strings serialise")));
    }
    Ok((named, meta))
}

/// (name, tensor) pairs as the strict loader takes them.
fn refs(targets: &[(String, Tensor)]) -> Vec<(&str, &Tensor)> {
    targets.iter().map(|(n, t)| (n.as_str(), t)).collect()
}

/// Named tensors of a discriminator: parameters then batch-norm buffers.
fn discriminator_state(trainer: &GanTrainer) -> Vec<(String, Tensor)> {
    let mut d: Vec<(String, Tensor)> = trainer
        .discriminator
        .parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().clone()))
        .collect();
    d.extend(trainer.discriminator.buffers());
    d
}

/// An optimiser's state and step count from `prefix`.
fn load_optimizer(
    path: &Path,
    ckpt: &Checkpoint,
    prefix: &str,
    opt: &mut dyn Optimizer,
) -> Result<()> {
    let state: Vec<(String, Tensor)> = ckpt
        .tensors
        .iter()
        .filter_map(|(n, t)| n.strip_prefix(prefix).map(|s| (s.to_string(), t.clone())))
        .collect();
    let key = format!("{prefix}step_count");
    let steps = ckpt
        .metadata
        .get(&key)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::checkpoint(path, format!("metadata `{key}` missing or not a number")))?;
    opt.load_state(&state)?;
    opt.set_step_count(steps);
    Ok(())
}

/// Restores a trainer (built with the same model sizes) from `path`:
/// nets, batch-norm buffers, optimisers, fixed noise, iteration, history.
pub fn load(trainer: &mut GanTrainer, path: &Path) -> Result<()> {
    let ckpt = safetensors::load(&trainer.ctx, path)?;
    let want = trainer.config.model;
    let have = config_from_meta(path, &ckpt.metadata)?;
    if have != want {
        return Err(Error::checkpoint(
            path,
            format!("written for {have:?}, but this run is configured for {want:?}"),
        ));
    }
    let classes = classes_from_meta(path, &ckpt.metadata)?;
    if classes.len() != trainer.class_names.len() {
        let say = |k: usize| if k == 0 { "unconditional".to_string() } else { format!("conditional on {k} classes") };
        return Err(Error::checkpoint(
            path,
            format!("written {}, but this run is {}", say(classes.len()), say(trainer.class_names.len())),
        ));
    }
    let iteration: u64 = ckpt
        .metadata
        .get("iteration")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::checkpoint(path, "metadata `iteration` missing or not a number"))?;
    let (g, d) = (generator_state(&trainer.generator), discriminator_state(trainer));
    // Both nets checked before either is written.
    check_parameters(path, Scope::prefix("netG."), &refs(&g))?;
    check_parameters(path, Scope::prefix("netD."), &refs(&d))?;
    load_parameters(path, Scope::prefix("netG."), &refs(&g))?;
    load_parameters(path, Scope::prefix("netD."), &refs(&d))?;
    match ckpt.get("fixed_noise") {
        Some(src) if src.shape() == trainer.fixed_noise.shape() => {
            trainer.fixed_noise.deep_copy_from(src)?
        }
        other => {
            return Err(Error::checkpoint(
                path,
                format!(
                    "`fixed_noise` {:?}, this run wants {:?}",
                    other.map(|t| t.shape().to_vec()),
                    trainer.fixed_noise.shape()
                ),
            ))
        }
    }
    load_optimizer(path, &ckpt, "optimG.", &mut trainer.opt_g)?;
    load_optimizer(path, &ckpt, "optimD.", &mut trainer.opt_d)?;
    trainer.history = match ckpt.get("history") {
        Some(h) => h
            .to_vec()?
            .chunks(4)
            .map(|c| IterStats {
                loss_d: c[0],
                loss_g: c[1],
                d_x: c[2],
                d_g_z: c[3],
            })
            .collect(),
        None => Vec::new(),
    };
    trainer.iteration = iteration;
    Ok(())
}

/// A generator (and its sizes) from a checkpoint, for sampling.
pub fn load_generator(ctx: &Context, path: &Path) -> Result<Generator> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    generator_from_bytes(ctx, path, &bytes)
}

/// [`load_generator`] from a file's bytes already in memory (a browser's
/// file picker); `path` names them in errors.
pub fn generator_from_bytes(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<Generator> {
    Ok(labelled_generator_from_bytes(ctx, path, bytes)?.0)
}

/// A generator and its class names (empty when unconditional) from a
/// checkpoint, for sampling by class.
pub fn load_labelled_generator(ctx: &Context, path: &Path) -> Result<(Generator, Vec<String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    labelled_generator_from_bytes(ctx, path, &bytes)
}

fn labelled_generator_from_bytes(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<(Generator, Vec<String>)> {
    let ckpt = safetensors::load_from(ctx, path, bytes)?;
    let config = config_from_meta(path, &ckpt.metadata)?;
    let classes = classes_from_meta(path, &ckpt.metadata)?;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let g = if classes.is_empty() {
        Generator::new(ctx, config, &mut rng)?
    } else {
        Generator::conditional(ctx, config, classes.len(), &mut rng)?
    };
    load_parameters_from(path, bytes, Scope::prefix("netG."), &refs(&generator_state(&g)))?;
    Ok((g, classes))
}

/// With `--resume`: the run's checkpoint at `path` exists, reads, was
/// written for the model `want` and says how far it got; checked before
/// any data, judge or trainer is built. Returns its iteration.
pub fn check_resume(ctx: &Context, path: &Path, want: &DcganConfig) -> Result<u64> {
    if !path.is_file() {
        return Err(Error::checkpoint(path, "--resume: no checkpoint there (train without --resume first)"));
    }
    let ckpt = safetensors::load(ctx, path)?;
    let have = config_from_meta(path, &ckpt.metadata)?;
    if &have != want {
        return Err(Error::checkpoint(path, format!("written for {have:?}, but this run is configured for {want:?}")));
    }
    ckpt.metadata
        .get("iteration")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::checkpoint(path, "metadata `iteration` missing or not a number"))
}
