//! 2-D convolution and transposed convolution (PyTorch semantics, groups = 1)
//! as matmuls plus cheap rearrangements (shaders/conv.wgsl):
//!
//! - `Conv2d`: im2col gathers the taps into cols (C·kh·kw, N·L); one matmul
//!   W (O, C·kh·kw) · cols gives the output in channel-major (O, N·L) layout,
//!   and a permute (with the bias fused) makes it NCHW.
//! - `ConvTranspose2d`: one matmul Wᵀ (Cout·kh·kw, Cin) · x' (Cin, N·H·W)
//!   gives the columns, and col2im sums each output pixel's ≤ ⌈k/s⌉²
//!   contributions (bias fused).
//!
//! The gradients are the same pieces the other way round: col2im is the
//! adjoint of im2col, and each weight gradient is one matmul whose inner
//! dimension runs over the whole batch. On llvmpipe every storage load costs
//! far more than an FMA, so routing the arithmetic through the autotuned
//! subgroup matmul (15–20 GFLOP/s there) beats direct gather kernels, which
//! need a load per multiply-add.
//!
//! Transposed convolution, forms compared (`kairo bench --only conv`,
//! llvmpipe, x (16, 256, 8, 8) → (16, 128, 16, 16), k 4, s 2, 1.07 GFLOP,
//! measured while the 2-core machine ran at load average ~13, so absolute
//! figures are ~7× below an idle machine's; the matmul alone ran at
//! 2–2.7 GFLOP/s then): matmul + col2im 712 ms (the matmul alone ~450–550
//! ms, col2im and the permute ~50 ms); the direct gather kernel
//! ([`conv_transpose2d_direct`]) 23 400 ms, 33× slower (two loads per
//! multiply-add). The gathers first divided by runtime sizes, which
//! llvmpipe runs as one scalar divide per lane: they cost as much as the
//! matmul until the geometry became specialisation constants (3× faster).
//! A sub-pixel decomposition (s² small convolutions) would still need an
//! im2col per phase of the same total size, so it was not pursued.
//!
//! A batch whose column matrix would exceed the storage-binding limit (or,
//! on software adapters, the matmul's inner-dimension limit) runs in chunks
//! of images; only a single image over the limit is an error.

use super::{as_u32, grid_1d, matmul_ex, MatmulOptions};
use crate::error::{Error, Result};
use crate::kernels::conv::{self as kernel, Params};
use crate::tensor::{DType, Tensor};
use crate::Context;

/// Most kernel taps (kh·kw): the per-pixel loop of col2im stays far below
/// llvmpipe's loop cap.
pub const MAX_TAPS: usize = 4096;

/// Stride, padding, dilation (the same along both spatial axes) and, for
/// the transposed convolution, output padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// s ≥ 1.
    pub stride: usize,
    /// p ≥ 0, zero padding on every side (for the transposed form: removed
    /// from the output, as PyTorch).
    pub padding: usize,
    /// d ≥ 1.
    pub dilation: usize,
    /// Transposed only: extra rows/columns at the bottom/right; op < max(s, d).
    pub output_padding: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions { stride: 1, padding: 0, dilation: 1, output_padding: 0 }
    }
}

/// One convolution's geometry: the image side (C, H, W) that im2col reads
/// and col2im writes, and the grid (OH, OW) of kernel positions. For Conv2d
/// the image is the input; for ConvTranspose2d it is the output.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    o: ConvOptions,
}

impl Geom {
    /// Rows of the column matrix: C·kh·kw.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Grid positions per image.
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn params(&self, n0: usize, nb: usize, total: usize) -> Result<Params> {
        Ok(Params {
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            nb: nb as u32,
            oh: self.oh as u32,
            ow: self.ow as u32,
            kh: self.kh as u32,
            kw: self.kw as u32,
            stride: self.o.stride as u32,
            pad: self.o.padding as u32,
            dil: self.o.dilation as u32,
            n0: n0 as u32,
            total: as_u32("conv", "elements per dispatch", total)?,
            cin: 0,
            _pad1: 0,
            _pad2: 0,
        })
    }
}

/// PyTorch's Conv2d output size along one axis, or None if not positive.
pub fn conv_out_size(input: usize, kernel: usize, o: &ConvOptions) -> Option<usize> {
    let span = o.dilation * (kernel - 1) + 1;
    let padded = input + 2 * o.padding;
    (padded >= span).then(|| (padded - span) / o.stride + 1)
}

