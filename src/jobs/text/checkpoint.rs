//! Character-model checkpoints: `io::training` files (model + optimiser)
//! whose metadata hold the vocabulary and the model's shape, so
//! [`CharModel::load`] rebuilds the model from the file alone. A training
//! checkpoint also holds what a resumed run needs to continue bit for bit:
//! the recurrent state carried into the next step (`carry.h`, `carry.c`)
//! and the dropout mask counter (the stream position follows from the step
//! count, samples are seeded per step).

use std::path::Path;

use rand::SeedableRng;

use super::model::{CharModel, CharShape};
use crate::data::text::Vocab;
use crate::error::{Error, Result};
use crate::io::parameters::load_parameters_from;
use crate::io::parameters::Scope;
use crate::io::training::{load_training, save_training, training_bytes};
use crate::nn::rnn::CellKind;
use super::model::CharState;
use crate::nn::Module;
use crate::optim::{Adam, Optimizer};
use crate::{Context, Tensor, Var};

/// Metadata key that marks a character-model checkpoint.
const TASK_KEY: &str = "kairo.task";
const TASK: &str = "char-lm";

/// Tensor names under which the carried recurrent state is saved.
const CARRY: &str = "carry.";

/// Metadata key of the dropout mask counter.
const DROPOUT_COUNTER: &str = "dropout.counter";

/// The tensors of a training checkpoint that are the model's: all but the
/// optimiser's and the carried state.
const MODEL_SCOPE: Scope<'static> = Scope { prefix: "", except: &["optim.", CARRY] };

/// The model and the carried state, as one module for `io::training`.
struct WithCarry<'a> {
    model: &'a CharModel,
    carry: Vec<(String, Var)>,
}

impl Module for WithCarry<'_> {
    fn parameters(&self) -> Vec<(String, Var)> {
        let mut p = self.model.parameters();
        p.extend(self.carry.iter().cloned());
        p
    }
}

/// Saves model, optimiser, the state carried into the next step and the
/// dropout counter to `path` (kill-safely).
pub(crate) fn save(path: &Path, model: &CharModel, opt: &Adam, state: Option<&CharState>) -> Result<()> {
    let (with, meta) = contents(model, state);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    save_training(path, &with, opt, &meta)
}

/// The file [`save`] writes, as bytes (a browser's download).
pub(crate) async fn to_bytes(model: &CharModel, opt: &Adam, state: Option<&CharState>) -> Result<Vec<u8>> {
    let (with, meta) = contents(model, state);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    training_bytes(Path::new("kairo-text.safetensors"), &with, opt, &meta).await
}

/// The model with the carried state, and the metadata, as a file holds them.
fn contents<'a>(model: &'a CharModel, state: Option<&CharState>) -> (WithCarry<'a>, Vec<(String, String)>) {
    let mut carry = Vec::new();
    if let Some(s) = state {
        carry.push((format!("{CARRY}h"), s.h.clone()));
        if let Some(c) = &s.c {
            carry.push((format!("{CARRY}c"), c.clone()));
        }
    }
    let mut meta = model.metadata();
    meta.push((DROPOUT_COUNTER.into(), model.rnn.dropout_counter().to_string()));
    (WithCarry { model, carry }, meta)
}

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
        let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        Self::from_bytes(ctx, path, &bytes)
    }

    /// [`CharModel::load`] from a file's bytes already in memory (a
    /// browser's file picker); `path` names them in errors.
    pub fn from_bytes(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<CharModel> {
        let problem = |p: String| Error::checkpoint(path, p);
        let ckpt = crate::io::safetensors::load_from(ctx, path, bytes)?;
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
        load_parameters_from(path, bytes, MODEL_SCOPE, &targets)?;
        Ok(model)
    }
}

/// Restores model, optimiser, dropout counter and the carried state from
/// `path`; the checkpoint must have been trained on the same vocabulary
/// with the same sizes. Returns the steps done and the carried state (none
/// when the file holds none, or one for another number of streams).
pub(crate) fn resume(
    ctx: &Context,
    path: &Path,
    model: &CharModel,
    opt: &mut Adam,
    batch: usize,
) -> Result<(usize, Option<CharState>)> {
    let file = crate::io::safetensors::load(ctx, path)?;
    let carry: Vec<(String, Var)> = file
        .tensors
        .iter()
        .filter(|(n, _)| n.starts_with(CARRY))
        .map(|(n, t)| (n.clone(), Var::constant(t.clone())))
        .collect();
    let meta = load_training(ctx, path, &WithCarry { model, carry: carry.clone() }, opt)?;
    if meta.get("vocab") != Some(&model.vocab.to_json()) {
        return Err(Error::checkpoint(
            path,
            "was trained on text with a different vocabulary; cannot resume on this one",
        ));
    }
    if let Some(c) = meta.get(DROPOUT_COUNTER) {
        let c = c
            .parse()
            .map_err(|_| Error::checkpoint(path, format!("{DROPOUT_COUNTER} is not a number: {c:?}")))?;
        model.rnn.set_dropout_counter(c);
    }
    let get = |k: &str| carry.iter().find(|(n, _)| n == &format!("{CARRY}{k}")).map(|(_, v)| v.clone());
    let want = [model.shape.layers, batch, model.shape.hidden];
    let state = match (get("h"), get("c")) {
        (Some(h), c) if h.shape() == want && c.is_some() == (model.shape.cell == CellKind::Lstm) => {
            Some(CharState { h, c })
        }
        _ => None,
    };
    Ok((opt.step_count() as usize, state))
}
