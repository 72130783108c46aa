//! The registry of every kernel: name → WGSL source. The only place that
//! knows shader file names. Add a kernel by adding a file to `shaders/` and
//! a line here; the naga test then validates it on every machine.

use crate::error::{Error, Result};

/// One WGSL file.
#[derive(Debug)]
pub struct Kernel {
    /// Name used by ops and the pipeline cache.
    pub name: &'static str,
    /// File under `shaders/`.
    pub file: &'static str,
    /// The WGSL text, compiled in.
    pub source: &'static str,
}

macro_rules! kernel {
    ($name:literal, $file:literal) => {
        Kernel { name: $name, file: $file, source: include_str!(concat!("../shaders/", $file)) }
    };
}

/// Every kernel kairo ships.
pub static KERNELS: &[Kernel] = &[
    kernel!("matmul", "matmul.wgsl"),
    kernel!("matmul_scalar", "matmul_scalar.wgsl"),
    kernel!("matmul_subgroup", "matmul_subgroup.wgsl"),
    kernel!("elementwise", "elementwise.wgsl"),
    kernel!("reduce", "reduce.wgsl"),
    kernel!("softmax", "softmax.wgsl"),
    kernel!("optim", "optim.wgsl"),
    kernel!("loss", "loss.wgsl"),
    kernel!("bench", "bench.wgsl"),
    kernel!("embedding", "embedding.wgsl"),
    kernel!("dropout", "dropout.wgsl"),
    kernel!("rnn_cell", "rnn_cell.wgsl"),
    kernel!("lstm_cell", "lstm_cell.wgsl"),
    kernel!("gru_cell", "gru_cell.wgsl"),
    kernel!("rnn_layers", "rnn_layers.wgsl"),
    kernel!("lookahead", "lookahead.wgsl"),
    kernel!("rnn_fused", "rnn_fused.wgsl"),
    kernel!("speech", "speech.wgsl"),
    kernel!("ctc", "ctc.wgsl"),
    kernel!("conv", "conv.wgsl"),
    kernel!("batchnorm", "batchnorm.wgsl"),
    kernel!("ctc_subgroup", "ctc_subgroup.wgsl"),
];

/// Looks a kernel up by name.
pub fn get(name: &str) -> Result<&'static Kernel> {
    KERNELS.iter().find(|k| k.name == name).ok_or_else(|| Error::UnknownKernel(name.to_string()))
}
