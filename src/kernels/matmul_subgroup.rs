//! Launcher of shaders/matmul_subgroup.wgsl (to be filled in: see src/kernels/reduce.rs).

use super::Contract;

/// The file stem in the registry.
pub const KERNEL: &str = "matmul_subgroup";

/// Everything this launcher declares, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[], entries: &[] };