/// PyTorch's ConvTranspose2d output size: (H−1)·s − 2p + d·(k−1) + op + 1,
/// or None if not positive.
pub fn conv_transpose_out_size(input: usize, kernel: usize, o: &ConvOptions) -> Option<usize> {
    let full = (input - 1) * o.stride + o.dilation * (kernel - 1) + o.output_padding + 1;
    (full > 2 * o.padding).then(|| full - 2 * o.padding)
}

fn check_common(op: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<()> {
    x.expect_dtype(op, DType::F32)?;
    w.expect_dtype(op, DType::F32)?;
    x.same_context(op, w)?;
    if x.shape().len() != 4 || w.shape().len() != 4 {
        return Err(Error::shape(&format!("{op} (x (N, C, H, W) vs weight 4-D)"), x.shape(), w.shape()));
    }
    if x.numel() == 0 || w.numel() == 0 {
        return Err(Error::shape(&format!("{op} (empty input or weight)"), x.shape(), w.shape()));
    }
    if o.stride == 0 || o.dilation == 0 {
        return Err(Error::InvalidArgument(format!("{op}: stride ({}) and dilation ({}) must be at least 1", o.stride, o.dilation)));
    }
    if w.shape()[2] * w.shape()[3] > MAX_TAPS {
        return Err(Error::invalid_shape(op, format!("kernel {:?} has more than {MAX_TAPS} taps", &w.shape()[2..])));
    }
    if let Some(b) = b {
        b.expect_dtype(op, DType::F32)?;
        b.same_context(op, x)?;
    }
    Ok(())
}

/// Images per chunk: the largest count whose biggest per-chunk matrix
/// (`floats_per_image` each) fits one storage binding, and, on software
/// adapters, whose weight-gradient inner dimension (`l` per image) stays
/// within the matmul's loop limit.
fn chunk_images(ctx: &Context, op: &str, n: usize, floats_per_image: usize, l: usize) -> Result<usize> {
    let limit = ctx.limits().max_storage_buffer_binding_size.min(ctx.limits().max_buffer_size) / 4;
    let by_mem = (limit / floats_per_image.max(1) as u64) as usize;
    if by_mem == 0 {
        return Err(Error::OverLimit {
            what: format!("{op}: column matrix of one image"),
            needed: floats_per_image as u64 * 4,
            limit_name: "max_storage_buffer_binding_size",
            limit: limit * 4,
        });
    }
    let mut nb = n.min(by_mem);
    if ctx.adapter_info().device_type == wgpu::DeviceType::Cpu {
        let max_k = 4 * crate::ops::reduce::MAX_LOOP;
        let by_k = max_k / l.max(1);
        if by_k == 0 {
            return Err(Error::OverLimit {
                what: format!("{op}: output positions of one image (weight-gradient inner dimension on a software adapter)"),
                needed: l as u64,
                limit_name: "software adapter loop limit (65535 iterations per invocation)",
                limit: max_k as u64,
            });
        }
        nb = nb.min(by_k);
    }
    Ok(nb.max(1))
}

/// Workgroups for `p.total` invocations, 256 per workgroup.
fn groups(ctx: &Context, p: &Params) -> Result<[u32; 3]> {
    grid_1d(ctx, (p.total as usize).div_ceil(256) as u64)
}

/// cols (C·kh·kw, nb·L) of images n0..n0+nb of `img` (N, C, H, W).
fn im2col(img: &Tensor, g: &Geom, n0: usize, nb: usize) -> Result<Tensor> {
    let ctx = img.context();
    let cols = Tensor::empty(ctx, &[g.k(), nb * g.l()], DType::F32)?;
    let p = g.params(n0, nb, cols.numel())?;
    kernel::record_im2col(ctx, &p, img, &cols, groups(ctx, &p)?)?;
    Ok(cols)
}

/// Writes images n0..n0+nb of `out` (N, C, H, W) from cols (C·kh·kw, nb·L), plus bias.
fn col2im_into(cols: &Tensor, g: &Geom, n0: usize, nb: usize, out: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    let p = g.params(n0, nb, nb * g.c * g.h * g.w)?;
    let ctx = out.context();
    kernel::record_col2im(ctx, &p, cols, out, bias, groups(ctx, &p)?)
}

/// Geometry of a plain (C, L) permute: the kernel reads c, h·w and nb only.
fn perm_geom(c: usize, l: usize) -> Geom {
    Geom { n: 0, c, h: 1, w: l, oh: 1, ow: 1, kh: 1, kw: 1, o: ConvOptions::default() }
}

/// Images n0..n0+nb of `t` (N, C, L…) in channel-major layout (C, nb·L).
fn nchw_to_cn(t: &Tensor, c: usize, l: usize, n0: usize, nb: usize) -> Result<Tensor> {
    let ctx = t.context();
    let out = Tensor::empty(ctx, &[c, nb * l], DType::F32)?;
    let p = perm_geom(c, l).params(n0, nb, out.numel())?;
    kernel::record_nchw_to_cn(ctx, &p, t, &out, groups(ctx, &p)?)?;
    Ok(out)
}

/// Writes images n0..n0+nb of `out` (N, C, L…) from `src` (C, nb·L), plus bias.
fn cn_to_nchw_into(src: &Tensor, c: usize, l: usize, n0: usize, nb: usize, out: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    let p = perm_geom(c, l).params(n0, nb, nb * c * l)?;
    let ctx = out.context();
    kernel::record_cn_to_nchw(ctx, &p, src, out, bias, groups(ctx, &p)?)
}

fn mm(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    matmul_ex(a, b, &MatmulOptions { trans_a: ta, trans_b: tb, ..Default::default() })
}

/// Σ over N and the spatial axes of `dy` (N, C, H, W): the bias gradient (C,).
fn bias_grad(dy: &Tensor) -> Result<Tensor> {
    let s = dy.shape();
    let per_image = super::sum(&dy.reshape(&[s[0], s[1], s[2] * s[3]])?, 2)?;
    super::sum(&per_image, 0)
}

fn add_into(acc: Option<Tensor>, t: Tensor) -> Result<Option<Tensor>> {
    Ok(Some(match acc {
        Some(a) => super::add(&a, &t)?,
        None => t,
    }))
}

/// What a convolution's forward keeps for its backward: the column matrix
/// (Conv2d) or the channel-major input (ConvTranspose2d), when the whole
/// batch ran as one chunk; otherwise the backward recomputes it per chunk.
#[derive(Clone, Debug, Default)]
pub struct ConvSaved(Option<Tensor>);

/// Gradients of a convolution: (dx, dweight, dbias), each present if asked.
pub type ConvGrads = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

// ---- Conv2d ---------------------------------------------------------------

fn conv2d_geom(op: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<Geom> {
    check_common(op, x, w, b, o)?;
    let (xs, ws) = (x.shape(), w.shape());
    if xs[1] != ws[1] {
        return Err(Error::shape(&format!("{op} (x (N, C, H, W) vs weight (O, C, kh, kw))"), xs, ws));
    }
    if let Some(b) = b {
        if b.shape() != [ws[0]] {
            return Err(Error::shape(&format!("{op} (weight (O, C, kh, kw) vs bias (O,))"), ws, b.shape()));
        }
    }
    let (oh, ow) = match (conv_out_size(xs[2], ws[2], o), conv_out_size(xs[3], ws[3], o)) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(Error::invalid_shape(
                op,
                format!("input {xs:?} is smaller than kernel {ws:?} with {o:?}: no output positions"),
            ))
        }
    };
    Ok(Geom { n: xs[0], c: xs[1], h: xs[2], w: xs[3], oh, ow, kh: ws[2], kw: ws[3], o: *o })
}

