// reduce.wgsl: sum, mean or max along one axis.
//
// The input is viewed as (outer, D, inner) with the reduced axis in the
// middle. Each pass reduces chunks of `chunk` consecutive elements of the axis:
// the output is (outer, ceil(D / chunk), inner); with chunk = D it is the
// plain (outer, inner) reduction. Long axes take several passes
// (src/ops/reduce.rs), because llvmpipe (software Vulkan/GL) ends every loop
// after 65535 iterations in total per invocation, and so no invocation here
// loops more than 32768 times.
//   reduce_rows: one invocation per output chunk, a plain loop.
//   reduce_wide: one 256-invocation workgroup per output chunk (a tree in
//                workgroup memory), for few outputs with long chunks.

struct Params {
    outer: u32,
    d: u32,        // length of the reduced axis (>= 1)
    inner: u32,
    chunk: u32,    // elements of the axis per output (>= 1)
    divisor: f32,  // mean: the full axis length, over all passes
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override OP: u32 = 0u; // 0 sum, 1 mean (sum / divisor), 2 max

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x: (outer, D, inner)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y: (outer, ceil(D / chunk), inner)

fn combine(acc: f32, v: f32) -> f32 {
    if (OP == 2u) { return max(acc, v); }
    return acc + v;
}

fn finish(acc: f32) -> f32 {
    if (OP == 1u) { return acc / p.divisor; }
    return acc;
}

// Output index r → (first element, element count, stride) of its chunk.
fn chunk_of(r: u32) -> vec3<u32> {
    let chunks = (p.d + p.chunk - 1u) / p.chunk;
    let i = r % p.inner;
    let c = (r / p.inner) % chunks;
    let o = r / (p.inner * chunks);
    let start = c * p.chunk;
    return vec3<u32>((o * p.d + start) * p.inner + i, min(p.chunk, p.d - start), p.inner);
}

fn outputs() -> u32 {
    return p.outer * ((p.d + p.chunk - 1u) / p.chunk) * p.inner;
}

@compute @workgroup_size(64, 1, 1)
fn reduce_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = (wid.y * nwg.x + wid.x) * 64u + lid.x;
    if (r >= outputs()) { return; }
    let c = chunk_of(r);
    var acc = x[c.x];
    for (var j = 1u; j < c.y; j++) {
        acc = combine(acc, x[c.x + j * c.z]);
    }
    y[r] = finish(acc);
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn reduce_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wid.y * nwg.x + wid.x; // uniform across the workgroup
    let valid = r < outputs();
    var acc = 0.0;
    if (valid) {
        let c = chunk_of(r);
        // For max every lane starts from the chunk's first element (no sentinel needed).
        if (OP == 2u) { acc = x[c.x]; }
        for (var j = lid.x; j < c.y; j += 256u) {
            acc = combine(acc, x[c.x + j * c.z]);
        }
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            partial[lid.x] = combine(partial[lid.x], partial[lid.x + s]);
        }
        workgroupBarrier();
    }
    if (lid.x == 0u && valid) {
        y[r] = finish(partial[0]);
    }
}
