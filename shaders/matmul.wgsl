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
// on software adapters), mm_tiled (a 64x64 tile of 16x16 invocations, 4x4
// each, staged in workgroup memory), and mm_wg128 / mm_wg64, the kernels
// shaped for discrete GPUs (8x8 per invocation, double-buffered K slices in
// workgroup memory; 128x128 tiles of 256 invocations and 64x64 tiles of 64,
// layout and reasons above their code at the end of this file).
// src/ops/matmul.rs autotunes.

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

// ---------------------------------------------------------------------------
// Workgroup-staged kernels for discrete GPUs: mm_wg128 and mm_wg64.
//
// Both hold an 8x8 block of C per invocation as four mat4x4 accumulators
// (2-D register blocking, the algebra of mm_8x8) and stage a K slice of the
// A and B tiles in workgroup memory, read back as vec4. The staging is
// double-buffered with ONE barrier per slice: at the top of slice s each
// invocation issues its global loads of slice s+1 into registers, does the
// math of slice s from buffer s%2, then writes the registers to the other
// buffer and meets the barrier (which also orders the next overwrite of
// buffer s%2 after every read of it). The load past the last slice reads
// clamped addresses, is masked to zero and is never used.
//
// Invocation (tx, ty) owns row blocks ty and ty+E and column blocks tx and
// tx+E (E = the workgroup edge; blocks of 4): adjacent tx read adjacent
// vec4s of the B stage and write adjacent vec4s of C, and all tx of one ty
// read the same A vec4 (a broadcast), so neither stage read conflicts in
// banks. A is staged in its storage orientation ([m][k] or, transposed,
// [k][m]; one vec4 per slot, no shuffling); B is always staged [k][n]
// (for TRANS_B each loaded vec4 of 4 k's is scattered into 4 columns), so
// the hot B reads stay consecutive.
//
//   mm_wg128: 16x16 = 256 invocations, a 128x128 tile, K slice 8:
//     2 buffers x (128x8 + 8x128) floats = 16 KiB; each invocation loads
//     one vec4 of A and one of B per slice. For large products.
//   mm_wg64: 8x8 = 64 invocations, a 64x64 tile, K slice 16: also 16 KiB,
//     four vec4 of each per invocation per slice. Same per-invocation
//     work and reuse as mm_wg128, but 4x as many workgroups: a 512x512 C
//     is 64 workgroups instead of 16, which keeps a GPU with ~100 compute
//     units busy where 128x128 tiles leave most idle; K slice 16 halves
//     its barriers. (A 64x64 tile of 256 invocations would hold only 4x4
//     each, half the reuse per shared-memory read.)
//
// Every M, N, K multiple of 4: rows and columns past the edge are clamped
// (they feed only outputs store() skips), k's past K masked to zero with
// select. No short-circuit operators or early returns in the K loop (see
// SwiftShader's compiler in the README); the `if`s on TRANS_A / TRANS_B
// are on override constants.
const STAGE: u32 = 256u; // vec4 per buffer of one operand (both kernels)
var<workgroup> wa: array<vec4<f32>, 512>; // A stage, 2 buffers
var<workgroup> wb: array<vec4<f32>, 512>; // B stage, 2 buffers, [k][n]

// Slot e of the A slice at k0 of the tile at row tile_m (tm rows, bk k's):
// [m][k/4] (A·B) or [k][m/4] (Aᵀ), one vec4 each.
fn stage_a(off: u32, tile_m: u32, k0: u32, e: u32, tm: u32, bk: u32) -> vec4<f32> {
    var v: vec4<f32>;
    var ok: bool;
    if (TRANS_A) {
        let m4 = p.m / 4u;
        let kk = k0 + e / (tm / 4u);
        let mq = tile_m / 4u + e % (tm / 4u);
        v = a[off + min(kk, p.k - 1u) * m4 + min(mq, m4 - 1u)];
        ok = kk < p.k;
    } else {
        let k4 = p.k / 4u;
        let row = tile_m + e / (bk / 4u);
        let kq = k0 / 4u + e % (bk / 4u);
        v = a[off + min(row, p.m - 1u) * k4 + min(kq, k4 - 1u)];
        ok = kq < k4;
    }
    return select(vec4<f32>(0.0), v, ok);
}