/// Conv2d forward: y (N, O, OH, OW) for x (N, C, H, W), weight (O, C, kh, kw),
/// bias (O,); `keep` saves what the weight gradient needs.
pub fn conv2d_forward(x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions, keep: bool) -> Result<(Tensor, ConvSaved)> {
    let g = conv2d_geom("conv2d", x, w, b, o)?;
    let ctx = x.context();
    let out_c = w.shape()[0];
    let (k, l) = (g.k(), g.l());
    let nb_max = chunk_images(ctx, "conv2d", g.n, k.max(out_c) * l, l)?;
    let y = Tensor::empty(ctx, &[g.n, out_c, g.oh, g.ow], DType::F32)?;
    let w2 = w.reshape(&[out_c, k])?;
    let mut saved = ConvSaved(None);
    for n0 in (0..g.n).step_by(nb_max) {
        let nb = nb_max.min(g.n - n0);
        let cols = im2col(x, &g, n0, nb)?;
        let yc = mm(&w2, &cols, false, false)?; // (O, nb·L)
        cn_to_nchw_into(&yc, out_c, l, n0, nb, &y, b)?;
        if keep && nb == g.n {
            saved = ConvSaved(Some(cols));
        }
    }
    Ok((y, saved))
}

/// Conv2d of x (N, C, H, W) with weight (O, C, kh, kw) and bias (O,), no tape.
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<Tensor> {
    Ok(conv2d_forward(x, w, b, o, false)?.0)
}

