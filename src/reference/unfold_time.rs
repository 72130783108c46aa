//! CPU reference for the speech front end's unfold over time
//! (`crate::speech::conv::unfold_time`, shaders/unfold_time.wgsl): plain
//! loops, f64 accumulation.
//!
//! x (T, B, F), K taps, stride S, zero padding P at both ends → cols
//! (T_out, B, K·F) with cols[t', b, k·F + f] = x[t'·S + k − P, b, f] (0
//! outside 0 ≤ · < T), T_out = ⌊(T + 2P − K)/S⌋ + 1.

use super::Real;

/// T_out (0 when not even one window fits), computed here rather than
/// shared with the code under test.
fn out_len(t: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    if t + 2 * padding < kernel || stride == 0 {
        0
    } else {
        (t + 2 * padding - kernel) / stride + 1
    }
}

/// The forward: cols (T_out, B, K·F) for x (T, B, F).
pub fn unfold_time<T: Real>(x: &[T], t: usize, b: usize, f: usize, kernel: usize, stride: usize, padding: usize) -> Vec<T> {
    let t_out = out_len(t, kernel, stride, padding);
    let mut cols = Vec::with_capacity(t_out * b * kernel * f);
    for to in 0..t_out {
        for bi in 0..b {
            for k in 0..kernel {
                for fi in 0..f {
                    let src = (to * stride + k) as isize - padding as isize;
                    cols.push(if src >= 0 && (src as usize) < t { x[(src as usize * b + bi) * f + fi] } else { T::from_f64(0.0) });
                }
            }
        }
    }
    cols
}

/// The backward: dx (T, B, F) for dcols (T_out, B, K·F).
pub fn unfold_time_backward<T: Real>(dcols: &[T], t: usize, b: usize, f: usize, kernel: usize, stride: usize, padding: usize) -> Vec<T> {
    let t_out = out_len(t, kernel, stride, padding);
    let mut dx = vec![0.0f64; t * b * f];
    for to in 0..t_out {
        for bi in 0..b {
            for k in 0..kernel {
                let src = (to * stride + k) as isize - padding as isize;
                if src < 0 || src as usize >= t {
                    continue;
                }
                for fi in 0..f {
                    dx[(src as usize * b + bi) * f + fi] += dcols[((to * b + bi) * kernel + k) * f + fi].to_f64();
                }
            }
        }
    }
    dx.into_iter().map(T::from_f64).collect()
}
