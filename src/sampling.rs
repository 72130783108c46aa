//! Host-side helpers for reading and drawing from model outputs and for
//! random initialisation: the one arg-max and the one standard normal
//! sampler (Box–Muller) of the crate. Anything in kairo may import it.

use rand::Rng;

/// Index and value of the largest element (the first on ties); NaNs are
/// never chosen. `(0, -∞)` for an empty or all-NaN slice.
pub fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}

/// One N(0, 1) sample by Box–Muller (u1 in (0, 1), so ln stays finite).
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}
