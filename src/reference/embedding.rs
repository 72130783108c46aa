//! CPU reference for shaders/embedding.wgsl (`crate::nn::Embedding`): the
//! gather and its scatter-add backward.

use super::Real;

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
