// lookahead.wgsl: Deep Speech 2's look-ahead (row) convolution and its gradients.
//
// x is time-first (T, B, F), W is (K, F) with K = τ + 1 taps, bias (F,):
//   forward:          y[t, b, f]  = bias[f] + Σ_{j<K} W[j, f] · x[t + j, b, f]   (x[t'] = 0 for t' ≥ T)
//   backward input:   dx[t, b, f] = Σ_{j<K, t−j ≥ 0} W[j, f] · dy[t − j, b, f]
//   backward weight:  dW[j, f]    = Σ_{t+j < T, b} dy[t, b, f] · x[t + j, b, f]
//   (backward bias:   db[f] = Σ_{t,b} dy[t, b, f], done on the host with a reduce)
//
// Zero padding is at the end of the sequence only, so y has length T and a
// unidirectional model sees τ future steps.
//
// With rows r = t·B + b, x[t + j, b, f] sits at row r + j·B, and t + j < T
// is r + j·B < T·B. The weight gradient runs one invocation per
// (chunk, j, f): chunk c covers rows [c·chunk_rows, (c+1)·chunk_rows), at
// most 32768 (llvmpipe caps loops at 65535 iterations per invocation), and
// writes its partial sum to part[c, j, f]; the host sums over chunks.
// The host keeps K ≤ 32768 so the per-tap loops stay under the cap too.
//
// Dispatch is 1-D, folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct Params {
    t: u32,           // T: time steps
    b: u32,           // B: batch
    f: u32,           // F: features
    k: u32,           // K = τ + 1: taps
    chunk_rows: u32,  // backward weight: rows (t, b) per chunk (≤ 32768)
    chunks: u32,      // backward weight: ceil(T·B / chunk_rows), at least 1
    _pad0: u32,
    _pad1: u32,
}

// true: add bias[f] in the forward (false: the binding holds a dummy).
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // x: (T, B, F)
@group(0) @binding(2) var<storage, read> weight: array<f32>;     // W: (K, F)
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // bias: (F,) (any buffer without HAS_BIAS)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // y: (T, B, F)
@group(0) @binding(5) var<storage, read> dy: array<f32>;         // dy: (T, B, F)
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;   // dx: (T, B, F)
@group(0) @binding(7) var<storage, read_write> part: array<f32>; // part: (chunks, K, F), partial dW

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// One invocation per output element y[t, b, f].
@compute @workgroup_size(256, 1, 1)
fn lookahead_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let bf = p.b * p.f;
    if (i >= p.t * bf) { return; }
    let t = i / bf;
    let f = i % p.f;
    var s = 0.0;
    if (HAS_BIAS) { s = bias[f]; }
    // Taps past the end read zeros: stop at t + j = T.
    let taps = min(p.k, p.t - t);
    for (var j = 0u; j < taps; j++) {
        s += weight[j * p.f + f] * x[i + j * bf];
    }
    y[i] = s;
}

// Differentiates  y[t, b, f] = bias[f] + Σ_j W[j, f] · x[t + j, b, f]  with
// respect to x: x[t, b, f] feeds y[t − j, b, f] with weight W[j, f].
// One invocation per element dx[t, b, f].
@compute @workgroup_size(256, 1, 1)
fn lookahead_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let bf = p.b * p.f;
    if (i >= p.t * bf) { return; }
    let t = i / bf;
    let f = i % p.f;
    var s = 0.0;
    // t − j ≥ 0: at most t + 1 taps.
    let taps = min(p.k, t + 1u);
    for (var j = 0u; j < taps; j++) {
        s += weight[j * p.f + f] * dy[i - j * bf];
    }
    dx[i] = s;
}

// Differentiates  y[t, b, f] = bias[f] + Σ_j W[j, f] · x[t + j, b, f]  with
// respect to W: dW[j, f] = Σ_{t,b} dy[t, b, f] · x[t + j, b, f].
// One invocation per (chunk, j, f), looping over the chunk's rows.
@compute @workgroup_size(256, 1, 1)
fn lookahead_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let kf = p.k * p.f;
    if (i >= p.chunks * kf) { return; }
    let c = i / kf;
    let j = (i % kf) / p.f;
    let f = i % p.f;
    let rows = p.t * p.b;
    // Rows r with r + j·B < T·B contribute (t + j < T).
    let shift = j * p.b;
    var valid = 0u;
    if (rows > shift) { valid = rows - shift; }
    let start = c * p.chunk_rows;
    let end = min(start + p.chunk_rows, valid);
    var s = 0.0;
    for (var r = start; r < end; r++) {
        s += dy[r * p.f + f] * x[(r + shift) * p.f + f];
    }
    part[i] = s;
}
