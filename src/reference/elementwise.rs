//! CPU reference for shaders/elementwise.wgsl (`crate::ops::unary`,
//! `binary`, `add_bias`) and the activations the matmul epilogue applies:
//! plain loops in f64.

use super::Real;
use crate::ops::{Activation, BinaryOp, UnaryOp};

/// The activations the matmul epilogue fuses, in f64.
pub(super) fn activation(x: f64, act: Activation) -> f64 {
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
