// loss.wgsl: cross-entropy over class logits and binary cross-entropy with
// logits, forward and backward (src/nn/loss.rs).
//
// cross_entropy_forward, one invocation per row i of logits x: (N, C):
//   m_i = max_j x_ij,  lse_i = m_i + log Σ_j exp(x_ij − m_i)
//   loss_i = lse_i − x_i[t_i],  valid_i = 1
//   ignored row (t_i == ignore_index): loss_i = 0, valid_i = 0
//   t_i < 0 or t_i ≥ C otherwise: loss_i = NaN, valid_i = 1 (the GPU cannot
//   report an error, so the loss says it)
// Two passes over C per invocation; the host caps C at 10000 because
// llvmpipe ends shader loops after 65535 iterations per invocation.
//
// cross_entropy_backward, one invocation per element (i, j):
//   dx_ij = (exp(x_ij − lse_i) − [j == t_i]) · g[i · g_stride]
//   (0 for ignored rows, NaN for out-of-range targets); the host folds the
//   mean's 1/denominator into g.
//
// bce_logits_forward, one invocation per element (stable form):
//   loss = max(x, 0) − x·y + log(1 + exp(−|x|))
// bce_logits_backward, one invocation per element, with G = g[k·g_stride]·scale:
//   dx = (σ(x) − y)·G,  dy = −x·G

struct Params {
    n: u32,            // elements (bce) or rows N (cross-entropy)
    c: u32,            // classes C (cross-entropy)
    ignore_index: i32, // target value of ignored rows
    has_ignore: u32,   // 1 if ignore_index applies
    g_stride: u32,     // 0: scalar upstream gradient, 1: one per row/element
    scale: f32,        // factor on the upstream gradient (bce mean: 1/n)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// cross-entropy
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // logits: (N, C)
@group(0) @binding(2) var<storage, read> targets: array<i32>;         // targets: (N,) class indices (u32 data reads the same)
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;  // row_loss: (N,)
@group(0) @binding(4) var<storage, read_write> valid: array<f32>;     // valid: (N,) 1.0 unless ignored
@group(0) @binding(5) var<storage, read_write> lse_out: array<f32>;   // lse_out: (N,) logsumexp of each row
@group(0) @binding(6) var<storage, read> lse_in: array<f32>;          // lse_in: (N,) as lse_out
@group(0) @binding(7) var<storage, read> g: array<f32>;               // g: (N,) or (1,) per g_stride (bce: (n,) or (1,))
@group(0) @binding(8) var<storage, read_write> dlogits: array<f32>;   // dlogits: (N, C)
// binary cross-entropy with logits
@group(0) @binding(9) var<storage, read> bx: array<f32>;              // bx: (n,) logits, any shape flattened
@group(0) @binding(10) var<storage, read> by: array<f32>;             // by: (n,) targets, shape of bx
@group(0) @binding(11) var<storage, read_write> bloss: array<f32>;    // bloss: (n,) elementwise loss
@group(0) @binding(12) var<storage, read_write> bdx: array<f32>;      // bdx: (n,) gradient for bx
@group(0) @binding(13) var<storage, read_write> bdy: array<f32>;      // bdy: (n,) gradient for by

// A quiet NaN the compiler cannot fold away.
fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u | (p.n & 0u));
}

fn ignored(t: i32) -> bool {
    return p.has_ignore == 1u && t == p.ignore_index;
}

fn in_range(t: i32) -> bool {
    return t >= 0 && u32(t) < p.c;
}

@compute @workgroup_size(64, 1, 1)
fn cross_entropy_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = (wid.y * nwg.x + wid.x) * 64u + lid.x;
    if (r >= p.n) { return; }
    let base = r * p.c;
    var mx = logits[base];
    for (var j = 1u; j < p.c; j++) {
        mx = max(mx, logits[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < p.c; j++) {
        s += exp(logits[base + j] - mx);
    }
    let lse = mx + log(s);
    lse_out[r] = lse;
    let t = targets[r];
    if (ignored(t)) {
        row_loss[r] = 0.0;
        valid[r] = 0.0;
    } else if (!in_range(t)) {
        row_loss[r] = nan();
        valid[r] = 1.0;
    } else {
        row_loss[r] = lse - logits[base + u32(t)];
        valid[r] = 1.0;
    }
}

@compute @workgroup_size(256, 1, 1)
fn cross_entropy_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_id) lid: vec3<u32>) {
    let k = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (k >= p.n * p.c) { return; }
    let r = k / p.c;
    let j = k % p.c;
    let t = targets[r];
    if (ignored(t)) {
        dlogits[k] = 0.0;
        return;
    }
    if (!in_range(t)) {
        dlogits[k] = nan();
        return;
    }
    var d = exp(logits[k] - lse_in[r]);
    if (u32(t) == j) {
        d -= 1.0;
    }
    dlogits[k] = d * g[r * p.g_stride];
}

@compute @workgroup_size(256, 1, 1)
fn bce_logits_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
    let k = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (k >= p.n) { return; }
    let x = bx[k];
    bloss[k] = max(x, 0.0) - x * by[k] + log(1.0 + exp(-abs(x)));
}

@compute @workgroup_size(256, 1, 1)
fn bce_logits_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
    let k = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (k >= p.n) { return; }
    let x = bx[k];
    // σ(x) without overflow: e = exp(−|x|) ≤ 1.
    let e = exp(-abs(x));
    let sig = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
    let gk = g[k * p.g_stride] * p.scale;
    bdx[k] = (sig - by[k]) * gk;
    bdy[k] = -x * gk;
}
