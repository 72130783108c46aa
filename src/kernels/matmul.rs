//! Launcher of shaders/matmul.wgsl: C = act(op(A)·op(B) + bias), batched,
//! vec4 loads (M, N and K multiples of 4): register-tile entry points (4x4 to
//! 8x8 outputs per invocation), a workgroup-memory tiled entry point (64x64
//! tiles of 4x4 per invocation) and two double-buffered workgroup-staged
//! entry points for discrete GPUs (128x128 and 64x64 tiles, 8x8 per
//! invocation).
//! Variant choice and autotune are in `ops::matmul`; shaders/matmul_scalar.wgsl
//! and shaders/matmul_subgroup.wgsl share this file's [`Params`] (their
//! structs are identical) and [`Spec`].

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "matmul";

super::params! {
    /// Mirrors `Params` in shaders/matmul.wgsl (and the identical structs of
    /// shaders/matmul_scalar.wgsl and shaders/matmul_subgroup.wgsl). Strides
    /// are per batch, in the shader's load unit: vec4 here and in the
    /// subgroup shader, elements in the scalar one; 0 broadcasts.
    pub struct Params as "Params" {
        m: u32,
        n: u32,
        k: u32,
        batch: u32,
        stride_a: u32,
        stride_b: u32,
        stride_c: u32,
        slope: f32,
    }
}

/// The specialisation shared by the three matmul shaders (their `override`s
/// TRANS_A, TRANS_B and ACT; HAS_BIAS follows from the bias passed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// A stored (K, M) instead of (M, K).
    pub trans_a: bool,
    /// B stored (N, K) instead of (K, N).
    pub trans_b: bool,
    /// 0 none, 1 relu, 2 leaky_relu (slope in `Params::slope`), 3 tanh, 4 sigmoid.
    pub act: u32,
}

impl Spec {
    /// The override constants, in the order every matmul launcher passes them.
    pub(crate) fn constants(&self, has_bias: bool) -> Vec<(&'static str, f64)> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        vec![("TRANS_A", b(self.trans_a)), ("TRANS_B", b(self.trans_b)), ("HAS_BIAS", b(has_bias)), ("ACT", self.act as f64)]
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `a`: A (batch, M, K) or (batch, K, M), as vec4.
pub const A: Slot = Slot::read("a", 1);
/// `b`: B (batch, K, N) or (batch, N, K), as vec4.
pub const B: Slot = Slot::read("b", 2);
/// `c`: C (batch, M, N), as vec4.
pub const C: Slot = Slot::read_write("c", 3);
/// `bias`: (N,), as vec4 (statically used: something is always bound).
pub const BIAS: Slot = Slot::read("bias", 4);

/// 4x4 outputs per invocation, WG_X × WG_Y invocations per workgroup.
pub const MM_4X4: Entry = Entry { name: "mm_4x4", slots: &[P, A, B, C, BIAS] };
/// 8x4 outputs per invocation.
pub const MM_8X4: Entry = Entry { name: "mm_8x4", slots: &[P, A, B, C, BIAS] };
/// 4x8 outputs per invocation.
pub const MM_4X8: Entry = Entry { name: "mm_4x8", slots: &[P, A, B, C, BIAS] };
/// 8x8 outputs per invocation.
pub const MM_8X8: Entry = Entry { name: "mm_8x8", slots: &[P, A, B, C, BIAS] };
/// 64x64 tiles staged in workgroup memory, 16x16 invocations of 4x4 each.
pub const MM_TILED: Entry = Entry { name: "mm_tiled", slots: &[P, A, B, C, BIAS] };

/// 128x128 tiles, 16x16 invocations of 8x8 each, K slices of 8 staged in
/// workgroup memory (16 KiB, double-buffered).
pub const MM_WG128: Entry = Entry { name: "mm_wg128", slots: &[P, A, B, C, BIAS] };
/// 64x64 tiles, 8x8 invocations of 8x8 each, K slices of 16 staged in
/// workgroup memory (16 KiB, double-buffered).
pub const MM_WG64: Entry = Entry { name: "mm_wg64", slots: &[P, A, B, C, BIAS] };

/// The register-tile entry points (workgroup size set by WG_X, WG_Y).
pub const REGISTER_TILES: [Entry; 4] = [MM_4X4, MM_8X4, MM_4X8, MM_8X8];

/// The workgroup-memory entry points (fixed workgroup sizes).
pub const WORKGROUP_TILES: [Entry; 3] = [MM_TILED, MM_WG128, MM_WG64];

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[MM_4X4, MM_8X4, MM_4X8, MM_8X8, MM_TILED, MM_WG128, MM_WG64],
};

/// The bias binding is statically used, so something must be bound even
/// when HAS_BIAS is off; A is read-only, so it may stand in.
pub(crate) fn bias_or<'a>(bias: Option<&'a Tensor>, a: &'a Tensor) -> &'a Tensor {
    bias.unwrap_or(a)
}

/// C (batch, M, N) = act(op(A) · op(B) + bias) with `entry` one of
/// [`REGISTER_TILES`], `wg` × `wg` invocations per workgroup, over `groups`
/// = (⌈N / (cols·wg)⌉, ⌈M / (rows·wg)⌉, batch) workgroups.
#[allow(clippy::too_many_arguments)]
pub fn record_register_tile(
    ctx: &Context,
    entry: &Entry,
    spec: &Spec,
    wg: u32,
    p: &Params,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    bias: Option<&Tensor>,
    groups: [u32; 3],
) -> Result<()> {
    debug_assert!(REGISTER_TILES.iter().any(|e| e.name == entry.name), "{} is not a register-tile entry", entry.name);
    let mut constants = spec.constants(bias.is_some());
    constants.push(("WG_X", wg as f64));
    constants.push(("WG_Y", wg as f64));
    let bindings = [A.bind(a), B.bind(b), C.bind(c), BIAS.bind(bias_or(bias, a))];
    record(ctx, KERNEL, entry, &constants, p, &bindings, groups)
}

/// C (batch, M, N) = act(op(A) · op(B) + bias) with `entry` one of
/// [`WORKGROUP_TILES`] (fixed workgroup size, operands staged in workgroup
/// memory), over `groups` = (⌈N / tile⌉, ⌈M / tile⌉, batch) workgroups:
/// tile 64 for mm_tiled and mm_wg64, 128 for mm_wg128.
#[allow(clippy::too_many_arguments)]
pub fn record_workgroup_tile(
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
    debug_assert!(WORKGROUP_TILES.iter().any(|e| e.name == entry.name), "{} is not a workgroup-tile entry", entry.name);
    let bindings = [A.bind(a), B.bind(b), C.bind(c), BIAS.bind(bias_or(bias, a))];
    record(ctx, KERNEL, entry, &spec.constants(bias.is_some()), p, &bindings, groups)
}
