// matmul.wgsl: C = act(op(A) · op(B) + bias), batched, f32, vec4 loads.
//
// Requires M, N and K to be multiples of 4 (src/ops/matmul.rs falls back to
// matmul_scalar.wgsl otherwise). Every buffer is read as vec4 along its
// contiguous dimension; a 4x4 block of A or B is a mat4x4 and the register
// tile update is one matrix product:
//
//   am:  column i = A[m0+i][4kc .. 4kc+4]          (4 rows of A, 4 k's)
//   bk:  column j = B[4kc+j][n0 .. n0+4]            (4 k's, 4 cols of B)
//   acc: column i = C[m0+i][n0 .. n0+4]
//   acc += bk * am      (= sum_k B[k][n0..n0+4] * A[m0+i][k])
//
// Transposes are read as transposes of the loaded block, so A·B, Aᵀ·B and
// A·Bᵀ share one microkernel. Entry points differ in register tile size
// (4x4 .. 8x8 outputs per invocation, no workgroup memory: barriers are slow
// on software adapters) and one tiled variant that stages blocks in
// workgroup memory (for discrete GPUs). src/ops/matmul.rs autotunes.

struct Params {
    m: u32,          // rows of C
    n: u32,          // cols of C
    k: u32,          // inner dimension
    batch: u32,
    stride_a: u32,   // per-batch stride of A in vec4 units (0 broadcasts)
    stride_b: u32,   // per-batch stride of B in vec4 units (0 broadcasts)
    stride_c: u32,   // per-batch stride of C in vec4 units
    slope: f32,      // leaky_relu negative slope
}

override TRANS_A: bool = false;  // A stored (K, M) instead of (M, K)
override TRANS_B: bool = false;  // B stored (N, K) instead of (K, N)
override HAS_BIAS: bool = false; // add bias[n] before the activation
override ACT: u32 = 0u;          // 0 none, 1 relu, 2 leaky_relu, 3 tanh, 4 sigmoid
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;       // A: (batch, M, K) or (batch, K, M)
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;       // B: (batch, K, N) or (batch, N, K)
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>; // C: (batch, M, N)
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;    // bias: (N,)

// 4 rows of A from m0, k-chunk kc: column i = A[m0+i][4kc..4kc+4].
fn load_a(off: u32, m0: u32, kc: u32) -> mat4x4<f32> {
    let m = min(m0, p.m - 4u);
    if (TRANS_A) {
        let m4 = p.m / 4u;
        let base = off + 4u * kc * m4 + m / 4u;
        return transpose(mat4x4<f32>(a[base], a[base + m4], a[base + 2u * m4], a[base + 3u * m4]));
    }
    let k4 = p.k / 4u;
    let base = off + m * k4 + kc;
    return mat4x4<f32>(a[base], a[base + k4], a[base + 2u * k4], a[base + 3u * k4]);
}

// k-chunk kc, 4 cols of B from n0: column j = B[4kc+j][n0..n0+4].
fn load_b(off: u32, kc: u32, n0: u32) -> mat4x4<f32> {
    let n = min(n0, p.n - 4u);
    if (TRANS_B) {
        let k4 = p.k / 4u;
        let base = off + n * k4 + kc;
        return transpose(mat4x4<f32>(b[base], b[base + k4], b[base + 2u * k4], b[base + 3u * k4]));
    }
    let n4 = p.n / 4u;
    let base = off + 4u * kc * n4 + n / 4u;
    return mat4x4<f32>(b[base], b[base + n4], b[base + 2u * n4], b[base + 3u * n4]);
}

fn activate(x: vec4<f32>) -> vec4<f32> {
    switch ACT {
        case 1u: { return max(x, vec4<f32>(0.0)); }
        case 2u: { return select(x * p.slope, x, x > vec4<f32>(0.0)); }
        case 3u: { return tanh(x); }
        case 4u: { return 1.0 / (1.0 + exp(-x)); }
        default: { return x; }
    }
}

// Writes the 4x4 tile acc (column i = row m0+i) with the epilogue.
fn store(off: u32, m0: u32, n0: u32, acc: mat4x4<f32>) {
    if (m0 >= p.m || n0 >= p.n) { return; }
    var bv = vec4<f32>(0.0);
    if (HAS_BIAS) { bv = bias[n0 / 4u]; }
    let n4 = p.n / 4u;
    let base = off + m0 * n4 + n0 / 4u;
    c[base] = activate(acc[0] + bv);
    c[base + n4] = activate(acc[1] + bv);
    c[base + 2u * n4] = activate(acc[2] + bv);
    c[base + 3u * n4] = activate(acc[3] + bv);
}

