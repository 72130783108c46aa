// rnn_fused_wg.wgsl: the fused recurrent step of rnn_fused.wgsl (one
// dispatch per time step of an LSTM or GRU layer, the product with W_hh and
// the cell in one kernel; same semantics, params, bindings and buffer
// layout) without subgroup operations, in 64-invocation workgroups, so it
// runs on every adapter: GL, 4-lane and 32/64-lane subgroups alike.
//
// A workgroup is (16, 4) invocations over a tile of 32 batch rows: x picks
// the invocation's units, y its 8 batch rows (rows m0 + 8y … m0 + 8y + 7).
// The product's A rows for the tile (h_{t-1} forward, dG_{t+1} backward)
// go through workgroup memory in K slices of 16 vec4 chunks (32 × 16 × 16 B
// = 8 KiB), a barrier either side of each slice; W_hh is read straight from
// storage (each invocation its own columns).
//   forward: each invocation holds, for its 8 rows, every gate's
//     pre-activation of 4 hidden units (the 4-unit block u0 of each gate's
//     rows of W_hh, as rnn_fused.wgsl's lanes do) and applies the cell in
//     the epilogue; 64 units per workgroup (grid x = ceil(H / 64)).
//   backward: dh = dG_{t+1}·W_hh for 8 units × 8 rows per invocation, then
//     the cell's backward; 128 units per workgroup (grid x = ceil(H / 128)).
// (8 rows per invocation, not 4: each W_hh load feeds twice the products,
// which halved the time on llvmpipe, where every load is a gather.)
//     mode 1 writes dh_0 = dG_0·W_hh (+ z_0⊙dh_0 for GRU) instead.
// Rows past B and chunks past K are clamped on load (they feed only outputs
// that are skipped); the K loops have no branches (SwiftShader's compiler).
//
// As in rnn_fused.wgsl, every entry binds at most 8 storage buffers:
// lstm_wg_forward reads h_0 from row 0 of hprev (copied there before the
// sweep) and gru_wg_backward's mode 1 writes dh_0 over the carry.

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

// 32 batch rows × KS vec4 chunks of the product's A, one K slice.
const KS: u32 = 16u;
var<workgroup> tile: array<vec4<f32>, 512>;

fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// Element i of this invocation's share of the slice from chunk k0: (tile
// index, row of the batch (clamped), chunk (clamped)).
fn slot_of(lid: u32, i: u32, m0: u32, k0: u32) -> vec3<u32> {
    let idx = lid + 64u * i;
    let m = min(m0 + idx / KS, p.batch - 1u);
    let kc = min(k0 + idx % KS, p.kchunks - 1u);
    return vec3<u32>(idx, m, kc);
}

// Stages rows m0 … m0 + 31 of h_{t-1}, chunks k0 … k0 + 15 (h0 at t = 0).
fn stage_h(lid: u32, m0: u32, k0: u32) {
    let h4 = p.hidden / 4u;
    let prev = select(p.t, 1u, p.t == 0u) - 1u;
    for (var i = 0u; i < 8u; i++) {
        let s = slot_of(lid, i, m0, k0);
        tile[s.x] = select(out[(prev * p.batch + s.y) * h4 + s.z], h0[s.y * h4 + s.z], p.t == 0u);
    }
}

// stage_h with h_0 in row 0 of hprev (lstm_wg_forward).
fn stage_h_hprev0(lid: u32, m0: u32, k0: u32) {
    let h4 = p.hidden / 4u;
    let prev = select(p.t, 1u, p.t == 0u) - 1u;
    for (var i = 0u; i < 8u; i++) {
        let s = slot_of(lid, i, m0, k0);
        tile[s.x] = select(out[(prev * p.batch + s.y) * h4 + s.z], hprev[s.y * h4 + s.z], p.t == 0u);
    }
}

// Stages the LSTM's dG at time row p.src (rows of 4H = H chunks).
fn stage_dg(lid: u32, m0: u32, k0: u32) {
    for (var i = 0u; i < 8u; i++) {
        let s = slot_of(lid, i, m0, k0);
        tile[s.x] = dg[(p.src * p.batch + s.y) * p.hidden + s.z];
    }
}

// Stages the GRU's hidden-side dG at time row p.src (rows of 3H/4 chunks).
fn stage_dghh(lid: u32, m0: u32, k0: u32) {
    for (var i = 0u; i < 8u; i++) {
        let s = slot_of(lid, i, m0, k0);
        tile[s.x] = dghh[(p.src * p.batch + s.y) * (3u * p.hidden / 4u) + s.z];
    }
}

