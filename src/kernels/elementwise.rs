//! Launcher of shaders/elementwise.wgsl: unary maps, their backward, and
//! broadcasting binary ops over f32 tensors (shape checks and broadcast
//! strides are in `ops::elementwise`).

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::Context;
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "elementwise";

/// Most dimensions a broadcasting binary op handles.
pub const MAX_RANK: usize = 8;

super::params! {
    /// Mirrors `UnaryParams` in shaders/elementwise.wgsl.
    pub struct UnaryParams as "UnaryParams" {
        n: u32,
        alpha: f32,
        beta: f32,
        _pad: u32,
    }
}

super::params! {
    /// Mirrors `BinaryParams` in shaders/elementwise.wgsl: output dims padded
    /// with 1, input strides in elements (0 where broadcast).
    pub struct BinaryParams as "BinaryParams" {
        n: u32,
        rank: u32,
        _pad0: u32,
        _pad1: u32,
        shape: [u32; MAX_RANK],
        stride_a: [u32; MAX_RANK],
        stride_b: [u32; MAX_RANK],
    }
}

/// `up`: the unary params block.
pub const UP: Slot = Slot::uniform("up", 0);
/// `bp`: the binary params block.
pub const BP: Slot = Slot::uniform("bp", 5);
/// `x`: (n,), the unary input.
pub const X: Slot = Slot::read("x", 1);
/// `y`: (n,), the output (dx for `unary_backward`).
pub const Y: Slot = Slot::read_write("y", 2);
/// `lhs`: a, broadcastable to the output (the forward output y for `unary_backward`).
pub const LHS: Slot = Slot::read("lhs", 3);
/// `rhs`: b, broadcastable to the output (dy for `unary_backward`).
pub const RHS: Slot = Slot::read("rhs", 4);

/// y = f(x), one invocation per element.
pub const UNARY: Entry = Entry { name: "unary", slots: &[UP, X, Y] };
/// out = a op b with broadcasting.
pub const BINARY: Entry = Entry { name: "binary", slots: &[BP, Y, LHS, RHS] };
/// dx = dy · f'(x) from x, the forward output and dy.
pub const UNARY_BACKWARD: Entry = Entry { name: "unary_backward", slots: &[UP, X, Y, LHS, RHS] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[UnaryParams::LAYOUT, BinaryParams::LAYOUT],
    entries: &[UNARY, BINARY, UNARY_BACKWARD],
};

/// The shader's `UNARY_OP` codes (α and β in [`UnaryParams`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// α·x
    Scale = 0,
    /// max(x, 0)
    Relu = 1,
    /// x or α·x
    LeakyRelu = 2,
    /// tanh(x)
    Tanh = 3,
    /// σ(x)
    Sigmoid = 4,
    /// eˣ
    Exp = 5,
    /// ln x
    Log = 6,
    /// clamp(x, α, β)
    Clamp = 7,
    /// −x
    Neg = 8,
    /// x + α
    AddScalar = 9,
}

/// The shader's `BINARY_OP` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// a + b
    Add = 0,
    /// a − b
    Sub = 1,
    /// a · b
    Mul = 2,
    /// a / b
    Div = 3,
    /// a (a broadcast copy: expand)
    CopyA = 4,
    /// 1.0 where a == b, else 0.0
    Equal = 5,
}

/// y (n,) = op(x (n,)), over `groups` folded 256-wide workgroups (⌈n / 256⌉ in all).
pub fn record_unary(ctx: &Context, p: &UnaryParams, op: Unary, x: &Tensor, y: &Tensor, groups: [u32; 3]) -> Result<()> {
    record(ctx, KERNEL, &UNARY, &[("UNARY_OP", op as u32 as f64)], p, &[X.bind(x), Y.bind(y)], groups)
}

/// out (shape) = a op b, a and b broadcast to the output shape in `p` (or
/// all three of one shape with `broadcast` false), over `groups` folded
/// 256-wide workgroups (⌈n / 256⌉ in all).
#[allow(clippy::too_many_arguments)]
pub fn record_binary(
    ctx: &Context,
    p: &BinaryParams,
    op: Binary,
    broadcast: bool,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let constants = [("BINARY_OP", op as u32 as f64), ("BROADCAST", if broadcast { 1.0 } else { 0.0 })];
    record(ctx, KERNEL, &BINARY, &constants, p, &[LHS.bind(a), RHS.bind(b), Y.bind(out)], groups)
}

/// dx (n,) = dy (n,) · f'(x) for y = op(x), from x (n,) and y (n,), over
/// `groups` folded 256-wide workgroups (⌈n / 256⌉ in all).
#[allow(clippy::too_many_arguments)]
pub fn record_unary_backward(
    ctx: &Context,
    p: &UnaryParams,
    op: Unary,
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let bindings = [X.bind(x), LHS.bind(y), RHS.bind(dy), Y.bind(dx)];
    record(ctx, KERNEL, &UNARY_BACKWARD, &[("UNARY_OP", op as u32 as f64)], p, &bindings, groups)
}
