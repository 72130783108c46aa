//! Plain CPU references for every kernel: simple loops, f64 accumulation,
//! never optimised. GPU tests compare against these.
//!
//! One file per shader stem: shaders/<stem>.wgsl → src/kernels/<stem>.rs →
//! src/reference/<stem>.rs → tests/<stem>.rs. Where one reference covers
//! several shaders its header says so (matmul.rs: the three matmul shaders;
//! ctc.rs: ctc and ctc_subgroup; rnn.rs: the cell and fused-step kernels).
//! The library never imports this module: it is the tests' oracle (and
//! `kairo demo` checks one matmul against it).

pub mod batchnorm;
pub mod conv;
pub mod ctc;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod lookahead;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod reduce;
pub mod rnn;
pub mod softmax;
pub mod unfold_time;

pub use elementwise::{binary, unary};
pub use matmul::matmul;
pub use reduce::reduce;
pub use softmax::softmax;

/// f32 (as the GPU) or f64 (for finite differences): the references compute
/// in f64 either way and return the caller's type.
pub trait Real: Copy + std::fmt::Debug {
    /// Widen.
    fn to_f64(self) -> f64;
    /// Narrow (round).
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Outcome of comparing a GPU result with its reference.
#[derive(Debug)]
pub struct Mismatch {
    /// Human-readable report: worst element and the first few mismatches.
    pub report: String,
}

/// Checks `|got − want| ≤ atol + rtol·|want|` element-wise (NaN matches NaN,
/// infinities must match exactly). On failure the report names the worst
/// element and the first few mismatches.
pub fn compare(got: &[f32], want: &[f32], atol: f32, rtol: f32) -> Result<(), Mismatch> {
    if got.len() != want.len() {
        return Err(Mismatch { report: format!("length {} vs reference {}", got.len(), want.len()) });
    }
    let mut bad = Vec::new();
    let mut worst = (0usize, 0.0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        let excess = if ok { 0.0 } else if g.is_finite() { (g - w).abs() - (atol + rtol * w.abs()) } else { f32::INFINITY };
        if !ok {
            bad.push(i);
            if excess > worst.1 || worst.1 == 0.0 {
                worst = (i, excess);
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let mut report = format!(
        "{} of {} elements differ (atol {atol}, rtol {rtol}); worst at [{}]: got {} want {}; first:",
        bad.len(),
        got.len(),
        worst.0,
        got[worst.0],
        want[worst.0]
    );
    for &i in bad.iter().take(5) {
        report.push_str(&format!(" [{i}] {} vs {};", got[i], want[i]));
    }
    Err(Mismatch { report })
}
