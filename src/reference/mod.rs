//! Plain CPU references for every kernel: simple loops, f64 accumulation,
//! never optimised. GPU tests compare against these.

pub mod ctc;
pub mod conv;
pub mod lookahead;
pub mod loss;
pub mod nn;
pub mod optim;
pub mod rnn;
pub mod unfold_time;

use crate::ops::{Activation, BinaryOp, ReduceOp, UnaryOp};

/// f32 (as the GPU) or f64 (for finite differences): the references compute
/// in f64 either way and return the caller's type.
pub trait Real: Copy + std::fmt::Debug {
    /// Widen.
    fn to_f64(self) -> f64;
    /// Narrow (round).
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// C = act(op(A)·op(B) + bias) for one (M, N, K) problem; A is (M, K) or,
/// with `trans_a`, (K, M); B is (K, N) or, with `trans_b`, (N, K).
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Real>(
    a: &[T],
    b: &[T],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    bias: Option<&[T]>,
    act: Activation,
) -> Vec<T> {
    let mut c = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let av = if trans_a { a[p * m + i] } else { a[i * k + p] };
                let bv = if trans_b { b[j * k + p] } else { b[p * n + j] };
                s += av.to_f64() * bv.to_f64();
            }
            if let Some(bias) = bias {
                s += bias[j].to_f64();
            }
            c.push(T::from_f64(activation(s, act)));
        }
    }
    c
}

fn activation(x: f64, act: Activation) -> f64 {
    match act {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                s as f64 * x
            }
        }
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
    }
}

/// y = op(x).
pub fn unary<T: Real>(x: &[T], op: UnaryOp) -> Vec<T> {
    x.iter()
        .map(|&v| {
            let v = v.to_f64();
            let r = match op {
                UnaryOp::Scale(a) => a as f64 * v,
                UnaryOp::Relu => v.max(0.0),
                UnaryOp::LeakyRelu(s) => activation(v, Activation::LeakyRelu(s)),
                UnaryOp::Tanh => v.tanh(),
                UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                UnaryOp::Exp => v.exp(),
                UnaryOp::Log => v.ln(),
                UnaryOp::Clamp(lo, hi) => v.clamp(lo as f64, hi as f64),
                UnaryOp::Neg => -v,
                UnaryOp::AddScalar(c) => v + c as f64,
            };
            T::from_f64(r)
        })
        .collect()
}

/// c = a op b with NumPy broadcasting; returns (values, shape).
pub fn binary<T: Real>(a: &[T], ashape: &[usize], b: &[T], bshape: &[usize], op: BinaryOp) -> (Vec<T>, Vec<usize>) {
    let rank = ashape.len().max(bshape.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (sa, sb) = (pad(ashape), pad(bshape));
    let out: Vec<usize> = sa.iter().zip(&sb).map(|(&x, &y)| x.max(y)).collect();
    let n: usize = out.iter().product();
    let index = |coord: &[usize], s: &[usize]| {
        let mut idx = 0;
        for d in 0..rank {
            let c = if s[d] == 1 { 0 } else { coord[d] };
            idx = idx * s[d] + c;
        }
        idx
    };
    let mut c = Vec::with_capacity(n);
    let mut coord = vec![0; rank];
    for flat in 0..n {
        let mut rem = flat;
        for d in (0..rank).rev() {
            coord[d] = rem % out[d];
            rem /= out[d];
        }
        let (x, y) = (a[index(&coord, &sa)].to_f64(), b[index(&coord, &sb)].to_f64());
        c.push(T::from_f64(match op {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
        }));
    }
    (c, out)
}

/// Reduces the middle axis of an (outer, d, inner) array.
pub fn reduce<T: Real>(x: &[T], outer: usize, d: usize, inner: usize, op: ReduceOp) -> Vec<T> {
    let mut y = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let vals = (0..d).map(|j| x[(o * d + j) * inner + i].to_f64());
            let r = match op {
                ReduceOp::Sum => vals.sum(),
                ReduceOp::Mean => vals.sum::<f64>() / d as f64,
                ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max),
            };
            y.push(T::from_f64(r));
        }
    }
    y
}

/// softmax (or log_softmax) over the middle axis of (outer, d, inner).
pub fn softmax<T: Real>(x: &[T], outer: usize, d: usize, inner: usize, log: bool) -> Vec<T> {
    let mut y = x.to_vec();
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * d + j) * inner + i;
            let mx = (0..d).map(|j| x[at(j)].to_f64()).fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = (0..d).map(|j| (x[at(j)].to_f64() - mx).exp()).sum();
            for j in 0..d {
                let v = x[at(j)].to_f64() - mx;
                y[at(j)] = T::from_f64(if log { v - s.ln() } else { v.exp() / s });
            }
        }
    }
    y
}

/// Outcome of comparing a GPU result with its reference.
#[derive(Debug)]
pub struct Mismatch {
    /// Human-readable report: worst element and the first few mismatches.
    pub report: String,
}

/// Checks `|got − want| ≤ atol + rtol·|want|` element-wise (NaN matches NaN,
/// infinities must match exactly). On failure the report names the worst
/// element and the first few mismatches.
pub fn compare(got: &[f32], want: &[f32], atol: f32, rtol: f32) -> Result<(), Mismatch> {
    if got.len() != want.len() {
        return Err(Mismatch { report: format!("length {} vs reference {}", got.len(), want.len()) });
    }
    let mut bad = Vec::new();
    let mut worst = (0usize, 0.0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        let excess = if ok { 0.0 } else if g.is_finite() { (g - w).abs() - (atol + rtol * w.abs()) } else { f32::INFINITY };
        if !ok {
            bad.push(i);
            if excess > worst.1 || worst.1 == 0.0 {
                worst = (i, excess);
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let mut report = format!(
        "{} of {} elements differ (atol {atol}, rtol {rtol}); worst at [{}]: got {} want {}; first:",
        bad.len(),
        got.len(),
        worst.0,
        got[worst.0],
        want[worst.0]
    );
    for &i in bad.iter().take(5) {
        report.push_str(&format!(" [{i}] {} vs {};", got[i], want[i]));
    }
    Err(Mismatch { report })
}
