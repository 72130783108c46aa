//! Character-model checkpoints: `io::training` files (model + optimiser)
//! whose metadata hold the vocabulary and the model's shape, so
//! [`CharModel::load`] rebuilds the model from the file alone.

use std::path::Path;

use rand::SeedableRng;

use super::model::{CharModel, CharShape};
use crate::data::text::Vocab;
use crate::error::{Error, Result};
use crate::io::parameters::load_parameters;
use crate::io::training::{load_training, model_scope};
use crate::nn::rnn::CellKind;
use crate::nn::Module;
use crate::optim::{Adam, Optimizer};
use crate::{Context, Tensor};

/// Metadata key that marks a character-model checkpoint.
const TASK_KEY: &str = "kairo.task";
const TASK: &str = "char-lm";

impl CharModel {
    /// What a checkpoint needs besides the tensors to rebuild the model.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (TASK_KEY.into(), TASK.into()),
            ("vocab".into(), self.vocab.to_json()),
            ("cell".into(), self.shape.cell.name().into()),
            ("embed".into(), self.shape.embed.to_string()),
            ("hidden".into(), self.shape.hidden.to_string()),
            ("layers".into(), self.shape.layers.to_string()),
        ]
    }

    /// Rebuilds a model from a checkpoint written by [`train_text`] (its
    /// optimiser state is ignored): the metadata give the vocabulary and
    /// sizes, then every parameter is read strictly by name, shape and dtype.
    pub fn load(ctx: &Context, path: &Path) -> Result<CharModel> {
        let problem = |p: String| Error::checkpoint(path, p);
        let ckpt = crate::io::safetensors::load(ctx, path)?;
        let meta = &ckpt.metadata;
        if meta.get(TASK_KEY).map(String::as_str) != Some(TASK) {
            return Err(problem(format!(
                "not a character-model checkpoint (no {TASK_KEY} = {TASK} in its metadata)"
            )));
        }
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| problem(format!("metadata lacks `{k}`")))
        };
        let num = |k: &str| -> Result<usize> {
            get(k)?
                .parse()
                .map_err(|_| problem(format!("metadata `{k}` is not a number")))
        };
        let vocab = Vocab::from_json(get("vocab")?).map_err(|e| problem(e.to_string()))?;
        let cell: CellKind = get("cell")?.parse().map_err(|e: Error| problem(format!("metadata `cell`: {e}")))?;
        let shape = CharShape {
            cell,
            embed: num("embed")?,
            hidden: num("hidden")?,
            layers: num("layers")?,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let model = CharModel::new(ctx, vocab, shape, 0.0, &mut rng)?;
        let params = model.parameters();
        let targets: Vec<(&str, &Tensor)> = params.iter().map(|(n, v)| (n.as_str(), v.value())).collect();
        load_parameters(path, model_scope(), &targets)?;
        Ok(model)
    }
}

/// Restores model and optimiser from `path`; the checkpoint must have been
/// trained on the same vocabulary with the same sizes. Returns the steps done.
pub(crate) fn resume(ctx: &Context, path: &Path, model: &CharModel, opt: &mut Adam) -> Result<usize> {
    let meta = load_training(ctx, path, model, opt)?;
    if meta.get("vocab") != Some(&model.vocab.to_json()) {
        return Err(Error::checkpoint(
            path,
            "was trained on text with a different vocabulary; cannot resume on this one",
        ));
    }
    Ok(opt.step_count() as usize)
}
