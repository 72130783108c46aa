//! Two interleaved spirals: the classic small non-linear classification task.

use rand::{Rng, SeedableRng};

/// `per_class` points on each of two spirals of `turns` turns (class 0 and
/// class 1, half a turn apart) with uniform noise of ±`noise`; points are
/// (x, y) pairs in [-1, 1]², row-major (N, 2), labels (N,).
pub fn two_spirals(per_class: usize, turns: f32, noise: f32, seed: u64) -> (Vec<f32>, Vec<i32>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut xy, mut labels) = (Vec::with_capacity(4 * per_class), Vec::with_capacity(2 * per_class));
    for class in 0..2 {
        for i in 0..per_class {
            let t = i as f32 / per_class as f32;
            let r = 0.1 + 0.9 * t;
            let angle = 2.0 * turns * std::f32::consts::PI * t + class as f32 * std::f32::consts::PI;
            let jitter = |rng: &mut rand::rngs::StdRng| if noise > 0.0 { rng.random_range(-noise..noise) } else { 0.0 };
            xy.push(r * angle.cos() + jitter(&mut rng));
            xy.push(r * angle.sin() + jitter(&mut rng));
            labels.push(class);
        }
    }
    (xy, labels)
}
