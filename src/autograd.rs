//! The tape: every operation on [`Var`]s records its inputs and what its
//! backward needs; [`Var::backward`] walks the graph from a scalar loss in
//! reverse topological order and accumulates gradients into the leaves.
//!
//! Gradients add across uses of a value and across `backward` calls until
//! [`Var::zero_grad`]. Inside [`no_grad`] nothing is recorded (inference).
//! A frozen leaf ([`Var::set_frozen`]) gets no gradient. Backward records
//! GPU work like any op: nothing is submitted or read back.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::ops::{self, Activation, BinaryOp, MatmulOptions, ReduceOp, UnaryOp};
use crate::tensor::Tensor;

/// The backward of one recorded operation: upstream gradient → one
/// gradient per input (None where the input needs none).
type BackwardFn = Box<dyn Fn(&Tensor, &[Var], &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

struct Node {
    id: u64,
    value: Tensor,
    inputs: Vec<Var>,
    backward: Option<BackwardFn>,
    /// Leaves: wants a gradient. Interior nodes: some input does.
    requires_grad: AtomicBool,
    grad: Mutex<Option<Tensor>>,
    name: Mutex<Option<String>>,
}

/// A tensor on the tape.
#[derive(Clone)]
pub struct Var(Arc<Node>);

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var#{}({:?})", self.0.id, self.0.value)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` without recording (inference mode); restores the mode after.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let prev = GRAD_ENABLED.with(|g| g.replace(false));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(prev);
    f()
}

/// Whether operations are being recorded on this thread.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

impl Var {
    fn node(value: Tensor, inputs: Vec<Var>, backward: Option<BackwardFn>, requires_grad: bool) -> Var {
        Var(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value,
            inputs,
            backward,
            requires_grad: AtomicBool::new(requires_grad),
            grad: Mutex::new(None),
            name: Mutex::new(None),
        }))
    }

    /// A leaf that receives gradients (a parameter).
    pub fn parameter(value: Tensor) -> Var {
        Self::node(value, Vec::new(), None, true)
    }

    /// A leaf without gradient (data, targets).
    pub fn constant(value: Tensor) -> Var {
        Self::node(value, Vec::new(), None, false)
    }

    /// Records the result of an op: an interior node if grad mode is on
    /// and some input requires a gradient, else a constant.
    pub fn from_op(value: Tensor, inputs: &[&Var], backward: BackwardFn) -> Var {
        let needs = grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if needs {
            Self::node(value, inputs.iter().map(|v| (*v).clone()).collect(), Some(backward), true)
        } else {
            Self::constant(value)
        }
    }

    /// The tensor.
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    /// Shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// Whether a gradient flows to (or through) this value.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Freezes (true) or unfreezes a leaf: a frozen leaf gets no gradient
    /// and ops on it alone record nothing.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        if self.0.backward.is_some() {
            return Err(Error::InvalidArgument("only leaves (parameters) can be frozen".into()));
        }
        self.0.requires_grad.store(!frozen, Ordering::Relaxed);
        Ok(())
    }

    /// The accumulated gradient of a leaf, if any.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Names a value (parameters: the state-dict name).
    pub fn set_name(&self, name: &str) {
        *self.0.name.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
    }

    /// The name given with `set_name`.
    pub fn name(&self) -> Option<String> {
        self.0.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Back-propagates from this scalar (one element) with gradient 1.
    pub fn backward(&self) -> Result<()> {
        if self.0.value.numel() != 1 {
            return Err(Error::invalid_shape(
                "backward",
                format!("needs a scalar loss, got shape {:?}; pass a gradient with backward_with", self.shape()),
            ));
        }
        let ones = Tensor::full(self.0.value.context(), self.shape(), 1.0)?;
        self.backward_with(ones)
    }

    /// Back-propagates `grad` (shaped like this value).
    pub fn backward_with(&self, grad: Tensor) -> Result<()> {
        if grad.shape() != self.shape() {
            return Err(Error::shape("backward_with", self.shape(), grad.shape()));
        }
        if !self.requires_grad() {
            return Err(Error::InvalidArgument("backward from a value that no parameter influences".into()));
        }
        let order = self.topological_order();
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        grads.insert(self.0.id, grad);
        for var in order.iter().rev() {
            let Some(g) = grads.remove(&var.0.id) else { continue };
            match &var.0.backward {
                None => accumulate(&var.0.grad, g)?,
                Some(backward) => {
                    let input_grads = backward(&g, &var.0.inputs, &var.0.value)?;
                    for (input, ig) in var.0.inputs.iter().zip(input_grads) {
                        let Some(ig) = ig else { continue };
                        if !input.requires_grad() {
                            continue;
                        }
                        if ig.shape() != input.shape() {
                            return Err(Error::shape("backward (internal)", input.shape(), ig.shape()));
                        }
                        let sum = match grads.remove(&input.0.id) {
                            Some(prev) => ops::add(&prev, &ig)?,
                            None => ig,
                        };
                        grads.insert(input.0.id, sum);
                    }
                }
            }
        }
        Ok(())
    }

    /// Inputs before outputs, iteratively (long recurrent graphs are deep).
    fn topological_order(&self) -> Vec<Var> {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((v, expanded)) = stack.pop() {
            if expanded {
                order.push(v);
                continue;
            }
            if !seen.insert(v.0.id) {
                continue;
            }
            stack.push((v.clone(), true));
            for input in v.0.inputs.iter().rev() {
                if input.requires_grad() && !seen.contains(&input.0.id) {
                    stack.push((input.clone(), false));
                }
            }
        }
        order
    }
}

