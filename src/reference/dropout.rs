//! CPU reference for shaders/dropout.wgsl (`crate::nn::Dropout`): the same
//! hashed mask, bit-exact with the kernel.

use super::Real;

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
