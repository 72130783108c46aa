// conv.wgsl: the rearrangements that turn 2-D convolutions into matmuls.
//
// A convolution with kernel (KH, KW), stride s, padding p, dilation d maps an
// image (C, H, W) to a grid of (OH, OW) positions; position (oy, ox) sees the
// pixels  iy = oy·s − p + ky·d,  ix = ox·s − p + kx·d  (zero outside).
//
// Columns lay the taps out as a matrix  cols: (K, NB·L)  with K = C·KH·KW
// (row k = (c·KH + ky)·KW + kx) and L = OH·OW, column nb·L + oy·OW + ox for
// image nb of a chunk of NB images. Then
//   Conv2d:          y' (O, NB·L)  = W (O, K) · im2col(x)              (the matmul)
//   ConvTranspose2d: y            = col2im(Wᵀ (K, Cin) · x' (Cin, NB·L)) (the matmul, then the gather)
// and the gradients are the same two gathers and matmuls the other way round
// (col2im is the adjoint of im2col). The "CN" layout (C, NB, L) of an NCHW
// tensor makes the batch part of the matmul's N dimension, so a whole chunk
// of images (and the weight gradient over it) is one big matmul.
//
// Every entry point is one invocation per output element, 1-D dispatch
// folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x
// Loops run at most KH·KW iterations (the host bounds KH·KW ≤ 4096).
// Images are addressed from n0, the chunk's first image, so a batch whose
// columns would exceed a binding limit runs in chunks without buffer offsets.

struct Params {
    c: u32,       // channels of the image side
    h: u32,       // image height
    w: u32,       // image width
    nb: u32,      // images in this chunk
    oh: u32,      // column grid height (conv output positions)
    ow: u32,      // column grid width
    kh: u32,      // kernel height
    kw: u32,      // kernel width
    stride: u32,  // s
    pad: u32,     // p
    dil: u32,     // d
    n0: u32,      // first image of the chunk in the NCHW tensor
    total: u32,   // output elements of this dispatch
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// true: add bias[c] to the output (false: the binding holds a dummy).
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;        // img: (N, C, H, W), images n0.. read
@group(0) @binding(2) var<storage, read_write> cols: array<f32>; // cols: (C·KH·KW, NB·OH·OW)
@group(0) @binding(3) var<storage, read> cols_in: array<f32>;    // cols_in: (C·KH·KW, NB·OH·OW)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // out: (N, C, H, W) / (N, C, L) / (C, NB, L)
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // bias: (C,) (any buffer without HAS_BIAS)
@group(0) @binding(6) var<storage, read> src: array<f32>;        // src: (C, NB, L) or (N, C, L)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// cols[k, nb·L + l] = img[n0 + nb, c, oy·s − p + ky·d, ox·s − p + kx·d] (0 outside).
@compute @workgroup_size(256, 1, 1)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = p.oh * p.ow;
    let row = p.nb * l_all;
    let k = i / row;
    let r = i - k * row;
    let nb = r / l_all;
    let l = r - nb * l_all;
    let kk = p.kh * p.kw;
    let c = k / kk;
    let kr = k - c * kk;
    let ky = kr / p.kw;
    let kx = kr - ky * p.kw;
    let oy = l / p.ow;
    let ox = l - oy * p.ow;
    let iy = i32(oy * p.stride + ky * p.dil) - i32(p.pad);
    let ix = i32(ox * p.stride + kx * p.dil) - i32(p.pad);
    var v = 0.0;
    if (iy >= 0 && ix >= 0 && iy < i32(p.h) && ix < i32(p.w)) {
        v = img[(((p.n0 + nb) * p.c + c) * p.h + u32(iy)) * p.w + u32(ix)];
    }
    cols[i] = v;
}

// The adjoint of im2col: every pixel sums the column entries that read it,
//   out[n0 + nb, c, y, x] = bias[c] + Σ_{ky, kx} cols_in[(c·KH + ky)·KW + kx, nb·L + oy·OW + ox]
// over the taps with y = oy·s − p + ky·d (and x likewise) for some grid
// position (oy, ox). With d = 1 only ky ≡ (y + p) mod s can hit, so the loop
// steps by s: ⌈KH/s⌉·⌈KW/s⌉ loads per pixel.
@compute @workgroup_size(256, 1, 1)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let hw = p.h * p.w;
    let img_i = i / hw;            // nb·C + c
    let pix = i - img_i * hw;
    let nb = img_i / p.c;
    let c = img_i - nb * p.c;
    let y = pix / p.w;
    let x = pix - y * p.w;
    let l_all = p.oh * p.ow;
    let row = p.nb * l_all;
    var ky0 = 0u;
    var kx0 = 0u;
    var step = 1u;
    if (p.dil == 1u) {
        ky0 = (y + p.pad) % p.stride;
        kx0 = (x + p.pad) % p.stride;
        step = p.stride;
    }
    var s = 0.0;
    if (HAS_BIAS) { s = bias[c]; }
    for (var ky = ky0; ky < p.kh; ky += step) {
        let ty = i32(y + p.pad) - i32(ky * p.dil);
        if (ty < 0) { break; }
        let oy = u32(ty) / p.stride;
        if (oy * p.stride != u32(ty) || oy >= p.oh) { continue; }
        for (var kx = kx0; kx < p.kw; kx += step) {
            let tx = i32(x + p.pad) - i32(kx * p.dil);
            if (tx < 0) { break; }
            let ox = u32(tx) / p.stride;
            if (ox * p.stride != u32(tx) || ox >= p.ow) { continue; }
            s += cols_in[((c * p.kh + ky) * p.kw + kx) * row + nb * l_all + oy * p.ow + ox];
        }
    }
    out[((p.n0 + nb) * p.c + c) * hw + pix] = s;
}

// CN → NCHW: out[n0 + nb, c, l] = src[c, nb, l] + bias[c]  (L = H·W here).
@compute @workgroup_size(256, 1, 1)
fn cn_to_nchw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = p.h * p.w;
    let img_i = i / l_all;         // nb·C + c, walking the output in order
    let l = i - img_i * l_all;
    let nb = img_i / p.c;
    let c = img_i - nb * p.c;
    var v = src[(c * p.nb + nb) * l_all + l];
    if (HAS_BIAS) { v += bias[c]; }
    out[(p.n0 * p.c + img_i) * l_all + l] = v;
}

// NCHW → CN: out[c, nb, l] = src[n0 + nb, c, l].
@compute @workgroup_size(256, 1, 1)
fn nchw_to_cn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = p.h * p.w;
    let row = p.nb * l_all;
    let c = i / row;
    let r = i - c * row;
    let nb = r / l_all;
    let l = r - nb * l_all;
    out[i] = src[((p.n0 + nb) * p.c + c) * l_all + l];
}
