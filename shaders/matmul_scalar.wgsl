// matmul_scalar.wgsl: C = act(op(A) · op(B) + bias) for any M, N, K.
//
// The fallback for shapes that are not multiples of 4 (matmul.wgsl needs
// them for vec4 loads). Same 4x4 register tile and the same block algebra
// (acc += bk * am, see matmul.wgsl), but elements are loaded one by one
// with bounds checks (zero outside the matrix).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    stride_a: u32,   // per-batch stride of A in elements (0 broadcasts)
    stride_b: u32,   // per-batch stride of B in elements (0 broadcasts)
    stride_c: u32,   // per-batch stride of C in elements
    slope: f32,      // leaky_relu negative slope
}

override TRANS_A: bool = false;  // A stored (K, M) instead of (M, K)
override TRANS_B: bool = false;  // B stored (N, K) instead of (K, N)
override HAS_BIAS: bool = false;
override ACT: u32 = 0u;          // 0 none, 1 relu, 2 leaky_relu, 3 tanh, 4 sigmoid

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;       // A: (batch, M, K) or (batch, K, M)
@group(0) @binding(2) var<storage, read> b: array<f32>;       // B: (batch, K, N) or (batch, N, K)
@group(0) @binding(3) var<storage, read_write> c: array<f32>; // C: (batch, M, N)
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // bias: (N,)

// The loads below are branch-free (`&` and `select`, never `||` or an early
// return): naga lowers every short-circuit operator to if/else, and
// SwiftShader's compiler takes time exponential in the branches of a loop
// body, so 32 branchy loads per iteration took it over a minute per pipeline.
// Outside the matrix the index is 0 (always in bounds) and the value 0.

fn a_at(off: u32, m: u32, k: u32) -> f32 {
    let inside = (m < p.m) & (k < p.k);
    let i = select(off + m * p.k + k, off + k * p.m + m, TRANS_A);
    return select(0.0, a[select(0u, i, inside)], inside);
}

fn b_at(off: u32, k: u32, n: u32) -> f32 {
    let inside = (k < p.k) & (n < p.n);
    let i = select(off + k * p.n + n, off + n * p.k + k, TRANS_B);
    return select(0.0, b[select(0u, i, inside)], inside);
}

fn a_row(off: u32, m: u32, k0: u32) -> vec4<f32> {
    return vec4<f32>(a_at(off, m, k0), a_at(off, m, k0 + 1u), a_at(off, m, k0 + 2u), a_at(off, m, k0 + 3u));
}

fn b_row(off: u32, k: u32, n0: u32) -> vec4<f32> {
    return vec4<f32>(b_at(off, k, n0), b_at(off, k, n0 + 1u), b_at(off, k, n0 + 2u), b_at(off, k, n0 + 3u));
}

fn activate(x: f32) -> f32 {
    switch ACT {
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(x * p.slope, x, x > 0.0); }
        case 3u: { return tanh(x); }
        case 4u: { return 1.0 / (1.0 + exp(-x)); }
        default: { return x; }
    }
}

@compute @workgroup_size(8, 8, 1)
fn mm_scalar(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 4u;
    let m0 = gid.y * 4u;
    let z = gid.z;
    if ((m0 >= p.m) | (n0 >= p.n)) { return; }
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    var acc = mat4x4<f32>();
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        let am = mat4x4<f32>(a_row(oa, m0, k0), a_row(oa, m0 + 1u, k0), a_row(oa, m0 + 2u, k0), a_row(oa, m0 + 3u, k0));
        let bk = mat4x4<f32>(b_row(ob, k0, n0), b_row(ob, k0 + 1u, n0), b_row(ob, k0 + 2u, n0), b_row(ob, k0 + 3u, n0));
        acc += bk * am;
    }
    let oc = z * p.stride_c;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + i;
        if (m >= p.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + j;
            if (n >= p.n) { break; }
            var v = acc[i][j];
            if (HAS_BIAS) { v += bias[n]; }
            c[oc + m * p.n + n] = activate(v);
        }
    }
}
