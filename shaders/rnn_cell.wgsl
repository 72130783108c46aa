// rnn_cell.wgsl: the elementwise part of one time step of a tanh RNN layer
// (torch.nn.RNN, nonlinearity "tanh"), forward and backward, plus the
// row-slice copy the recurrent layers use to split their packed output.
//
// forward, step t (xw = x·W_ihᵀ + b_ih precomputed for all steps by one matmul;
// hw = h_{t-1}·W_hhᵀ + b_hh by one matmul per step on the host side):
//   h_t = tanh(xw_t + hw)
// backward, step t (t = T−1 … 0, one dispatch each, after the host's matmul
// dhh = dG_{t+1}·W_hh):
//   dh_t = dy_t + dhh                      (second term only for t < T−1)
//   dG_t = dh_t ⊙ (1 − h_t²)
// after the sweep: dh_0 = dG_0·W_hh (a host matmul); the weight and input
// gradients are matmuls over all steps on the host side.
//
// One invocation per (b, j), b < B, j < H, no loops.
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
@group(0) @binding(4) var<storage, read> h0: array<f32>;            // h0: (B, H)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;     // y: (T, B, H)  h_1 … h_T
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;   // hprev: (T, B, H)  h_0 … h_{T−1}
@group(0) @binding(10) var<storage, read> dy: array<f32>;           // dy: (T, B, H)
@group(0) @binding(11) var<storage, read_write> dg: array<f32>;     // dG: (T, B, H)  pre-activation gradients
@group(0) @binding(15) var<storage, read> src: array<f32>;          // rows_slice: x (total,) / backward: dy (count,)
@group(0) @binding(16) var<storage, read_write> dst: array<f32>;    // rows_slice: y (count,) / backward: dx (total,)
@group(0) @binding(17) var<storage, read> hw: array<f32>;           // hw: (B, H)  h_{t-1}·W_hhᵀ + b_hh
@group(0) @binding(18) var<storage, read_write> hcur: array<f32>;   // h_t: (B, H)  next step's matmul input
@group(0) @binding(19) var<storage, read> dhh: array<f32>;          // dhh: (B, H)  dG_{t+1}·W_hh (t < T−1)
@group(0) @binding(20) var<storage, read_write> dgstep: array<f32>; // dG_t: (B, H)  next matmul's input

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
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
    let h = tanh(xw[o] + hw[i]);
    out[o] = h;
    hcur[i] = h;
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
        // h_{t+1} = tanh(… + h_t·W_hhᵀ …): dh_t += dG_{t+1}·W_hh (the host's matmul)
        dh += dhh[i];
    }
    // h_t = tanh(xw_t + h_{t-1}·W_hhᵀ + b_hh)
    let h = out[o];
    let d = dh * (1.0 - h * h);
    dg[o] = d;
    dgstep[i] = d;
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
