//! A training run's whole state in one safetensors file: the model's
//! parameters under their state_dict names, the optimiser's state under
//! `optim.`, its step count and the caller's metadata. Saved kill-safely
//! (see `safetensors::save`); loaded strictly.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::safetensors;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::{Context, Tensor};

const OPTIM_PREFIX: &str = "optim.";
const STEP_KEY: &str = "optim.step_count";

/// Saves `module`'s parameters and `opt`'s state (plus `metadata`) to `path`.
pub fn save_training(path: &Path, module: &dyn Module, opt: &dyn Optimizer, metadata: &[(&str, &str)]) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = module.parameters().into_iter().map(|(n, v)| (n, v.value().clone())).collect();
    named.extend(opt.state()?.into_iter().map(|(n, t)| (format!("{OPTIM_PREFIX}{n}"), t)));
    let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let steps = opt.step_count().to_string();
    let mut meta: Vec<(&str, &str)> = metadata.to_vec();
    meta.push((STEP_KEY, &steps));
    safetensors::save(path, &refs, &meta)
}

/// Restores what `save_training` wrote into `module` and `opt`; returns the
/// caller's metadata. Strict, as PyTorch's `load_state_dict`: the file's
/// model tensors and the module's parameters must match one to one in name,
/// shape and dtype, checked before anything is written.
pub fn load_training(ctx: &Context, path: &Path, module: &dyn Module, opt: &mut dyn Optimizer) -> Result<HashMap<String, String>> {
    let problem = |p: String| Error::Checkpoint { path: path.display().to_string(), problem: p };
    let ckpt = safetensors::load(ctx, path)?;
    let params = module.parameters();
    let in_file: BTreeSet<&str> =
        ckpt.tensors.iter().map(|(n, _)| n.as_str()).filter(|n| !n.starts_with(OPTIM_PREFIX)).collect();
    let in_model: BTreeSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    if in_file != in_model {
        let missing: Vec<_> = in_model.difference(&in_file).collect();
        let unexpected: Vec<_> = in_file.difference(&in_model).collect();
        return Err(problem(format!("model parameters differ: missing {missing:?}, unexpected {unexpected:?}")));
    }
    for (name, var) in &params {
        let src = ckpt.get(name).expect("checked above");
        if src.shape() != var.shape() || src.dtype() != var.value().dtype() {
            return Err(problem(format!(
                "`{name}`: file has {:?} {:?}, model has {:?} {:?}",
                src.shape(),
                src.dtype(),
                var.shape(),
                var.value().dtype()
            )));
        }
    }
    let steps: u64 = match ckpt.metadata.get(STEP_KEY) {
        Some(s) => s.parse().map_err(|_| problem(format!("{STEP_KEY} is not a number: {s:?}")))?,
        None => return Err(problem(format!("no {STEP_KEY} in the metadata: not a training checkpoint"))),
    };
    let state: Vec<(String, Tensor)> = ckpt
        .tensors
        .iter()
        .filter_map(|(n, t)| n.strip_prefix(OPTIM_PREFIX).map(|s| (s.to_string(), t.clone())))
        .collect();
    opt.load_state(&state)?;
    opt.set_step_count(steps);
    for (name, var) in &params {
        var.value().deep_copy_from(ckpt.get(name).expect("checked above"))?;
    }
    let mut meta = ckpt.metadata;
    meta.remove(STEP_KEY);
    Ok(meta)
}