/// Conv2d gradients for upstream dy (N, O, OH, OW): `need` = (dx, dw, db).
pub fn conv2d_backward(x: &Tensor, w: &Tensor, dy: &Tensor, o: &ConvOptions, saved: &ConvSaved, need: [bool; 3]) -> Result<ConvGrads> {
    let g = conv2d_geom("conv2d backward", x, w, None, o)?;
    let ctx = x.context();
    let out_c = w.shape()[0];
    let (k, l) = (g.k(), g.l());
    if dy.shape() != [g.n, out_c, g.oh, g.ow] {
        return Err(Error::shape("conv2d backward (dy vs output)", dy.shape(), &[g.n, out_c, g.oh, g.ow]));
    }
    let nb_max = chunk_images(ctx, "conv2d", g.n, k.max(out_c) * l, l)?;
    let w2 = w.reshape(&[out_c, k])?;
    let dx = if need[0] { Some(Tensor::empty(ctx, x.shape(), DType::F32)?) } else { None };
    let mut dw = None;
    if need[0] || need[1] {
        for n0 in (0..g.n).step_by(nb_max) {
            let nb = nb_max.min(g.n - n0);
            let dyc = nchw_to_cn(dy, out_c, l, n0, nb)?; // (O, nb·L)
            if need[1] {
                let cols = match &saved.0 {
                    Some(c) if nb == g.n => c.clone(),
                    _ => im2col(x, &g, n0, nb)?,
                };
                dw = add_into(dw, mm(&dyc, &cols, false, true)?)?; // (O, K)
            }
            if let Some(dx) = &dx {
                let dcols = mm(&w2, &dyc, true, false)?; // (K, nb·L)
                col2im_into(&dcols, &g, n0, nb, dx, None)?;
            }
        }
    }
    let dw = dw.map(|d| d.reshape(w.shape())).transpose()?;
    let db = if need[2] { Some(bias_grad(dy)?) } else { None };
    Ok((dx, dw, db))
}

// ---- ConvTranspose2d --------------------------------------------------------

fn conv_t_geom(op: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<Geom> {
    check_common(op, x, w, b, o)?;
    let (xs, ws) = (x.shape(), w.shape());
    if xs[1] != ws[0] {
        return Err(Error::shape(&format!("{op} (x (N, Cin, H, W) vs weight (Cin, Cout, kh, kw))"), xs, ws));
    }
    if let Some(b) = b {
        if b.shape() != [ws[1]] {
            return Err(Error::shape(&format!("{op} (weight (Cin, Cout, kh, kw) vs bias (Cout,))"), ws, b.shape()));
        }
    }
    if o.output_padding >= o.stride.max(o.dilation) {
        return Err(Error::InvalidArgument(format!(
            "{op}: output_padding ({}) must be smaller than stride ({}) or dilation ({})",
            o.output_padding, o.stride, o.dilation
        )));
    }
    let (h, w_) = match (conv_transpose_out_size(xs[2], ws[2], o), conv_transpose_out_size(xs[3], ws[3], o)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(Error::invalid_shape(op, format!("input {xs:?}, weight {ws:?} with {o:?} give no output"))),
    };
    // The image side is the output (Cout, H_out, W_out); the grid is the input.
    Ok(Geom { n: xs[0], c: ws[1], h, w: w_, oh: xs[2], ow: xs[3], kh: ws[2], kw: ws[3], o: *o })
}

/// ConvTranspose2d forward: y (N, Cout, H_out, W_out) for x (N, Cin, H, W),
/// weight (Cin, Cout, kh, kw), bias (Cout,); `keep` saves what the weight
/// gradient needs.
pub fn conv_transpose2d_forward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    o: &ConvOptions,
    keep: bool,
) -> Result<(Tensor, ConvSaved)> {
    let g = conv_t_geom("conv_transpose2d", x, w, b, o)?;
    let ctx = x.context();
    let in_c = w.shape()[0];
    let (k, l) = (g.k(), g.l());
    let nb_max = chunk_images(ctx, "conv_transpose2d", g.n, k.max(in_c) * l, l)?;
    let y = Tensor::empty(ctx, &[g.n, g.c, g.h, g.w], DType::F32)?;
    let w2 = w.reshape(&[in_c, k])?;
    let mut saved = ConvSaved(None);
    for n0 in (0..g.n).step_by(nb_max) {
        let nb = nb_max.min(g.n - n0);
        let xc = nchw_to_cn(x, in_c, l, n0, nb)?; // (Cin, nb·HW)
        let cols = mm(&w2, &xc, true, false)?; // (Cout·kh·kw, nb·HW)
        col2im_into(&cols, &g, n0, nb, &y, b)?;
        if keep && nb == g.n {
            saved = ConvSaved(Some(xc));
        }
    }
    Ok((y, saved))
}

