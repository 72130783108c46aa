// embedding.wgsl: table lookup and its gradient.
//
// forward:  y[i, c] = W[idx[i], c]           (0 where idx[i] >= num: out of range)
// backward: dW[r, c] (+)= Σ_{i in chunk, idx[i] == r} dy[i, c]   (0 for r == padding)
//
// The backward is race-free and deterministic without float atomics: one
// invocation per element (r, c) of W loops over a chunk of `count` indices
// starting at `start`. The host splits the indices into chunks of at most
// 32768 (llvmpipe caps loops per invocation) and sets `accumulate` on every
// chunk after the first. I32 indices are read as u32: negatives become
// huge and so count as out of range.
//
// Dispatch is 1-D, folded into a 2-D grid of 256-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct Params {
    n_idx: u32,       // number of indices
    num: u32,         // rows of W
    dim: u32,         // columns of W
    padding: u32,     // row that gets no gradient (0xffffffff: none)
    start: u32,       // backward: first index of this chunk
    count: u32,       // backward: indices in this chunk (<= 32768)
    accumulate: u32,  // backward: 1 adds to dW, 0 overwrites it
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;         // idx: (n_idx,)
@group(0) @binding(2) var<storage, read> weight: array<f32>;      // W: (num, dim)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;     // y: (n_idx, dim)
@group(0) @binding(4) var<storage, read> dy: array<f32>;          // dy: (n_idx, dim)
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;    // dW: (num, dim)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

@compute @workgroup_size(256, 1, 1)
fn embedding_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.n_idx * p.dim) { return; }
    let row = idx[i / p.dim];
    let c = i % p.dim;
    var v = 0.0;
    if (row < p.num) { v = weight[row * p.dim + c]; }
    y[i] = v;
}

@compute @workgroup_size(256, 1, 1)
fn embedding_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
    let j = flat_index(wid, nwg, lid);
    if (j >= p.num * p.dim) { return; }
    let r = j / p.dim;
    let c = j % p.dim;
    var s = 0.0;
    if (r != p.padding) {
        for (var k = 0u; k < p.count; k++) {
            let i = p.start + k;
            if (idx[i] == r) { s += dy[i * p.dim + c]; }
        }
    }
    if (p.accumulate != 0u) { s += dw[j]; }
    dw[j] = s;
}
