//! Optimisers: SGD (momentum, weight decay), Adam/AdamW (fused kernel),
//! gradient clipping by global norm, learning-rate schedules
//! (shaders/optim.wgsl; CPU references in `reference::optim`).
//!
//! PyTorch's torch.optim semantics. Parameters come as `(value, grad)`
//! pairs of f32 tensors; `step` records one dispatch per parameter into the
//! context's open encoder and updates each value tensor in place (the kernel
//! writes into the parameter's own buffer). Nothing is submitted or read
//! back. Frozen parameters are simply not passed, but the list passed must
//! keep the same length and shapes from step to step: optimiser state is
//! kept per position in that list.
//!
//! State (momentum buffers, Adam's moments) lives in GPU tensors created on
//! the first step, named `"{i}.momentum_buffer"`, `"{i}.exp_avg"`,
//! `"{i}.exp_avg_sq"` for parameter `i` as torch.optim names them, so a
//! checkpoint can save [`Optimizer::state`] together with
//! [`Optimizer::step_count`] and restore both.

use crate::error::{Error, Result};
use crate::kernels::optim::{self as kernel, AdamParams, ClipParams, SgdParams};
use crate::ops::{self, grid_1d};
use crate::tensor::Tensor;
use crate::DType;

/// What every optimiser offers to a training loop and to checkpoints.
pub trait Optimizer {
    /// Records one update of every `(value, grad)` pair; values change in place.
    fn step(&mut self, params: &[(&Tensor, &Tensor)]) -> Result<()>;
    /// Current learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate used by the next steps (see [`LrSchedule`]).
    fn set_lr(&mut self, lr: f32);
    /// Steps taken so far (Adam's bias corrections use it).
    fn step_count(&self) -> u64;
    /// Restores the step count (with [`Optimizer::load_state`]).
    fn set_step_count(&mut self, steps: u64);
    /// Snapshot of the state tensors by name (recorded copies: later steps do
    /// not change them). Empty before the first step.
    fn state(&self) -> Result<Vec<(String, Tensor)>>;
    /// Replaces the state with copies of `state` (names as [`Optimizer::state`]
    /// gives them); an empty list resets the optimiser to before its first
    /// step. Parameter shapes are then fixed to those of the state tensors.
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}

/// torch.optim.SGD: `g = grad + wd·p`; with momentum, `buf = g` on the first
/// step and `buf = momentum·buf + (1 − dampening)·g` afterwards, then
/// `g = nesterov ? g + momentum·buf : buf`; `p -= lr·g`.
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor (0: plain SGD, no buffer).
    pub momentum: f32,
    /// Dampening of the gradient added to the momentum buffer.
    pub dampening: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    buffers: Vec<Tensor>,
    shapes: Option<Vec<Vec<usize>>>,
    steps: u64,
}

/// torch.optim.Adam (L2 weight decay added to the gradient) or, with
/// `decoupled_weight_decay`, torch.optim.AdamW (`p -= lr·wd·p` before the
/// update). Bias-corrected: `p -= lr·m̂ / (sqrt(v̂) + eps)`.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to sqrt(v̂).
    pub eps: f32,
    /// Weight decay (L2 for Adam, decoupled for AdamW).
    pub weight_decay: f32,
    /// true: AdamW.
    pub decoupled_weight_decay: bool,
    moments: Vec<(Tensor, Tensor)>,
    shapes: Option<Vec<Vec<usize>>>,
    steps: u64,
}

