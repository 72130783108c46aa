//! CPU reference for BatchNorm2d (`crate::ops::batchnorm`,
//! shaders/batchnorm.wgsl): plain loops, f64 accumulation, PyTorch
//! semantics.

use super::Real;

/// BatchNorm2d of x (N, C, H, W) `xs`: (y, new running mean, new running var).
/// Training: batch mean and biased variance normalise; the running values
/// move by `momentum` towards the batch mean and unbiased variance.
/// Evaluation: the running values normalise and stay as they are.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn batch_norm2d<T: Real>(
    x: &[T],
    xs: [usize; 4],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    running_mean: &[T],
    running_var: &[T],
    training: bool,
    momentum: f64,
    eps: f64,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let [n, c, h, w] = xs;
    let l = h * w;
    let m = (n * l) as f64;
    let mut y = vec![T::from_f64(0.0); x.len()];
    let mut rm: Vec<T> = running_mean.to_vec();
    let mut rv: Vec<T> = running_var.to_vec();
    for ci in 0..c {
        let idx = |ni: usize, li: usize| (ni * c + ci) * l + li;
        let (mean, var) = if training {
            let mut s = 0.0;
            for ni in 0..n {
                for li in 0..l {
                    s += x[idx(ni, li)].to_f64();
                }
            }
            let mean = s / m;
            let mut v = 0.0;
            for ni in 0..n {
                for li in 0..l {
                    v += (x[idx(ni, li)].to_f64() - mean).powi(2);
                }
            }
            rm[ci] = T::from_f64((1.0 - momentum) * running_mean[ci].to_f64() + momentum * mean);
            rv[ci] = T::from_f64((1.0 - momentum) * running_var[ci].to_f64() + momentum * v / (m - 1.0));
            (mean, v / m)
        } else {
            (running_mean[ci].to_f64(), running_var[ci].to_f64())
        };
        let rstd = 1.0 / (var + eps).sqrt();
        let (wv, bv) = (weight.map_or(1.0, |w| w[ci].to_f64()), bias.map_or(0.0, |b| b[ci].to_f64()));
        for ni in 0..n {
            for li in 0..l {
                y[idx(ni, li)] = T::from_f64((x[idx(ni, li)].to_f64() - mean) * rstd * wv + bv);
            }
        }
    }
    (y, rm, rv)
}
