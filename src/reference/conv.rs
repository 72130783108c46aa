//! CPU references for Conv2d and ConvTranspose2d (`crate::ops::conv`,
//! shaders/conv.wgsl): plain loops, f64 accumulation, PyTorch semantics and
//! weight layouts.

use super::Real;

/// Square stride, padding, dilation, output padding (transposed only).
#[derive(Clone, Copy, Debug)]
pub struct Conv {
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub output_padding: usize,
}

/// y (N, O, OH, OW) of x (N, C, H, W) `xs` and weight (O, C, KH, KW) `ws`,
/// bias (O,): y[n, o, oy, ox] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx]·x[n, c, oy·s − p + ky·d, ox·s − p + kx·d].
pub fn conv2d<T: Real>(x: &[T], xs: [usize; 4], w: &[T], ws: [usize; 4], b: Option<&[T]>, o: Conv) -> (Vec<T>, [usize; 4]) {
    let [n, c, h, wd] = xs;
    let [oc, _, kh, kw] = ws;
    let oh = (h + 2 * o.padding - o.dilation * (kh - 1) - 1) / o.stride + 1;
    let ow = (wd + 2 * o.padding - o.dilation * (kw - 1) - 1) / o.stride + 1;
    let mut y = Vec::with_capacity(n * oc * oh * ow);
    for ni in 0..n {
        for oi in 0..oc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = b.map_or(0.0, |b| b[oi].to_f64());
                    for ci in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * o.stride + ky * o.dilation) as isize - o.padding as isize;
                                let ix = (ox * o.stride + kx * o.dilation) as isize - o.padding as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = x[((ni * c + ci) * h + iy as usize) * wd + ix as usize].to_f64();
                                s += w[((oi * c + ci) * kh + ky) * kw + kx].to_f64() * xv;
                            }
                        }
                    }
                    y.push(T::from_f64(s));
                }
            }
        }
    }
    (y, [n, oc, oh, ow])
}

/// y (N, Cout, H_out, W_out) of x (N, Cin, H, W) and weight (Cin, Cout, KH, KW),
/// bias (Cout,), H_out = (H−1)·s − 2p + d·(KH−1) + op + 1: every input pixel
/// scatters x[n, ci, iy, ix]·w[ci, co, ky, kx] to (iy·s − p + ky·d, ix·s − p + kx·d).
pub fn conv_transpose2d<T: Real>(x: &[T], xs: [usize; 4], w: &[T], ws: [usize; 4], b: Option<&[T]>, o: Conv) -> (Vec<T>, [usize; 4]) {
    let [n, cin, h, wd] = xs;
    let [_, cout, kh, kw] = ws;
    let oh = (h - 1) * o.stride + o.dilation * (kh - 1) + o.output_padding + 1 - 2 * o.padding;
    let ow = (wd - 1) * o.stride + o.dilation * (kw - 1) + o.output_padding + 1 - 2 * o.padding;
    let mut y = vec![0.0f64; n * cout * oh * ow];
    for ni in 0..n {
        for co in 0..cout {
            let bv = b.map_or(0.0, |b| b[co].to_f64());
            for v in &mut y[(ni * cout + co) * oh * ow..(ni * cout + co + 1) * oh * ow] {
                *v = bv;
            }
        }
        for ci in 0..cin {
            for iy in 0..h {
                for ix in 0..wd {
                    let xv = x[((ni * cin + ci) * h + iy) * wd + ix].to_f64();
                    for co in 0..cout {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * o.stride + ky * o.dilation) as isize - o.padding as isize;
                                let ox = (ix * o.stride + kx * o.dilation) as isize - o.padding as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                y[((ni * cout + co) * oh + oy as usize) * ow + ox as usize] +=
                                    xv * w[((ci * cout + co) * kh + ky) * kw + kx].to_f64();
                            }
                        }
                    }
                }
            }
        }
    }
    (y.into_iter().map(T::from_f64).collect(), [n, cout, oh, ow])
}
