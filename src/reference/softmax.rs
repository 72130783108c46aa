//! CPU reference for shaders/softmax.wgsl (`crate::ops::softmax`,
//! `log_softmax`): max-shifted, in f64.

use super::Real;

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
