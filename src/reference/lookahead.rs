//! CPU reference for Deep Speech 2's look-ahead (row) convolution
//! (`crate::nn::lookahead`, shaders/lookahead.wgsl): plain loops, f64
//! accumulation.
//!
//! x is (T, B, F) time-first, W is (τ+1, F), bias (F,):
//! y[t, b, f] = bias[f] + Σ_{j=0..τ} W[j, f] · x[t + j, b, f], x zero past T.

use super::Real;

/// The forward: y (T, B, F) for x (T, B, F), W (`context` + 1, F), bias (F,).
pub fn lookahead<T: Real>(x: &[T], w: &[T], bias: Option<&[T]>, t: usize, b: usize, f: usize, context: usize) -> Vec<T> {
    let mut y = Vec::with_capacity(t * b * f);
    for ti in 0..t {
        for bi in 0..b {
            for fi in 0..f {
                let mut s = bias.map_or(0.0, |bias| bias[fi].to_f64());
                for j in 0..=context {
                    if ti + j < t {
                        s += w[j * f + fi].to_f64() * x[((ti + j) * b + bi) * f + fi].to_f64();
                    }
                }
                y.push(T::from_f64(s));
            }
        }
    }
    y
}

/// The gradients for upstream `dy` (T, B, F): (dx (T, B, F), dW (τ+1, F), db (F,)).
/// dx[t, b, f] = Σ_{j ≤ t} W[j, f]·dy[t − j, b, f];
/// dW[j, f] = Σ_{t + j < T, b} dy[t, b, f]·x[t + j, b, f]; db[f] = Σ_{t, b} dy[t, b, f].
#[allow(clippy::type_complexity)]
pub fn lookahead_backward<T: Real>(
    x: &[T],
    w: &[T],
    dy: &[T],
    t: usize,
    b: usize,
    f: usize,
    context: usize,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let at = |ti: usize, bi: usize, fi: usize| (ti * b + bi) * f + fi;
    let mut dx = vec![0.0f64; t * b * f];
    let mut dw = vec![0.0f64; (context + 1) * f];
    let mut db = vec![0.0f64; f];
    for ti in 0..t {
        for bi in 0..b {
            for fi in 0..f {
                let g = dy[at(ti, bi, fi)].to_f64();
                db[fi] += g;
                for j in 0..=context {
                    if ti + j < t {
                        dx[at(ti + j, bi, fi)] += w[j * f + fi].to_f64() * g;
                        dw[j * f + fi] += x[at(ti + j, bi, fi)].to_f64() * g;
                    }
                }
            }
        }
    }
    let narrow = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect::<Vec<T>>();
    (narrow(dx), narrow(dw), narrow(db))
}
