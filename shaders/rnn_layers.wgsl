// rnn_layers.wgsl: the index copy the multi-layer recurrent stack
// (src/nn/rnn_layers.rs) builds its reshuffles from: time reversal, slicing
// a time range or a sub-batch, concatenation on the feature axis, stacking
// final states, batch-first transposes.
//
// gather:  dst[i] = src[idx[i]], or 0 where idx[i] = 0xffffffff.
// The host only builds injective maps (each source element read at most
// once), so the backward is the same entry point with the inverse map:
//   dsrc[j] = ddst[inv[j]], or 0 where j is read by no output.
// One invocation per output element, no loops. Dispatch is 1-D, folded
// into a 2-D grid of 64-wide workgroups:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 64 + local_id.x

struct Params {
    n: u32,      // elements of dst
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 64u + lid.x;
    if (i >= p.n) { return; }
    let j = idx[i];
    var v = 0.0;
    if (j != 0xffffffffu) { v = src[j]; }
    dst[i] = v;
}
