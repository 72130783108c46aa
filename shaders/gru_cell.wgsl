// gru_cell.wgsl: the elementwise part of one time step of a GRU layer
// (torch.nn.GRU), forward and backward. Gates (r, z, n) in that order in the
// 3H rows of the weights.
//
// forward, step t (xw = x·W_ihᵀ + b_ih precomputed for all steps by one matmul;
// hw = h_{t-1}·W_hhᵀ + b_hh by one matmul per step on the host side):
//   hn = hw[n] = h_{t-1}·W_hnᵀ + b_hn           (kept per step: the backward needs it)
//   r = σ(xw_t[r] + hw[r])
//   z = σ(xw_t[z] + hw[z])
//   n = tanh(xw_t[n] + r ⊙ hn)
//   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
// backward, step t (t = T−1 … 0, one dispatch each, after the host's matmul
// dhh = dGhh_{t+1}·W_hh):
//   dh_t = dy_t + dhh + z_{t+1} ⊙ dh_{t+1}     (last two only for t < T−1)
//   dn' = dh⊙(1−z)⊙(1−n²)   dr' = dn'⊙hn⊙r(1−r)   dz' = dh⊙(h_{t-1}−n)⊙z(1−z)
//   dGih_t = [dr', dz', dn']   (gradient of xw_t, the input side)
//   dGhh_t = [dr', dz', dn'⊙r] (gradient of h_{t-1}·W_hhᵀ + b_hh, the hidden side)
// after the sweep: dh_0 = dGhh_0·W_hh + z_0 ⊙ dh_0' (a host matmul and add).
//
// gru_backward writes all but dGhh, which gru_dghh fills after the sweep
// from dGih and r (one dispatch per sweep: dGhh = dGih but in n, where it
// is dn'⊙r), so each entry binds at most 8 storage buffers (WebGPU's
// default limit per stage).
//
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
@group(0) @binding(1) var<storage, read> xw: array<f32>;            // xw: (T, B, 3H)  x·W_ihᵀ + b_ih
@group(0) @binding(4) var<storage, read> h0: array<f32>;            // h0: (B, H)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;     // y: (T, B, H)  h_1 … h_T
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;   // hprev: (T, B, H)  h_0 … h_{T−1}
@group(0) @binding(8) var<storage, read_write> act: array<f32>;     // act: (T, B, 3H)  r, z, n
@group(0) @binding(9) var<storage, read_write> hn: array<f32>;      // hn: (T, B, H)  h_{t-1}·W_hnᵀ + b_hn
@group(0) @binding(10) var<storage, read> dy: array<f32>;           // dy: (T, B, H)
@group(0) @binding(11) var<storage, read_write> dg: array<f32>;     // dGih: (T, B, 3H)
@group(0) @binding(12) var<storage, read_write> dghh: array<f32>;   // dGhh: (T, B, 3H)
@group(0) @binding(13) var<storage, read_write> dh_carry: array<f32>; // (B, H)  z_{t+1} ⊙ dh_{t+1}
@group(0) @binding(17) var<storage, read> hw: array<f32>;           // hw: (B, 3H)  h_{t-1}·W_hhᵀ + b_hh
@group(0) @binding(18) var<storage, read_write> hcur: array<f32>;   // h_t: (B, H)  next step's matmul input
@group(0) @binding(19) var<storage, read> dhh: array<f32>;          // dhh: (B, H)  dGhh_{t+1}·W_hh (t < T−1)
@group(0) @binding(20) var<storage, read_write> dgstep: array<f32>; // dGhh_t: (B, 3H)  next matmul's input

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(64, 1, 1)
fn gru_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
    let idx = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (idx >= p.batch * H) { return; }
    let b = idx / H;
    let j = idx % H;
    let o = (p.t * p.batch + b) * H + j;
    let base = (p.t * p.batch + b) * 3u * H;
    let hb = b * 3u * H;
    var hp = 0.0;
    if (p.t == 0u) { hp = h0[b * H + j]; } else { hp = hprev[o]; }
    let r = sigmoid(xw[base + j] + hw[hb + j]);
    let z = sigmoid(xw[base + H + j] + hw[hb + H + j]);
    let hn_t = hw[hb + 2u * H + j];
    let n = tanh(xw[base + 2u * H + j] + r * hn_t);
    let h = (1.0 - z) * n + z * hp;
    act[base + j] = r;
    act[base + H + j] = z;
    act[base + 2u * H + j] = n;
    hn[o] = hn_t;
    out[o] = h;
    hcur[idx] = h;
    if (p.t == 0u) { hprev[b * H + j] = hp; }
    if (p.t + 1u < p.steps) { hprev[o + p.batch * H] = h; }
}

// Step p.t's gradients for (b, j) = idx < B·H: dGih, dgstep (the hidden
// side dGhh_t for the next matmul) and the carry; dGhh is gru_dghh's.
@compute @workgroup_size(64, 1, 1)
fn gru_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let idx = flat_index(wid, nwg, lid);
    if (idx >= p.batch * p.hidden) { return; }
    let H = p.hidden;
    let b = idx / H;
    let j = idx % H;
    let o = (p.t * p.batch + b) * H + j;
    let base = (p.t * p.batch + b) * 3u * H;
    let sb = b * 3u * H;
    var dh = dy[o];
    if (p.t + 1u < p.steps) {
        // step t+1 reads h_t through h_t·W_hhᵀ (the host's matmul) and through z ⊙ h_t
        dh += dhh[idx];
        dh += dh_carry[idx];
    }
    let r = act[base + j];
    let z = act[base + H + j];
    let n = act[base + 2u * H + j];
    // h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
    let dnp = dh * (1.0 - z) * (1.0 - n * n);
    let dzp = dh * (hprev[o] - n) * z * (1.0 - z);
    // n = tanh(xw_t[n] + r ⊙ hn)
    let drp = dnp * hn[o] * r * (1.0 - r);
    dg[base + j] = drp;
    dg[base + H + j] = dzp;
    dg[base + 2u * H + j] = dnp;
    dgstep[sb + j] = drp;
    dgstep[sb + H + j] = dzp;
    dgstep[sb + 2u * H + j] = dnp * r;
    dh_carry[idx] = dh * z;
}

// dGhh of every step from dGih and the gates, after gru_backward's
// sweep: one invocation per (t, b, j) < T·B·H.
@compute @workgroup_size(64, 1, 1)
fn gru_dghh(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
    let idx = flat_index(wid, nwg, lid);
    let H = p.hidden;
    if (idx >= p.steps * p.batch * H) { return; }
    let base = (idx / H) * 3u * H + idx % H;
    dghh[base] = dg[base];
    dghh[base + H] = dg[base + H];
    dghh[base + 2u * H] = dg[base + 2u * H] * act[base];
}
