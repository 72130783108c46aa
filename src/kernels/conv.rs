//! Launcher of shaders/conv.wgsl: the rearrangements that turn 2-D
//! convolutions into matmuls (im2col, col2im, the NCHW ↔ channel-major
//! permutes) and the direct transposed-convolution gather. Every entry point
//! is one invocation per output element (`Params::total`), with the geometry
//! specialised into the pipeline. Geometry, chunking and the matmuls are in
//! `ops::conv`.

use super::{record, Contract, Entry, Slot};
use crate::error::Result;
use crate::gpu::{Binding, Context};
use crate::tensor::Tensor;

/// The file stem in the registry.
pub const KERNEL: &str = "conv";

super::params! {
    /// Mirrors `Params` in shaders/conv.wgsl.
    pub struct Params as "Params" {
        c: u32,
        h: u32,
        w: u32,
        nb: u32,
        oh: u32,
        ow: u32,
        kh: u32,
        kw: u32,
        stride: u32,
        pad: u32,
        dil: u32,
        n0: u32,
        total: u32,
        cin: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// `p`: the params block.
pub const P: Slot = Slot::uniform("p", 0);
/// `img`: (N, C, H, W), images n0.. read.
pub const IMG: Slot = Slot::read("img", 1);
/// `cols`: (C·KH·KW, NB·OH·OW), written.
pub const COLS: Slot = Slot::read_write("cols", 2);
/// `cols_in`: (C·KH·KW, NB·OH·OW), read.
pub const COLS_IN: Slot = Slot::read("cols_in", 3);
/// `out`: (N, C, H, W), (N, C, L) or (C, NB, L).
pub const OUT: Slot = Slot::read_write("out", 4);
/// `bias`: (C,) (any buffer without HAS_BIAS).
pub const BIAS: Slot = Slot::read("bias", 5);
/// `src`: (C, NB, L) or (N, C, L).
pub const SRC: Slot = Slot::read("src", 6);
/// `weight`: (Cin, C, KH, KW), direct form only.
pub const WEIGHT: Slot = Slot::read("weight", 7);

/// cols from images n0..n0+nb.
pub const IM2COL: Entry = Entry { name: "im2col", slots: &[P, IMG, COLS] };
/// Images n0..n0+nb summed from columns, plus bias.
pub const COL2IM: Entry = Entry { name: "col2im", slots: &[P, COLS_IN, OUT, BIAS] };
/// (C, NB, L) → images n0..n0+nb of (N, C, L), plus bias.
pub const CN_TO_NCHW: Entry = Entry { name: "cn_to_nchw", slots: &[P, OUT, BIAS, SRC] };
/// Images n0..n0+nb of (N, C, L) → (C, NB, L).
pub const NCHW_TO_CN: Entry = Entry { name: "nchw_to_cn", slots: &[P, OUT, SRC] };
/// ConvTranspose2d as one gather per output element.
pub const CONVT_DIRECT: Entry = Entry { name: "convt_direct", slots: &[P, OUT, BIAS, SRC, WEIGHT] };

/// Everything above, for the contract test.
pub const CONTRACT: Contract = Contract {
    kernel: KERNEL,
    params: &[Params::LAYOUT],
    entries: &[IM2COL, COL2IM, CN_TO_NCHW, NCHW_TO_CN, CONVT_DIRECT],
};

/// Records `entry` with the geometry of `p` as specialisation constants.
fn run(ctx: &Context, entry: &Entry, p: &Params, has_bias: bool, bindings: &[Binding<'_>], groups: [u32; 3]) -> Result<()> {
    // The geometry is specialised into the pipeline (divisions by constants
    // are cheap on llvmpipe, runtime vector divisions are not): one pipeline
    // per layer shape and entry point, compiled once per context.
    let constants = [
        ("HAS_BIAS", if has_bias { 1.0 } else { 0.0 }),
        ("C", p.c as f64),
        ("H", p.h as f64),
        ("W", p.w as f64),
        ("NB", p.nb as f64),
        ("OH", p.oh as f64),
        ("OW", p.ow as f64),
        ("KH", p.kh as f64),
        ("KW", p.kw as f64),
        ("S", p.stride as f64),
        ("P", p.pad as f64),
        ("D", p.dil as f64),
        ("CIN", p.cin as f64),
    ];
    record(ctx, KERNEL, entry, &constants, p, bindings, groups)
}

/// cols (C·kh·kw, nb·OH·OW) from images n0..n0+nb of img (N, C, H, W);
/// `p.total` = cols' elements, over `groups` folded 256-wide workgroups.
pub fn record_im2col(ctx: &Context, p: &Params, img: &Tensor, cols: &Tensor, groups: [u32; 3]) -> Result<()> {
    run(ctx, &IM2COL, p, false, &[IMG.bind(img), COLS.bind(cols)], groups)
}

/// Images n0..n0+nb of out (N, C, H, W) from cols (C·kh·kw, nb·OH·OW), plus
/// bias (C,) if given; `p.total` = nb·C·H·W, over `groups`.
pub fn record_col2im(ctx: &Context, p: &Params, cols: &Tensor, out: &Tensor, bias: Option<&Tensor>, groups: [u32; 3]) -> Result<()> {
    let b = bias.unwrap_or(cols);
    run(ctx, &COL2IM, p, bias.is_some(), &[COLS_IN.bind(cols), OUT.bind(out), BIAS.bind(b)], groups)
}

/// Images n0..n0+nb of out (N, C, L…) from src (C, nb·L), plus bias (C,) if
/// given; `p.total` = nb·C·L, over `groups`.
pub fn record_cn_to_nchw(ctx: &Context, p: &Params, src: &Tensor, out: &Tensor, bias: Option<&Tensor>, groups: [u32; 3]) -> Result<()> {
    let b = bias.unwrap_or(src);
    run(ctx, &CN_TO_NCHW, p, bias.is_some(), &[OUT.bind(out), BIAS.bind(b), SRC.bind(src)], groups)
}

/// out (C, nb·L) from images n0..n0+nb of src (N, C, L…); `p.total` = out's
/// elements, over `groups`.
pub fn record_nchw_to_cn(ctx: &Context, p: &Params, src: &Tensor, out: &Tensor, groups: [u32; 3]) -> Result<()> {
    run(ctx, &NCHW_TO_CN, p, false, &[OUT.bind(out), SRC.bind(src)], groups)
}

/// y (N, Cout, H_out, W_out) = ConvTranspose2d of x (N, Cin, H, W) with
/// weight (Cin, Cout, kh, kw), plus bias (Cout,) if given; `p.total` = y's
/// elements, `p.cin` = Cin, over `groups`.
#[allow(clippy::too_many_arguments)]
pub fn record_convt_direct(
    ctx: &Context,
    p: &Params,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    let b = bias.unwrap_or(x);
    run(ctx, &CONVT_DIRECT, p, bias.is_some(), &[OUT.bind(y), BIAS.bind(b), SRC.bind(x), WEIGHT.bind(weight)], groups)
}
