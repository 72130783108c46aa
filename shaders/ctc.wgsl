// ctc.wgsl: connectionist temporal classification loss (Graves et al. 2006)
// in log space, and its gradient, with PyTorch's conventions
// (src/ops/ctc.rs, src/nn/ctc.rs; CPU reference src/reference/ctc.rs).
//
// Utterance n has T_n frames of log-probabilities lp[t, n, :] and S_n
// labels; its blank-extended sequence l' has L_n = 2·S_n + 1 positions,
// l'(s) = blank for even s and target[(s − 1)/2] for odd s.
//   α_0(0) = lp(0, blank), α_0(1) = lp(0, l'(1)), α_0(s > 1) = log 0
//   α_t(s) = lse(α_{t−1}(s), α_{t−1}(s−1), [skip(s)] α_{t−1}(s−2)) + lp(t, l'(s))
//   skip(s): s odd and l'(s) ≠ l'(s−2) (a repeated label needs a blank between)
//   ll_n   = lse(α_{T_n−1}(L_n−1), α_{T_n−1}(L_n−2)),  nll_n = −ll_n
//   β_{T_n−1}(L_n−1) = lp(T_n−1, l'(L_n−1)), β_{T_n−1}(L_n−2) = lp(T_n−1, l'(L_n−2))
//   β_t(s) = lse(β_{t+1}(s), β_{t+1}(s+1), [skip(s+2)] β_{t+1}(s+2)) + lp(t, l'(s))
// (β includes the emission at t, as PyTorch's, so α_t(s) + β_t(s) counts it twice.)
// Gradient, PyTorch's (exact w.r.t. logits when lp = log_softmax(logits)):
//   grad[t, n, c] = (exp(lp(t, c)) − Σ_{s: l'(s) = c} exp(α_t(s) + β_t(s) + nll_n − lp(t, c))) · G_n
//   and 0 for t ≥ T_n and for impossible utterances. The kernel divides the
//   posteriors by their per-frame total (1 in exact arithmetic; see ctc_grad).
//
// Log 0: WGSL has no −inf literal and software compilers may assume finite
// maths, so log 0 is the finite sentinel NEG = −1e30: lse of sentinels stays
// at −1e30 (f32 absorbs log 2 and any log-probability), exp(NEG − x) = 0.
// A log-likelihood below −1e29 therefore means "no alignment": the loss
// is then +inf (or 0 with zero_infinity), never a large finite stand-in. The
// host also flags utterances whose targets need more frames than they have
// (info.w), which covers the same case exactly.
//
// Two layouts of the recursions:
//   *_serial: one invocation per utterance, looping over positions. Few
//             invocations, no barriers (fast on software adapters).
//   *_wg:     one 64-lane workgroup per utterance, lanes over positions
//             (lane i owns s = i, i + 64, ...), storageBarrier per frame.
// Both keep α/β in global memory (N, T, L), so any L fits, and both run a
// chunk of frames per dispatch: llvmpipe ends a shader's loops after 65535
// iterations per invocation, so the host keeps every invocation's loop
// trip count (frames × positions per lane) ≤ 32768 and dispatches the time
// axis in chunks (forward: frames [t0, t0 + steps); backward: frames
// (t0 − steps, t0], descending).

