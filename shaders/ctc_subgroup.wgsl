// ctc_subgroup.wgsl: the CTC forward recursion (shaders/ctc.wgsl has the
// maths and the conventions: NEG is log 0, β/gradient kernels) with one
// subgroup of 8 per utterance and α in registers. WGSL has no include, so
// Params, NEG, IMPOSSIBLE_LL, the bindings, inf, opaque, lse2 and lse3 are
// copies of shaders/ctc.wgsl's (src/kernels/ctc_subgroup.rs binds them with
// kernels::ctc's Params and slots). Needs Features::SUBGROUP and subgroups
// of at least 8 (the 8-invocation workgroup is one subgroup);
// src/ops/ctc.rs routes here only then and only when L ≤ 8·CHUNK.
//
// Why: on llvmpipe every storage load costs ~25 cycles per lane, and the
// serial layout loads α_{t−1}(s), the label and the log-probability for
// every position of every frame. Here lane k owns positions
// s = k·CHUNK + i (i < CHUNK) and keeps their α across the time loop in a
// fixed-size private array indexed only by constants once the CHUNK loops
// are unrolled (the compiler keeps it in registers); the two α_{t−1} values
// a lane needs from its left neighbour come by subgroupShuffleUp. Labels
// and skip flags are loaded once. The per-position work is in functions
// called once per constant index (init, step), not in loops: llvmpipe
// keeps a private array in registers only when every index is a constant
// after inlining, and does not unroll loops with bodies this large (a
// loop-indexed version ran 3x slower than the serial layout). Per frame a lane loads only the
// log-probabilities of its CHUNK/2 label positions, one blank (CHUNK is
// even, so even i are the blanks) and, with LOGITS, C/8 logits for the
// row's logsumexp (combined with subgroupMax/subgroupAdd). α is stored
// for the backward, ctc_beta_grad_subgroup at the end of this file, which
// keeps β in registers the same way and builds the gradient row from the
// posteriors by a butterfly reduce-scatter over class blocks.

