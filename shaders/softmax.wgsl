// softmax.wgsl: softmax or log_softmax along one axis, numerically stable.
//
// The input is viewed as (outer, D, inner); one invocation per (outer, inner)
// row walks D three times: max, sum of exp(x - max), write. llvmpipe ends
// shader loops after 65535 iterations per invocation, so src/ops/softmax.rs
// sends axes longer than 10922 to separate max/exp/sum passes instead.
//   softmax:     y = exp(x - max) / s
//   log_softmax: y = x - max - log(s)

struct Params {
    outer: u32,
    d: u32,
    inner: u32,
    _pad: u32,
}

override LOG: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x: (outer, D, inner)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y: (outer, D, inner)

@compute @workgroup_size(64, 1, 1)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = (wid.y * nwg.x + wid.x) * 64u + lid.x;
    if (r >= p.outer * p.inner) { return; }
    let o = r / p.inner;
    let i = r % p.inner;
    let base = o * p.d * p.inner + i;
    var mx = x[base];
    for (var j = 1u; j < p.d; j++) {
        mx = max(mx, x[base + j * p.inner]);
    }
    var s = 0.0;
    for (var j = 0u; j < p.d; j++) {
        s += exp(x[base + j * p.inner] - mx);
    }
    let ls = log(s);
    for (var j = 0u; j < p.d; j++) {
        let idx = base + j * p.inner;
        if (LOG) {
            y[idx] = x[idx] - mx - ls;
        } else {
            y[idx] = exp(x[idx] - mx) / s;
        }
    }
}
