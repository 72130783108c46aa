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

/// A seeded generator, for initialising modules reproducibly.
pub fn seeded_rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
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

// Gradient checks: the GPU backward runs in f32, the numeric side in f64
// with ε = 1e-6 (truncation ~ε², rounding ~1e-16/ε). f32 sums over ≤ 50
// terms of size ≤ ~10 stay within 1e-4, so 2e-4 absolute plus 1e-3 relative.
pub const GRAD_ATOL: f32 = 2e-4;
pub const GRAD_RTOL: f32 = 1e-3;

/// Back-propagates a fixed random upstream gradient through `y` and checks
/// the gradients reaching `vars` against central differences of `cpu`
/// (the same function in f64) at `inputs` (the values of `vars`).
#[track_caller]
pub fn check_backward(name: &str, y: &kairo::Var, vars: &[&kairo::Var], inputs: &[Vec<f32>], cpu: &dyn Fn(&[Vec<f64>]) -> Vec<f64>) {
    let c = ctx();
    let w = random(y.value().numel(), 99);
    y.backward_with(kairo::Tensor::from_slice(&c, &w, y.shape()).unwrap()).unwrap();
    let got: Vec<Vec<f32>> = vars.iter().map(|v| v.grad().expect("gradient reached the input").to_vec().unwrap()).collect();
    let to64 = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let x64: Vec<Vec<f64>> = inputs.iter().map(|d| to64(d)).collect();
    let want = kairo::gradcheck::numeric_gradients(cpu, &x64, &to64(&w), 1e-6);
    if let Err(m) = kairo::gradcheck::check_gradients(name, &got, &want, GRAD_ATOL, GRAD_RTOL) {
        panic!("{}", m.report);
    }
}

/// d(Σ w·f(inputs))/d(inputs): every input becomes a parameter, `gpu`
/// builds the graph, `cpu` is the f64 reference of the same function.
#[track_caller]
pub fn gradcheck(
    name: &str,
    inputs: &[(Vec<f32>, Vec<usize>)],
    gpu: impl Fn(&[kairo::Var]) -> kairo::Result<kairo::Var>,
    cpu: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) {
    let c = ctx();
    let vars: Vec<kairo::Var> =
        inputs.iter().map(|(d, s)| kairo::Var::parameter(kairo::Tensor::from_slice(&c, d, s).unwrap())).collect();
    let y = gpu(&vars).unwrap();
    let refs: Vec<&kairo::Var> = vars.iter().collect();
    let data: Vec<Vec<f32>> = inputs.iter().map(|(d, _)| d.clone()).collect();
    check_backward(name, &y, &refs, &data, &cpu);
}
