//! CPU references for the layers in `crate::nn`: linear, embedding and the
//! dropout mask (bit-exact with shaders/dropout.wgsl).

use super::Real;
use crate::ops::Activation;

/// y = act(x·Wᵀ + b) for x of shape (rows, in), W (out, in), b (out,).
pub fn linear<T: Real>(x: &[T], w: &[T], b: Option<&[T]>, rows: usize, in_f: usize, out_f: usize, act: Activation) -> Vec<T> {
    super::matmul(x, w, rows, out_f, in_f, false, true, b, act)
}

/// y[i, :] = W[idx[i], :] for W of shape (num, dim); rows of out-of-range
/// indices are zero (as the kernel writes them).
pub fn embedding<T: Real>(w: &[T], num: usize, dim: usize, idx: &[u32]) -> Vec<T> {
    let mut y = Vec::with_capacity(idx.len() * dim);
    for &r in idx {
        let r = r as usize;
        for c in 0..dim {
            y.push(if r < num { w[r * dim + c] } else { T::from_f64(0.0) });
        }
    }
    y
}

/// dW of `embedding`: dW[idx[i], :] += dy[i, :], accumulated in f64;
/// the `padding` row and out-of-range indices get nothing.
pub fn embedding_backward<T: Real>(dy: &[T], num: usize, dim: usize, idx: &[u32], padding: Option<usize>) -> Vec<T> {
    let mut dw = vec![0.0f64; num * dim];
    for (i, &r) in idx.iter().enumerate() {
        let r = r as usize;
        if r >= num || Some(r) == padding {
            continue;
        }
        for c in 0..dim {
            dw[r * dim + c] += dy[i * dim + c].to_f64();
        }
    }
    dw.into_iter().map(T::from_f64).collect()
}

/// The PCG hash (Jarzynski & Olano 2020), as in shaders/dropout.wgsl.
fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28).wrapping_add(4))) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// Whether dropout keeps element `i` for (seed, counter) at drop probability p.
pub fn dropout_keep(seed: u64, counter: u32, i: u32, p: f32) -> bool {
    let (lo, hi) = (seed as u32, (seed >> 32) as u32);
    let h = pcg(i ^ pcg(lo ^ pcg(hi ^ pcg(counter))));
    let u = (h >> 8) as f32 * (1.0 / 16777216.0);
    u >= p
}

/// Training-mode dropout: x·scale where kept, 0 elsewhere, scale = 1/(1−p)
/// (0 for p = 1).
pub fn dropout<T: Real>(x: &[T], seed: u64, counter: u32, p: f32) -> Vec<T> {
    let scale = if p >= 1.0 { 0.0 } else { 1.0 / (1.0 - p) };
    x.iter()
        .enumerate()
        .map(|(i, &v)| T::from_f64(if dropout_keep(seed, counter, i as u32, p) { v.to_f64() * scale as f64 } else { 0.0 }))
        .collect()
}