struct Params {
    n: u32,         // N: batch
    c: u32,         // C: classes
    t: u32,         // T: frames of lp
    l: u32,         // L = 2·max S_n + 1: row length of alpha / beta
    blank: u32,     // blank class
    t0: u32,        // chunk start (see above)
    steps: u32,     // frames in this chunk
    zero_inf: u32,  // 1: impossible utterances lose 0 instead of +inf
    g_stride: u32,  // 0: one upstream gradient for all utterances, 1: one each
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const NEG: f32 = -1e30;
// ll below this is "no alignment" (the sentinel survived the recursion).
const IMPOSSIBLE_LL: f32 = -1e29;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lp: array<f32>;            // lp: (T, N, C) log-probabilities
@group(0) @binding(2) var<storage, read> targets: array<u32>;       // targets: (Σ S_n,) concatenated labels
@group(0) @binding(3) var<storage, read> info: array<vec4<u32>>;    // info: (N,) (T_n, S_n, offset into targets, impossible)
@group(0) @binding(4) var<storage, read_write> alpha: array<f32>;   // alpha: (N, T, L)
@group(0) @binding(5) var<storage, read_write> beta: array<f32>;    // beta: (N, T, L)
@group(0) @binding(6) var<storage, read_write> nll: array<f32>;     // nll: (N,) −ll, finite (sentinel-sized when impossible)
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;    // loss: (N,) per-utterance loss (+inf / 0 when impossible)
@group(0) @binding(8) var<storage, read> g: array<f32>;             // g: (N,) or (1,) upstream gradient, per g_stride
@group(0) @binding(9) var<storage, read> scale: array<f32>;         // scale: (N,) reduction weight per utterance
@group(0) @binding(10) var<storage, read_write> grad: array<f32>;   // grad: (T, N, C)
@group(0) @binding(11) var<storage, read_write> reduced: array<f32>; // reduced: (1,) Σ_n loss[n]·scale[n]
@group(0) @binding(12) var<storage, read_write> row_lse: array<f32>; // row_lse: (T, N) logsumexp of each logits row (LOGITS only)
// weights: (2N,) nll then g[n·g_stride]·scale[n], packed by ctc_pack_weights
// for the *_packed entries, which stay within WebGPU's default of 8 storage
// buffers per stage (the unpacked ones bind 9 or 10).
@group(0) @binding(13) var<storage, read_write> weights: array<f32>;

// true (serial kernels only): lp holds logits; the forward computes each
// frame's logsumexp (one pass over C) into row_lse and every kernel reads
// lp − row_lse, so no separate log_softmax pass runs.
override LOGITS: bool = false;

// lavapipe (Mesa 22.3) "inlines uniforms": when a loop's bound or an if's
// condition depends on the uniform params alone, it compiles a copy of the
// shader with those values as constants, and (there, without a variant
// cache) it does so again at every dispatch whose shader it finds worth it:
// the β kernels paid 2-5 ms per dispatch in LLVM for it. `opaque(x)` is x,
// in a form no compiler can prove to depend on uniforms only (arrayLength
// is a run-time query), so loop bounds built from it are left alone.
fn opaque(x: u32) -> u32 {
    return min(x, 0xfffffffeu + (arrayLength(&info) & 1u));
}

// +inf that the compiler cannot fold (WGSL const-expressions must be finite).
fn inf() -> f32 {
    return bitcast<f32>(0x7f800000u | (p.n & 0u));
}

fn lse2(a: f32, b: f32) -> f32 {
    let m = max(a, b);
    return m + log(1.0 + exp(min(a, b) - m));
}

fn lse3(a: f32, b: f32, c: f32) -> f32 {
    let m = max(max(a, b), c);
    return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

// A log-probability, clamped to the sentinel (a −inf input stays "log 0");
// `shift` is the row's logsumexp with LOGITS, else 0.
fn lp_at(i: u32, shift: f32) -> f32 {
    return max(lp[i] - shift, NEG);
}

// logsumexp of the logits row at `base`, in one pass (running max).
fn row_logsumexp(base: u32) -> f32 {
    var mx = lp[base];
    var sum = 1.0;
    for (var c = 1u; c < opaque(p.c); c++) {
        let v = lp[base + c];
        if (v > mx) {
            sum = sum * exp(mx - v) + 1.0;
            mx = v;
        } else {
            sum += exp(v - mx);
        }
    }
    return mx + log(sum);
}

// After the forward reaches frame T_n − 1: nll and the user-facing loss.
fn finish(n: u32, m: vec4<u32>, abase: u32) {
    let ln = 2u * m.y + 1u;
    let last = abase + (m.x - 1u) * p.l + ln - 1u;
    // With T_n = S_n the final blank lies outside the serial window (log 0, unwritten).
    var ll = NEG;
    if (ln - 1u <= window_hi(ln, m.x - 1u)) { ll = alpha[last]; }
    if (ln > 1u) {
        ll = lse2(ll, alpha[last - 1u]);
    }
    nll[n] = -ll;
    if (m.w != 0u || ll < IMPOSSIBLE_LL) {
        loss[n] = select(inf(), 0.0, p.zero_inf != 0u);
    } else {
        loss[n] = -ll;
    }
}

// The positions an alignment can occupy at frame t of an utterance with
// T_n frames and L_n positions: s ≤ 2t + 1 (reachable from the start) and
// s ≥ L_n − 2(T_n − t) (the end still reachable). Above the window α is
// log 0, below it β is; the serial kernels compute only the window.
fn window_hi(ln: u32, t: u32) -> u32 {
    return min(ln - 1u, 2u * t + 1u);
}

fn window_lo(ln: u32, tn: u32, t: u32) -> u32 {
    let need = 2u * (tn - t);
    return select(0u, ln - need, ln > need);
}

// Forward, one invocation per utterance n over frames [t0, t0 + steps) ∩ [0, T_n).
@compute @workgroup_size(8, 1, 1)
fn ctc_alpha_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.n) { return; }
    let m = info[n];
    let tn = m.x;
    let ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    let t_end = min(p.t0 + p.steps, tn);
    for (var t = p.t0; t < t_end; t++) {
        let lpb = (t * p.n + n) * p.c;
        var sh = 0.0;
        if (LOGITS) {
            sh = row_logsumexp(lpb);
            row_lse[t * p.n + n] = sh;
        }
        let lblank = lp_at(lpb + p.blank, sh);
        let cur = abase + t * p.l;
        if (t == 0u) {
            alpha[cur] = lblank;
            for (var s = 1u; s < ln; s++) {
                var v = NEG;
                if (s == 1u) { v = lp_at(lpb + targets[off], sh); }
                alpha[cur + s] = v;
            }
            continue;
        }
        let prev = cur - p.l;
        let lo = window_lo(ln, tn, t);
        let hi = window_hi(ln, t);
        let hi_prev = window_hi(ln, t - 1u);
        // α_{t−1} is written on [lo_{t−1}, hi_{t−1}] ⊇ [lo − 2, hi − 2] and log 0 above.
        var a1 = NEG;              // α_{t−1}(s − 1)
        var a2 = NEG;              // α_{t−1}(s − 2)
        if (lo >= 1u && lo - 1u <= hi_prev) { a1 = alpha[prev + lo - 1u]; }
        if (lo >= 2u) { a2 = alpha[prev + lo - 2u]; }
        var lab2 = 0xffffffffu;    // l'(s − 2) for odd s: the largest odd position below lo
        if (lo >= 2u) { lab2 = targets[off + ((lo - 1u - (lo & 1u)) >> 1u)]; }
        for (var s = lo; s <= hi; s++) {
            var a0 = NEG;
            if (s <= hi_prev) { a0 = alpha[prev + s]; }
            var v: f32;
            if ((s & 1u) == 0u) {
                v = lse2(a0, a1) + lblank;
            } else {
                let lab = targets[off + (s >> 1u)];
                if (lab != lab2) { v = lse3(a0, a1, a2); } else { v = lse2(a0, a1); }
                v += lp_at(lpb + lab, sh);
                lab2 = lab;
            }
            alpha[cur + s] = v;
            a2 = a1;
            a1 = a0;
        }
    }
    if (tn >= 1u && tn - 1u >= p.t0 && tn - 1u < p.t0 + p.steps) {
        finish(n, m, abase);
    }
}

