//! Shared test helpers: one context per test binary, seeded data, and a
//! tolerance check that prints the worst element.
#![allow(dead_code)]

use std::sync::OnceLock;

use kairo::Context;
use rand::{Rng, SeedableRng};

/// The context every kernel test shares (KAIRO_BACKEND / KAIRO_ADAPTER pick it).
/// Fails loudly, never skips, when no adapter exists.
pub fn ctx() -> Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(fresh_ctx).clone()
}

/// A context of its own, for tests that count allocations or submits.
pub fn fresh_ctx() -> Context {
    match Context::new() {
        Ok(c) => {
            eprintln!("kairo tests on {}", c.describe());
            c
        }
        Err(e) => panic!("GPU tests need an adapter and found none: {e}"),
    }
}

/// Uniform values in [-1, 1) from a fixed seed.
pub fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Panics with the worst element and first mismatches unless
/// |got − want| ≤ atol + rtol·|want| everywhere.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    if let Err(m) = kairo::reference::compare(got, want, atol, rtol) {
        panic!("{what}: {}", m.report);
    }
}
