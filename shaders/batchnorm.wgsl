// batchnorm.wgsl: BatchNorm2d over x (N, C, L) with L = H·W, per channel c.
//
// Training: batch statistics over the M = N·L values of each channel,
//   mean_c = Σ x / M,  var_c = Σ (x − mean_c)² / M (biased, for normalising),
//   running_mean ← (1 − momentum)·running_mean + momentum·mean_c,
//   running_var  ← (1 − momentum)·running_var  + momentum·var_c·M/(M − 1) (unbiased).
// Evaluation: mean_c, var_c are the running statistics.
//   y = (x − mean_c)·rstd_c·w_c + b_c,  rstd_c = 1/√(var_c + eps),  x̂ = (x − mean_c)·rstd_c.
// Backward (training, batch statistics depend on x):
//   db_c = Σ dy,  dw_c = Σ dy·x̂,
//   dx = w_c·rstd_c·(dy − db_c/M − x̂·dw_c/M);   evaluation: dx = w_c·rstd_c·dy.
//
// Channel sums run in two steps so no invocation loops more than 32768 times
// (llvmpipe caps loops at 65535 iterations per invocation): one invocation per
// (channel, chunk of ≤ 32768 values) writes a partial, then one invocation per
// channel merges its ≤ 32768 partials. Statistics partials are
// (count, shifted sum, shifted sum of squares) around the chunk's first value,
// which keeps E[x²] − E[x]² from cancelling when |mean| ≫ std; they merge with
// Chan's parallel-variance formula.
//
// 1-D dispatch folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct Params {
    n: u32,         // N
    c: u32,         // C
    l: u32,         // L = H·W
    chunk: u32,     // values per (channel, chunk), ≤ 32768
    chunks: u32,    // ⌈M / chunk⌉ ≤ 32768
    total: u32,     // invocations that do work in this dispatch
    momentum: f32,
    eps: f32,
}

// true: y = x̂·w + b; false: y = x̂ (weight/bias bindings hold dummies).
override HAS_AFFINE: bool = true;
// true: batch statistics (their gradient flows into dx); false: running statistics.
override TRAINING: bool = true;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // x: (N, C, L)
@group(0) @binding(2) var<storage, read> dy: array<f32>;               // dy: (N, C, L)
@group(0) @binding(3) var<storage, read> weight: array<f32>;           // w: (C,)
@group(0) @binding(4) var<storage, read> bias: array<f32>;             // b: (C,)
@group(0) @binding(5) var<storage, read_write> part: array<f32>;       // part: (C, chunks, 3) or (C, chunks, 2)
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;      // stats: (2, C): mean, rstd
@group(0) @binding(7) var<storage, read_write> running_mean: array<f32>; // (C,)
@group(0) @binding(8) var<storage, read_write> running_var: array<f32>;  // (C,)
@group(0) @binding(9) var<storage, read_write> y: array<f32>;          // y or dx: (N, C, L)
@group(0) @binding(10) var<storage, read_write> dweight: array<f32>;   // dw: (C,)
@group(0) @binding(11) var<storage, read_write> dbias: array<f32>;     // db: (C,)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// Flat index of the e-th value (e < M) of channel c: (e / L, c, e % L).
fn at(c: u32, e: u32) -> u32 {
    let n = e / p.l;
    return (n * p.c + c) * p.l + (e - n * p.l);
}

// One invocation per (c, chunk): count, Σ (x − k), Σ (x − k)² with k the chunk's first value.
@compute @workgroup_size(256, 1, 1)
fn bn_stats_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let c = i / p.chunks;
    let j = i - c * p.chunks;
    let m = p.n * p.l;
    let start = j * p.chunk;
    let end = min(start + p.chunk, m);
    let k = x[at(c, start)];
    var s1 = 0.0;
    var s2 = 0.0;
    // Walk (n, l) incrementally rather than dividing per value.
    var n = start / p.l;
    var l = start - n * p.l;
    for (var e = start; e < end; e++) {
        let v = x[(n * p.c + c) * p.l + l] - k;
        s1 += v;
        s2 += v * v;
        l++;
        if (l == p.l) { l = 0u; n++; }
    }
    let cnt = f32(end - start);
    part[i * 3u] = cnt;
    part[i * 3u + 1u] = k + s1 / cnt;                 // chunk mean
    part[i * 3u + 2u] = max(s2 - s1 * s1 / cnt, 0.0); // chunk Σ (x − mean)²
}