impl Sgd {
    /// Plain SGD with learning rate `lr` (PyTorch defaults for the rest).
    pub fn new(lr: f32) -> Sgd {
        Sgd { lr, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, buffers: Vec::new(), shapes: None, steps: 0 }
    }

    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f32) -> Sgd {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn dampening(mut self, dampening: f32) -> Sgd {
        self.dampening = dampening;
        self
    }

    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns Nesterov momentum on or off.
    pub fn nesterov(mut self, nesterov: bool) -> Sgd {
        self.nesterov = nesterov;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32| Err(Error::InvalidArgument(format!("sgd: invalid {what} {v}")));
        if !non_negative(self.lr) {
            return bad("learning rate", self.lr);
        }
        if !non_negative(self.momentum) {
            return bad("momentum", self.momentum);
        }
        if !non_negative(self.weight_decay) {
            return bad("weight_decay", self.weight_decay);
        }
        if !self.dampening.is_finite() {
            return bad("dampening", self.dampening);
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::InvalidArgument("sgd: Nesterov momentum requires a momentum and zero dampening".into()));
        }
        Ok(())
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[(&Tensor, &Tensor)]) -> Result<()> {
        self.validate()?;
        check_params("sgd", params, &mut self.shapes)?;
        let with_momentum = self.momentum != 0.0;
        let first = self.buffers.is_empty();
        if with_momentum && first {
            for (p, _) in params {
                self.buffers.push(Tensor::empty(p.context(), p.shape(), DType::F32)?);
            }
        }
        for (i, (p, g)) in params.iter().enumerate() {
            let ctx = p.context();
            let n = p.numel();
            let sp = SgdParams {
                n: ops::as_u32("sgd", "elements", n)?,
                first: first as u32,
                nesterov: self.nesterov as u32,
                _pad: 0,
                lr: self.lr,
                momentum: self.momentum,
                dampening: self.dampening,
                weight_decay: self.weight_decay,
            };
            let grid = grid_1d(ctx, n.div_ceil(256) as u64)?;
            if with_momentum {
                let buf = &self.buffers[i];
                p.same_context("sgd", buf)?;
                kernel::record_sgd_momentum(ctx, &sp, p, g, buf, grid)?;
            } else {
                kernel::record_sgd(ctx, &sp, p, g, grid)?;
            }
        }
        self.steps += 1;
        Ok(())
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn step_count(&self) -> u64 {
        self.steps
    }

    fn set_step_count(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        self.buffers.iter().enumerate().map(|(i, b)| Ok((format!("{i}.momentum_buffer"), b.deep_clone()?))).collect()
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let sets = parse_state("sgd.load_state", state, &["momentum_buffer"])?;
        self.shapes = if sets.is_empty() { None } else { Some(sets.iter().map(|s| s[0].shape().to_vec()).collect()) };
        self.buffers = sets.into_iter().map(|mut s| s.remove(0)).collect();
        Ok(())
    }
}

