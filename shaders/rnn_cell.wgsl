// rnn_cell.wgsl: one time step of a tanh RNN layer (torch.nn.RNN, nonlinearity
// "tanh"), forward and backward, plus the row-slice copy the recurrent layers
// use to split their packed output.
//
// forward, step t (xw = x·W_ihᵀ + b_ih precomputed for all steps by one matmul):
//   h_t = tanh(xw_t + h_{t-1}·W_hhᵀ + b_hh)
// backward, step t (t = T−1 … 0, one dispatch each):
//   dh_t = dy_t + dG_{t+1}·W_hh            (second term only for t < T−1)
//   dG_t = dh_t ⊙ (1 − h_t²)
// after the sweep: dh_0 = dG_0·W_hh (rnn_backward_h0); the weight and input
// gradients are matmuls over all steps on the host side.
//
// One invocation per (b, j), b < B, j < H. Each loops over H (forward) or
// H (backward); the host keeps G·H ≤ 4096 (llvmpipe caps loops per invocation).
// Dispatch is 1-D, folded into a 2-D grid of 64-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 64 + local_id.x

struct Params {
    t: u32,       // time step of this dispatch
    steps: u32,   // T
    batch: u32,   // B
    hidden: u32,  // H
    offset: u32,  // rows_slice: first element copied
    count: u32,   // rows_slice: elements copied
    total: u32,   // rows_slice_backward: elements of the full tensor
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xw: array<f32>;            // xw: (T, B, H)  x·W_ihᵀ + b_ih
@group(0) @binding(2) var<storage, read> w_hh: array<f32>;          // W_hh: (H, H)
@group(0) @binding(3) var<storage, read> b_hh: array<f32>;          // b_hh: (H,)
@group(0) @binding(4) var<storage, read> h0: array<f32>;            // h0: (B, H)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;     // y: (T, B, H)  h_1 … h_T
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;   // hprev: (T, B, H)  h_0 … h_{T−1}
@group(0) @binding(10) var<storage, read> dy: array<f32>;           // dy: (T, B, H)
@group(0) @binding(11) var<storage, read_write> dg: array<f32>;     // dG: (T, B, H)  pre-activation gradients
@group(0) @binding(14) var<storage, read_write> dh0: array<f32>;    // dh0: (B, H)
@group(0) @binding(15) var<storage, read> src: array<f32>;          // rows_slice: x (total,) / backward: dy (count,)
@group(0) @binding(16) var<storage, read_write> dst: array<f32>;    // rows_slice: y (count,) / backward: dx (total,)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

// W_hh[row, :] · h_{t−1}[b, :]; h_{−1} is h0.
fn hh_dot(row: u32, b: u32) -> f32 {
    let H = p.hidden;
    var s = 0.0;
    if (p.t == 0u) {
        for (var k = 0u; k < H; k++) { s += w_hh[row * H + k] * h0[b * H + k]; }
    } else {
        let hb = (p.t * p.batch + b) * H;
        for (var k = 0u; k < H; k++) { s += w_hh[row * H + k] * hprev[hb + k]; }
    }
    return s;
}

@compute @workgroup_size(64, 1, 1)
fn rnn_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (i >= p.batch * H) { return; }
    let b = i / H;
    let j = i % H;
    let o = (p.t * p.batch + b) * H + j;
    let h = tanh(xw[o] + hh_dot(j, b) + b_hh[j]);
    out[o] = h;
    if (p.t == 0u) { hprev[b * H + j] = h0[b * H + j]; }
    if (p.t + 1u < p.steps) { hprev[o + p.batch * H] = h; }
}

@compute @workgroup_size(64, 1, 1)
fn rnn_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (i >= p.batch * H) { return; }
    let b = i / H;
    let j = i % H;
    let o = (p.t * p.batch + b) * H + j;
    var dh = dy[o];
    if (p.t + 1u < p.steps) {
        // h_{t+1} = tanh(… + h_t·W_hhᵀ …): dh_t += dG_{t+1}·W_hh
        let gb = ((p.t + 1u) * p.batch + b) * H;
        for (var k = 0u; k < H; k++) { dh += dg[gb + k] * w_hh[k * H + j]; }
    }
    // h_t = tanh(xw_t + h_{t-1}·W_hhᵀ + b_hh)
    let h = out[o];
    dg[o] = dh * (1.0 - h * h);
}

@compute @workgroup_size(64, 1, 1)
fn rnn_backward_h0(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (i >= p.batch * H) { return; }
    let b = i / H;
    let j = i % H;
    // h_0 = tanh(xw_0 + h0·W_hhᵀ + b_hh): dh0 = dG_0·W_hh
    var s = 0.0;
    for (var k = 0u; k < H; k++) { s += dg[b * H + k] * w_hh[k * H + j]; }
    dh0[i] = s;
}

// y[i] = x[offset + i], i < count: a contiguous slice (rows of a packed output).
@compute @workgroup_size(64, 1, 1)
fn rows_slice(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.count) { return; }
    dst[i] = src[p.offset + i];
}

// backward of "y[i] = x[offset + i]": dx[i] = dy[i − offset] inside the slice, 0 elsewhere.
@compute @workgroup_size(64, 1, 1)
fn rows_slice_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    var v = 0.0;
    if (i >= p.offset && i < p.offset + p.count) { v = src[i - p.offset]; }
    dst[i] = v;
}