struct Params {
    n: u32,
    c: u32,
    t: u32,
    l: u32,
    blank: u32,
    t0: u32,
    steps: u32,
    zero_inf: u32,
    g_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const NEG: f32 = -1e30;
const IMPOSSIBLE_LL: f32 = -1e29;
// Positions per lane (even: see above; the kernel spells out its 12
// indices). src/kernels/ctc_subgroup.rs: CHUNK.
const CHUNK: u32 = 12u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lp: array<f32>;            // (T, N, C) log-probabilities or logits
@group(0) @binding(2) var<storage, read> targets: array<u32>;       // (Σ S_n,)
@group(0) @binding(3) var<storage, read> info: array<vec4<u32>>;    // (N,) (T_n, S_n, offset, impossible)
@group(0) @binding(4) var<storage, read_write> alpha: array<f32>;   // (N, T, L)
@group(0) @binding(5) var<storage, read_write> beta: array<f32>;    // (N, L): β of the last frame of the previous chunk
@group(0) @binding(6) var<storage, read_write> nll: array<f32>;     // (N,)
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;    // (N,)
@group(0) @binding(8) var<storage, read> g: array<f32>;             // (N,) or (1,) upstream gradient, per g_stride
@group(0) @binding(9) var<storage, read> scale: array<f32>;         // (N,) reduction weight per utterance
@group(0) @binding(10) var<storage, read_write> grad: array<f32>;   // (T, N, C)
@group(0) @binding(12) var<storage, read_write> row_lse: array<f32>; // (T, N) with LOGITS
@group(0) @binding(13) var<storage, read> weights: array<f32>;    // (2N,) nll, then g·scale (ctc.wgsl's ctc_pack_weights)

override LOGITS: bool = false;

fn inf() -> f32 {
    return bitcast<f32>(0x7f800000u | (p.n & 0u));
}

// x, hidden from lavapipe's uniform inlining (see opaque in ctc.wgsl).
fn opaque(x: u32) -> u32 {
    return min(x, 0xfffffffeu + (arrayLength(&info) & 1u));
}

fn lse2(a: f32, b: f32) -> f32 {
    let m = max(a, b);
    return m + log(1.0 + exp(min(a, b) - m));
}

fn lse3(a: f32, b: f32, c: f32) -> f32 {
    let m = max(max(a, b), c);
    return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

// logsumexp over the subgroup of one value per lane.
fn subgroup_lse(v: f32) -> f32 {
    let m = subgroupMax(v);
    return m + log(subgroupAdd(exp(v - m)));
}

// Per-lane state: the lane's positions (index i ↔ s = s0 + i).
var<private> a: array<f32, CHUNK>;   // α_t (α_{t−1} until step overwrites it)
var<private> lab: array<u32, CHUNK>; // l'(s)
var<private> skip: array<bool, CHUNK>;
var<private> s0: u32;
var<private> ln: u32;
var<private> t_cur: u32;
var<private> lpb: u32;     // (t·N + n)·C
var<private> sh: f32;      // row logsumexp with LOGITS, else 0
var<private> lblank: f32;
var<private> arow: u32;    // alpha index of (n, t, 0)

fn init(i: u32, off: u32, prev_row: u32, reload: bool) {
    let s = s0 + i;
    lab[i] = p.blank;
    skip[i] = false;
    a[i] = NEG;
    if (s < ln && (s & 1u) == 1u) {
        lab[i] = targets[off + (s >> 1u)];
        skip[i] = s >= 3u && targets[off + (s >> 1u) - 1u] != lab[i];
    }
    if (reload && s < ln) {
        a[i] = alpha[prev_row + s];
    }
}

// α_t at position s0 + i from α_{t−1} at s, s − 1 (a1) and s − 2 (a2).
fn step(i: u32, a1: f32, a2: f32) {
    let s = s0 + i;
    var v = NEG;
    if ((i & 1u) == 0u) {
        if (t_cur == 0u) {
            v = select(NEG, lblank, s == 0u);
        } else {
            v = lse2(a[i], a1) + lblank;
        }
    } else {
        let em = max(lp[lpb + lab[i]] - sh, NEG);
        if (t_cur == 0u) {
            v = select(NEG, em, s == 1u);
        } else if (skip[i]) {
            v = lse3(a[i], a1, a2) + em;
        } else {
            v = lse2(a[i], a1) + em;
        }
    }
    if (s >= ln) { v = NEG; }
    a[i] = v;
    if (s < ln) { alpha[arow + s] = v; }
}

fn final_part(i: u32, part: f32) -> f32 {
    let s = s0 + i;
    if (s + 2u >= ln && s < ln) { return lse2(part, a[i]); }
    return part;
}

// Forward over frames [t0, t0 + steps) ∩ [0, T_n) for utterance
// n = workgroup_id.x. Every lane writes all its positions s < L_n (log 0
// above the reachable window): CtcForward.alpha is whole for any reader.
@compute @workgroup_size(8, 1, 1)
fn ctc_alpha_subgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let n = wid.x;
    let m = info[n];
    let tn = m.x;
    ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    s0 = lane * CHUNK;
    let reload = p.t0 > 0u && p.t0 <= tn;
    let prev_row = abase + (max(p.t0, 1u) - 1u) * p.l;
    init(0u, off, prev_row, reload); init(1u, off, prev_row, reload);
    init(2u, off, prev_row, reload); init(3u, off, prev_row, reload);
    init(4u, off, prev_row, reload); init(5u, off, prev_row, reload);
    init(6u, off, prev_row, reload); init(7u, off, prev_row, reload);
    init(8u, off, prev_row, reload); init(9u, off, prev_row, reload);
    init(10u, off, prev_row, reload); init(11u, off, prev_row, reload);
    let t_end = min(p.t0 + p.steps, tn);
    for (var t = p.t0; t < t_end; t++) {
        t_cur = t;
        lpb = (t * p.n + n) * p.c;
        arow = abase + t * p.l;
        sh = 0.0;
        if (LOGITS) {
            // One pass per lane over classes lane, lane + 8, … (running max),
            // then the lanes' partial sums rescaled to the common max.
            var mx = NEG;
            var sum = 0.0;
            for (var c = lane; c < p.c; c += 8u) {
                let v = lp[lpb + c];
                if (v > mx) {
                    sum = sum * exp(mx - v) + 1.0;
                    mx = v;
                } else {
                    sum += exp(v - mx);
                }
            }
            let gm = subgroupMax(mx);
            sh = gm + log(subgroupAdd(sum * exp(mx - gm)));
            if (lane == 0u) { row_lse[t * p.n + n] = sh; }
        }
        lblank = max(lp[lpb + p.blank] - sh, NEG);
        // α_{t−1} at s0 − 1 and s0 − 2, from the left neighbour (log 0 for lane 0).
        let p1 = select(subgroupShuffleUp(a[11], 1u), NEG, lane == 0u);
        let p2 = select(subgroupShuffleUp(a[10], 1u), NEG, lane == 0u);
        // Descending, so a[i − 1], a[i − 2] still hold α_{t−1}.
        step(11u, a[10], a[9]); step(10u, a[9], a[8]);
        step(9u, a[8], a[7]); step(8u, a[7], a[6]);
        step(7u, a[6], a[5]); step(6u, a[5], a[4]);
        step(5u, a[4], a[3]); step(4u, a[3], a[2]);
        step(3u, a[2], a[1]); step(2u, a[1], a[0]);
        step(1u, a[0], p1); step(0u, p1, p2);
    }
    if (tn >= 1u && tn - 1u >= p.t0 && tn - 1u < p.t0 + p.steps) {
        // ll = lse(α(L−1), α(L−2)) over whichever lanes hold them.
        var part = NEG;
        part = final_part(0u, part); part = final_part(1u, part); part = final_part(2u, part);
        part = final_part(3u, part); part = final_part(4u, part); part = final_part(5u, part);
        part = final_part(6u, part); part = final_part(7u, part); part = final_part(8u, part);
        part = final_part(9u, part); part = final_part(10u, part); part = final_part(11u, part);
        let ll = subgroup_lse(part);
        if (lane == 0u) {
            nll[n] = -ll;
            if (m.w != 0u || ll < IMPOSSIBLE_LL) {
                loss[n] = select(inf(), 0.0, p.zero_inf != 0u);
            } else {
                loss[n] = -ll;
            }
        }
    }
}

// ---- Backward: β in registers fused with the gradient, one subgroup per
// utterance (the forward's lane ↔ position mapping). β_t(s) needs β_{t+1}
// at s, s + 1, s + 2: the right neighbour's first two come by
// subgroupShuffleDown. The posterior exp(α + β − e + nll) of each position
// stays in registers; the gradient row is then built per block of 8
// classes: every lane sums, per class of the block, the posteriors of its
// label positions with that label (6 compares), and a butterfly
// reduce-scatter (block_totals) leaves class cb + j's total in lane j, so
// each lane stores one class per block: no scatter, no barrier. (An earlier
// version scattered label posteriors into the row in rounds with storage
// barriers between them and ran slower than the serial layout; one
// subgroupAdd per class instead of the butterfly cost ~1 ms more here.)
// β is stored only in each chunk's last frame, into one (N, L) row per
// utterance that the next (earlier) chunk's dispatch reloads.

var<private> b: array<f32, CHUNK>;      // β_t (β_{t+1} until bstep overwrites it)
var<private> skipb: array<bool, CHUNK>; // odd s: l'(s + 2) ≠ l'(s)
var<private> post: array<f32, CHUNK>;   // posterior of s at the current frame (0 for s ≥ L_n)
var<private> last_frame: bool;
var<private> nl: f32;
var<private> zsum: f32;
var<private> blanksum: f32;
var<private> win_lo: u32;
var<private> brow: u32;    // beta index of (n, 0): one row per utterance
var<private> win_hi: u32;

fn binit(i: u32, off: u32, reload: bool) {
    let s = s0 + i;
    lab[i] = p.blank;
    skipb[i] = false;
    b[i] = NEG;
    post[i] = 0.0;
    if (s < ln && (s & 1u) == 1u) {
        let j = s >> 1u;
        lab[i] = targets[off + j];
        skipb[i] = s + 2u < ln && targets[off + j + 1u] != lab[i];
    }
    if (reload && s < ln) {
        b[i] = beta[brow + s];
    }
}

// β_t at s0 + i from β_{t+1} at s (b[i]), s + 1 (b1) and s + 2 (b2), and
// the posterior of s.
fn bstep(i: u32, b1: f32, b2: f32) {
    let s = s0 + i;
    // Outside the frame's alignment window [win_lo, win_hi] (ctc.wgsl's
    // window_lo/window_hi) the posterior is 0: α is log 0 above it and β
    // below it, so those positions load neither α nor (below) their
    // emission; their lanes skip the loads.
    let below = s < win_lo;
    // Branches only around loads, `&`/`|` and select elsewhere: naga lowers
    // each `&&`/`||` to if/else, and SwiftShader's compiler takes time
    // exponential in the branches of a loop body (over two minutes for
    // this entry point with twelve inlined branchy bsteps; 0.2 s now).
    var x = lse2(b[i], b1);
    var e = lblank;
    if ((i & 1u) == 1u) {
        if (!below) { e = max(lp[lpb + lab[i]] - sh, NEG); }
        x = select(x, lse3(b[i], b1, b2), skipb[i]);
    }
    x = select(x, select(NEG, 0.0, s + 2u >= ln), last_frame);
    var pv = 0.0;
    if ((s < ln) & !below & (s <= win_hi)) {
        pv = exp(alpha[arow + s] + x + nl);
    }
    b[i] = select(x + e, NEG, (s >= ln) | below);
    post[i] = pv;
    zsum += pv;
    blanksum += select(0.0, pv, (i & 1u) == 0u);
}

// This lane's posterior mass on class c (its odd positions labelled c).
fn class_part(c: u32) -> f32 {
    var v = select(0.0, post[1], lab[1] == c);
    v += select(0.0, post[3], lab[3] == c);
    v += select(0.0, post[5], lab[5] == c);
    v += select(0.0, post[7], lab[7] == c);
    v += select(0.0, post[9], lab[9] == c);
    v += select(0.0, post[11], lab[11] == c);
    return v;
}

// The subgroup's totals on classes cb … cb + 7, lane j receiving class
// cb + j: a reduce-scatter in three butterfly rounds (7 shuffles) instead
// of 8 subgroupAdds. Round r pairs lanes differing in bit r and each keeps
// the half of its partial sums whose class index has its own bit r.
fn block_totals(cb: u32, lane: u32) -> f32 {
    let v0 = class_part(cb);
    let v1 = class_part(cb + 1u);
    let v2 = class_part(cb + 2u);
    let v3 = class_part(cb + 3u);
    let v4 = class_part(cb + 4u);
    let v5 = class_part(cb + 5u);
    let v6 = class_part(cb + 6u);
    let v7 = class_part(cb + 7u);
    let h4 = (lane & 4u) != 0u;
    let w0 = select(v0, v4, h4) + subgroupShuffleXor(select(v4, v0, h4), 4u);
    let w1 = select(v1, v5, h4) + subgroupShuffleXor(select(v5, v1, h4), 4u);
    let w2 = select(v2, v6, h4) + subgroupShuffleXor(select(v6, v2, h4), 4u);
    let w3 = select(v3, v7, h4) + subgroupShuffleXor(select(v7, v3, h4), 4u);
    let h2 = (lane & 2u) != 0u;
    let u0 = select(w0, w2, h2) + subgroupShuffleXor(select(w2, w0, h2), 2u);
    let u1 = select(w1, w3, h2) + subgroupShuffleXor(select(w3, w1, h2), 2u);
    let h1 = (lane & 1u) != 0u;
    return select(u0, u1, h1) + subgroupShuffleXor(select(u1, u0, h1), 1u);
}

fn store_b(i: u32) {
    if (s0 + i < ln) { beta[brow + s0 + i] = b[i]; }
}

// Frames t0, t0 − 1, …, t0 − steps + 1 of utterance n = workgroup_id.x.
// Rows past T_n and rows of impossible utterances are zero. Every branch
// depends on n, t or the params only, so the subgroup stays converged for
// the subgroup operations.
@compute @workgroup_size(8, 1, 1)
fn ctc_beta_grad_subgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let n = wid.x;
    beta_grad_subgroup(n, lane, nll[n], g[n * p.g_stride] * scale[n]);
}