// One 4x4 tile per invocation.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn mm_4x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 4u;
    let m0 = gid.y * 4u;
    let z = gid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    var acc = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        acc += load_b(ob, kc, n0) * load_a(oa, m0, kc);
    }
    store(z * p.stride_c, m0, n0, acc);
}

// 8 rows x 4 cols per invocation: B block reused twice.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn mm_8x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 4u;
    let m0 = gid.y * 8u;
    let z = gid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    var acc0 = mat4x4<f32>();
    var acc1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let bk = load_b(ob, kc, n0);
        acc0 += bk * load_a(oa, m0, kc);
        acc1 += bk * load_a(oa, m0 + 4u, kc);
    }
    let oc = z * p.stride_c;
    store(oc, m0, n0, acc0);
    store(oc, m0 + 4u, n0, acc1);
}

// 4 rows x 8 cols per invocation: A block reused twice.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn mm_4x8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 8u;
    let m0 = gid.y * 4u;
    let z = gid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    var acc0 = mat4x4<f32>();
    var acc1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let am = load_a(oa, m0, kc);
        acc0 += load_b(ob, kc, n0) * am;
        acc1 += load_b(ob, kc, n0 + 4u) * am;
    }
    let oc = z * p.stride_c;
    store(oc, m0, n0, acc0);
    store(oc, m0, n0 + 4u, acc1);
}

// 8x8 per invocation: each loaded block feeds two products.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn mm_8x8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 8u;
    let m0 = gid.y * 8u;
    let z = gid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    var acc00 = mat4x4<f32>();
    var acc01 = mat4x4<f32>();
    var acc10 = mat4x4<f32>();
    var acc11 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let a0 = load_a(oa, m0, kc);
        let a1 = load_a(oa, m0 + 4u, kc);
        let b0 = load_b(ob, kc, n0);
        let b1 = load_b(ob, kc, n0 + 4u);
        acc00 += b0 * a0;
        acc01 += b1 * a0;
        acc10 += b0 * a1;
        acc11 += b1 * a1;
    }
    let oc = z * p.stride_c;
    store(oc, m0, n0, acc00);
    store(oc, m0, n0 + 4u, acc01);
    store(oc, m0 + 4u, n0, acc10);
    store(oc, m0 + 4u, n0 + 4u, acc11);
}

// Tiled: a 16x16 workgroup computes a 64x64 tile of C; 16 k's at a time
// are staged in workgroup memory as 4x4 blocks, each invocation owns one
// 4x4 block of C. For GPUs with fast barriers.
const TILE_BLOCKS: u32 = 16u; // 4x4 blocks per tile edge (64 elements)
const K_CHUNKS: u32 = 4u;     // k-chunks of 4 per stage (16 k's)
var<workgroup> sa: array<mat4x4<f32>, 64>; // [kc][m-block]
var<workgroup> sb: array<mat4x4<f32>, 64>; // [kc][n-block]

@compute @workgroup_size(16, 16, 1)
fn mm_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let z = wid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    let tile_m = wid.y * 64u;
    let tile_n = wid.x * 64u;
    let t = lid.y * 16u + lid.x;
    var acc = mat4x4<f32>();
    let chunks = p.k / 4u;
    for (var kc0 = 0u; kc0 < chunks; kc0 += K_CHUNKS) {
        // 64 A blocks and 64 B blocks per stage; 256 invocations load 128.
        if (t < 64u) {
            let kc = kc0 + t / TILE_BLOCKS;
            let blk = t % TILE_BLOCKS;
            var blk_a = mat4x4<f32>();
            if (kc < chunks) { blk_a = load_a(oa, tile_m + blk * 4u, kc); }
            sa[t] = blk_a;
        } else if (t < 128u) {
            let u = t - 64u;
            let kc = kc0 + u / TILE_BLOCKS;
            let blk = u % TILE_BLOCKS;
            var blk_b = mat4x4<f32>();
            if (kc < chunks) { blk_b = load_b(ob, kc, tile_n + blk * 4u); }
            sb[u] = blk_b;
        }
        workgroupBarrier();
        for (var j = 0u; j < K_CHUNKS; j++) {
            acc += sb[j * TILE_BLOCKS + lid.x] * sa[j * TILE_BLOCKS + lid.y];
        }
        workgroupBarrier();
    }
    store(z * p.stride_c, tile_m + lid.y * 4u, tile_n + lid.x * 4u, acc);
}
