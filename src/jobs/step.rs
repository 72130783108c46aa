//! The one training step every job runs, and the divergence rule.
//!
//! [`train_step`] takes a recorded loss: zero_grad → backward → optional
//! global-norm clipping → optimiser update → the step's one submit and
//! readback (loss, gradient norm, and on request the parameters' sum of
//! squares) → finite check. Jobs that update several modules in one
//! iteration (the GAN) call its halves, [`record_update`] per module and
//! [`read_checked`] once.
//!
//! Divergence: the update is recorded in the same submit as the readback,
//! so when a value comes back non-finite the weights in memory are already
//! spoiled. The step then returns [`Error::Diverged`] and the job stops
//! before it saves anything: the last checkpoint written before that step
//! stays as it was. An update can also leave the loss finite and the
//! weights absurd (a learning rate of 1e30 gives weights near 1e30, whose
//! squares overflow f32): jobs ask for the parameters' sum of squares on
//! the steps after which they save, so no such weights reach a file.

use crate::error::{Error, Result};
use crate::nn::Module;
use crate::ops;
use crate::optim::{clip_grad_norm, Optimizer};
use crate::{Tensor, Var};

/// Forgets every parameter's accumulated gradient.
pub fn zero_grad(module: &dyn Module) {
    for (_, p) in module.parameters() {
        p.zero_grad();
    }
}

/// Records one optimiser update of every parameter that has a gradient
/// (frozen ones have none and are left alone). Nothing is submitted.
fn optimizer_step(module: &dyn Module, opt: &mut dyn Optimizer) -> Result<()> {
    let params = module.parameters();
    let with_grads: Vec<(Tensor, Tensor)> =
        params.iter().filter_map(|(_, p)| p.grad().map(|g| (p.value().clone(), g))).collect();
    let pairs: Vec<(&Tensor, &Tensor)> = with_grads.iter().map(|(v, g)| (v, g)).collect();
    opt.step(&pairs)
}

/// Records zero_grad, backward of `loss`, clipping of the gradients'
/// global norm to `clip` (if given) and one update of `module` by `opt`.
/// Returns the gradients' total norm before clipping (a 1-element tensor,
/// not read back) when clipping. Nothing is submitted.
pub fn record_update(loss: &Var, module: &dyn Module, opt: &mut dyn Optimizer, clip: Option<f32>) -> Result<Option<Tensor>> {
    record_update_with(loss, module, opt, clip, None)
}

/// Runs on `module`'s gradients after backward, before clipping and the
/// optimiser step: data-parallel training sums the ranks' gradients there
/// (`crate::dist::GradReducer`).
pub type GradHook<'a> = &'a dyn Fn(&dyn Module) -> Result<()>;

/// [`record_update`] with an optional [`GradHook`] between backward and clipping.
pub fn record_update_with(loss: &Var, module: &dyn Module, opt: &mut dyn Optimizer, clip: Option<f32>, hook: Option<GradHook>) -> Result<Option<Tensor>> {
    zero_grad(module);
    loss.backward()?;
    if let Some(hook) = hook {
        hook(module)?;
    }
    let norm = match clip {
        Some(max_norm) => {
            let grads: Vec<Tensor> = module.parameters().iter().filter_map(|(_, p)| p.grad()).collect();
            Some(clip_grad_norm(&grads.iter().collect::<Vec<_>>(), max_norm)?)
        }
        None => None,
    };
    optimizer_step(module, opt)?;
    Ok(norm)
}

/// Σp² over every parameter of `modules`, recorded as a 1-element tensor
/// (read it back with the step's other scalars).
pub fn parameter_sum_of_squares(modules: &[&dyn Module]) -> Result<Tensor> {
    let mut acc: Option<Tensor> = None;
    for m in modules {
        for (_, p) in m.parameters() {
            let v = p.value();
            if v.numel() == 0 {
                continue;
            }
            let flat = v.reshape(&[v.numel()])?;
            let s = ops::sum(&ops::mul(&flat, &flat)?, 0)?.reshape(&[1])?;
            acc = Some(match acc {
                Some(a) => ops::add(&a, &s)?,
                None => s,
            });
        }
    }
    acc.ok_or_else(|| Error::InvalidArgument("parameter check: no parameters".into()))
}