// Backward and gradient fused, one invocation per utterance n over frames
// t0, t0 − 1, …, t0 − steps + 1: each frame's β row is computed from the
// next one, and with it in registers the frame's gradient row (as
// ctc_grad, which the workgroup layout uses): this saves re-reading β,
// the labels and the log-probabilities, and a dispatch. Rows past T_n and
// rows of impossible utterances are zeroed.
@compute @workgroup_size(8, 1, 1)
fn ctc_beta_grad_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.n) { return; }
    beta_grad_serial(n, nll[n], g[n * p.g_stride] * scale[n]);
}

// ctc_beta_grad_serial with nll and g·scale read from `weights`.
@compute @workgroup_size(8, 1, 1)
fn ctc_beta_grad_serial_packed(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.n) { return; }
    beta_grad_serial(n, weights[n], weights[p.n + n]);
}

// Utterance n's frames of this chunk, nl = nll[n], gs = g[n·g_stride]·scale[n].
fn beta_grad_serial(n: u32, nl: f32, gs: f32) {
    let m = info[n];
    let tn = m.x;
    let ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    let dead = m.w != 0u || nl > -IMPOSSIBLE_LL;
    let t_lo = opaque(p.t0 + 1u - p.steps);
    for (var k = p.t0 + 1u; k > t_lo; k--) {
        let t = k - 1u;
        let base = (t * p.n + n) * p.c;
        // Zeroed first: dead rows stay so; live rows then collect posteriors per class.
        for (var c = 0u; c < opaque(p.c); c++) {
            grad[base + c] = 0.0;
        }
        if (t >= tn || dead) { continue; }
        let cur = abase + t * p.l;
        let last = t + 1u == tn;
        var sh = 0.0;
        if (LOGITS) { sh = row_lse[t * p.n + n]; }
        let lblank = lp_at(base + p.blank, sh);
        let lo = window_lo(ln, tn, t);
        let hi = window_hi(ln, t);
        // β_{t+1} is written on [lo_{t+1}, hi_{t+1}] ⊇ [lo + 2, hi + 2] ∩ [0, L) and log 0 below.
        var lo_next = 0u;
        if (!last) { lo_next = window_lo(ln, tn, t + 1u); }
        var b1 = NEG;              // β_{t+1}(s + 1)
        var b2 = NEG;              // β_{t+1}(s + 2)
        if (!last && hi + 1u < ln && hi + 1u >= lo_next) { b1 = beta[cur + p.l + hi + 1u]; }
        if (!last && hi + 2u < ln && hi + 2u >= lo_next) { b2 = beta[cur + p.l + hi + 2u]; }
        var lab2 = 0xffffffffu;    // l'(s + 2) for odd s: the smallest odd position above hi
        let q = hi + 1u + (hi & 1u);
        if (q < ln) { lab2 = targets[off + (q >> 1u)]; }
        var blank_sum = 0.0;
        var z = 0.0;
        for (var j = hi + 1u; j > lo; j--) {
            let s = j - 1u;
            var b0 = NEG;
            if (!last && s >= lo_next) { b0 = beta[cur + p.l + s]; }
            var x = NEG;
            var e: f32;
            var lab = p.blank;
            if ((s & 1u) == 0u) {
                e = lblank;
                x = lse2(b0, b1);
            } else {
                lab = targets[off + (s >> 1u)];
                e = lp_at(base + lab, sh);
                if (lab != lab2) { x = lse3(b0, b1, b2); } else { x = lse2(b0, b1); }
                lab2 = lab;
            }
            if (last) {
                x = select(NEG, 0.0, s + 2u >= ln);
            }
            let v = x + e;
            beta[cur + s] = v;
            b2 = b1;
            b1 = b0;
            // Posterior occupancy of s at t: α_t(s)·β_t(s) / (y_t(l'(s))·p).
            let post = exp(alpha[cur + s] + x + nl);
            z += post;
            if ((s & 1u) == 0u) {
                blank_sum += post;
            } else {
                grad[base + lab] += post;
            }
        }
        grad[base + p.blank] += blank_sum;
        let inv_z = select(0.0, 1.0 / z, z > 0.0);
        for (var c = 0u; c < opaque(p.c); c++) {
            grad[base + c] = (exp(lp_at(base + c, sh)) - grad[base + c] * inv_z) * gs;
        }
    }
}

