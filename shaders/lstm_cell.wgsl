// lstm_cell.wgsl: the elementwise part of one time step of an LSTM layer
// (torch.nn.LSTM), forward and backward. Gates (i, f, g, o) in that order in
// the 4H rows of the weights.
//
// forward, step t (xw = x·W_ihᵀ + b_ih precomputed for all steps by one matmul;
// hw = h_{t-1}·W_hhᵀ + b_hh by one matmul per step on the host side):
//   a_q = xw_t[q] + hw[q]                               q = i, f, g, o
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g
//   h_t = o ⊙ tanh(c_t)
// backward, step t (t = T−1 … 0, one dispatch each, after the host's matmul
// dhh = dG_{t+1}·W_hh):
//   dh_t = dy_t + dhh                                   (second term only for t < T−1)
//   dc_t = (t = T−1 ? dc_n : f_{t+1} ⊙ dc_{t+1}) + dh_t ⊙ o ⊙ (1 − tanh²(c_t))
//   dG_t = [dc⊙g⊙i(1−i), dc⊙c_{t-1}⊙f(1−f), dc⊙i⊙(1−g²), dh⊙tanh(c_t)⊙o(1−o)]
// after the sweep: dh_0 = dG_0·W_hh (a host matmul), dc_0 = the carry.
//
// The packed output y is (T+1, B, H): h_1 … h_T, then c_T in row T; its
// gradient dy likewise (row T: dc_n).
//
// h_0 is read from row 0 of hprev, where src/nn/rnn copies it before the
// sweep (a buffer copy, no dispatch), so lstm_forward binds 8 storage
// buffers (WebGPU's default limit per stage) and no h0.
// Params and flat_index are copies of rnn_cell.wgsl's (WGSL has no include);
// their one Rust mirror is in src/kernels/rnn_cell.rs.
//
// One invocation per (b, j), no loops.
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 64 + local_id.x

struct Params {
    t: u32,       // time step of this dispatch
    steps: u32,   // T
    batch: u32,   // B
    hidden: u32,  // H
    offset: u32,  // unused here
    count: u32,   // unused here
    total: u32,   // unused here
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xw: array<f32>;            // xw: (T, B, 4H)  x·W_ihᵀ + b_ih
@group(0) @binding(5) var<storage, read> c0: array<f32>;            // c0: (B, H)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;     // y: (T+1, B, H)  h_1 … h_T, c_T
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;   // hprev: (T, B, H)  h_0 … h_{T−1}
@group(0) @binding(8) var<storage, read_write> act: array<f32>;     // act: (T, B, 4H)  i, f, g, o after σ / tanh
@group(0) @binding(9) var<storage, read_write> cs: array<f32>;      // cs: (T, B, H)  c_1 … c_T
@group(0) @binding(10) var<storage, read> dy: array<f32>;           // dy: (T+1, B, H)
@group(0) @binding(11) var<storage, read_write> dg: array<f32>;     // dG: (T, B, 4H)  pre-activation gradients
@group(0) @binding(13) var<storage, read_write> dc_carry: array<f32>; // dc: (B, H)  f_{t+1} ⊙ dc_{t+1}
@group(0) @binding(17) var<storage, read> hw: array<f32>;           // hw: (B, 4H)  h_{t-1}·W_hhᵀ + b_hh
@group(0) @binding(18) var<storage, read_write> hcur: array<f32>;   // h_t: (B, H)  next step's matmul input
@group(0) @binding(19) var<storage, read> dhh: array<f32>;          // dhh: (B, H)  dG_{t+1}·W_hh (t < T−1)
@group(0) @binding(20) var<storage, read_write> dgstep: array<f32>; // dG_t: (B, 4H)  next matmul's input

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// c_{t−1}[b, j]; c_{−1} is c0.
fn c_prev(b: u32, j: u32) -> f32 {
    let H = p.hidden;
    if (p.t == 0u) { return c0[b * H + j]; }
    return cs[((p.t - 1u) * p.batch + b) * H + j];
}

// Step p.t for (b, j) = idx < B·H (row 0 of hprev already holds h_0).
fn lstm_step(idx: u32) {
    let H = p.hidden;
    let b = idx / H;
    let j = idx % H;
    let o = (p.t * p.batch + b) * H + j;
    let base = (p.t * p.batch + b) * 4u * H;
    let hb = b * 4u * H;
    let ig = sigmoid(xw[base + j] + hw[hb + j]);
    let fg = sigmoid(xw[base + H + j] + hw[hb + H + j]);
    let gg = tanh(xw[base + 2u * H + j] + hw[hb + 2u * H + j]);
    let og = sigmoid(xw[base + 3u * H + j] + hw[hb + 3u * H + j]);
    let c = fg * c_prev(b, j) + ig * gg;
    let h = og * tanh(c);
    act[base + j] = ig;
    act[base + H + j] = fg;
    act[base + 2u * H + j] = gg;
    act[base + 3u * H + j] = og;
    cs[o] = c;
    out[o] = h;
    hcur[idx] = h;
    if (p.t + 1u < p.steps) { hprev[o + p.batch * H] = h; } else { out[o + p.batch * H] = c; }
}

@compute @workgroup_size(64, 1, 1)
fn lstm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let idx = flat_index(wid, nwg, lid);
    if (idx >= p.batch * p.hidden) { return; }
    lstm_step(idx);
}

@compute @workgroup_size(64, 1, 1)
fn lstm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
    let idx = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (idx >= p.batch * H) { return; }
    let b = idx / H;
    let j = idx % H;
    let o = (p.t * p.batch + b) * H + j;
    let base = (p.t * p.batch + b) * 4u * H;
    let sb = b * 4u * H;
    var dh = dy[o];
    var dc = 0.0;
    if (p.t + 1u < p.steps) {
        // a_{t+1} = … + h_t·W_hhᵀ: dh_t += dG_{t+1}·W_hh (the host's matmul)
        dh += dhh[idx];
        dc = dc_carry[idx];
    } else {
        dc = dy[o + p.batch * H]; // dc_n, row T of the packed gradient
    }
    let ig = act[base + j];
    let fg = act[base + H + j];
    let gg = act[base + 2u * H + j];
    let og = act[base + 3u * H + j];
    let tc = tanh(cs[o]);
    // h_t = o ⊙ tanh(c_t)
    dc += dh * og * (1.0 - tc * tc);
    let d_o = dh * tc;
    // c_t = f ⊙ c_{t-1} + i ⊙ g
    let d_i = dc * gg * ig * (1.0 - ig);
    let d_f = dc * c_prev(b, j) * fg * (1.0 - fg);
    let d_g = dc * ig * (1.0 - gg * gg);
    let d_op = d_o * og * (1.0 - og);
    dg[base + j] = d_i;
    dg[base + H + j] = d_f;
    dg[base + 2u * H + j] = d_g;
    dg[base + 3u * H + j] = d_op;
    dgstep[sb + j] = d_i;
    dgstep[sb + H + j] = d_f;
    dgstep[sb + 2u * H + j] = d_g;
    dgstep[sb + 3u * H + j] = d_op;
    dc_carry[idx] = dc * fg;
}