/// The step's one submit and readback: every value of `scalars`, in
/// order. [`Error::Diverged`] at `step` (counted from 1) on the first
/// value that is not finite. Blocks; on the web use [`read_checked_async`].
pub fn read_checked(step: u64, scalars: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
    finite(step, Tensor::to_vecs(scalars)?)
}

/// [`read_checked`] as a future (the web's form).
pub async fn read_checked_async(step: u64, scalars: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
    finite(step, Tensor::to_vecs_async(scalars).await?)
}

/// `values`, or [`Error::Diverged`] at `step` on the first non-finite one.
fn finite(step: u64, values: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
    if let Some(&value) = values.iter().flatten().find(|v| !v.is_finite()) {
        return Err(Error::Diverged { step, value });
    }
    Ok(values)
}

/// What one step read back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepValues {
    /// The loss.
    pub loss: f32,
    /// The gradients' global norm before clipping (when clipping).
    pub grad_norm: Option<f32>,
}

/// A recorded step waiting for its one readback: the loss, the gradient
/// norm (when clipping) and the parameter check (when asked), in order.
pub struct RecordedStep {
    step: u64,
    read: Vec<Tensor>,
    clipped: bool,
}

impl RecordedStep {
    /// Submits the step and reads its values back (blocks).
    pub fn finish(self) -> Result<StepValues> {
        let read: Vec<&Tensor> = self.read.iter().collect();
        Ok(self.values(&read_checked(self.step, &read)?))
    }

    /// [`RecordedStep::finish`] as a future (the web's form).
    pub async fn finish_async(self) -> Result<StepValues> {
        let read: Vec<&Tensor> = self.read.iter().collect();
        Ok(self.values(&read_checked_async(self.step, &read).await?))
    }

    fn values(&self, v: &[Vec<f32>]) -> StepValues {
        StepValues { loss: v[0][0], grad_norm: self.clipped.then(|| v[1][0]) }
    }
}

/// Records one training step on a recorded `loss` (see the module doc):
/// the update of `module` with `opt`, clipping to `clip`; with
/// `check_parameters`, the updated parameters' sum of squares is read back
/// too (ask for it on steps after which the job saves). Nothing is
/// submitted: [`RecordedStep::finish`] (or `finish_async`) submits and
/// reads back, erring with [`Error::Diverged`] at `step` (counted from 1)
/// when a value is not finite.
pub fn record_step(
    step: u64,
    loss: &Var,
    module: &dyn Module,
    opt: &mut dyn Optimizer,
    clip: Option<f32>,
    check_parameters: bool,
) -> Result<RecordedStep> {
    record_step_with(step, loss, module, opt, clip, check_parameters, None)
}

/// [`record_step`] with an optional [`GradHook`] between backward and clipping.
pub fn record_step_with(
    step: u64,
    loss: &Var,
    module: &dyn Module,
    opt: &mut dyn Optimizer,
    clip: Option<f32>,
    check_parameters: bool,
    hook: Option<GradHook>,
) -> Result<RecordedStep> {
    let norm = record_update_with(loss, module, opt, clip, hook)?;
    let params = if check_parameters { Some(parameter_sum_of_squares(&[module])?) } else { None };
    let clipped = norm.is_some();
    let mut read = vec![loss.value().clone()];
    read.extend(norm);
    read.extend(params);
    Ok(RecordedStep { step, read, clipped })
}

/// [`record_step`] and its blocking [`RecordedStep::finish`]: one training
/// step, submitted and read back.
pub fn train_step(
    step: u64,
    loss: &Var,
    module: &dyn Module,
    opt: &mut dyn Optimizer,
    clip: Option<f32>,
    check_parameters: bool,
) -> Result<StepValues> {
    train_step_with(step, loss, module, opt, clip, check_parameters, None)
}

/// [`train_step`] with an optional [`GradHook`] between backward and clipping.
pub fn train_step_with(
    step: u64,
    loss: &Var,
    module: &dyn Module,
    opt: &mut dyn Optimizer,
    clip: Option<f32>,
    check_parameters: bool,
    hook: Option<GradHook>,
) -> Result<StepValues> {
    record_step_with(step, loss, module, opt, clip, check_parameters, hook)?.finish()
}
