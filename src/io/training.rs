//! A training run's whole state in one safetensors file: the model's
//! parameters under their state_dict names, the optimiser's state under
//! `optim.`, its step count and the caller's metadata. Saved kill-safely
//! (see `safetensors::save`); loaded strictly.

use std::collections::HashMap;
use std::path::Path;

use super::parameters::{check_parameters, load_parameters, Scope};
use super::safetensors;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::{Context, Tensor};

const OPTIM_PREFIX: &str = "optim.";
const STEP_KEY: &str = "optim.step_count";

/// Saves `module`'s parameters and `opt`'s state (plus `metadata`) to `path`.
pub fn save_training(path: &Path, module: &dyn Module, opt: &dyn Optimizer, metadata: &[(&str, &str)]) -> Result<()> {
    let (named, steps) = training_state(module, opt)?;
    let (refs, meta) = (refs(&named), with_steps(metadata, &steps));
    safetensors::save(path, &refs, &meta)
}

/// The file [`save_training`] writes, as bytes (a browser's download);
/// `name` stands for the file in errors.
pub async fn training_bytes(name: &Path, module: &dyn Module, opt: &dyn Optimizer, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let (named, steps) = training_state(module, opt)?;
    let (refs, meta) = (refs(&named), with_steps(metadata, &steps));
    safetensors::to_bytes(name, &refs, &meta).await
}

/// The model's and the optimiser's tensors under their file names, and the step count.
fn training_state(module: &dyn Module, opt: &dyn Optimizer) -> Result<(Vec<(String, Tensor)>, String)> {
    let mut named: Vec<(String, Tensor)> = module.parameters().into_iter().map(|(n, v)| (n, v.value().clone())).collect();
    named.extend(opt.state()?.into_iter().map(|(n, t)| (format!("{OPTIM_PREFIX}{n}"), t)));
    Ok((named, opt.step_count().to_string()))
}

fn refs(named: &[(String, Tensor)]) -> Vec<(&str, &Tensor)> {
    named.iter().map(|(n, t)| (n.as_str(), t)).collect()
}

fn with_steps<'a>(metadata: &[(&'a str, &'a str)], steps: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut meta = metadata.to_vec();
    meta.push((STEP_KEY, steps));
    meta
}

/// Restores what `save_training` wrote into `module` and `opt`; returns the
/// caller's metadata. Strict, as PyTorch's `load_state_dict`: the file's
/// model tensors and the module's parameters must match one to one in name,
/// shape and dtype ([`load_parameters`]), checked before anything is written.
pub fn load_training(ctx: &Context, path: &Path, module: &dyn Module, opt: &mut dyn Optimizer) -> Result<HashMap<String, String>> {
    let ckpt = safetensors::load(ctx, path)?;
    let params = module.parameters();
    let targets: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
    let scope = model_scope();
    check_parameters(path, scope, &targets)?;
    let steps: u64 = match ckpt.metadata.get(STEP_KEY) {
        Some(s) => s.parse().map_err(|_| Error::checkpoint(path, format!("{STEP_KEY} is not a number: {s:?}")))?,
        None => return Err(Error::checkpoint(path, format!("no {STEP_KEY} in the metadata: not a training checkpoint"))),
    };
    let state: Vec<(String, Tensor)> = ckpt
        .tensors
        .iter()
        .filter_map(|(n, t)| n.strip_prefix(OPTIM_PREFIX).map(|s| (s.to_string(), t.clone())))
        .collect();
    opt.load_state(&state)?;
    opt.set_step_count(steps);
    load_parameters(path, scope, &targets)?;
    let mut meta = ckpt.metadata;
    meta.remove(STEP_KEY);
    Ok(meta)
}

/// The model's tensors in a training file: all but the optimiser's.
pub fn model_scope() -> Scope<'static> {
    Scope { prefix: "", except: &[OPTIM_PREFIX] }
}