impl Adam {
    /// torch.optim.Adam defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            moments: Vec::new(),
            shapes: None,
            steps: 0,
        }
    }

    /// torch.optim.AdamW defaults: as Adam, with decoupled weight decay 0.01.
    pub fn adamw(lr: f32) -> Adam {
        Adam { weight_decay: 0.01, decoupled_weight_decay: true, ..Adam::new(lr) }
    }

    /// Sets (β1, β2).
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Adam {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets eps.
    pub fn eps(mut self, eps: f32) -> Adam {
        self.eps = eps;
        self
    }

    /// Sets the weight decay (L2 for Adam, decoupled for AdamW).
    pub fn weight_decay(mut self, weight_decay: f32) -> Adam {
        self.weight_decay = weight_decay;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32| Err(Error::InvalidArgument(format!("adam: invalid {what} {v}")));
        if !non_negative(self.lr) {
            return bad("learning rate", self.lr);
        }
        if !non_negative(self.eps) {
            return bad("eps", self.eps);
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", self.beta1);
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", self.beta2);
        }
        if !non_negative(self.weight_decay) {
            return bad("weight_decay", self.weight_decay);
        }
        Ok(())
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &[(&Tensor, &Tensor)]) -> Result<()> {
        self.validate()?;
        check_params("adam", params, &mut self.shapes)?;
        if self.moments.is_empty() {
            for (p, _) in params {
                self.moments.push((Tensor::zeros(p.context(), p.shape())?, Tensor::zeros(p.context(), p.shape())?));
            }
        }
        // Host-side bias corrections for step t (1-based), in f64.
        let t = self.steps + 1;
        let exp = i32::try_from(t).unwrap_or(i32::MAX);
        let bc1 = 1.0 - (self.beta1 as f64).powi(exp);
        let bc2 = 1.0 - (self.beta2 as f64).powi(exp);
        for ((p, g), (m, v)) in params.iter().zip(&self.moments) {
            let ctx = p.context();
            p.same_context("adam", m)?;
            let n = p.numel();
            let ap = AdamParams {
                n: ops::as_u32("adam", "elements", n)?,
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                step_size: (self.lr as f64 / bc1) as f32,
                bc2_sqrt: bc2.sqrt() as f32,
                _pad3: 0.0,
            };
            kernel::record_adam(ctx, &ap, self.decoupled_weight_decay, p, g, m, v, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
        }
        self.steps = t;
        Ok(())
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn step_count(&self) -> u64 {
        self.steps
    }

    fn set_step_count(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(2 * self.moments.len());
        for (i, (m, v)) in self.moments.iter().enumerate() {
            out.push((format!("{i}.exp_avg"), m.deep_clone()?));
            out.push((format!("{i}.exp_avg_sq"), v.deep_clone()?));
        }
        Ok(out)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let sets = parse_state("adam.load_state", state, &["exp_avg", "exp_avg_sq"])?;
        self.shapes = if sets.is_empty() { None } else { Some(sets.iter().map(|s| s[0].shape().to_vec()).collect()) };
        self.moments = sets
            .into_iter()
            .map(|mut s| {
                let v = s.pop().expect("two keys");
                let m = s.pop().expect("two keys");
                (m, v)
            })
            .collect();
        Ok(())
    }
}

/// Checks each (value, grad) pair and that the list matches the one the
/// optimiser state was built for (recording it on the first call).
fn check_params(op: &str, params: &[(&Tensor, &Tensor)], shapes: &mut Option<Vec<Vec<usize>>>) -> Result<()> {
    for (p, g) in params {
        p.expect_dtype(op, DType::F32)?;
        g.expect_dtype(op, DType::F32)?;
        p.same_context(op, g)?;
        if p.shape() != g.shape() {
            return Err(Error::shape(&format!("{op}: parameter vs gradient"), p.shape(), g.shape()));
        }
        if p.shares_storage(g) {
            return Err(Error::InvalidArgument(format!("{op}: a parameter and its gradient share one buffer")));
        }
    }
    match shapes {
        Some(known) => {
            if known.len() != params.len() {
                return Err(Error::InvalidArgument(format!(
                    "{op}: got {} parameters but the optimiser state holds {}; pass the same parameters every step",
                    params.len(),
                    known.len()
                )));
            }
            for (i, (s, (p, _))) in known.iter().zip(params).enumerate() {
                if s.as_slice() != p.shape() {
                    return Err(Error::shape(&format!("{op}: parameter {i} vs its optimiser state"), p.shape(), s));
                }
            }
        }
        None => *shapes = Some(params.iter().map(|(p, _)| p.shape().to_vec()).collect()),
    }
    Ok(())
}

/// Groups `"{i}.{key}"` tensors by parameter index; every index from 0 up
/// must hold every key, with one shape, as f32. Returns copies, in `keys` order.
fn parse_state(op: &str, state: &[(String, Tensor)], keys: &[&str]) -> Result<Vec<Vec<Tensor>>> {
    let mut slots: Vec<Vec<Option<&Tensor>>> = Vec::new();
    for (name, t) in state {
        let bad = || Error::InvalidArgument(format!("{op}: unexpected state entry {name:?} (expected \"{{index}}.{}\")", keys.join("|")));
        let (index, key) = name.split_once('.').ok_or_else(bad)?;
        let index: usize = index.parse().map_err(|_| bad())?;
        let k = keys.iter().position(|&k| k == key).ok_or_else(bad)?;
        t.expect_dtype(op, DType::F32)?;
        if index >= slots.len() {
            slots.resize(index + 1, vec![None; keys.len()]);
        }
        if slots[index][k].replace(t).is_some() {
            return Err(Error::InvalidArgument(format!("{op}: state entry {name:?} given twice")));
        }
    }
    let mut sets = Vec::with_capacity(slots.len());
    for (i, slot) in slots.into_iter().enumerate() {
        let mut set = Vec::with_capacity(keys.len());
        for (k, t) in slot.into_iter().enumerate() {
            let t = t.ok_or_else(|| Error::InvalidArgument(format!("{op}: state entry \"{i}.{}\" is missing", keys[k])))?;
            if let Some(first) = set.first() {
                let first: &Tensor = first;
                if first.shape() != t.shape() {
                    return Err(Error::shape(&format!("{op}: state of parameter {i}"), first.shape(), t.shape()));
                }
                first.same_context(op, t)?;
            }
            set.push(t.deep_clone()?);
        }
        sets.push(set);
    }
    Ok(sets)
}

/// torch.nn.utils.clip_grad_norm_: computes total = sqrt(Σ‖g‖²) over all
/// gradients and scales each in place by min(1, max_norm / (total + 1e-6)).
/// Everything stays on the GPU (the coefficient is a 1-element tensor the
/// scaling kernel reads); returns the total norm as a 1-element tensor.
/// Records only: no submit, no readback.
pub fn clip_grad_norm(grads: &[&Tensor], max_norm: f32) -> Result<Tensor> {
    let first = grads.first().ok_or_else(|| Error::InvalidArgument("clip_grad_norm: no gradients given".into()))?;
    if !non_negative(max_norm) {
        return Err(Error::InvalidArgument(format!("clip_grad_norm: invalid max_norm {max_norm}")));
    }
    let ctx = first.context();
    for g in grads {
        g.expect_dtype("clip_grad_norm", DType::F32)?;
        first.same_context("clip_grad_norm", g)?;
    }
    // Σ‖g‖² through ops (the reduction handles long tensors in passes).
    let mut sumsq: Option<Tensor> = None;
    for g in grads.iter().filter(|g| g.numel() > 0) {
        let flat = g.reshape(&[g.numel()])?;
        let s = ops::sum(&ops::mul(&flat, &flat)?, 0)?.reshape(&[1])?;
        sumsq = Some(match sumsq {
            Some(acc) => ops::add(&acc, &s)?,
            None => s,
        });
    }
    let sumsq = match sumsq {
        Some(s) => s,
        None => Tensor::zeros(ctx, &[1])?,
    };
    let total = Tensor::empty(ctx, &[1], DType::F32)?;
    let coef = Tensor::empty(ctx, &[1], DType::F32)?;
    let cp = ClipParams { n: 1, max_norm, _pad0: 0, _pad1: 0 };
    kernel::record_clip_coef(ctx, &cp, &sumsq, &total, &coef)?;
    for g in grads {
        let n = g.numel();
        let cp = ClipParams { n: ops::as_u32("clip_grad_norm", "elements", n)?, max_norm, _pad0: 0, _pad1: 0 };
        kernel::record_clip_scale(ctx, &cp, g, &coef, grid_1d(ctx, n.div_ceil(256) as u64)?)?;
    }
    Ok(total)
}

/// Learning rate as a function of the epoch (or step), closed form, as
/// torch.optim.lr_scheduler computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// base_lr throughout.
    Constant,
    /// StepLR: base_lr · gamma^⌊epoch / step_size⌋ (step_size 0: base_lr).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Factor per decay.
        gamma: f32,
    },
    /// CosineAnnealingLR: eta_min + (base_lr − eta_min)·(1 + cos(π·epoch/t_max))/2
    /// (t_max 0: eta_min).
    Cosine {
        /// Half period in epochs.
        t_max: usize,
        /// Minimum learning rate.
        eta_min: f32,
    },
}

impl LrSchedule {
    /// The learning rate at `epoch` (0-based) for a base rate `base_lr`.
    pub fn lr(&self, base_lr: f32, epoch: usize) -> f32 {
        match *self {
            LrSchedule::Constant => base_lr,
            LrSchedule::Step { step_size, gamma } => match epoch.checked_div(step_size) {
                Some(k) => (base_lr as f64 * (gamma as f64).powi(i32::try_from(k).unwrap_or(i32::MAX))) as f32,
                None => base_lr,
            },
            LrSchedule::Cosine { t_max, eta_min } => {
                if t_max == 0 {
                    return eta_min;
                }
                let (base, min) = (base_lr as f64, eta_min as f64);
                let phase = std::f64::consts::PI * epoch as f64 / t_max as f64;
                (min + (base - min) * (1.0 + phase.cos()) / 2.0) as f32
            }
        }
    }
}

/// v ≥ 0 (false for NaN).
fn non_negative(v: f32) -> bool {
    v >= 0.0
}
