//! Launcher of shaders/matmul_subgroup.wgsl: C = act(op(A)·op(B) + bias),
//! batched, vec4 loads, one subgroup of 8 per workgroup computing one tile
//! and sharing its A loads by broadcast (needs subgroups of at least 8; the
//! variant choice is in `ops::matmul`). Its `Params` struct is the same as
//! matmul.wgsl's and so are its bindings, so it shares [`Params`], [`Spec`]
//! and the slots with `kernels::matmul` (the contract test checks them
//! against this shader too).

use super::{record, Contract, Entry};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

pub use super::matmul::{Params, Spec, A, B, BIAS, C, P};

/// The file stem in the registry.
pub const KERNEL: &str = "matmul_subgroup";

/// A 64x64 tile per subgroup.
pub const MM_SG64X64: Entry = Entry { name: "mm_sg64x64", slots: &[P, A, B, C, BIAS] };
/// A 128x64 tile per subgroup.
pub const MM_SG128X64: Entry = Entry { name: "mm_sg128x64", slots: &[P, A, B, C, BIAS] };
/// A 64x128 tile per subgroup.
pub const MM_SG64X128: Entry = Entry { name: "mm_sg64x128", slots: &[P, A, B, C, BIAS] };
/// A 128x96 tile per subgroup.
pub const MM_SG128X96: Entry = Entry { name: "mm_sg128x96", slots: &[P, A, B, C, BIAS] };
/// A 32x64 tile per subgroup.
pub const MM_SG32X64: Entry = Entry { name: "mm_sg32x64", slots: &[P, A, B, C, BIAS] };
/// A 32x128 tile per subgroup.
pub const MM_SG32X128: Entry = Entry { name: "mm_sg32x128", slots: &[P, A, B, C, BIAS] };

/// Every entry point, one per tile shape.
pub const TILES: [Entry; 6] = [MM_SG64X64, MM_SG128X64, MM_SG64X128, MM_SG128X96, MM_SG32X64, MM_SG32X128];

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract { kernel: KERNEL, params: &[Params::LAYOUT], entries: &TILES };

/// C (batch, M, N) = act(op(A) · op(B) + bias) with `entry` one of
/// [`TILES`] (rows × cols per workgroup), over `groups` = (⌈N / cols⌉,
/// ⌈M / rows⌉, batch) workgroups of 8 invocations.
#[allow(clippy::too_many_arguments)]
pub fn record_subgroup_tile(
    ctx: &Context,
    entry: &Entry,
    spec: &Spec,
    p: &Params,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    bias: Option<&Tensor>,
    groups: [u32; 3],
) -> Result<()> {
    debug_assert!(TILES.iter().any(|e| e.name == entry.name), "{} is not a subgroup matmul entry", entry.name);
    let bindings = [A.bind(a), B.bind(b), C.bind(c), BIAS.bind(super::matmul::bias_or(bias, a))];
    record(ctx, KERNEL, entry, &spec.constants(bias.is_some()), p, &bindings, groups)
}