fn accumulate(slot: &Mutex<Option<Tensor>>, g: Tensor) -> Result<()> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    *slot = Some(match slot.take() {
        Some(prev) => ops::add(&prev, &g)?,
        None => g,
    });
    Ok(())
}

/// Sums `g` over the axes along which `shape` was broadcast to g's shape.
pub fn sum_to_shape(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.shape().len() - shape.len();
    let mut cur = g.clone();
    for _ in 0..lead {
        cur = ops::reduce(&cur, 0, ReduceOp::Sum, false)?;
    }
    for (axis, &d) in shape.iter().enumerate() {
        if d == 1 && cur.shape()[axis] != 1 {
            cur = ops::reduce(&cur, axis as isize, ReduceOp::Sum, true)?;
        }
    }
    cur.reshape(shape)
}

// ---- operations with their backward beside them ------------------------

/// a op b with broadcasting.
pub fn binary(a: &Var, b: &Var, op: BinaryOp) -> Result<Var> {
    let y = ops::binary(a.value(), b.value(), op)?;
    Ok(Var::from_op(
        y,
        &[a, b],
        Box::new(move |g, inputs, _y| {
            let (a, b) = (inputs[0].value(), inputs[1].value());
            let (ga, gb) = match op {
                BinaryOp::Add => (g.clone(), g.clone()),
                BinaryOp::Sub => (g.clone(), ops::unary(g, UnaryOp::Neg)?),
                BinaryOp::Mul => (ops::mul(g, b)?, ops::mul(g, a)?),
                // d(a/b)/db = -a/b² = -(a/b)/b
                BinaryOp::Div => (ops::div(g, b)?, ops::unary(&ops::mul(g, &ops::div(&ops::div(a, b)?, b)?)?, UnaryOp::Neg)?),
            };
            let want = |v: &Var| v.requires_grad();
            Ok(vec![
                if want(&inputs[0]) { Some(sum_to_shape(&ga, a.shape())?) } else { None },
                if want(&inputs[1]) { Some(sum_to_shape(&gb, b.shape())?) } else { None },
            ])
        }),
    ))
}

/// op(x) elementwise.
pub fn unary(x: &Var, op: UnaryOp) -> Result<Var> {
    let y = ops::unary(x.value(), op)?;
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, inputs, y| Ok(vec![Some(ops::unary_backward(inputs[0].value(), y, g, op)?)])),
    ))
}

/// The unary op an activation epilogue applies.
fn activation_op(a: Activation) -> Option<UnaryOp> {
    match a {
        Activation::None => None,
        Activation::Relu => Some(UnaryOp::Relu),
        Activation::LeakyRelu(s) => Some(UnaryOp::LeakyRelu(s)),
        Activation::Tanh => Some(UnaryOp::Tanh),
        Activation::Sigmoid => Some(UnaryOp::Sigmoid),
    }
}

