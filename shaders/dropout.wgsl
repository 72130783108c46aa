// dropout.wgsl: inverted dropout with a mask computed from a hash.
//
// keep(i) = u(i) >= p, with u(i) = (h(seed, counter, i) >> 8) / 2^24 in [0, 1)
// forward:  y[i]  = keep(i) ? x[i]  · scale : 0
// backward: dx[i] = keep(i) ? dy[i] · scale : 0
// scale = 1 / (1 − p) (0 for p = 1: every element dropped). The mask is a
// pure function of (seed, counter, i), so the backward recomputes it
// instead of storing it; reference::nn::dropout_keep is the same hash on the CPU.
// h chains the PCG hash (Jarzynski & Olano 2020) over the key words.
//
// Dispatch is 1-D, folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct Params {
    n: u32,        // elements
    seed_lo: u32,  // low 32 bits of the seed
    seed_hi: u32,  // high 32 bits of the seed
    counter: u32,  // forward call number (a new mask per call)
    p: f32,        // drop probability
    scale: f32,    // 1 / (1 − p), 0 when p = 1
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // x (forward) or dy (backward): (n,)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;   // y (forward) or dx (backward): (n,)

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn keep(i: u32) -> bool {
    let h = pcg(i ^ pcg(params.seed_lo ^ pcg(params.seed_hi ^ pcg(params.counter))));
    let u = f32(h >> 8u) * (1.0 / 16777216.0);
    return u >= params.p;
}

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// Forward and backward are the same map: masked and scaled.
fn apply(i: u32) {
    if (i >= params.n) { return; }
    var v = 0.0;
    if (keep(i)) { v = x[i] * params.scale; }
    y[i] = v;
}

@compute @workgroup_size(256, 1, 1)
fn dropout_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
    apply(flat_index(wid, nwg, lid));
}

@compute @workgroup_size(256, 1, 1)
fn dropout_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
    apply(flat_index(wid, nwg, lid));
}