// The staged chunk kk of local rows r0 … r0 + 3, one row per column.
fn tile_rows(r0: u32, kk: u32) -> mat4x4<f32> {
    return mat4x4<f32>(tile[r0 * KS + kk], tile[(r0 + 1u) * KS + kk], tile[(r0 + 2u) * KS + kk], tile[(r0 + 3u) * KS + kk]);
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

// lstm_wg_forward: per invocation 8 rows × 4 units × 4 gates; 32 rows × 64 units per workgroup; h_0 from row 0 of hprev.
@compute @workgroup_size(16, 4, 1)
fn lstm_wg_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wid.y * 32u;
    let r0 = 8u * l.y;
    let u0 = wid.x * 64u + l.x * 4u;
    let uc = min(u0, p.hidden - 4u);
    var i0 = mat4x4<f32>(); var i1 = mat4x4<f32>(); var f0 = mat4x4<f32>(); var f1 = mat4x4<f32>(); var g0 = mat4x4<f32>(); var g1 = mat4x4<f32>(); var o0 = mat4x4<f32>(); var o1 = mat4x4<f32>();
    for (var k0 = 0u; k0 < p.kchunks; k0 += KS) {
        stage_h_hprev0(lid, m0, k0);
        workgroupBarrier();
        let kn = min(KS, p.kchunks - k0);
        for (var kk = 0u; kk < kn; kk++) {
            let a0 = tile_rows(r0, kk);
            let a1 = tile_rows(r0 + 4u, kk);
            let kc = k0 + kk;
            let bi = load_wt(kc, uc);
            i0 += bi * a0; i1 += bi * a1;
            let bf = load_wt(kc, p.hidden + uc);
            f0 += bf * a0; f1 += bf * a1;
            let bg = load_wt(kc, 2u * p.hidden + uc);
            g0 += bg * a0; g1 += bg * a1;
            let bo = load_wt(kc, 3u * p.hidden + uc);
            o0 += bo * a0; o1 += bo * a1;
        }
        workgroupBarrier();
    }
    lstm_rows(m0 + r0, u0, i0, f0, g0, o0);
    lstm_rows(m0 + r0 + 4u, u0, i1, f1, g1, o1);
}

// gru_wg_forward: per invocation 8 rows × 4 units × 3 gates; 32 rows × 64 units per workgroup.
@compute @workgroup_size(16, 4, 1)
fn gru_wg_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wid.y * 32u;
    let r0 = 8u * l.y;
    let u0 = wid.x * 64u + l.x * 4u;
    let uc = min(u0, p.hidden - 4u);
    var cr0 = mat4x4<f32>(); var cr1 = mat4x4<f32>(); var cz0 = mat4x4<f32>(); var cz1 = mat4x4<f32>(); var cn0 = mat4x4<f32>(); var cn1 = mat4x4<f32>();
    for (var k0 = 0u; k0 < p.kchunks; k0 += KS) {
        stage_h(lid, m0, k0);
        workgroupBarrier();
        let kn = min(KS, p.kchunks - k0);
        for (var kk = 0u; kk < kn; kk++) {
            let a0 = tile_rows(r0, kk);
            let a1 = tile_rows(r0 + 4u, kk);
            let kc = k0 + kk;
            let br_ = load_wt(kc, uc);
            cr0 += br_ * a0; cr1 += br_ * a1;
            let bz_ = load_wt(kc, p.hidden + uc);
            cz0 += bz_ * a0; cz1 += bz_ * a1;
            let bn_ = load_wt(kc, 2u * p.hidden + uc);
            cn0 += bn_ * a0; cn1 += bn_ * a1;
        }
        workgroupBarrier();
    }
    gru_rows(m0 + r0, u0, cr0, cz0, cn0);
    gru_rows(m0 + r0 + 4u, u0, cr1, cz1, cn1);
}

// lstm_wg_backward: per invocation 8 rows × 8 units; 32 rows × 128 units per workgroup; K = 4H.
@compute @workgroup_size(16, 4, 1)
fn lstm_wg_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wid.y * 32u;
    let r0 = 8u * l.y;
    let n0 = wid.x * 128u + l.x * 8u;
    let nc0 = min(n0, p.hidden - 4u);
    let nc1 = min(n0 + 4u, p.hidden - 4u);
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>();
    for (var k0 = 0u; k0 < p.kchunks; k0 += KS) {
        stage_dg(lid, m0, k0);
        workgroupBarrier();
        let kn = min(KS, p.kchunks - k0);
        for (var kk = 0u; kk < kn; kk++) {
            let a0 = tile_rows(r0, kk);
            let a1 = tile_rows(r0 + 4u, kk);
            let kc = k0 + kk;
            let b0 = load_w(kc, nc0);
            let b1 = load_w(kc, nc1);
            c00 += b0 * a0; c01 += b1 * a0; c10 += b0 * a1; c11 += b1 * a1;
        }
        workgroupBarrier();
    }
    lstm_brows(m0 + r0, n0, c00);
    lstm_brows(m0 + r0, n0 + 4u, c01);
    lstm_brows(m0 + r0 + 4u, n0, c10);
    lstm_brows(m0 + r0 + 4u, n0 + 4u, c11);
}

// gru_wg_backward: per invocation 8 rows × 8 units; 32 rows × 128 units per workgroup; K = 3H; mode 1 writes dh_0 into carry.
@compute @workgroup_size(16, 4, 1)
fn gru_wg_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wid.y * 32u;
    let r0 = 8u * l.y;
    let n0 = wid.x * 128u + l.x * 8u;
    let nc0 = min(n0, p.hidden - 4u);
    let nc1 = min(n0 + 4u, p.hidden - 4u);
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>();
    for (var k0 = 0u; k0 < p.kchunks; k0 += KS) {
        stage_dghh(lid, m0, k0);
        workgroupBarrier();
        let kn = min(KS, p.kchunks - k0);
        for (var kk = 0u; kk < kn; kk++) {
            let a0 = tile_rows(r0, kk);
            let a1 = tile_rows(r0 + 4u, kk);
            let kc = k0 + kk;
            let b0 = load_w(kc, nc0);
            let b1 = load_w(kc, nc1);
            c00 += b0 * a0; c01 += b1 * a0; c10 += b0 * a1; c11 += b1 * a1;
        }
        workgroupBarrier();
    }
    gru_brows(m0 + r0, n0, c00);
    gru_brows(m0 + r0, n0 + 4u, c01);
    gru_brows(m0 + r0 + 4u, n0, c10);
    gru_brows(m0 + r0 + 4u, n0 + 4u, c11);
}
