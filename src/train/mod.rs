//! Training-loop glue shared by the schedulers and the CLI.

use crate::error::Result;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::Tensor;

/// Forgets every parameter's accumulated gradient.
pub fn zero_grad(module: &dyn Module) {
    for (_, p) in module.parameters() {
        p.zero_grad();
    }
}

/// Records one optimiser update of every parameter that has a gradient
/// (frozen ones have none and are left alone). Nothing is submitted.
pub fn optimizer_step(module: &dyn Module, opt: &mut dyn Optimizer) -> Result<()> {
    let params = module.parameters();
    let with_grads: Vec<(Tensor, Tensor)> =
        params.iter().filter_map(|(_, p)| p.grad().map(|g| (p.value().clone(), g))).collect();
    let pairs: Vec<(&Tensor, &Tensor)> = with_grads.iter().map(|(v, g)| (v, g)).collect();
    opt.step(&pairs)
}
pub mod spirals;
pub mod seq;
pub mod seq_copy;
pub mod text;
pub mod speech;
pub mod gan;
pub mod gan_ckpt;
pub mod gan_cli;
pub mod gan_eval;
pub mod gan_report;
