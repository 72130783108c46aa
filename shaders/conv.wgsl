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
    cin: u32,     // direct transposed conv: input channels
    _pad1: u32,
    _pad2: u32,
}

// true: add bias[c] to the output (false: the binding holds a dummy).
override HAS_BIAS: bool = false;

// The geometry, as specialisation constants rather than uniforms: every
// index computation divides by these, and llvmpipe has no vector integer
// division (it runs one scalar divide per lane), while a division by a
// constant compiles to a multiply and a shift. The Params fields of the
// same names are kept for layout and debugging; the kernels read these.
override C: u32 = 1u;    // channels of the image side
override H: u32 = 1u;    // image height
override W: u32 = 1u;    // image width
override NB: u32 = 1u;   // images in this chunk
override OH: u32 = 1u;   // column grid height
override OW: u32 = 1u;   // column grid width
override KH: u32 = 1u;   // kernel height
override KW: u32 = 1u;   // kernel width
override S: u32 = 1u;    // stride
override P: u32 = 0u;    // padding
override D: u32 = 1u;    // dilation
override CIN: u32 = 1u;  // direct transposed conv: input channels

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;        // img: (N, C, H, W), images n0.. read
@group(0) @binding(2) var<storage, read_write> cols: array<f32>; // cols: (C·KH·KW, NB·OH·OW)
@group(0) @binding(3) var<storage, read> cols_in: array<f32>;    // cols_in: (C·KH·KW, NB·OH·OW)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // out: (N, C, H, W) / (N, C, L) / (C, NB, L)
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // bias: (C,) (any buffer without HAS_BIAS)
@group(0) @binding(6) var<storage, read> src: array<f32>;        // src: (C, NB, L) or (N, C, L)
@group(0) @binding(7) var<storage, read> weight: array<f32>;     // weight: (Cin, C, KH, KW), direct form only

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// cols[k, nb·L + l] = img[n0 + nb, c, oy·s − p + ky·d, ox·s − p + kx·d] (0 outside).
@compute @workgroup_size(256, 1, 1)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = OH * OW;
    let row = NB * l_all;
    let k = i / row;
    let r = i - k * row;
    let nb = r / l_all;
    let l = r - nb * l_all;
    let kk = KH * KW;
    let c = k / kk;
    let kr = k - c * kk;
    let ky = kr / KW;
    let kx = kr - ky * KW;
    let oy = l / OW;
    let ox = l - oy * OW;
    let iy = i32(oy * S + ky * D) - i32(P);
    let ix = i32(ox * S + kx * D) - i32(P);
    var v = 0.0;
    if (iy >= 0 && ix >= 0 && iy < i32(H) && ix < i32(W)) {
        v = img[(((p.n0 + nb) * C + c) * H + u32(iy)) * W + u32(ix)];
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
    let hw = H * W;
    let img_i = i / hw;            // nb·C + c
    let pix = i - img_i * hw;
    let nb = img_i / C;
    let c = img_i - nb * C;
    let y = pix / W;
    let x = pix - y * W;
    let l_all = OH * OW;
    let row = NB * l_all;
    var ky0 = 0u;
    var kx0 = 0u;
    var step = 1u;
    if (D == 1u) {
        ky0 = (y + P) % S;
        kx0 = (x + P) % S;
        step = S;
    }
    var s = 0.0;
    if (HAS_BIAS) { s = bias[c]; }
    for (var ky = ky0; ky < KH; ky += step) {
        let ty = i32(y + P) - i32(ky * D);
        if (ty < 0) { break; }
        let oy = u32(ty) / S;
        if (oy * S != u32(ty) || oy >= OH) { continue; }
        for (var kx = kx0; kx < KW; kx += step) {
            let tx = i32(x + P) - i32(kx * D);
            if (tx < 0) { break; }
            let ox = u32(tx) / S;
            if (ox * S != u32(tx) || ox >= OW) { continue; }
            s += cols_in[((c * KH + ky) * KW + kx) * row + nb * l_all + oy * OW + ox];
        }
    }
    out[((p.n0 + nb) * C + c) * hw + pix] = s;
}

// CN → NCHW: out[n0 + nb, c, l] = src[c, nb, l] + bias[c]  (L = H·W here).
@compute @workgroup_size(256, 1, 1)
fn cn_to_nchw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = H * W;
    let img_i = i / l_all;         // nb·C + c, walking the output in order
    let l = i - img_i * l_all;
    let nb = img_i / C;
    let c = img_i - nb * C;
    var v = src[(c * NB + nb) * l_all + l];
    if (HAS_BIAS) { v += bias[c]; }
    out[(p.n0 * C + img_i) * l_all + l] = v;
}

// NCHW → CN: out[c, nb, l] = src[n0 + nb, c, l].
@compute @workgroup_size(256, 1, 1)
fn nchw_to_cn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let l_all = H * W;
    let row = NB * l_all;
    let c = i / row;
    let r = i - c * row;
    let nb = r / l_all;
    let l = r - nb * l_all;
    out[i] = src[((p.n0 + nb) * C + c) * l_all + l];
}

// The direct gather form of ConvTranspose2d, kept for comparison with
// matmul + col2im (see ops::conv::conv_transpose2d_direct): one invocation
// per output pixel, reading src = x (N, Cin, OH, OW) (the grid side) and
// weight (Cin, C, KH, KW):
//   out[n, c, y, x] = bias[c] + Σ_{ci, ky, kx} x[n, ci, oy, ox]·w[ci, c, ky, kx]
// over the taps with y = oy·s − p + ky·d (as in col2im). Two loads per
// multiply-add: load-bound on llvmpipe. The host keeps Cin·KH·KW ≤ 32768.
@compute @workgroup_size(256, 1, 1)
fn convt_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let hw = H * W;
    let img_i = i / hw;
    let pix = i - img_i * hw;
    let n = img_i / C;
    let c = img_i - n * C;
    let y = pix / W;
    let x = pix - y * W;
    let l_all = OH * OW;
    let kk = KH * KW;
    var ky0 = 0u;
    var kx0 = 0u;
    var step = 1u;
    if (D == 1u) {
        ky0 = (y + P) % S;
        kx0 = (x + P) % S;
        step = S;
    }
    var s = 0.0;
    if (HAS_BIAS) { s = bias[c]; }
    for (var ky = ky0; ky < KH; ky += step) {
        let ty = i32(y + P) - i32(ky * D);
        if (ty < 0) { break; }
        let oy = u32(ty) / S;
        if (oy * S != u32(ty) || oy >= OH) { continue; }
        for (var kx = kx0; kx < KW; kx += step) {
            let tx = i32(x + P) - i32(kx * D);
            if (tx < 0) { break; }
            let ox = u32(tx) / S;
            if (ox * S != u32(tx) || ox >= OW) { continue; }
            var xi = n * CIN * l_all + oy * OW + ox;
            var wi = (c * KH + ky) * KW + kx;
            for (var ci = 0u; ci < CIN; ci++) {
                s += src[xi] * weight[wi];
                xi += l_all;
                wi += C * kk;
            }
        }
    }
    out[i] = s;
}
