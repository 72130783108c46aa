//! CPU reference for shaders/matmul.wgsl, matmul_scalar.wgsl and
//! matmul_subgroup.wgsl (three implementations of one op, `crate::ops::matmul`)
//! and for the `Linear` layer built on it: plain loops, f64 accumulation.

use super::elementwise::activation;
use super::Real;
use crate::ops::Activation;

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

/// y = act(x·Wᵀ + b) for x of shape (rows, in), W (out, in), b (out,).
pub fn linear<T: Real>(x: &[T], w: &[T], b: Option<&[T]>, rows: usize, in_f: usize, out_f: usize, act: Activation) -> Vec<T> {
    matmul(x, w, rows, out_f, in_f, false, true, b, act)
}