// One invocation per channel: merges the chunks (Chan et al.), writes mean
// and rstd, and updates the running statistics.
@compute @workgroup_size(256, 1, 1)
fn bn_stats_finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
    let c = flat_index(wid, nwg, lid);
    if (c >= p.c) { return; }
    var cnt = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < p.chunks; j++) {
        let b = (c * p.chunks + j) * 3u;
        let nb = part[b];
        let delta = part[b + 1u] - mean;
        let tot = cnt + nb;
        mean += delta * nb / tot;
        m2 += part[b + 2u] + delta * delta * cnt * nb / tot;
        cnt = tot;
    }
    let var_b = m2 / cnt;
    stats[c] = mean;
    stats[p.c + c] = inverseSqrt(var_b + p.eps);
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * m2 / max(cnt - 1.0, 1.0);
}

// One invocation per channel: mean and rstd from the running statistics.
@compute @workgroup_size(256, 1, 1)
fn bn_stats_eval(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
    let c = flat_index(wid, nwg, lid);
    if (c >= p.c) { return; }
    stats[c] = running_mean[c];
    stats[p.c + c] = inverseSqrt(running_var[c] + p.eps);
}

// y = (x − mean_c)·rstd_c·w_c + b_c, one invocation per value.
@compute @workgroup_size(256, 1, 1)
fn bn_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let c = (i / p.l) % p.c;
    var v = (x[i] - stats[c]) * stats[p.c + c];
    if (HAS_AFFINE) { v = v * weight[c] + bias[c]; }
    y[i] = v;
}

// Differentiates  y = x̂·w + b  for the channel sums: one invocation per
// (c, chunk) writes Σ dy and Σ dy·x̂ over its chunk.
@compute @workgroup_size(256, 1, 1)
fn bn_backward_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let c = i / p.chunks;
    let j = i - c * p.chunks;
    let m = p.n * p.l;
    let start = j * p.chunk;
    let end = min(start + p.chunk, m);
    let mean = stats[c];
    let rstd = stats[p.c + c];
    var sd = 0.0;
    var sdx = 0.0;
    var n = start / p.l;
    var l = start - n * p.l;
    for (var e = start; e < end; e++) {
        let idx = (n * p.c + c) * p.l + l;
        let g = dy[idx];
        sd += g;
        sdx += g * (x[idx] - mean) * rstd;
        l++;
        if (l == p.l) { l = 0u; n++; }
    }
    part[i * 2u] = sd;
    part[i * 2u + 1u] = sdx;
}

// One invocation per channel: db_c = Σ dy, dw_c = Σ dy·x̂ over the chunks.
@compute @workgroup_size(256, 1, 1)
fn bn_backward_finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
    let c = flat_index(wid, nwg, lid);
    if (c >= p.c) { return; }
    var sd = 0.0;
    var sdx = 0.0;
    for (var j = 0u; j < p.chunks; j++) {
        let b = (c * p.chunks + j) * 2u;
        sd += part[b];
        sdx += part[b + 1u];
    }
    dbias[c] = sd;
    dweight[c] = sdx;
}

// dx = w_c·rstd_c·(dy − db_c/M − x̂·dw_c/M) (training) or w_c·rstd_c·dy
// (evaluation), one invocation per value; y holds dx.
@compute @workgroup_size(256, 1, 1)
fn bn_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.total) { return; }
    let c = (i / p.l) % p.c;
    let rstd = stats[p.c + c];
    var scale = rstd;
    if (HAS_AFFINE) { scale *= weight[c]; }
    var g = dy[i];
    if (TRAINING) {
        let inv_m = 1.0 / f32(p.n * p.l);
        let xhat = (x[i] - stats[c]) * rstd;
        g = g - dbias[c] * inv_m - xhat * dweight[c] * inv_m;
    }
    y[i] = scale * g;
}
