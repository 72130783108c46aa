//! Recurrent layers (tanh RNN, LSTM, GRU; one layer, one direction) as plain
//! loops in f64, PyTorch semantics: gates (i, f, g, o) and (r, z, n) in the
//! rows of `weight_ih` (G·H, I) / `weight_hh` (G·H, H), two biases (G·H,).
//!
//! One file for the recurrent kernels: shaders/rnn_cell.wgsl, lstm_cell.wgsl,
//! gru_cell.wgsl (one cell step each) and rnn_fused.wgsl (product and cell in
//! one dispatch) all compute a step of [`recurrent`]. The stacks of
//! rnn_layers.wgsl are compositions of it (tests/rnn_layers.rs).

use super::Real;
use crate::nn::rnn::CellKind;

/// Outputs of [`recurrent`]: `output` (T, B, H), `h_n` (B, H), `c_n` (B, H) for LSTM.
#[derive(Clone, Debug)]
pub struct RecurrentOut<T> {
    /// h_1 … h_T, (T, B, H).
    pub output: Vec<T>,
    /// h_T, (B, H).
    pub h_n: Vec<T>,
    /// c_T, (B, H) (LSTM only).
    pub c_n: Option<Vec<T>>,
}

/// The weights of one layer, flat, PyTorch layout.
#[derive(Clone, Copy, Debug)]
pub struct RecurrentWeights<'a, T> {
    /// (G·H, I)
    pub w_ih: &'a [T],
    /// (G·H, H)
    pub w_hh: &'a [T],
    /// (G·H,)
    pub b_ih: &'a [T],
    /// (G·H,)
    pub b_hh: &'a [T],
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Runs the layer over x (T, B, I) from h0 (B, H) and, for LSTM, c0 (B, H)
/// (None: zeros).
#[allow(clippy::too_many_arguments)]
pub fn recurrent<T: Real>(
    kind: CellKind,
    x: &[T],
    w: RecurrentWeights<'_, T>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
) -> RecurrentOut<T> {
    let g = kind.gates();
    let f = |v: &[T]| v.iter().map(|a| a.to_f64()).collect::<Vec<f64>>();
    let (w_ih, w_hh, b_ih, b_hh) = (f(w.w_ih), f(w.w_hh), f(w.b_ih), f(w.b_hh));
    let mut h = h0.map_or(vec![0.0; batch * hidden], f);
    let mut c = c0.map_or(vec![0.0; batch * hidden], f);
    let mut output = Vec::with_capacity(steps * batch * hidden);
    for t in 0..steps {
        let mut h_new = vec![0.0; batch * hidden];
        let mut c_new = vec![0.0; batch * hidden];
        for b in 0..batch {
            // Gate pre-activations, input side and hidden side separately.
            let mut ax = vec![0.0; g * hidden];
            let mut ah = vec![0.0; g * hidden];
            for r in 0..g * hidden {
                let mut s = b_ih[r];
                for k in 0..input {
                    s += w_ih[r * input + k] * x[(t * batch + b) * input + k].to_f64();
                }
                ax[r] = s;
                let mut s = b_hh[r];
                for k in 0..hidden {
                    s += w_hh[r * hidden + k] * h[b * hidden + k];
                }
                ah[r] = s;
            }
            for j in 0..hidden {
                let at = |q: usize| ax[q * hidden + j] + ah[q * hidden + j];
                let o = b * hidden + j;
                match kind {
                    CellKind::RnnTanh => h_new[o] = at(0).tanh(),
                    CellKind::Lstm => {
                        let (i, fg, gg, og) =
                            (sigmoid(at(0)), sigmoid(at(1)), at(2).tanh(), sigmoid(at(3)));
                        c_new[o] = fg * c[o] + i * gg;
                        h_new[o] = og * c_new[o].tanh();
                    }
                    CellKind::Gru => {
                        let r = sigmoid(at(0));
                        let z = sigmoid(at(1));
                        let n = (ax[2 * hidden + j] + r * ah[2 * hidden + j]).tanh();
                        h_new[o] = (1.0 - z) * n + z * h[o];
                    }
                }
            }
        }
        output.extend(h_new.iter().map(|&v| T::from_f64(v)));
        h = h_new;
        c = c_new;
    }
    RecurrentOut {
        output,
        h_n: h.iter().map(|&v| T::from_f64(v)).collect(),
        c_n: (kind == CellKind::Lstm).then(|| c.iter().map(|&v| T::from_f64(v)).collect()),
    }
}