/// ConvTranspose2d of x (N, Cin, H, W) with weight (Cin, Cout, kh, kw) and
/// bias (Cout,), no tape.
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<Tensor> {
    Ok(conv_transpose2d_forward(x, w, b, o, false)?.0)
}

/// ConvTranspose2d gradients for upstream dy (N, Cout, H_out, W_out):
/// `need` = (dx, dw, db).
pub fn conv_transpose2d_backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    o: &ConvOptions,
    saved: &ConvSaved,
    need: [bool; 3],
) -> Result<ConvGrads> {
    let g = conv_t_geom("conv_transpose2d backward", x, w, None, o)?;
    let ctx = x.context();
    let in_c = w.shape()[0];
    let (k, l) = (g.k(), g.l());
    if dy.shape() != [g.n, g.c, g.h, g.w] {
        return Err(Error::shape("conv_transpose2d backward (dy vs output)", dy.shape(), &[g.n, g.c, g.h, g.w]));
    }
    let nb_max = chunk_images(ctx, "conv_transpose2d", g.n, k.max(in_c) * l, l)?;
    let w2 = w.reshape(&[in_c, k])?;
    let dx = if need[0] { Some(Tensor::empty(ctx, x.shape(), DType::F32)?) } else { None };
    let mut dw = None;
    if need[0] || need[1] {
        for n0 in (0..g.n).step_by(nb_max) {
            let nb = nb_max.min(g.n - n0);
            let cols = im2col(dy, &g, n0, nb)?; // (Cout·kh·kw, nb·HW)
            if let Some(dx) = &dx {
                let dxc = mm(&w2, &cols, false, false)?; // (Cin, nb·HW)
                cn_to_nchw_into(&dxc, in_c, l, n0, nb, dx, None)?;
            }
            if need[1] {
                let xc = match &saved.0 {
                    Some(c) if nb == g.n => c.clone(),
                    _ => nchw_to_cn(x, in_c, l, n0, nb)?,
                };
                dw = add_into(dw, mm(&xc, &cols, false, true)?)?; // (Cin, Cout·kh·kw)
            }
        }
    }
    let dw = dw.map(|d| d.reshape(w.shape())).transpose()?;
    let db = if need[2] { Some(bias_grad(dy)?) } else { None };
    Ok((dx, dw, db))
}

/// ConvTranspose2d as one direct gather kernel (no tape): each output pixel
/// loops over the input channels and its ≤ ⌈k/s⌉² taps, two loads per
/// multiply-add. Kept to compare with the matmul + col2im form
/// ([`conv_transpose2d`]), which measured far faster on llvmpipe (see the
/// `conv` benchmarks); needs Cin·kh·kw ≤ 32768 (the loop cap).
pub fn conv_transpose2d_direct(x: &Tensor, w: &Tensor, b: Option<&Tensor>, o: &ConvOptions) -> Result<Tensor> {
    let g = conv_t_geom("conv_transpose2d_direct", x, w, b, o)?;
    let in_c = w.shape()[0];
    if in_c * g.kh * g.kw > crate::ops::reduce::MAX_LOOP {
        return Err(Error::invalid_shape(
            "conv_transpose2d_direct",
            format!("weight {:?}: Cin·kh·kw exceeds {} (loop cap)", w.shape(), crate::ops::reduce::MAX_LOOP),
        ));
    }
    let ctx = x.context();
    let y = Tensor::empty(ctx, &[g.n, g.c, g.h, g.w], DType::F32)?;
    let mut p = g.params(0, g.n, y.numel())?;
    p.cin = in_c as u32;
    kernel::record_convt_direct(ctx, &p, x, w, b, &y, groups(ctx, &p)?)?;
    Ok(y)
}
