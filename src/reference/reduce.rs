//! CPU reference for shaders/reduce.wgsl (`crate::ops::reduce`): sum, mean
//! and max over one axis, accumulated in f64.

use super::Real;
use crate::ops::ReduceOp;

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
