//! Speech checkpoints: `io::training` files (model + Adam state) whose
//! metadata hold the model's configuration, the epochs done and the
//! alphabet, so [`load_model`] rebuilds the recogniser from the file alone.

use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;

use crate::error::{Error, Result};
use crate::io::parameters::load_parameters;
use crate::io::training::{model_scope, save_training};
use crate::nn::Module;
use crate::optim::Adam;
use crate::speech::model::{SpeechConfig, SpeechModel};
use crate::speech::text;
use crate::{Context, Tensor};

/// Writes the model, the optimiser and the metadata after `epochs` epochs, kill-safely.
pub fn save(path: &Path, model: &SpeechModel, opt: &Adam, config: &SpeechConfig, epochs: usize) -> Result<()> {
    let config = serde_json::to_string(config).expect("config serialises");
    let e = epochs.to_string();
    save_training(path, model, opt, &[("speech_config", &config), ("epoch", &e), ("alphabet", text::ALPHABET_NAME)])
}

pub(crate) fn check_config(path: &Path, meta: &HashMap<String, String>, want: &SpeechConfig) -> Result<()> {
    let saved = config_from_meta(path, meta)?;
    if &saved != want {
        return Err(Error::checkpoint(path, format!("saved model {saved:?} differs from the requested {want:?}")));
    }
    Ok(())
}

fn config_from_meta(path: &Path, meta: &HashMap<String, String>) -> Result<SpeechConfig> {
    let problem = |p: String| Error::checkpoint(path, p);
    let text = meta.get("speech_config").ok_or_else(|| problem("no speech_config in the metadata: not a speech checkpoint".into()))?;
    serde_json::from_str(text).map_err(|e| problem(format!("speech_config is not valid: {e}")))
}

/// Rebuilds the model a checkpoint holds (its configuration is in the
/// metadata) with its parameters, loaded strictly.
pub fn load_model(ctx: &Context, path: &Path) -> Result<SpeechModel> {
    let ckpt = crate::io::safetensors::load(ctx, path)?;
    let config = config_from_meta(path, &ckpt.metadata)?;
    let model = SpeechModel::new(ctx, &config, &mut rand::rngs::StdRng::seed_from_u64(0))?;
    let params = model.parameters();
    let targets: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
    load_parameters(path, model_scope(), &targets)?;
    Ok(model)
}
