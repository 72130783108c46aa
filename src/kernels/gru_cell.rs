//! Launcher of shaders/gru_cell.wgsl (to be filled in: see src/kernels/reduce.rs).

use super::Contract;

/// The file stem in the registry.
pub const KERNEL: &str = "gru_cell";

/// Everything this launcher declares, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[], entries: &[] };
