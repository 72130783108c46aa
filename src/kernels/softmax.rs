//! Launcher of shaders/softmax.wgsl (to be filled in: see src/kernels/reduce.rs).

use super::Contract;

/// The file stem in the registry.
pub const KERNEL: &str = "softmax";

/// Everything this launcher declares, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[], entries: &[] };