// Forward, one 64-lane workgroup per utterance (workgroup_id.x = n); lane i
// owns positions i, i + 64, …. Loop bounds come from the uniform params only,
// so every lane reaches every barrier; lanes mask themselves per utterance.
@compute @workgroup_size(64, 1, 1)
fn ctc_alpha_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let n = wid.x;
    let m = info[n];
    let tn = m.x;
    let ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    let per = opaque((p.l + 63u) / 64u);
    let t_end = opaque(min(p.t0 + p.steps, p.t));
    for (var t = p.t0; t < t_end; t++) {
        if (t < tn) {
            let lpb = (t * p.n + n) * p.c;
            let cur = abase + t * p.l;
            for (var k = 0u; k < per; k++) {
                let s = k * 64u + lane;
                if (s < ln) {
                    var lab = p.blank;
                    if ((s & 1u) == 1u) { lab = targets[off + (s >> 1u)]; }
                    var v = NEG;
                    if (t == 0u) {
                        if (s < 2u) { v = 0.0; }
                    } else {
                        let prev = cur - p.l + s;
                        v = alpha[prev];
                        if (s >= 1u) {
                            if (s >= 3u && (s & 1u) == 1u && targets[off + (s >> 1u) - 1u] != lab) {
                                v = lse3(v, alpha[prev - 1u], alpha[prev - 2u]);
                            } else {
                                v = lse2(v, alpha[prev - 1u]);
                            }
                        }
                    }
                    alpha[cur + s] = v + lp_at(lpb + lab, 0.0);
                }
            }
        }
        storageBarrier();
    }
    if (lane == 0u && tn >= 1u && tn - 1u >= p.t0 && tn - 1u < p.t0 + p.steps) {
        finish(n, m, abase);
    }
}