// Slot e of the B slice at k0 of the tile at column tile_n: [k][n/4] (A·B)
// or [n][k/4] (Bᵀ, scattered by put_b).
fn stage_b(off: u32, tile_n: u32, k0: u32, e: u32, tn: u32, bk: u32) -> vec4<f32> {
    var v: vec4<f32>;
    var ok: bool;
    if (TRANS_B) {
        let k4 = p.k / 4u;
        let col = tile_n + e / (bk / 4u);
        let kq = k0 / 4u + e % (bk / 4u);
        v = b[off + min(col, p.n - 1u) * k4 + min(kq, k4 - 1u)];
        ok = kq < k4;
    } else {
        let n4 = p.n / 4u;
        let kk = k0 + e / (tn / 4u);
        let nq = tile_n / 4u + e % (tn / 4u);
        v = b[off + min(kk, p.k - 1u) * n4 + min(nq, n4 - 1u)];
        ok = kk < p.k;
    }
    return select(vec4<f32>(0.0), v, ok);
}

// Writes slot e of the B slice into the buffer at `base` as [k][n/4].
fn put_b(base: u32, e: u32, v: vec4<f32>, tn: u32, bk: u32) {
    if (TRANS_B) {
        let n = e / (bk / 4u);
        let row = tn / 4u;
        let at = base + 4u * (e % (bk / 4u)) * row + n / 4u;
        let j = n % 4u;
        wb[at][j] = v.x;
        wb[at + row][j] = v.y;
        wb[at + 2u * row][j] = v.z;
        wb[at + 3u * row][j] = v.w;
    } else {
        wb[base + e] = v;
    }
}

// The staged A block of rows 4mb..4mb+4, k-chunk kq of the slice: column
// i = row 4mb+i's 4 k's (as load_a).
fn block_a(base: u32, mb: u32, kq: u32, tm: u32, bk: u32) -> mat4x4<f32> {
    if (TRANS_A) {
        let row = tm / 4u;
        let at = base + 4u * kq * row + mb;
        return transpose(mat4x4<f32>(wa[at], wa[at + row], wa[at + 2u * row], wa[at + 3u * row]));
    }
    let at = base + 4u * mb * (bk / 4u) + kq;
    let s = bk / 4u;
    return mat4x4<f32>(wa[at], wa[at + s], wa[at + 2u * s], wa[at + 3u * s]);
}

// The staged B block of k-chunk kq, cols 4nb..4nb+4: column j = k 4kq+j
// (as load_b).
fn block_b(base: u32, kq: u32, nb: u32, tn: u32) -> mat4x4<f32> {
    let row = tn / 4u;
    let at = base + 4u * kq * row + nb;
    return mat4x4<f32>(wb[at], wb[at + row], wb[at + 2u * row], wb[at + 3u * row]);
}

// 128x128 tile, 256 invocations of 8x8, K slice 8, double-buffered.
@compute @workgroup_size(16, 16, 1)
fn mm_wg128(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let z = wid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    let tile_m = wid.y * 128u;
    let tile_n = wid.x * 128u;
    let t = lid.y * 16u + lid.x;
    wa[t] = stage_a(oa, tile_m, 0u, t, 128u, 8u);
    put_b(0u, t, stage_b(ob, tile_n, 0u, t, 128u, 8u), 128u, 8u);
    workgroupBarrier();
    var acc00 = mat4x4<f32>();
    var acc01 = mat4x4<f32>();
    var acc10 = mat4x4<f32>();
    var acc11 = mat4x4<f32>();
    let slices = (p.k + 7u) / 8u;
    for (var s = 0u; s < slices; s++) {
        let cur = (s & 1u) * STAGE;
        let nxt = STAGE - cur;
        let next_a = stage_a(oa, tile_m, 8u * s + 8u, t, 128u, 8u);
        let next_b = stage_b(ob, tile_n, 8u * s + 8u, t, 128u, 8u);
        for (var kq = 0u; kq < 2u; kq++) {
            let a0 = block_a(cur, lid.y, kq, 128u, 8u);
            let a1 = block_a(cur, lid.y + 16u, kq, 128u, 8u);
            let b0 = block_b(cur, kq, lid.x, 128u);
            let b1 = block_b(cur, kq, lid.x + 16u, 128u);
            acc00 += b0 * a0;
            acc01 += b1 * a0;
            acc10 += b0 * a1;
            acc11 += b1 * a1;
        }
        wa[nxt + t] = next_a;
        put_b(nxt, t, next_b, 128u, 8u);
        workgroupBarrier();
    }
    let oc = z * p.stride_c;
    let m0 = tile_m + 4u * lid.y;
    let n0 = tile_n + 4u * lid.x;
    store(oc, m0, n0, acc00);
    store(oc, m0, n0 + 64u, acc01);
    store(oc, m0 + 64u, n0, acc10);
    store(oc, m0 + 64u, n0 + 64u, acc11);
}

