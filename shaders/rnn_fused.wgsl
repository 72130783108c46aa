// rnn_fused.wgsl: one dispatch per time step of an LSTM or GRU layer, the
// recurrent product and the cell fused (torch.nn.LSTM / torch.nn.GRU
// semantics; gates (i, f, g, o) and (r, z, n) in the rows of W_hh).
//
// forward, step t: the product h_{t-1}·W_hhᵀ runs as the 32-row subgroup
// matmul of matmul_subgroup.wgsl (8 lanes, A rows shared by broadcast), but
// each lane's four (LSTM) or three (GRU) 4-column blocks are the SAME four
// hidden units taken from each gate's block of W_hh, so the lane holds every
// gate pre-activation of its units and applies the cell in the epilogue:
// no (B, G·H) product goes through memory and no second dispatch runs.
//   LSTM: a_q = xw_t[q] + h_{t-1}·W_qᵀ + b_q; c_t = f⊙c_{t−1} + i⊙g; h_t = o⊙tanh(c_t)
//   GRU:  r, z = σ(xw_t[r,z] + h_{t-1}·W_{r,z}ᵀ + b); hn = h_{t-1}·W_nᵀ + b_n;
//         n = tanh(xw_t[n] + r⊙hn); h_t = (1 − z)⊙n + z⊙h_{t-1}
// backward, step t (t = T−1 … 0): the product dG_{t+1}·W_hh (K = G·H, none
// at t = T−1) gives each lane dh for 8 units, and the epilogue is the cell's
// backward (as lstm_cell.wgsl / gru_cell.wgsl). mode 1 instead writes
// dh_0 = dG_0·W_hh (+ z_0⊙dh_0 for GRU) after the sweep.
//
// h_{t-1} is read from the previous step's output row and dG_{t+1} from the
// previous dispatch's row of dG, so no buffer is both read by one workgroup
// and written by another in one dispatch. Needs subgroups of at least 8
// (one subgroup = one workgroup) and H a multiple of 4; src/nn/rnn_fused.rs
// routes here only then (otherwise lstm_cell.wgsl/gru_cell.wgsl after a
// matmul). Written out unrolled: subgroupBroadcast takes constant lanes.
//
// Every entry binds at most 8 storage buffers (WebGPU's default limit per
// stage): lstm_fused_forward reads h_0 from row 0 of hprev, where a buffer
// copy puts it before the sweep (so it binds no h0), and gru_fused_backward's
// mode 1 writes dh_0 over the carry it reads (each invocation its own
// elements; it binds no dh0).

