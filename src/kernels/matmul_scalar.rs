//! Launcher of shaders/matmul_scalar.wgsl: C = act(op(A)·op(B) + bias) for
//! any M, N, K (elements loaded one by one with bounds checks), the fallback
//! for shapes shaders/matmul.wgsl cannot take. Its `Params` struct is the
//! same as matmul.wgsl's, so it shares [`Params`] and [`Spec`] with
//! `kernels::matmul` (strides here are in elements).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

pub use super::matmul::{Params, Spec};

/// The file stem in the registry.
pub const KERNEL: &str = "matmul_scalar";

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `a`: A (batch, M, K) or (batch, K, M).
pub const A: Slot = Slot::read("a", 1);
/// `b`: B (batch, K, N) or (batch, N, K).
pub const B: Slot = Slot::read("b", 2);
/// `c`: C (batch, M, N).
pub const C: Slot = Slot::read_write("c", 3);
/// `bias`: (N,) (statically used: something is always bound).
pub const BIAS: Slot = Slot::read("bias", 4);

/// 4x4 outputs per invocation, 8x8 invocations per workgroup.
pub const MM_SCALAR: Entry = Entry { name: "mm_scalar", slots: &[P, A, B, C, BIAS] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &[MM_SCALAR] };

/// C (batch, M, N) = act(op(A) · op(B) + bias), over `groups` =
/// (⌈N / 32⌉, ⌈M / 32⌉, batch) workgroups.
#[allow(clippy::too_many_arguments)]
pub fn record_mm_scalar(
    ctx: &Context,
    spec: &Spec,
    p: &Params,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    bias: Option<&Tensor>,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [A.bind(a), B.bind(b), C.bind(c), BIAS.bind(super::matmul::bias_or(bias, a))];
    record(ctx, KERNEL, &MM_SCALAR, &spec.constants(bias.is_some()), p, &bindings, groups)
}