// 64x64 tile, 64 invocations of 8x8, K slice 16, double-buffered.
@compute @workgroup_size(8, 8, 1)
fn mm_wg64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let z = wid.z;
    let oa = z * p.stride_a;
    let ob = z * p.stride_b;
    let tile_m = wid.y * 64u;
    let tile_n = wid.x * 64u;
    let t = lid.y * 8u + lid.x;
    for (var j = 0u; j < 4u; j++) {
        let e = t + 64u * j;
        wa[e] = stage_a(oa, tile_m, 0u, e, 64u, 16u);
        put_b(0u, e, stage_b(ob, tile_n, 0u, e, 64u, 16u), 64u, 16u);
    }
    workgroupBarrier();
    var acc00 = mat4x4<f32>();
    var acc01 = mat4x4<f32>();
    var acc10 = mat4x4<f32>();
    var acc11 = mat4x4<f32>();
    let slices = (p.k + 15u) / 16u;
    for (var s = 0u; s < slices; s++) {
        let cur = (s & 1u) * STAGE;
        let nxt = STAGE - cur;
        let k1 = 16u * s + 16u;
        let na0 = stage_a(oa, tile_m, k1, t, 64u, 16u);
        let na1 = stage_a(oa, tile_m, k1, t + 64u, 64u, 16u);
        let na2 = stage_a(oa, tile_m, k1, t + 128u, 64u, 16u);
        let na3 = stage_a(oa, tile_m, k1, t + 192u, 64u, 16u);
        let nb0 = stage_b(ob, tile_n, k1, t, 64u, 16u);
        let nb1 = stage_b(ob, tile_n, k1, t + 64u, 64u, 16u);
        let nb2 = stage_b(ob, tile_n, k1, t + 128u, 64u, 16u);
        let nb3 = stage_b(ob, tile_n, k1, t + 192u, 64u, 16u);
        for (var kq = 0u; kq < 4u; kq++) {
            let a0 = block_a(cur, lid.y, kq, 64u, 16u);
            let a1 = block_a(cur, lid.y + 8u, kq, 64u, 16u);
            let b0 = block_b(cur, kq, lid.x, 64u);
            let b1 = block_b(cur, kq, lid.x + 8u, 64u);
            acc00 += b0 * a0;
            acc01 += b1 * a0;
            acc10 += b0 * a1;
            acc11 += b1 * a1;
        }
        wa[nxt + t] = na0;
        wa[nxt + t + 64u] = na1;
        wa[nxt + t + 128u] = na2;
        wa[nxt + t + 192u] = na3;
        put_b(nxt, t, nb0, 64u, 16u);
        put_b(nxt, t + 64u, nb1, 64u, 16u);
        put_b(nxt, t + 128u, nb2, 64u, 16u);
        put_b(nxt, t + 192u, nb3, 64u, 16u);
        workgroupBarrier();
    }
    let oc = z * p.stride_c;
    let m0 = tile_m + 4u * lid.y;
    let n0 = tile_n + 4u * lid.x;
    store(oc, m0, n0, acc00);
    store(oc, m0, n0 + 32u, acc01);
    store(oc, m0 + 32u, n0, acc10);
    store(oc, m0 + 32u, n0 + 32u, acc11);
}