struct Params {
    t: u32,        // time step
    steps: u32,    // T
    batch: u32,    // B
    hidden: u32,   // H
    kchunks: u32,  // K/4 of this dispatch's product (0: none)
    mode: u32,     // backward: 0 = step t, 1 = dh_0
    src: u32,      // backward: time row of dG that is the product's A
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xw: array<vec4<f32>>;         // (T, B, G·H)  x·W_ihᵀ + b_ih
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;          // W_hh (G·H, H)
@group(0) @binding(3) var<storage, read> bhh: array<vec4<f32>>;        // b_hh (G·H)
@group(0) @binding(4) var<storage, read> h0: array<vec4<f32>>;         // (B, H)
@group(0) @binding(5) var<storage, read> c0: array<vec4<f32>>;         // (B, H)  LSTM
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;  // (T[+1], B, H)  h_1 … h_T [, c_T]
@group(0) @binding(7) var<storage, read_write> hprev: array<vec4<f32>>; // (T, B, H)  h_0 … h_{T−1}
@group(0) @binding(8) var<storage, read_write> act: array<vec4<f32>>;  // (T, B, G·H)  gates after σ / tanh
@group(0) @binding(9) var<storage, read_write> aux: array<vec4<f32>>;  // (T, B, H)  LSTM: c_t; GRU: hn
@group(0) @binding(10) var<storage, read> dy: array<vec4<f32>>;        // like out
@group(0) @binding(11) var<storage, read_write> dg: array<vec4<f32>>;  // (T, B, G·H)  input-side dG
@group(0) @binding(12) var<storage, read_write> dghh: array<vec4<f32>>; // (T, B, G·H)  GRU hidden-side dG
@group(0) @binding(13) var<storage, read_write> carry: array<vec4<f32>>; // (B, H)  LSTM f⊙dc; GRU z⊙dh
@group(0) @binding(14) var<storage, read_write> dh0: array<vec4<f32>>; // (B, H)  mode 1 output

fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// Lane's A slot j at k-chunk kc: row m0 + 8j + lane of h_{t-1} (clamped rows
// feed only skipped outputs).
fn load_h(m0: u32, kc: u32, j: u32, lane: u32) -> vec4<f32> {
    let m = min(m0 + 8u * j + lane, p.batch - 1u);
    let h4 = p.hidden / 4u;
    if (p.t == 0u) { return h0[m * h4 + kc]; }
    return out[((p.t - 1u) * p.batch + m) * h4 + kc];
}

// load_h with h_0 taken from row 0 of hprev (lstm_fused_forward).
fn load_h_hprev0(m0: u32, kc: u32, j: u32, lane: u32) -> vec4<f32> {
    let m = min(m0 + 8u * j + lane, p.batch - 1u);
    let h4 = p.hidden / 4u;
    if (p.t == 0u) { return hprev[m * h4 + kc]; }
    return out[((p.t - 1u) * p.batch + m) * h4 + kc];
}

// Row m0 + 8j + lane of the LSTM's dG at time row p.src.
fn load_dg(m0: u32, kc: u32, j: u32, lane: u32) -> vec4<f32> {
    let m = min(m0 + 8u * j + lane, p.batch - 1u);
    return dg[(p.src * p.batch + m) * p.hidden + kc];
}

// Row m0 + 8j + lane of the GRU's hidden-side dG at time row p.src.
fn load_dghh(m0: u32, kc: u32, j: u32, lane: u32) -> vec4<f32> {
    let m = min(m0 + 8u * j + lane, p.batch - 1u);
    return dghh[(p.src * p.batch + m) * (3u * p.hidden / 4u) + kc];
}

// W_hhᵀ block for the forward: column j = (W[n][4kc+j], …, W[n+3][4kc+j]).
fn load_wt(kc: u32, n: u32) -> mat4x4<f32> {
    let k4 = p.hidden / 4u;
    let base = n * k4 + kc;
    return transpose(mat4x4<f32>(w[base], w[base + k4], w[base + 2u * k4], w[base + 3u * k4]));
}

// W_hh block for the backward: column j = W[4kc+j][n..n+4].
fn load_w(kc: u32, n: u32) -> mat4x4<f32> {
    let n4 = p.hidden / 4u;
    let base = 4u * kc * n4 + n / 4u;
    return mat4x4<f32>(w[base], w[base + n4], w[base + 2u * n4], w[base + 3u * n4]);
}

// LSTM forward for one row and 4 units from u0: the gates' h·Wᵀ parts given
// (h_0 is row 0 of hprev, put there by a buffer copy before the sweep).
fn lstm_cell(row: u32, u0: u32, hi: vec4<f32>, hf: vec4<f32>, hg: vec4<f32>, ho: vec4<f32>) {
    if (row >= p.batch) { return; }
    let h4 = p.hidden / 4u;
    let uq = u0 / 4u;
    let bh = p.batch * h4;
    let base = (p.t * p.batch + row) * 4u * h4 + uq;
    let o = (p.t * p.batch + row) * h4 + uq;
    let ig = sigmoid4(xw[base] + hi + bhh[uq]);
    let fg = sigmoid4(xw[base + h4] + hf + bhh[h4 + uq]);
    let gg = tanh(xw[base + 2u * h4] + hg + bhh[2u * h4 + uq]);
    let og = sigmoid4(xw[base + 3u * h4] + ho + bhh[3u * h4 + uq]);
    var cp: vec4<f32>;
    if (p.t == 0u) { cp = c0[row * h4 + uq]; } else { cp = aux[o - bh]; }
    let c = fg * cp + ig * gg;
    let h = og * tanh(c);
    act[base] = ig;
    act[base + h4] = fg;
    act[base + 2u * h4] = gg;
    act[base + 3u * h4] = og;
    aux[o] = c;
    out[o] = h;
    if (p.t + 1u < p.steps) { hprev[o + bh] = h; } else { out[o + bh] = c; }
}

fn lstm_rows(m: u32, u0: u32, ci: mat4x4<f32>, cf: mat4x4<f32>, cg: mat4x4<f32>, co: mat4x4<f32>) {
    if (u0 >= p.hidden) { return; }
    lstm_cell(m, u0, ci[0], cf[0], cg[0], co[0]);
    lstm_cell(m + 1u, u0, ci[1], cf[1], cg[1], co[1]);
    lstm_cell(m + 2u, u0, ci[2], cf[2], cg[2], co[2]);
    lstm_cell(m + 3u, u0, ci[3], cf[3], cg[3], co[3]);
}

// GRU forward for one row and 4 units from u0.
fn gru_cell(row: u32, u0: u32, hr: vec4<f32>, hz: vec4<f32>, hnn: vec4<f32>) {
    if (row >= p.batch) { return; }
    let h4 = p.hidden / 4u;
    let uq = u0 / 4u;
    let bh = p.batch * h4;
    let base = (p.t * p.batch + row) * 3u * h4 + uq;
    let o = (p.t * p.batch + row) * h4 + uq;
    var hp: vec4<f32>;
    if (p.t == 0u) { hp = h0[row * h4 + uq]; } else { hp = hprev[o]; }
    let r = sigmoid4(xw[base] + hr + bhh[uq]);
    let z = sigmoid4(xw[base + h4] + hz + bhh[h4 + uq]);
    let hn = hnn + bhh[2u * h4 + uq];
    let n = tanh(xw[base + 2u * h4] + r * hn);
    let h = (1.0 - z) * n + z * hp;
    act[base] = r;
    act[base + h4] = z;
    act[base + 2u * h4] = n;
    aux[o] = hn;
    out[o] = h;
    if (p.t == 0u) { hprev[row * h4 + uq] = hp; }
    if (p.t + 1u < p.steps) { hprev[o + bh] = h; }
}

fn gru_rows(m: u32, u0: u32, cr: mat4x4<f32>, cz: mat4x4<f32>, cn: mat4x4<f32>) {
    if (u0 >= p.hidden) { return; }
    gru_cell(m, u0, cr[0], cz[0], cn[0]);
    gru_cell(m + 1u, u0, cr[1], cz[1], cn[1]);
    gru_cell(m + 2u, u0, cr[2], cz[2], cn[2]);
    gru_cell(m + 3u, u0, cr[3], cz[3], cn[3]);
}

// LSTM backward for one row and 4 units: dhh = dG_{t+1}·W_hh there.
fn lstm_bcell(row: u32, u0: u32, dhh: vec4<f32>) {
    if (row >= p.batch) { return; }
    let h4 = p.hidden / 4u;
    let uq = u0 / 4u;
    let bh = p.batch * h4;
    let s = row * h4 + uq;
    if (p.mode == 1u) { dh0[s] = dhh; return; }
    let base = (p.t * p.batch + row) * 4u * h4 + uq;
    let o = (p.t * p.batch + row) * h4 + uq;
    var dh = dy[o];
    var dc: vec4<f32>;
    if (p.t + 1u < p.steps) {
        dh += dhh;
        dc = carry[s];
    } else {
        dc = dy[o + bh]; // dc_n, row T of the packed gradient
    }
    let ig = act[base];
    let fg = act[base + h4];
    let gg = act[base + 2u * h4];
    let og = act[base + 3u * h4];
    let tc = tanh(aux[o]);
    dc += dh * og * (1.0 - tc * tc);
    var cp: vec4<f32>;
    if (p.t == 0u) { cp = c0[s]; } else { cp = aux[o - bh]; }
    dg[base] = dc * gg * ig * (1.0 - ig);
    dg[base + h4] = dc * cp * fg * (1.0 - fg);
    dg[base + 2u * h4] = dc * ig * (1.0 - gg * gg);
    dg[base + 3u * h4] = dh * tc * og * (1.0 - og);
    carry[s] = dc * fg;
}

// GRU backward for one row and 4 units: dhh = dGhh_{t+1}·W_hh there; mode 1
// writes dh_0 over the carry (each element read and written by one invocation).
fn gru_bcell(row: u32, u0: u32, dhh: vec4<f32>) {
    if (row >= p.batch) { return; }
    let s = row * (p.hidden / 4u) + u0 / 4u;
    if (p.mode == 1u) { carry[s] = dhh + carry[s]; return; }
    gru_bstep(row, u0, dhh);
}

// Step p.t of gru_bcell (mode 0, row < B).
fn gru_bstep(row: u32, u0: u32, dhh: vec4<f32>) {
    let h4 = p.hidden / 4u;
    let uq = u0 / 4u;
    let s = row * h4 + uq;
    let base = (p.t * p.batch + row) * 3u * h4 + uq;
    let o = (p.t * p.batch + row) * h4 + uq;
    var dh = dy[o];
    if (p.t + 1u < p.steps) { dh += dhh + carry[s]; }
    let r = act[base];
    let z = act[base + h4];
    let n = act[base + 2u * h4];
    let dnp = dh * (1.0 - z) * (1.0 - n * n);
    let dzp = dh * (hprev[o] - n) * z * (1.0 - z);
    let drp = dnp * aux[o] * r * (1.0 - r);
    dg[base] = drp;
    dg[base + h4] = dzp;
    dg[base + 2u * h4] = dnp;
    dghh[base] = drp;
    dghh[base + h4] = dzp;
    dghh[base + 2u * h4] = dnp * r;
    carry[s] = dh * z;
}

fn lstm_brows(m: u32, u0: u32, c: mat4x4<f32>) {
    if (u0 >= p.hidden) { return; }
    lstm_bcell(m, u0, c[0]);
    lstm_bcell(m + 1u, u0, c[1]);
    lstm_bcell(m + 2u, u0, c[2]);
    lstm_bcell(m + 3u, u0, c[3]);
}

fn gru_brows(m: u32, u0: u32, c: mat4x4<f32>) {
    if (u0 >= p.hidden) { return; }
    gru_bcell(m, u0, c[0]);
    gru_bcell(m + 1u, u0, c[1]);
    gru_bcell(m + 2u, u0, c[2]);
    gru_bcell(m + 3u, u0, c[3]);
}

// lstm_fused_forward: 32 batch rows x 4 units per lane (x4 gates), 32 units per workgroup; h_0 from row 0 of hprev.
@compute @workgroup_size(8, 1, 1)
fn lstm_fused_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let u0 = wid.x * 32u + lane * 4u;
    let uc = min(u0, p.hidden - 4u);
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>(); var c0_2 = mat4x4<f32>(); var c0_3 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>(); var c1_2 = mat4x4<f32>(); var c1_3 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>(); var c2_2 = mat4x4<f32>(); var c2_3 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>(); var c3_2 = mat4x4<f32>(); var c3_3 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>(); var c4_2 = mat4x4<f32>(); var c4_3 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>(); var c5_2 = mat4x4<f32>(); var c5_3 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>(); var c6_2 = mat4x4<f32>(); var c6_3 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>(); var c7_2 = mat4x4<f32>(); var c7_3 = mat4x4<f32>();
    for (var kc = 0u; kc < p.kchunks; kc++) {
        let s0 = load_h_hprev0(m0, kc, 0u, lane);
        let s1 = load_h_hprev0(m0, kc, 1u, lane);
        let s2 = load_h_hprev0(m0, kc, 2u, lane);
        let s3 = load_h_hprev0(m0, kc, 3u, lane);
        let b0 = load_wt(kc, 0u * p.hidden + uc);
        let b1 = load_wt(kc, 1u * p.hidden + uc);
        let b2 = load_wt(kc, 2u * p.hidden + uc);
        let b3 = load_wt(kc, 3u * p.hidden + uc);
        let a0 = mat4x4<f32>(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0; c0_2 += b2 * a0; c0_3 += b3 * a0;
        let a1 = mat4x4<f32>(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1; c1_2 += b2 * a1; c1_3 += b3 * a1;
        let a2 = mat4x4<f32>(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2; c2_2 += b2 * a2; c2_3 += b3 * a2;
        let a3 = mat4x4<f32>(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3; c3_2 += b2 * a3; c3_3 += b3 * a3;
        let a4 = mat4x4<f32>(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4; c4_2 += b2 * a4; c4_3 += b3 * a4;
        let a5 = mat4x4<f32>(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5; c5_2 += b2 * a5; c5_3 += b3 * a5;
        let a6 = mat4x4<f32>(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6; c6_2 += b2 * a6; c6_3 += b3 * a6;
        let a7 = mat4x4<f32>(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7; c7_2 += b2 * a7; c7_3 += b3 * a7;
    }
    lstm_rows(m0 + 0u, u0, c0_0, c0_1, c0_2, c0_3);
    lstm_rows(m0 + 4u, u0, c1_0, c1_1, c1_2, c1_3);
    lstm_rows(m0 + 8u, u0, c2_0, c2_1, c2_2, c2_3);
    lstm_rows(m0 + 12u, u0, c3_0, c3_1, c3_2, c3_3);
    lstm_rows(m0 + 16u, u0, c4_0, c4_1, c4_2, c4_3);
    lstm_rows(m0 + 20u, u0, c5_0, c5_1, c5_2, c5_3);
    lstm_rows(m0 + 24u, u0, c6_0, c6_1, c6_2, c6_3);
    lstm_rows(m0 + 28u, u0, c7_0, c7_1, c7_2, c7_3);
}

// gru_fused_forward: 32 batch rows x 4 units per lane (x3 gates), 32 units per workgroup.
@compute @workgroup_size(8, 1, 1)
fn gru_fused_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let u0 = wid.x * 32u + lane * 4u;
    let uc = min(u0, p.hidden - 4u);
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>(); var c0_2 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>(); var c1_2 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>(); var c2_2 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>(); var c3_2 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>(); var c4_2 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>(); var c5_2 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>(); var c6_2 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>(); var c7_2 = mat4x4<f32>();
    for (var kc = 0u; kc < p.kchunks; kc++) {
        let s0 = load_h(m0, kc, 0u, lane);
        let s1 = load_h(m0, kc, 1u, lane);
        let s2 = load_h(m0, kc, 2u, lane);
        let s3 = load_h(m0, kc, 3u, lane);
        let b0 = load_wt(kc, 0u * p.hidden + uc);
        let b1 = load_wt(kc, 1u * p.hidden + uc);
        let b2 = load_wt(kc, 2u * p.hidden + uc);
        let a0 = mat4x4<f32>(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0; c0_2 += b2 * a0;
        let a1 = mat4x4<f32>(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1; c1_2 += b2 * a1;
        let a2 = mat4x4<f32>(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2; c2_2 += b2 * a2;
        let a3 = mat4x4<f32>(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3; c3_2 += b2 * a3;
        let a4 = mat4x4<f32>(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4; c4_2 += b2 * a4;
        let a5 = mat4x4<f32>(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5; c5_2 += b2 * a5;
        let a6 = mat4x4<f32>(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6; c6_2 += b2 * a6;
        let a7 = mat4x4<f32>(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7; c7_2 += b2 * a7;
    }
    gru_rows(m0 + 0u, u0, c0_0, c0_1, c0_2);
    gru_rows(m0 + 4u, u0, c1_0, c1_1, c1_2);
    gru_rows(m0 + 8u, u0, c2_0, c2_1, c2_2);
    gru_rows(m0 + 12u, u0, c3_0, c3_1, c3_2);
    gru_rows(m0 + 16u, u0, c4_0, c4_1, c4_2);
    gru_rows(m0 + 20u, u0, c5_0, c5_1, c5_2);
    gru_rows(m0 + 24u, u0, c6_0, c6_1, c6_2);
    gru_rows(m0 + 28u, u0, c7_0, c7_1, c7_2);
}

// lstm_fused_backward: 32 batch rows x 8 units per lane, 64 units per workgroup; K = 4H.
@compute @workgroup_size(8, 1, 1)
fn lstm_fused_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let n0 = wid.x * 64u + lane * 8u;
    let nc0 = min(n0, p.hidden - 4u);
    let nc1 = min(n0 + 4u, p.hidden - 4u);
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.kchunks; kc++) {
        let s0 = load_dg(m0, kc, 0u, lane);
        let s1 = load_dg(m0, kc, 1u, lane);
        let s2 = load_dg(m0, kc, 2u, lane);
        let s3 = load_dg(m0, kc, 3u, lane);
        let b0 = load_w(kc, nc0);
        let b1 = load_w(kc, nc1);
        let a0 = mat4x4<f32>(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0;
        let a1 = mat4x4<f32>(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1;
        let a2 = mat4x4<f32>(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2;
        let a3 = mat4x4<f32>(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3;
        let a4 = mat4x4<f32>(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4;
        let a5 = mat4x4<f32>(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5;
        let a6 = mat4x4<f32>(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6;
        let a7 = mat4x4<f32>(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7;
    }
    lstm_brows(m0 + 0u, n0, c0_0); lstm_brows(m0 + 0u, n0 + 4u, c0_1);
    lstm_brows(m0 + 4u, n0, c1_0); lstm_brows(m0 + 4u, n0 + 4u, c1_1);
    lstm_brows(m0 + 8u, n0, c2_0); lstm_brows(m0 + 8u, n0 + 4u, c2_1);
    lstm_brows(m0 + 12u, n0, c3_0); lstm_brows(m0 + 12u, n0 + 4u, c3_1);
    lstm_brows(m0 + 16u, n0, c4_0); lstm_brows(m0 + 16u, n0 + 4u, c4_1);
    lstm_brows(m0 + 20u, n0, c5_0); lstm_brows(m0 + 20u, n0 + 4u, c5_1);
    lstm_brows(m0 + 24u, n0, c6_0); lstm_brows(m0 + 24u, n0 + 4u, c6_1);
    lstm_brows(m0 + 28u, n0, c7_0); lstm_brows(m0 + 28u, n0 + 4u, c7_1);
}

// gru_fused_backward: 32 batch rows x 8 units per lane, 64 units per workgroup; K = 3H; mode 1 writes dh_0 into carry.
@compute @workgroup_size(8, 1, 1)
fn gru_fused_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let n0 = wid.x * 64u + lane * 8u;
    let nc0 = min(n0, p.hidden - 4u);
    let nc1 = min(n0 + 4u, p.hidden - 4u);
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.kchunks; kc++) {
        let s0 = load_dghh(m0, kc, 0u, lane);
        let s1 = load_dghh(m0, kc, 1u, lane);
        let s2 = load_dghh(m0, kc, 2u, lane);
        let s3 = load_dghh(m0, kc, 3u, lane);
        let b0 = load_w(kc, nc0);
        let b1 = load_w(kc, nc1);
        let a0 = mat4x4<f32>(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0;
        let a1 = mat4x4<f32>(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1;
        let a2 = mat4x4<f32>(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2;
        let a3 = mat4x4<f32>(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3;
        let a4 = mat4x4<f32>(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4;
        let a5 = mat4x4<f32>(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5;
        let a6 = mat4x4<f32>(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6;
        let a7 = mat4x4<f32>(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7;
    }
    gru_brows(m0 + 0u, n0, c0_0); gru_brows(m0 + 0u, n0 + 4u, c0_1);
    gru_brows(m0 + 4u, n0, c1_0); gru_brows(m0 + 4u, n0 + 4u, c1_1);
    gru_brows(m0 + 8u, n0, c2_0); gru_brows(m0 + 8u, n0 + 4u, c2_1);
    gru_brows(m0 + 12u, n0, c3_0); gru_brows(m0 + 12u, n0 + 4u, c3_1);
    gru_brows(m0 + 16u, n0, c4_0); gru_brows(m0 + 16u, n0 + 4u, c4_1);
    gru_brows(m0 + 20u, n0, c5_0); gru_brows(m0 + 20u, n0 + 4u, c5_1);
    gru_brows(m0 + 24u, n0, c6_0); gru_brows(m0 + 24u, n0 + 4u, c6_1);
    gru_brows(m0 + 28u, n0, c7_0); gru_brows(m0 + 28u, n0 + 4u, c7_1);
}