// Backward, one 64-lane workgroup per utterance, frames t0 down to
// t0 − steps + 1 (those < T_n).
@compute @workgroup_size(64, 1, 1)
fn ctc_beta_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let n = wid.x;
    let m = info[n];
    let tn = m.x;
    let ln = 2u * m.y + 1u;
    let off = m.z;
    let abase = n * p.t * p.l;
    let per = opaque((p.l + 63u) / 64u);
    let t_lo = opaque(p.t0 + 1u - p.steps);
    for (var j = p.t0 + 1u; j > t_lo; j--) {
        let t = j - 1u;
        if (t < tn) {
            let lpb = (t * p.n + n) * p.c;
            let cur = abase + t * p.l;
            for (var k = 0u; k < per; k++) {
                let s = k * 64u + lane;
                if (s < ln) {
                    var lab = p.blank;
                    if ((s & 1u) == 1u) { lab = targets[off + (s >> 1u)]; }
                    var v = NEG;
                    if (t + 1u == tn) {
                        if (s + 2u >= ln) { v = 0.0; }
                    } else {
                        let next = cur + p.l + s;
                        v = beta[next];
                        if (s + 1u < ln) {
                            if (s + 2u < ln && (s & 1u) == 1u && targets[off + (s >> 1u) + 1u] != lab) {
                                v = lse3(v, beta[next + 1u], beta[next + 2u]);
                            } else {
                                v = lse2(v, beta[next + 1u]);
                            }
                        }
                    }
                    beta[cur + s] = v + lp_at(lpb + lab, 0.0);
                }
            }
        }
        storageBarrier();
    }
}

// Gradient, one invocation per (t, n): i = t·N + n on a 2-D grid of
// 64-wide workgroups, i = (workgroup_id.y·num_workgroups.x + workgroup_id.x)·64 + lane.
// G_n = g[n·g_stride]·scale[n].
@compute @workgroup_size(64, 1, 1)
fn ctc_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lane: u32) {
    let i = (wid.y * nwg.x + wid.x) * 64u + lane;
    if (i >= p.t * p.n) { return; }
    let n = i % p.n;
    grad_row(i, nll[n], g[n * p.g_stride] * scale[n]);
}

// ctc_grad with nll and g·scale read from `weights`.
@compute @workgroup_size(64, 1, 1)
fn ctc_grad_packed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lane: u32) {
    let i = (wid.y * nwg.x + wid.x) * 64u + lane;
    if (i >= p.t * p.n) { return; }
    let n = i % p.n;
    grad_row(i, weights[n], weights[p.n + n]);
}

// Gradient row i = t·N + n, nl = nll[n], gs = g[n·g_stride]·scale[n].
fn grad_row(i: u32, nl: f32, gs: f32) {
    let t = i / p.n;
    let n = i % p.n;
    let base = i * p.c;
    let m = info[n];
    if (t >= m.x || m.w != 0u || nl > -IMPOSSIBLE_LL) {
        for (var c = 0u; c < opaque(p.c); c++) {
            grad[base + c] = 0.0;
        }
        return;
    }
    // Pass 1: posterior occupancy of each position, summed per class into
    // grad (blank in a register), and their total z. In exact arithmetic
    // z = 1; in f32 α + β and nll drift apart by ~1e-7 × |loss| over long
    // inputs, so dividing by z (per frame) cancels that drift.
    for (var c = 0u; c < opaque(p.c); c++) {
        grad[base + c] = 0.0;
    }
    let ln = 2u * m.y + 1u;
    let ab = (n * p.t + t) * p.l;
    let lblank = lp_at(base + p.blank, 0.0);
    var blank_sum = 0.0;
    var z = 0.0;
    for (var s = 0u; s < ln; s++) {
        let ab_s = alpha[ab + s] + beta[ab + s] + nl;
        if ((s & 1u) == 0u) {
            let post = exp(ab_s - lblank);
            blank_sum += post;
            z += post;
        } else {
            let lab = targets[m.z + (s >> 1u)];
            let post = exp(ab_s - lp_at(base + lab, 0.0));
            grad[base + lab] += post;
            z += post;
        }
    }
    grad[base + p.blank] += blank_sum;
    // Pass 2: exp(lp(t, c)) (the softmax part) minus the normalised posterior.
    let inv_z = select(0.0, 1.0 / z, z > 0.0);
    for (var c = 0u; c < opaque(p.c); c++) {
        grad[base + c] = (exp(lp_at(base + c, 0.0)) - grad[base + c] * inv_z) * gs;
    }
}

// Σ_n loss[n]·scale[n] in one invocation (the host keeps N ≤ 32768).
@compute @workgroup_size(1, 1, 1)
fn ctc_reduce() {
    var s = 0.0;
    for (var n = 0u; n < p.n; n++) {
        s += loss[n] * scale[n];
    }
    reduced[0] = s;
}

// weights = (nll[n] for n < N, then g[n·g_stride]·scale[n]), one invocation
// per utterance on 64-wide workgroups: for the *_packed entries.
@compute @workgroup_size(64, 1, 1)
fn ctc_pack_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.n) { return; }
    weights[n] = nll[n];
    weights[p.n + n] = g[n * p.g_stride] * scale[n];
}
