// unfold_time.wgsl: the time-striding convolution of the speech model's front
// end, as an unfold (im2col) over time; the convolution itself is then one
// matmul of the unfolded columns with the weight (C_out, K·F).
//
// x is time-first (T, B, F); K taps, stride S, zero padding P at both ends,
// T_out = ⌊(T + 2P − K) / S⌋ + 1:
//   forward:   cols[t', b, k·F + f] = x[t'·S + k − P, b, f]     (0 outside 0 ≤ · < T)
//   backward:  dx[t, b, f] = Σ_{k : (t + P − k) = t'·S, 0 ≤ t' < T_out} dcols[t', b, k·F + f]
// Each output element is one invocation; the backward loops over at most
// K ≤ 32768 taps (llvmpipe caps loops at 65535 iterations per invocation).
//
// Dispatch is 1-D, folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct Params {
    t: u32,       // T: input steps
    b: u32,       // B: batch
    f: u32,       // F: features per step
    k: u32,       // K: taps
    s: u32,       // S: stride
    p: u32,       // P: zero padding at each end
    t_out: u32,   // T_out
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // x: (T, B, F)
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;   // cols: (T_out, B, K·F)
@group(0) @binding(3) var<storage, read> dcols: array<f32>;        // dcols: (T_out, B, K·F)
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;     // dx: (T, B, F)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// One invocation per cols element (t', b, k, f).
@compute @workgroup_size(256, 1, 1)
fn unfold_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let kf = p.k * p.f;
    let row = kf * p.b;
    if (i >= p.t_out * row) { return; }
    let to = i / row;
    let b = (i % row) / kf;
    let k = (i % kf) / p.f;
    let f = i % p.f;
    // Source step t'·S + k − P, kept unsigned: compare before subtracting.
    let shifted = to * p.s + k;
    var v = 0.0;
    if (shifted >= p.p && shifted - p.p < p.t) {
        v = x[((shifted - p.p) * p.b + b) * p.f + f];
    }
    cols[i] = v;
}

// Differentiates  cols[t', b, k·F + f] = x[t'·S + k − P, b, f]  with respect
// to x: every (t', k) with t'·S + k − P = t adds its gradient.
// One invocation per dx element; loops over the K taps.
@compute @workgroup_size(256, 1, 1)
fn unfold_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    let bf = p.b * p.f;
    if (i >= p.t * bf) { return; }
    let t = i / bf;
    let b = (i % bf) / p.f;
    let f = i % p.f;
    let kf = p.k * p.f;
    var acc = 0.0;
    for (var k = 0u; k < p.k; k++) {
        // t'·S = t + P − k must be ≥ 0, a multiple of S, and t' < T_out.
        let num = t + p.p;
        if (num < k) { break; }
        let q = num - k;
        if (q % p.s != 0u) { continue; }
        let to = q / p.s;
        if (to >= p.t_out) { continue; }
        acc += dcols[(to * p.b + b) * kf + k * p.f + f];
    }
    dx[i] = acc;
}