// ctc_beta_grad_subgroup with nll and g·scale read from `weights`, within
// WebGPU's default of 8 storage buffers per stage.
@compute @workgroup_size(8, 1, 1)
fn ctc_beta_grad_subgroup_packed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let n = wid.x;
    beta_grad_subgroup(n, lane, weights[n], weights[p.n + n]);
}

// Utterance n's frames of this chunk, nll_n = nll[n], gs = g[n·g_stride]·scale[n].
fn beta_grad_subgroup(n: u32, lane: u32, nll_n: f32, gs: f32) {
    let m = info[n];
    let tn = m.x;
    ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    s0 = lane * CHUNK;
    nl = nll_n;
    let dead = m.w != 0u || nl > -IMPOSSIBLE_LL;
    // β_{t0+1}, left by the previous chunk, when t0 + 1 < T_n.
    let reload = p.t0 + 1u < tn;
    brow = n * p.l;
    binit(0u, off, reload); binit(1u, off, reload);
    binit(2u, off, reload); binit(3u, off, reload);
    binit(4u, off, reload); binit(5u, off, reload);
    binit(6u, off, reload); binit(7u, off, reload);
    binit(8u, off, reload); binit(9u, off, reload);
    binit(10u, off, reload); binit(11u, off, reload);
    let t_lo = opaque(p.t0 + 1u - p.steps);
    for (var k = p.t0 + 1u; k > t_lo; k--) {
        let t = k - 1u;
        lpb = (t * p.n + n) * p.c;
        if (t >= tn || dead) {
            for (var c = lane; c < p.c; c += 8u) {
                grad[lpb + c] = 0.0;
            }
            continue;
        }
        arow = abase + t * p.l;
        last_frame = t + 1u == tn;
        win_hi = min(ln - 1u, 2u * t + 1u);
        let need = 2u * (tn - t);
        win_lo = select(0u, ln - need, ln > need);
        sh = 0.0;
        if (LOGITS) { sh = row_lse[t * p.n + n]; }
        lblank = max(lp[lpb + p.blank] - sh, NEG);
        let q1 = select(subgroupShuffleDown(b[0], 1u), NEG, lane == 7u);
        let q2 = select(subgroupShuffleDown(b[1], 1u), NEG, lane == 7u);
        zsum = 0.0;
        blanksum = 0.0;
        // Ascending, so b[i + 1], b[i + 2] still hold β_{t+1}.
        bstep(0u, b[1], b[2]); bstep(1u, b[2], b[3]);
        bstep(2u, b[3], b[4]); bstep(3u, b[4], b[5]);
        bstep(4u, b[5], b[6]); bstep(5u, b[6], b[7]);
        bstep(6u, b[7], b[8]); bstep(7u, b[8], b[9]);
        bstep(8u, b[9], b[10]); bstep(9u, b[10], b[11]);
        bstep(10u, b[11], q1); bstep(11u, q1, q2);
        if (t == t_lo) {
            store_b(0u); store_b(1u); store_b(2u); store_b(3u); store_b(4u); store_b(5u);
            store_b(6u); store_b(7u); store_b(8u); store_b(9u); store_b(10u); store_b(11u);
        }
        let z = subgroupAdd(zsum);
        let blank_total = subgroupAdd(blanksum);
        let inv_z = select(0.0, 1.0 / z, z > 0.0);
        for (var cb = 0u; cb < opaque(p.c); cb += 8u) {
            var mine = block_totals(cb, lane);
            let c = cb + lane;
            if (c < p.c) {
                if (c == p.blank) { mine += blank_total; }
                grad[lpb + c] = (exp(max(lp[lpb + c] - sh, NEG)) - mine * inv_z) * gs;
            }
        }
    }
}