/// act(op(a)·op(b) + bias), the fused matmul, with its backward:
/// dZ = dY·act'(Y); dop(A) = dZ·op(B)ᵀ; dop(B) = op(A)ᵀ·dZ; dbias = Σ_rows dZ.
/// Operands shared across a batch get the batch-summed gradient.
pub fn matmul(a: &Var, b: &Var, bias: Option<&Var>, ta: bool, tb: bool, act: Activation) -> Result<Var> {
    let o = MatmulOptions { trans_a: ta, trans_b: tb, bias: bias.map(|v| v.value()), activation: act, ..Default::default() };
    let y = ops::matmul_ex(a.value(), b.value(), &o)?;
    let mut inputs = vec![a, b];
    if let Some(bias) = bias {
        inputs.push(bias);
    }
    Ok(Var::from_op(
        y,
        &inputs,
        Box::new(move |g, inputs, y| {
            // For leaky relu the output sign equals the input sign (slope > 0),
            // so act' can be read from the output like the others.
            let dz = match activation_op(act) {
                None => g.clone(),
                Some(op) => ops::unary_backward(y, y, g, op)?,
            };
            let (a, b) = (inputs[0].value(), inputs[1].value());
            let mm = |x: &Tensor, w: &Tensor, t1: bool, t2: bool| {
                ops::matmul_ex(x, w, &MatmulOptions { trans_a: t1, trans_b: t2, ..Default::default() })
            };
            let ga = if inputs[0].requires_grad() {
                let full = match (ta, tb) {
                    (false, false) => mm(&dz, b, false, true)?,
                    (false, true) => mm(&dz, b, false, false)?,
                    (true, false) => mm(b, &dz, false, true)?,
                    (true, true) => mm(b, &dz, true, true)?,
                };
                Some(sum_to_shape(&full, a.shape())?)
            } else {
                None
            };
            let gb = if inputs[1].requires_grad() {
                let full = match (ta, tb) {
                    (false, false) => mm(a, &dz, true, false)?,
                    (true, false) => mm(a, &dz, false, false)?,
                    (false, true) => mm(&dz, a, true, false)?,
                    (true, true) => mm(&dz, a, true, true)?,
                };
                Some(sum_to_shape(&full, b.shape())?)
            } else {
                None
            };
            let mut out = vec![ga, gb];
            if inputs.len() == 3 {
                let n = *dz.shape().last().expect("matmul output has rank 2 or 3");
                let rows = dz.numel() / n.max(1);
                out.push(Some(ops::sum(&dz.reshape(&[rows, n])?, 0)?));
            }
            Ok(out)
        }),
    ))
}

/// Sum, mean or max along `axis` (max: gradient shared equally among ties,
/// as PyTorch's amax).
pub fn reduce(x: &Var, axis: isize, op: ReduceOp, keepdim: bool) -> Result<Var> {
    let axis_u = ops::resolve_axis("reduce", axis, x.shape().len())?;
    let y = ops::reduce(x.value(), axis, op, keepdim)?;
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, inputs, y| {
            let x = inputs[0].value();
            let mut kept = x.shape().to_vec();
            kept[axis_u] = 1;
            let g = ops::expand(&g.reshape(&kept)?, x.shape())?;
            let dx = match op {
                ReduceOp::Sum => g,
                ReduceOp::Mean => ops::unary(&g, UnaryOp::Scale(1.0 / x.shape()[axis_u] as f32))?,
                ReduceOp::Max => {
                    let mask = ops::equal(x, &y.reshape(&kept)?)?;
                    let count = ops::reduce(&mask, axis_u as isize, ReduceOp::Sum, true)?;
                    ops::div(&ops::mul(&g, &mask)?, &count)?
                }
            };
            Ok(vec![Some(dx)])
        }),
    ))
}

/// softmax or log_softmax along `axis`.
/// softmax: dx = y·(dy − Σ dy·y); log_softmax: dx = dy − eʸ·Σ dy.
pub fn softmax(x: &Var, axis: isize, log: bool) -> Result<Var> {
    let y = if log { ops::log_softmax(x.value(), axis)? } else { ops::softmax(x.value(), axis)? };
    Ok(Var::from_op(
        y,
        &[x],
        Box::new(move |g, _inputs, y| {
            let dx = if log {
                let s = ops::reduce(g, axis, ReduceOp::Sum, true)?;
                ops::sub(g, &ops::mul(&ops::unary(y, UnaryOp::Exp)?, &s)?)?
            } else {
                let s = ops::reduce(&ops::mul(g, y)?, axis, ReduceOp::Sum, true)?;
                ops::mul(y, &ops::sub(g, &s)?)?
            };
            Ok(vec![Some(dx)])
        }),
    ))
}

/// The same values under another shape.
pub fn reshape(x: &Var, shape: &[usize]) -> Result<Var> {
    let y = x.value().reshape(shape)?;
    Ok(Var::from_op(y, &[x], Box::new(|g, inputs, _| Ok(vec![Some(g.reshape(inputs[0].shape())?)]))))
}
