//! Gradient checking: central finite differences of an op's CPU reference
//! in f64, compared with the gradients the GPU backward produced.
//!
//! The scalar probed is L(x) = Σ w ⊙ f(x) for a fixed upstream `w`, so one
//! check covers every output element; the GPU side runs the same L by
//! back-propagating `w` (see `Var::backward_with`).

use crate::reference::{compare, Mismatch};

/// ∂L/∂input for every element of every input, by central differences:
/// (L(x + ε) − L(x − ε)) / 2ε, with ε scaled to the element's magnitude.
pub fn numeric_gradients(f: &dyn Fn(&[Vec<f64>]) -> Vec<f64>, inputs: &[Vec<f64>], upstream: &[f64], eps: f64) -> Vec<Vec<f64>> {
    let loss = |xs: &[Vec<f64>]| -> f64 { f(xs).iter().zip(upstream).map(|(y, w)| y * w).sum() };
    let mut xs: Vec<Vec<f64>> = inputs.to_vec();
    let mut grads = Vec::with_capacity(inputs.len());
    for i in 0..inputs.len() {
        let mut g = Vec::with_capacity(inputs[i].len());
        for j in 0..inputs[i].len() {
            let x0 = xs[i][j];
            let h = eps * x0.abs().max(1.0);
            xs[i][j] = x0 + h;
            let up = loss(&xs);
            xs[i][j] = x0 - h;
            let down = loss(&xs);
            xs[i][j] = x0;
            g.push((up - down) / (2.0 * h));
        }
        grads.push(g);
    }
    grads
}

/// Compares GPU gradients with numeric ones input by input; the report
/// names the input and its worst element.
pub fn check_gradients(name: &str, gpu: &[Vec<f32>], numeric: &[Vec<f64>], atol: f32, rtol: f32) -> Result<(), Mismatch> {
    if gpu.len() != numeric.len() {
        return Err(Mismatch { report: format!("{name}: {} GPU gradients vs {} numeric", gpu.len(), numeric.len()) });
    }
    for (i, (g, n)) in gpu.iter().zip(numeric).enumerate() {
        let want: Vec<f32> = n.iter().map(|&v| v as f32).collect();
        compare(g, &want, atol, rtol).map_err(|m| Mismatch { report: format!("{name}, gradient of input {i}: {}", m.report) })?;
    }
    Ok(())
}
