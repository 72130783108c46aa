//! Plain CPU references for every kernel: simple loops, f64 accumulation,
//! never optimised. GPU tests compare against these.

pub mod optim;

use crate::ops::{Activation, BinaryOp, ReduceOp, UnaryOp};

/// C = act(op(A)·op(B) + bias) for one (M, N, K) problem; A is (M, K) or,
/// with `trans_a`, (K, M); B is (K, N) or, with `trans_b`, (N, K).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    bias: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let av = if trans_a { a[p * m + i] } else { a[i * k + p] };
                let bv = if trans_b { b[j * k + p] } else { b[p * n + j] };
                s += av as f64 * bv as f64;
            }
            if let Some(bias) = bias {
                s += bias[j] as f64;
            }
            c[i * n + j] = activation(s, act) as f32;
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
pub fn unary(x: &[f32], op: UnaryOp) -> Vec<f32> {
    x.iter()
        .map(|&v| {
            let v = v as f64;
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
            r as f32
        })
        .collect()
}

/// c = a op b with NumPy broadcasting; returns (values, shape).
pub fn binary(a: &[f32], ashape: &[usize], b: &[f32], bshape: &[usize], op: BinaryOp) -> (Vec<f32>, Vec<usize>) {
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
        let (x, y) = (a[index(&coord, &sa)] as f64, b[index(&coord, &sb)] as f64);
        c.push(match op {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
        } as f32);
    }
    (c, out)
}

/// Reduces the middle axis of an (outer, d, inner) array.
pub fn reduce(x: &[f32], outer: usize, d: usize, inner: usize, op: ReduceOp) -> Vec<f32> {
    let mut y = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let vals = (0..d).map(|j| x[(o * d + j) * inner + i] as f64);
            let r = match op {
                ReduceOp::Sum => vals.sum(),
                ReduceOp::Mean => vals.sum::<f64>() / d as f64,
                ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max),
            };
            y.push(r as f32);
        }
    }
    y
}

/// softmax (or log_softmax) over the middle axis of (outer, d, inner).
pub fn softmax(x: &[f32], outer: usize, d: usize, inner: usize, log: bool) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * d + j) * inner + i;
            let mx = (0..d).map(|j| x[at(j)] as f64).fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = (0..d).map(|j| (x[at(j)] as f64 - mx).exp()).sum();
            for j in 0..d {
                let v = x[at(j)] as f64 - mx;
                y[at(j)] = if log { v - s.ln() } else { v.exp() / s } as f32;
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
