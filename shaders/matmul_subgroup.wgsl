// matmul_subgroup.wgsl: C = act(op(A) · op(B) + bias), batched, f32, vec4
// loads shared across a subgroup. Needs Features::SUBGROUP and a subgroup
// of at least 8 invocations (the workgroup is exactly one subgroup of 8);
// M, N and K must be multiples of 4. src/ops/matmul.rs only routes here
// when both hold.
//
// Why: on software adapters (llvmpipe) a storage load costs the same per
// lane whether or not the lanes share the address, so the speed is set by
// loaded components per multiply-add. Here each of the 8 lanes loads a
// different eighth of the A block and the lanes exchange them with
// subgroupBroadcast (a register shuffle); B needs no exchange because each
// lane owns its own columns. A 64x64 tile costs 64 loaded components per
// 2048 multiply-adds per lane, 4x fewer than a 16x16 per-invocation tile.
// In general a TMxTN tile loads (TM + TN) / 2 components per lane per
// k-chunk for TM*TN/2 multiply-adds, so bigger tiles load less per FLOP
// but hold TM*TN/8 accumulators per lane (spilled to the stack, 32 bytes
// each on llvmpipe). 128x96 (48 KiB of accumulators) measured fastest at
// 1024^3; 128x128 and 256x64 lose to their spills, 96x96 and 96x128 did
// not beat it. TN must be a multiple of 32 (4-col blocks per lane), TM of 8.
//
// Per k-chunk kc (4 k's) the A block of the tile is TM rows x 4 k's, held
// as TM/8 vec4 "slots" per lane. Slot j of lane l holds:
//   A·B, A·Bᵀ: A[m0 + 8j + l][4kc .. 4kc+4]              (row 8j+l, 4 k's)
//   Aᵀ·B:      A[4kc + l%4][m0 + 8j + 4(l/4) .. +4]      (k = l%4, 4 rows)
// so in both layouts rows 4q..4q+4 live in slot q/2 of lanes 4(q%2) ..
// 4(q%2)+3, one lane per row (or per k when transposed): the same four
// broadcasts rebuild the 4x4 block, transposed for Aᵀ. The 4x4 algebra is
// the one of matmul.wgsl: acc += load_b(...) * a_rows(...).
//
// The entry points are written out unrolled because subgroupBroadcast
// takes a constant lane index. This file stands apart from matmul.wgsl
// because a module that uses subgroup builtins does not compile where the
// feature is missing (GL); WGSL has no include, so load_b, activate and
// store repeat matmul.wgsl's.

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;       // A: (batch, M, K) or (batch, K, M)
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;       // B: (batch, K, N) or (batch, N, K)
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>; // C: (batch, M, N)
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;    // bias: (N,)

// This lane's slot j of the A block at k-chunk kc (layout above). Rows past
// M are clamped: they feed only outputs that store() skips.
fn load_a_slot(off: u32, m0: u32, kc: u32, j: u32, lane: u32) -> vec4<f32> {
    if (TRANS_A) {
        let m4 = p.m / 4u;
        let mb = min(m0 / 4u + 2u * j + lane / 4u, m4 - 1u);
        return a[off + (4u * kc + lane % 4u) * m4 + mb];
    }
    let m = min(m0 + 8u * j + lane, p.m - 1u);
    return a[off + m * (p.k / 4u) + kc];
}

// The four broadcast slots as a 4x4 block: column i = row i's 4 k's.
fn a_rows(x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> mat4x4<f32> {
    let blk = mat4x4<f32>(x0, x1, x2, x3);
    if (TRANS_A) { return transpose(blk); }
    return blk;
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

// 64x64 tile per subgroup: lane l owns rows m0..m0+64, cols n0+8l..n0+8l+8.
@compute @workgroup_size(8, 1, 1)
fn mm_sg64x64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 64u;
    let n0 = wid.x * 64u + lane * 8u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>();
    var c8_0 = mat4x4<f32>(); var c8_1 = mat4x4<f32>();
    var c9_0 = mat4x4<f32>(); var c9_1 = mat4x4<f32>();
    var c10_0 = mat4x4<f32>(); var c10_1 = mat4x4<f32>();
    var c11_0 = mat4x4<f32>(); var c11_1 = mat4x4<f32>();
    var c12_0 = mat4x4<f32>(); var c12_1 = mat4x4<f32>();
    var c13_0 = mat4x4<f32>(); var c13_1 = mat4x4<f32>();
    var c14_0 = mat4x4<f32>(); var c14_1 = mat4x4<f32>();
    var c15_0 = mat4x4<f32>(); var c15_1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let s4 = load_a_slot(oa, m0, kc, 4u, lane);
        let s5 = load_a_slot(oa, m0, kc, 5u, lane);
        let s6 = load_a_slot(oa, m0, kc, 6u, lane);
        let s7 = load_a_slot(oa, m0, kc, 7u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7;
        let a8 = a_rows(subgroupBroadcast(s4, 0u), subgroupBroadcast(s4, 1u), subgroupBroadcast(s4, 2u), subgroupBroadcast(s4, 3u));
        c8_0 += b0 * a8; c8_1 += b1 * a8;
        let a9 = a_rows(subgroupBroadcast(s4, 4u), subgroupBroadcast(s4, 5u), subgroupBroadcast(s4, 6u), subgroupBroadcast(s4, 7u));
        c9_0 += b0 * a9; c9_1 += b1 * a9;
        let a10 = a_rows(subgroupBroadcast(s5, 0u), subgroupBroadcast(s5, 1u), subgroupBroadcast(s5, 2u), subgroupBroadcast(s5, 3u));
        c10_0 += b0 * a10; c10_1 += b1 * a10;
        let a11 = a_rows(subgroupBroadcast(s5, 4u), subgroupBroadcast(s5, 5u), subgroupBroadcast(s5, 6u), subgroupBroadcast(s5, 7u));
        c11_0 += b0 * a11; c11_1 += b1 * a11;
        let a12 = a_rows(subgroupBroadcast(s6, 0u), subgroupBroadcast(s6, 1u), subgroupBroadcast(s6, 2u), subgroupBroadcast(s6, 3u));
        c12_0 += b0 * a12; c12_1 += b1 * a12;
        let a13 = a_rows(subgroupBroadcast(s6, 4u), subgroupBroadcast(s6, 5u), subgroupBroadcast(s6, 6u), subgroupBroadcast(s6, 7u));
        c13_0 += b0 * a13; c13_1 += b1 * a13;
        let a14 = a_rows(subgroupBroadcast(s7, 0u), subgroupBroadcast(s7, 1u), subgroupBroadcast(s7, 2u), subgroupBroadcast(s7, 3u));
        c14_0 += b0 * a14; c14_1 += b1 * a14;
        let a15 = a_rows(subgroupBroadcast(s7, 4u), subgroupBroadcast(s7, 5u), subgroupBroadcast(s7, 6u), subgroupBroadcast(s7, 7u));
        c15_0 += b0 * a15; c15_1 += b1 * a15;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1);
    store(oc, m0 + 32u, n0 + 0u, c8_0); store(oc, m0 + 32u, n0 + 4u, c8_1);
    store(oc, m0 + 36u, n0 + 0u, c9_0); store(oc, m0 + 36u, n0 + 4u, c9_1);
    store(oc, m0 + 40u, n0 + 0u, c10_0); store(oc, m0 + 40u, n0 + 4u, c10_1);
    store(oc, m0 + 44u, n0 + 0u, c11_0); store(oc, m0 + 44u, n0 + 4u, c11_1);
    store(oc, m0 + 48u, n0 + 0u, c12_0); store(oc, m0 + 48u, n0 + 4u, c12_1);
    store(oc, m0 + 52u, n0 + 0u, c13_0); store(oc, m0 + 52u, n0 + 4u, c13_1);
    store(oc, m0 + 56u, n0 + 0u, c14_0); store(oc, m0 + 56u, n0 + 4u, c14_1);
    store(oc, m0 + 60u, n0 + 0u, c15_0); store(oc, m0 + 60u, n0 + 4u, c15_1);
}

// 128x64 tile per subgroup: lane l owns rows m0..m0+128, cols n0+8l..n0+8l+8.
@compute @workgroup_size(8, 1, 1)
fn mm_sg128x64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 128u;
    let n0 = wid.x * 64u + lane * 8u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>();
    var c8_0 = mat4x4<f32>(); var c8_1 = mat4x4<f32>();
    var c9_0 = mat4x4<f32>(); var c9_1 = mat4x4<f32>();
    var c10_0 = mat4x4<f32>(); var c10_1 = mat4x4<f32>();
    var c11_0 = mat4x4<f32>(); var c11_1 = mat4x4<f32>();
    var c12_0 = mat4x4<f32>(); var c12_1 = mat4x4<f32>();
    var c13_0 = mat4x4<f32>(); var c13_1 = mat4x4<f32>();
    var c14_0 = mat4x4<f32>(); var c14_1 = mat4x4<f32>();
    var c15_0 = mat4x4<f32>(); var c15_1 = mat4x4<f32>();
    var c16_0 = mat4x4<f32>(); var c16_1 = mat4x4<f32>();
    var c17_0 = mat4x4<f32>(); var c17_1 = mat4x4<f32>();
    var c18_0 = mat4x4<f32>(); var c18_1 = mat4x4<f32>();
    var c19_0 = mat4x4<f32>(); var c19_1 = mat4x4<f32>();
    var c20_0 = mat4x4<f32>(); var c20_1 = mat4x4<f32>();
    var c21_0 = mat4x4<f32>(); var c21_1 = mat4x4<f32>();
    var c22_0 = mat4x4<f32>(); var c22_1 = mat4x4<f32>();
    var c23_0 = mat4x4<f32>(); var c23_1 = mat4x4<f32>();
    var c24_0 = mat4x4<f32>(); var c24_1 = mat4x4<f32>();
    var c25_0 = mat4x4<f32>(); var c25_1 = mat4x4<f32>();
    var c26_0 = mat4x4<f32>(); var c26_1 = mat4x4<f32>();
    var c27_0 = mat4x4<f32>(); var c27_1 = mat4x4<f32>();
    var c28_0 = mat4x4<f32>(); var c28_1 = mat4x4<f32>();
    var c29_0 = mat4x4<f32>(); var c29_1 = mat4x4<f32>();
    var c30_0 = mat4x4<f32>(); var c30_1 = mat4x4<f32>();
    var c31_0 = mat4x4<f32>(); var c31_1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let s4 = load_a_slot(oa, m0, kc, 4u, lane);
        let s5 = load_a_slot(oa, m0, kc, 5u, lane);
        let s6 = load_a_slot(oa, m0, kc, 6u, lane);
        let s7 = load_a_slot(oa, m0, kc, 7u, lane);
        let s8 = load_a_slot(oa, m0, kc, 8u, lane);
        let s9 = load_a_slot(oa, m0, kc, 9u, lane);
        let s10 = load_a_slot(oa, m0, kc, 10u, lane);
        let s11 = load_a_slot(oa, m0, kc, 11u, lane);
        let s12 = load_a_slot(oa, m0, kc, 12u, lane);
        let s13 = load_a_slot(oa, m0, kc, 13u, lane);
        let s14 = load_a_slot(oa, m0, kc, 14u, lane);
        let s15 = load_a_slot(oa, m0, kc, 15u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7;
        let a8 = a_rows(subgroupBroadcast(s4, 0u), subgroupBroadcast(s4, 1u), subgroupBroadcast(s4, 2u), subgroupBroadcast(s4, 3u));
        c8_0 += b0 * a8; c8_1 += b1 * a8;
        let a9 = a_rows(subgroupBroadcast(s4, 4u), subgroupBroadcast(s4, 5u), subgroupBroadcast(s4, 6u), subgroupBroadcast(s4, 7u));
        c9_0 += b0 * a9; c9_1 += b1 * a9;
        let a10 = a_rows(subgroupBroadcast(s5, 0u), subgroupBroadcast(s5, 1u), subgroupBroadcast(s5, 2u), subgroupBroadcast(s5, 3u));
        c10_0 += b0 * a10; c10_1 += b1 * a10;
        let a11 = a_rows(subgroupBroadcast(s5, 4u), subgroupBroadcast(s5, 5u), subgroupBroadcast(s5, 6u), subgroupBroadcast(s5, 7u));
        c11_0 += b0 * a11; c11_1 += b1 * a11;
        let a12 = a_rows(subgroupBroadcast(s6, 0u), subgroupBroadcast(s6, 1u), subgroupBroadcast(s6, 2u), subgroupBroadcast(s6, 3u));
        c12_0 += b0 * a12; c12_1 += b1 * a12;
        let a13 = a_rows(subgroupBroadcast(s6, 4u), subgroupBroadcast(s6, 5u), subgroupBroadcast(s6, 6u), subgroupBroadcast(s6, 7u));
        c13_0 += b0 * a13; c13_1 += b1 * a13;
        let a14 = a_rows(subgroupBroadcast(s7, 0u), subgroupBroadcast(s7, 1u), subgroupBroadcast(s7, 2u), subgroupBroadcast(s7, 3u));
        c14_0 += b0 * a14; c14_1 += b1 * a14;
        let a15 = a_rows(subgroupBroadcast(s7, 4u), subgroupBroadcast(s7, 5u), subgroupBroadcast(s7, 6u), subgroupBroadcast(s7, 7u));
        c15_0 += b0 * a15; c15_1 += b1 * a15;
        let a16 = a_rows(subgroupBroadcast(s8, 0u), subgroupBroadcast(s8, 1u), subgroupBroadcast(s8, 2u), subgroupBroadcast(s8, 3u));
        c16_0 += b0 * a16; c16_1 += b1 * a16;
        let a17 = a_rows(subgroupBroadcast(s8, 4u), subgroupBroadcast(s8, 5u), subgroupBroadcast(s8, 6u), subgroupBroadcast(s8, 7u));
        c17_0 += b0 * a17; c17_1 += b1 * a17;
        let a18 = a_rows(subgroupBroadcast(s9, 0u), subgroupBroadcast(s9, 1u), subgroupBroadcast(s9, 2u), subgroupBroadcast(s9, 3u));
        c18_0 += b0 * a18; c18_1 += b1 * a18;
        let a19 = a_rows(subgroupBroadcast(s9, 4u), subgroupBroadcast(s9, 5u), subgroupBroadcast(s9, 6u), subgroupBroadcast(s9, 7u));
        c19_0 += b0 * a19; c19_1 += b1 * a19;
        let a20 = a_rows(subgroupBroadcast(s10, 0u), subgroupBroadcast(s10, 1u), subgroupBroadcast(s10, 2u), subgroupBroadcast(s10, 3u));
        c20_0 += b0 * a20; c20_1 += b1 * a20;
        let a21 = a_rows(subgroupBroadcast(s10, 4u), subgroupBroadcast(s10, 5u), subgroupBroadcast(s10, 6u), subgroupBroadcast(s10, 7u));
        c21_0 += b0 * a21; c21_1 += b1 * a21;
        let a22 = a_rows(subgroupBroadcast(s11, 0u), subgroupBroadcast(s11, 1u), subgroupBroadcast(s11, 2u), subgroupBroadcast(s11, 3u));
        c22_0 += b0 * a22; c22_1 += b1 * a22;
        let a23 = a_rows(subgroupBroadcast(s11, 4u), subgroupBroadcast(s11, 5u), subgroupBroadcast(s11, 6u), subgroupBroadcast(s11, 7u));
        c23_0 += b0 * a23; c23_1 += b1 * a23;
        let a24 = a_rows(subgroupBroadcast(s12, 0u), subgroupBroadcast(s12, 1u), subgroupBroadcast(s12, 2u), subgroupBroadcast(s12, 3u));
        c24_0 += b0 * a24; c24_1 += b1 * a24;
        let a25 = a_rows(subgroupBroadcast(s12, 4u), subgroupBroadcast(s12, 5u), subgroupBroadcast(s12, 6u), subgroupBroadcast(s12, 7u));
        c25_0 += b0 * a25; c25_1 += b1 * a25;
        let a26 = a_rows(subgroupBroadcast(s13, 0u), subgroupBroadcast(s13, 1u), subgroupBroadcast(s13, 2u), subgroupBroadcast(s13, 3u));
        c26_0 += b0 * a26; c26_1 += b1 * a26;
        let a27 = a_rows(subgroupBroadcast(s13, 4u), subgroupBroadcast(s13, 5u), subgroupBroadcast(s13, 6u), subgroupBroadcast(s13, 7u));
        c27_0 += b0 * a27; c27_1 += b1 * a27;
        let a28 = a_rows(subgroupBroadcast(s14, 0u), subgroupBroadcast(s14, 1u), subgroupBroadcast(s14, 2u), subgroupBroadcast(s14, 3u));
        c28_0 += b0 * a28; c28_1 += b1 * a28;
        let a29 = a_rows(subgroupBroadcast(s14, 4u), subgroupBroadcast(s14, 5u), subgroupBroadcast(s14, 6u), subgroupBroadcast(s14, 7u));
        c29_0 += b0 * a29; c29_1 += b1 * a29;
        let a30 = a_rows(subgroupBroadcast(s15, 0u), subgroupBroadcast(s15, 1u), subgroupBroadcast(s15, 2u), subgroupBroadcast(s15, 3u));
        c30_0 += b0 * a30; c30_1 += b1 * a30;
        let a31 = a_rows(subgroupBroadcast(s15, 4u), subgroupBroadcast(s15, 5u), subgroupBroadcast(s15, 6u), subgroupBroadcast(s15, 7u));
        c31_0 += b0 * a31; c31_1 += b1 * a31;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1);
    store(oc, m0 + 32u, n0 + 0u, c8_0); store(oc, m0 + 32u, n0 + 4u, c8_1);
    store(oc, m0 + 36u, n0 + 0u, c9_0); store(oc, m0 + 36u, n0 + 4u, c9_1);
    store(oc, m0 + 40u, n0 + 0u, c10_0); store(oc, m0 + 40u, n0 + 4u, c10_1);
    store(oc, m0 + 44u, n0 + 0u, c11_0); store(oc, m0 + 44u, n0 + 4u, c11_1);
    store(oc, m0 + 48u, n0 + 0u, c12_0); store(oc, m0 + 48u, n0 + 4u, c12_1);
    store(oc, m0 + 52u, n0 + 0u, c13_0); store(oc, m0 + 52u, n0 + 4u, c13_1);
    store(oc, m0 + 56u, n0 + 0u, c14_0); store(oc, m0 + 56u, n0 + 4u, c14_1);
    store(oc, m0 + 60u, n0 + 0u, c15_0); store(oc, m0 + 60u, n0 + 4u, c15_1);
    store(oc, m0 + 64u, n0 + 0u, c16_0); store(oc, m0 + 64u, n0 + 4u, c16_1);
    store(oc, m0 + 68u, n0 + 0u, c17_0); store(oc, m0 + 68u, n0 + 4u, c17_1);
    store(oc, m0 + 72u, n0 + 0u, c18_0); store(oc, m0 + 72u, n0 + 4u, c18_1);
    store(oc, m0 + 76u, n0 + 0u, c19_0); store(oc, m0 + 76u, n0 + 4u, c19_1);
    store(oc, m0 + 80u, n0 + 0u, c20_0); store(oc, m0 + 80u, n0 + 4u, c20_1);
    store(oc, m0 + 84u, n0 + 0u, c21_0); store(oc, m0 + 84u, n0 + 4u, c21_1);
    store(oc, m0 + 88u, n0 + 0u, c22_0); store(oc, m0 + 88u, n0 + 4u, c22_1);
    store(oc, m0 + 92u, n0 + 0u, c23_0); store(oc, m0 + 92u, n0 + 4u, c23_1);
    store(oc, m0 + 96u, n0 + 0u, c24_0); store(oc, m0 + 96u, n0 + 4u, c24_1);
    store(oc, m0 + 100u, n0 + 0u, c25_0); store(oc, m0 + 100u, n0 + 4u, c25_1);
    store(oc, m0 + 104u, n0 + 0u, c26_0); store(oc, m0 + 104u, n0 + 4u, c26_1);
    store(oc, m0 + 108u, n0 + 0u, c27_0); store(oc, m0 + 108u, n0 + 4u, c27_1);
    store(oc, m0 + 112u, n0 + 0u, c28_0); store(oc, m0 + 112u, n0 + 4u, c28_1);
    store(oc, m0 + 116u, n0 + 0u, c29_0); store(oc, m0 + 116u, n0 + 4u, c29_1);
    store(oc, m0 + 120u, n0 + 0u, c30_0); store(oc, m0 + 120u, n0 + 4u, c30_1);
    store(oc, m0 + 124u, n0 + 0u, c31_0); store(oc, m0 + 124u, n0 + 4u, c31_1);
}

// 64x128 tile per subgroup: lane l owns rows m0..m0+64, cols n0+16l..n0+16l+16.
@compute @workgroup_size(8, 1, 1)
fn mm_sg64x128(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 64u;
    let n0 = wid.x * 128u + lane * 16u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>(); var c0_2 = mat4x4<f32>(); var c0_3 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>(); var c1_2 = mat4x4<f32>(); var c1_3 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>(); var c2_2 = mat4x4<f32>(); var c2_3 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>(); var c3_2 = mat4x4<f32>(); var c3_3 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>(); var c4_2 = mat4x4<f32>(); var c4_3 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>(); var c5_2 = mat4x4<f32>(); var c5_3 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>(); var c6_2 = mat4x4<f32>(); var c6_3 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>(); var c7_2 = mat4x4<f32>(); var c7_3 = mat4x4<f32>();
    var c8_0 = mat4x4<f32>(); var c8_1 = mat4x4<f32>(); var c8_2 = mat4x4<f32>(); var c8_3 = mat4x4<f32>();
    var c9_0 = mat4x4<f32>(); var c9_1 = mat4x4<f32>(); var c9_2 = mat4x4<f32>(); var c9_3 = mat4x4<f32>();
    var c10_0 = mat4x4<f32>(); var c10_1 = mat4x4<f32>(); var c10_2 = mat4x4<f32>(); var c10_3 = mat4x4<f32>();
    var c11_0 = mat4x4<f32>(); var c11_1 = mat4x4<f32>(); var c11_2 = mat4x4<f32>(); var c11_3 = mat4x4<f32>();
    var c12_0 = mat4x4<f32>(); var c12_1 = mat4x4<f32>(); var c12_2 = mat4x4<f32>(); var c12_3 = mat4x4<f32>();
    var c13_0 = mat4x4<f32>(); var c13_1 = mat4x4<f32>(); var c13_2 = mat4x4<f32>(); var c13_3 = mat4x4<f32>();
    var c14_0 = mat4x4<f32>(); var c14_1 = mat4x4<f32>(); var c14_2 = mat4x4<f32>(); var c14_3 = mat4x4<f32>();
    var c15_0 = mat4x4<f32>(); var c15_1 = mat4x4<f32>(); var c15_2 = mat4x4<f32>(); var c15_3 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let s4 = load_a_slot(oa, m0, kc, 4u, lane);
        let s5 = load_a_slot(oa, m0, kc, 5u, lane);
        let s6 = load_a_slot(oa, m0, kc, 6u, lane);
        let s7 = load_a_slot(oa, m0, kc, 7u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let b2 = load_b(ob, kc, n0 + 8u);
        let b3 = load_b(ob, kc, n0 + 12u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0; c0_2 += b2 * a0; c0_3 += b3 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1; c1_2 += b2 * a1; c1_3 += b3 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2; c2_2 += b2 * a2; c2_3 += b3 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3; c3_2 += b2 * a3; c3_3 += b3 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4; c4_2 += b2 * a4; c4_3 += b3 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5; c5_2 += b2 * a5; c5_3 += b3 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6; c6_2 += b2 * a6; c6_3 += b3 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7; c7_2 += b2 * a7; c7_3 += b3 * a7;
        let a8 = a_rows(subgroupBroadcast(s4, 0u), subgroupBroadcast(s4, 1u), subgroupBroadcast(s4, 2u), subgroupBroadcast(s4, 3u));
        c8_0 += b0 * a8; c8_1 += b1 * a8; c8_2 += b2 * a8; c8_3 += b3 * a8;
        let a9 = a_rows(subgroupBroadcast(s4, 4u), subgroupBroadcast(s4, 5u), subgroupBroadcast(s4, 6u), subgroupBroadcast(s4, 7u));
        c9_0 += b0 * a9; c9_1 += b1 * a9; c9_2 += b2 * a9; c9_3 += b3 * a9;
        let a10 = a_rows(subgroupBroadcast(s5, 0u), subgroupBroadcast(s5, 1u), subgroupBroadcast(s5, 2u), subgroupBroadcast(s5, 3u));
        c10_0 += b0 * a10; c10_1 += b1 * a10; c10_2 += b2 * a10; c10_3 += b3 * a10;
        let a11 = a_rows(subgroupBroadcast(s5, 4u), subgroupBroadcast(s5, 5u), subgroupBroadcast(s5, 6u), subgroupBroadcast(s5, 7u));
        c11_0 += b0 * a11; c11_1 += b1 * a11; c11_2 += b2 * a11; c11_3 += b3 * a11;
        let a12 = a_rows(subgroupBroadcast(s6, 0u), subgroupBroadcast(s6, 1u), subgroupBroadcast(s6, 2u), subgroupBroadcast(s6, 3u));
        c12_0 += b0 * a12; c12_1 += b1 * a12; c12_2 += b2 * a12; c12_3 += b3 * a12;
        let a13 = a_rows(subgroupBroadcast(s6, 4u), subgroupBroadcast(s6, 5u), subgroupBroadcast(s6, 6u), subgroupBroadcast(s6, 7u));
        c13_0 += b0 * a13; c13_1 += b1 * a13; c13_2 += b2 * a13; c13_3 += b3 * a13;
        let a14 = a_rows(subgroupBroadcast(s7, 0u), subgroupBroadcast(s7, 1u), subgroupBroadcast(s7, 2u), subgroupBroadcast(s7, 3u));
        c14_0 += b0 * a14; c14_1 += b1 * a14; c14_2 += b2 * a14; c14_3 += b3 * a14;
        let a15 = a_rows(subgroupBroadcast(s7, 4u), subgroupBroadcast(s7, 5u), subgroupBroadcast(s7, 6u), subgroupBroadcast(s7, 7u));
        c15_0 += b0 * a15; c15_1 += b1 * a15; c15_2 += b2 * a15; c15_3 += b3 * a15;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1); store(oc, m0 + 0u, n0 + 8u, c0_2); store(oc, m0 + 0u, n0 + 12u, c0_3);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1); store(oc, m0 + 4u, n0 + 8u, c1_2); store(oc, m0 + 4u, n0 + 12u, c1_3);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1); store(oc, m0 + 8u, n0 + 8u, c2_2); store(oc, m0 + 8u, n0 + 12u, c2_3);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1); store(oc, m0 + 12u, n0 + 8u, c3_2); store(oc, m0 + 12u, n0 + 12u, c3_3);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1); store(oc, m0 + 16u, n0 + 8u, c4_2); store(oc, m0 + 16u, n0 + 12u, c4_3);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1); store(oc, m0 + 20u, n0 + 8u, c5_2); store(oc, m0 + 20u, n0 + 12u, c5_3);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1); store(oc, m0 + 24u, n0 + 8u, c6_2); store(oc, m0 + 24u, n0 + 12u, c6_3);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1); store(oc, m0 + 28u, n0 + 8u, c7_2); store(oc, m0 + 28u, n0 + 12u, c7_3);
    store(oc, m0 + 32u, n0 + 0u, c8_0); store(oc, m0 + 32u, n0 + 4u, c8_1); store(oc, m0 + 32u, n0 + 8u, c8_2); store(oc, m0 + 32u, n0 + 12u, c8_3);
    store(oc, m0 + 36u, n0 + 0u, c9_0); store(oc, m0 + 36u, n0 + 4u, c9_1); store(oc, m0 + 36u, n0 + 8u, c9_2); store(oc, m0 + 36u, n0 + 12u, c9_3);
    store(oc, m0 + 40u, n0 + 0u, c10_0); store(oc, m0 + 40u, n0 + 4u, c10_1); store(oc, m0 + 40u, n0 + 8u, c10_2); store(oc, m0 + 40u, n0 + 12u, c10_3);
    store(oc, m0 + 44u, n0 + 0u, c11_0); store(oc, m0 + 44u, n0 + 4u, c11_1); store(oc, m0 + 44u, n0 + 8u, c11_2); store(oc, m0 + 44u, n0 + 12u, c11_3);
    store(oc, m0 + 48u, n0 + 0u, c12_0); store(oc, m0 + 48u, n0 + 4u, c12_1); store(oc, m0 + 48u, n0 + 8u, c12_2); store(oc, m0 + 48u, n0 + 12u, c12_3);
    store(oc, m0 + 52u, n0 + 0u, c13_0); store(oc, m0 + 52u, n0 + 4u, c13_1); store(oc, m0 + 52u, n0 + 8u, c13_2); store(oc, m0 + 52u, n0 + 12u, c13_3);
    store(oc, m0 + 56u, n0 + 0u, c14_0); store(oc, m0 + 56u, n0 + 4u, c14_1); store(oc, m0 + 56u, n0 + 8u, c14_2); store(oc, m0 + 56u, n0 + 12u, c14_3);
    store(oc, m0 + 60u, n0 + 0u, c15_0); store(oc, m0 + 60u, n0 + 4u, c15_1); store(oc, m0 + 60u, n0 + 8u, c15_2); store(oc, m0 + 60u, n0 + 12u, c15_3);
}

// 128x96 tile per subgroup: lane l owns rows m0..m0+128, cols n0+12l..n0+12l+12.
@compute @workgroup_size(8, 1, 1)
fn mm_sg128x96(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 128u;
    let n0 = wid.x * 96u + lane * 12u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>(); var c0_2 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>(); var c1_2 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>(); var c2_2 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>(); var c3_2 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>(); var c4_2 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>(); var c5_2 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>(); var c6_2 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>(); var c7_2 = mat4x4<f32>();
    var c8_0 = mat4x4<f32>(); var c8_1 = mat4x4<f32>(); var c8_2 = mat4x4<f32>();
    var c9_0 = mat4x4<f32>(); var c9_1 = mat4x4<f32>(); var c9_2 = mat4x4<f32>();
    var c10_0 = mat4x4<f32>(); var c10_1 = mat4x4<f32>(); var c10_2 = mat4x4<f32>();
    var c11_0 = mat4x4<f32>(); var c11_1 = mat4x4<f32>(); var c11_2 = mat4x4<f32>();
    var c12_0 = mat4x4<f32>(); var c12_1 = mat4x4<f32>(); var c12_2 = mat4x4<f32>();
    var c13_0 = mat4x4<f32>(); var c13_1 = mat4x4<f32>(); var c13_2 = mat4x4<f32>();
    var c14_0 = mat4x4<f32>(); var c14_1 = mat4x4<f32>(); var c14_2 = mat4x4<f32>();
    var c15_0 = mat4x4<f32>(); var c15_1 = mat4x4<f32>(); var c15_2 = mat4x4<f32>();
    var c16_0 = mat4x4<f32>(); var c16_1 = mat4x4<f32>(); var c16_2 = mat4x4<f32>();
    var c17_0 = mat4x4<f32>(); var c17_1 = mat4x4<f32>(); var c17_2 = mat4x4<f32>();
    var c18_0 = mat4x4<f32>(); var c18_1 = mat4x4<f32>(); var c18_2 = mat4x4<f32>();
    var c19_0 = mat4x4<f32>(); var c19_1 = mat4x4<f32>(); var c19_2 = mat4x4<f32>();
    var c20_0 = mat4x4<f32>(); var c20_1 = mat4x4<f32>(); var c20_2 = mat4x4<f32>();
    var c21_0 = mat4x4<f32>(); var c21_1 = mat4x4<f32>(); var c21_2 = mat4x4<f32>();
    var c22_0 = mat4x4<f32>(); var c22_1 = mat4x4<f32>(); var c22_2 = mat4x4<f32>();
    var c23_0 = mat4x4<f32>(); var c23_1 = mat4x4<f32>(); var c23_2 = mat4x4<f32>();
    var c24_0 = mat4x4<f32>(); var c24_1 = mat4x4<f32>(); var c24_2 = mat4x4<f32>();
    var c25_0 = mat4x4<f32>(); var c25_1 = mat4x4<f32>(); var c25_2 = mat4x4<f32>();
    var c26_0 = mat4x4<f32>(); var c26_1 = mat4x4<f32>(); var c26_2 = mat4x4<f32>();
    var c27_0 = mat4x4<f32>(); var c27_1 = mat4x4<f32>(); var c27_2 = mat4x4<f32>();
    var c28_0 = mat4x4<f32>(); var c28_1 = mat4x4<f32>(); var c28_2 = mat4x4<f32>();
    var c29_0 = mat4x4<f32>(); var c29_1 = mat4x4<f32>(); var c29_2 = mat4x4<f32>();
    var c30_0 = mat4x4<f32>(); var c30_1 = mat4x4<f32>(); var c30_2 = mat4x4<f32>();
    var c31_0 = mat4x4<f32>(); var c31_1 = mat4x4<f32>(); var c31_2 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let s4 = load_a_slot(oa, m0, kc, 4u, lane);
        let s5 = load_a_slot(oa, m0, kc, 5u, lane);
        let s6 = load_a_slot(oa, m0, kc, 6u, lane);
        let s7 = load_a_slot(oa, m0, kc, 7u, lane);
        let s8 = load_a_slot(oa, m0, kc, 8u, lane);
        let s9 = load_a_slot(oa, m0, kc, 9u, lane);
        let s10 = load_a_slot(oa, m0, kc, 10u, lane);
        let s11 = load_a_slot(oa, m0, kc, 11u, lane);
        let s12 = load_a_slot(oa, m0, kc, 12u, lane);
        let s13 = load_a_slot(oa, m0, kc, 13u, lane);
        let s14 = load_a_slot(oa, m0, kc, 14u, lane);
        let s15 = load_a_slot(oa, m0, kc, 15u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let b2 = load_b(ob, kc, n0 + 8u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0; c0_2 += b2 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1; c1_2 += b2 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2; c2_2 += b2 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3; c3_2 += b2 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4; c4_2 += b2 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5; c5_2 += b2 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6; c6_2 += b2 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7; c7_2 += b2 * a7;
        let a8 = a_rows(subgroupBroadcast(s4, 0u), subgroupBroadcast(s4, 1u), subgroupBroadcast(s4, 2u), subgroupBroadcast(s4, 3u));
        c8_0 += b0 * a8; c8_1 += b1 * a8; c8_2 += b2 * a8;
        let a9 = a_rows(subgroupBroadcast(s4, 4u), subgroupBroadcast(s4, 5u), subgroupBroadcast(s4, 6u), subgroupBroadcast(s4, 7u));
        c9_0 += b0 * a9; c9_1 += b1 * a9; c9_2 += b2 * a9;
        let a10 = a_rows(subgroupBroadcast(s5, 0u), subgroupBroadcast(s5, 1u), subgroupBroadcast(s5, 2u), subgroupBroadcast(s5, 3u));
        c10_0 += b0 * a10; c10_1 += b1 * a10; c10_2 += b2 * a10;
        let a11 = a_rows(subgroupBroadcast(s5, 4u), subgroupBroadcast(s5, 5u), subgroupBroadcast(s5, 6u), subgroupBroadcast(s5, 7u));
        c11_0 += b0 * a11; c11_1 += b1 * a11; c11_2 += b2 * a11;
        let a12 = a_rows(subgroupBroadcast(s6, 0u), subgroupBroadcast(s6, 1u), subgroupBroadcast(s6, 2u), subgroupBroadcast(s6, 3u));
        c12_0 += b0 * a12; c12_1 += b1 * a12; c12_2 += b2 * a12;
        let a13 = a_rows(subgroupBroadcast(s6, 4u), subgroupBroadcast(s6, 5u), subgroupBroadcast(s6, 6u), subgroupBroadcast(s6, 7u));
        c13_0 += b0 * a13; c13_1 += b1 * a13; c13_2 += b2 * a13;
        let a14 = a_rows(subgroupBroadcast(s7, 0u), subgroupBroadcast(s7, 1u), subgroupBroadcast(s7, 2u), subgroupBroadcast(s7, 3u));
        c14_0 += b0 * a14; c14_1 += b1 * a14; c14_2 += b2 * a14;
        let a15 = a_rows(subgroupBroadcast(s7, 4u), subgroupBroadcast(s7, 5u), subgroupBroadcast(s7, 6u), subgroupBroadcast(s7, 7u));
        c15_0 += b0 * a15; c15_1 += b1 * a15; c15_2 += b2 * a15;
        let a16 = a_rows(subgroupBroadcast(s8, 0u), subgroupBroadcast(s8, 1u), subgroupBroadcast(s8, 2u), subgroupBroadcast(s8, 3u));
        c16_0 += b0 * a16; c16_1 += b1 * a16; c16_2 += b2 * a16;
        let a17 = a_rows(subgroupBroadcast(s8, 4u), subgroupBroadcast(s8, 5u), subgroupBroadcast(s8, 6u), subgroupBroadcast(s8, 7u));
        c17_0 += b0 * a17; c17_1 += b1 * a17; c17_2 += b2 * a17;
        let a18 = a_rows(subgroupBroadcast(s9, 0u), subgroupBroadcast(s9, 1u), subgroupBroadcast(s9, 2u), subgroupBroadcast(s9, 3u));
        c18_0 += b0 * a18; c18_1 += b1 * a18; c18_2 += b2 * a18;
        let a19 = a_rows(subgroupBroadcast(s9, 4u), subgroupBroadcast(s9, 5u), subgroupBroadcast(s9, 6u), subgroupBroadcast(s9, 7u));
        c19_0 += b0 * a19; c19_1 += b1 * a19; c19_2 += b2 * a19;
        let a20 = a_rows(subgroupBroadcast(s10, 0u), subgroupBroadcast(s10, 1u), subgroupBroadcast(s10, 2u), subgroupBroadcast(s10, 3u));
        c20_0 += b0 * a20; c20_1 += b1 * a20; c20_2 += b2 * a20;
        let a21 = a_rows(subgroupBroadcast(s10, 4u), subgroupBroadcast(s10, 5u), subgroupBroadcast(s10, 6u), subgroupBroadcast(s10, 7u));
        c21_0 += b0 * a21; c21_1 += b1 * a21; c21_2 += b2 * a21;
        let a22 = a_rows(subgroupBroadcast(s11, 0u), subgroupBroadcast(s11, 1u), subgroupBroadcast(s11, 2u), subgroupBroadcast(s11, 3u));
        c22_0 += b0 * a22; c22_1 += b1 * a22; c22_2 += b2 * a22;
        let a23 = a_rows(subgroupBroadcast(s11, 4u), subgroupBroadcast(s11, 5u), subgroupBroadcast(s11, 6u), subgroupBroadcast(s11, 7u));
        c23_0 += b0 * a23; c23_1 += b1 * a23; c23_2 += b2 * a23;
        let a24 = a_rows(subgroupBroadcast(s12, 0u), subgroupBroadcast(s12, 1u), subgroupBroadcast(s12, 2u), subgroupBroadcast(s12, 3u));
        c24_0 += b0 * a24; c24_1 += b1 * a24; c24_2 += b2 * a24;
        let a25 = a_rows(subgroupBroadcast(s12, 4u), subgroupBroadcast(s12, 5u), subgroupBroadcast(s12, 6u), subgroupBroadcast(s12, 7u));
        c25_0 += b0 * a25; c25_1 += b1 * a25; c25_2 += b2 * a25;
        let a26 = a_rows(subgroupBroadcast(s13, 0u), subgroupBroadcast(s13, 1u), subgroupBroadcast(s13, 2u), subgroupBroadcast(s13, 3u));
        c26_0 += b0 * a26; c26_1 += b1 * a26; c26_2 += b2 * a26;
        let a27 = a_rows(subgroupBroadcast(s13, 4u), subgroupBroadcast(s13, 5u), subgroupBroadcast(s13, 6u), subgroupBroadcast(s13, 7u));
        c27_0 += b0 * a27; c27_1 += b1 * a27; c27_2 += b2 * a27;
        let a28 = a_rows(subgroupBroadcast(s14, 0u), subgroupBroadcast(s14, 1u), subgroupBroadcast(s14, 2u), subgroupBroadcast(s14, 3u));
        c28_0 += b0 * a28; c28_1 += b1 * a28; c28_2 += b2 * a28;
        let a29 = a_rows(subgroupBroadcast(s14, 4u), subgroupBroadcast(s14, 5u), subgroupBroadcast(s14, 6u), subgroupBroadcast(s14, 7u));
        c29_0 += b0 * a29; c29_1 += b1 * a29; c29_2 += b2 * a29;
        let a30 = a_rows(subgroupBroadcast(s15, 0u), subgroupBroadcast(s15, 1u), subgroupBroadcast(s15, 2u), subgroupBroadcast(s15, 3u));
        c30_0 += b0 * a30; c30_1 += b1 * a30; c30_2 += b2 * a30;
        let a31 = a_rows(subgroupBroadcast(s15, 4u), subgroupBroadcast(s15, 5u), subgroupBroadcast(s15, 6u), subgroupBroadcast(s15, 7u));
        c31_0 += b0 * a31; c31_1 += b1 * a31; c31_2 += b2 * a31;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1); store(oc, m0 + 0u, n0 + 8u, c0_2);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1); store(oc, m0 + 4u, n0 + 8u, c1_2);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1); store(oc, m0 + 8u, n0 + 8u, c2_2);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1); store(oc, m0 + 12u, n0 + 8u, c3_2);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1); store(oc, m0 + 16u, n0 + 8u, c4_2);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1); store(oc, m0 + 20u, n0 + 8u, c5_2);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1); store(oc, m0 + 24u, n0 + 8u, c6_2);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1); store(oc, m0 + 28u, n0 + 8u, c7_2);
    store(oc, m0 + 32u, n0 + 0u, c8_0); store(oc, m0 + 32u, n0 + 4u, c8_1); store(oc, m0 + 32u, n0 + 8u, c8_2);
    store(oc, m0 + 36u, n0 + 0u, c9_0); store(oc, m0 + 36u, n0 + 4u, c9_1); store(oc, m0 + 36u, n0 + 8u, c9_2);
    store(oc, m0 + 40u, n0 + 0u, c10_0); store(oc, m0 + 40u, n0 + 4u, c10_1); store(oc, m0 + 40u, n0 + 8u, c10_2);
    store(oc, m0 + 44u, n0 + 0u, c11_0); store(oc, m0 + 44u, n0 + 4u, c11_1); store(oc, m0 + 44u, n0 + 8u, c11_2);
    store(oc, m0 + 48u, n0 + 0u, c12_0); store(oc, m0 + 48u, n0 + 4u, c12_1); store(oc, m0 + 48u, n0 + 8u, c12_2);
    store(oc, m0 + 52u, n0 + 0u, c13_0); store(oc, m0 + 52u, n0 + 4u, c13_1); store(oc, m0 + 52u, n0 + 8u, c13_2);
    store(oc, m0 + 56u, n0 + 0u, c14_0); store(oc, m0 + 56u, n0 + 4u, c14_1); store(oc, m0 + 56u, n0 + 8u, c14_2);
    store(oc, m0 + 60u, n0 + 0u, c15_0); store(oc, m0 + 60u, n0 + 4u, c15_1); store(oc, m0 + 60u, n0 + 8u, c15_2);
    store(oc, m0 + 64u, n0 + 0u, c16_0); store(oc, m0 + 64u, n0 + 4u, c16_1); store(oc, m0 + 64u, n0 + 8u, c16_2);
    store(oc, m0 + 68u, n0 + 0u, c17_0); store(oc, m0 + 68u, n0 + 4u, c17_1); store(oc, m0 + 68u, n0 + 8u, c17_2);
    store(oc, m0 + 72u, n0 + 0u, c18_0); store(oc, m0 + 72u, n0 + 4u, c18_1); store(oc, m0 + 72u, n0 + 8u, c18_2);
    store(oc, m0 + 76u, n0 + 0u, c19_0); store(oc, m0 + 76u, n0 + 4u, c19_1); store(oc, m0 + 76u, n0 + 8u, c19_2);
    store(oc, m0 + 80u, n0 + 0u, c20_0); store(oc, m0 + 80u, n0 + 4u, c20_1); store(oc, m0 + 80u, n0 + 8u, c20_2);
    store(oc, m0 + 84u, n0 + 0u, c21_0); store(oc, m0 + 84u, n0 + 4u, c21_1); store(oc, m0 + 84u, n0 + 8u, c21_2);
    store(oc, m0 + 88u, n0 + 0u, c22_0); store(oc, m0 + 88u, n0 + 4u, c22_1); store(oc, m0 + 88u, n0 + 8u, c22_2);
    store(oc, m0 + 92u, n0 + 0u, c23_0); store(oc, m0 + 92u, n0 + 4u, c23_1); store(oc, m0 + 92u, n0 + 8u, c23_2);
    store(oc, m0 + 96u, n0 + 0u, c24_0); store(oc, m0 + 96u, n0 + 4u, c24_1); store(oc, m0 + 96u, n0 + 8u, c24_2);
    store(oc, m0 + 100u, n0 + 0u, c25_0); store(oc, m0 + 100u, n0 + 4u, c25_1); store(oc, m0 + 100u, n0 + 8u, c25_2);
    store(oc, m0 + 104u, n0 + 0u, c26_0); store(oc, m0 + 104u, n0 + 4u, c26_1); store(oc, m0 + 104u, n0 + 8u, c26_2);
    store(oc, m0 + 108u, n0 + 0u, c27_0); store(oc, m0 + 108u, n0 + 4u, c27_1); store(oc, m0 + 108u, n0 + 8u, c27_2);
    store(oc, m0 + 112u, n0 + 0u, c28_0); store(oc, m0 + 112u, n0 + 4u, c28_1); store(oc, m0 + 112u, n0 + 8u, c28_2);
    store(oc, m0 + 116u, n0 + 0u, c29_0); store(oc, m0 + 116u, n0 + 4u, c29_1); store(oc, m0 + 116u, n0 + 8u, c29_2);
    store(oc, m0 + 120u, n0 + 0u, c30_0); store(oc, m0 + 120u, n0 + 4u, c30_1); store(oc, m0 + 120u, n0 + 8u, c30_2);
    store(oc, m0 + 124u, n0 + 0u, c31_0); store(oc, m0 + 124u, n0 + 4u, c31_1); store(oc, m0 + 124u, n0 + 8u, c31_2);
}

// 32x64 tile per subgroup: lane l owns rows m0..m0+32, cols n0+8l..n0+8l+8.
// For small M (a batch of 32 rows, as in a recurrent step) the 64-row tiles
// would load and multiply clamped rows for nothing.
@compute @workgroup_size(8, 1, 1)
fn mm_sg32x64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let n0 = wid.x * 64u + lane * 8u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1);
}

// 32x128 tile per subgroup: lane l owns rows m0..m0+32, cols n0+16l..n0+16l+16.
// For small M (a batch of 32 rows, as in a recurrent step) the 64-row tiles
// would load and multiply clamped rows for nothing.
@compute @workgroup_size(8, 1, 1)
fn mm_sg32x128(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * 32u;
    let n0 = wid.x * 128u + lane * 16u;
    let oa = wid.z * p.stride_a;
    let ob = wid.z * p.stride_b;
    var c0_0 = mat4x4<f32>(); var c0_1 = mat4x4<f32>(); var c0_2 = mat4x4<f32>(); var c0_3 = mat4x4<f32>();
    var c1_0 = mat4x4<f32>(); var c1_1 = mat4x4<f32>(); var c1_2 = mat4x4<f32>(); var c1_3 = mat4x4<f32>();
    var c2_0 = mat4x4<f32>(); var c2_1 = mat4x4<f32>(); var c2_2 = mat4x4<f32>(); var c2_3 = mat4x4<f32>();
    var c3_0 = mat4x4<f32>(); var c3_1 = mat4x4<f32>(); var c3_2 = mat4x4<f32>(); var c3_3 = mat4x4<f32>();
    var c4_0 = mat4x4<f32>(); var c4_1 = mat4x4<f32>(); var c4_2 = mat4x4<f32>(); var c4_3 = mat4x4<f32>();
    var c5_0 = mat4x4<f32>(); var c5_1 = mat4x4<f32>(); var c5_2 = mat4x4<f32>(); var c5_3 = mat4x4<f32>();
    var c6_0 = mat4x4<f32>(); var c6_1 = mat4x4<f32>(); var c6_2 = mat4x4<f32>(); var c6_3 = mat4x4<f32>();
    var c7_0 = mat4x4<f32>(); var c7_1 = mat4x4<f32>(); var c7_2 = mat4x4<f32>(); var c7_3 = mat4x4<f32>();
    for (var kc = 0u; kc < p.k / 4u; kc++) {
        let s0 = load_a_slot(oa, m0, kc, 0u, lane);
        let s1 = load_a_slot(oa, m0, kc, 1u, lane);
        let s2 = load_a_slot(oa, m0, kc, 2u, lane);
        let s3 = load_a_slot(oa, m0, kc, 3u, lane);
        let b0 = load_b(ob, kc, n0 + 0u);
        let b1 = load_b(ob, kc, n0 + 4u);
        let b2 = load_b(ob, kc, n0 + 8u);
        let b3 = load_b(ob, kc, n0 + 12u);
        let a0 = a_rows(subgroupBroadcast(s0, 0u), subgroupBroadcast(s0, 1u), subgroupBroadcast(s0, 2u), subgroupBroadcast(s0, 3u));
        c0_0 += b0 * a0; c0_1 += b1 * a0; c0_2 += b2 * a0; c0_3 += b3 * a0;
        let a1 = a_rows(subgroupBroadcast(s0, 4u), subgroupBroadcast(s0, 5u), subgroupBroadcast(s0, 6u), subgroupBroadcast(s0, 7u));
        c1_0 += b0 * a1; c1_1 += b1 * a1; c1_2 += b2 * a1; c1_3 += b3 * a1;
        let a2 = a_rows(subgroupBroadcast(s1, 0u), subgroupBroadcast(s1, 1u), subgroupBroadcast(s1, 2u), subgroupBroadcast(s1, 3u));
        c2_0 += b0 * a2; c2_1 += b1 * a2; c2_2 += b2 * a2; c2_3 += b3 * a2;
        let a3 = a_rows(subgroupBroadcast(s1, 4u), subgroupBroadcast(s1, 5u), subgroupBroadcast(s1, 6u), subgroupBroadcast(s1, 7u));
        c3_0 += b0 * a3; c3_1 += b1 * a3; c3_2 += b2 * a3; c3_3 += b3 * a3;
        let a4 = a_rows(subgroupBroadcast(s2, 0u), subgroupBroadcast(s2, 1u), subgroupBroadcast(s2, 2u), subgroupBroadcast(s2, 3u));
        c4_0 += b0 * a4; c4_1 += b1 * a4; c4_2 += b2 * a4; c4_3 += b3 * a4;
        let a5 = a_rows(subgroupBroadcast(s2, 4u), subgroupBroadcast(s2, 5u), subgroupBroadcast(s2, 6u), subgroupBroadcast(s2, 7u));
        c5_0 += b0 * a5; c5_1 += b1 * a5; c5_2 += b2 * a5; c5_3 += b3 * a5;
        let a6 = a_rows(subgroupBroadcast(s3, 0u), subgroupBroadcast(s3, 1u), subgroupBroadcast(s3, 2u), subgroupBroadcast(s3, 3u));
        c6_0 += b0 * a6; c6_1 += b1 * a6; c6_2 += b2 * a6; c6_3 += b3 * a6;
        let a7 = a_rows(subgroupBroadcast(s3, 4u), subgroupBroadcast(s3, 5u), subgroupBroadcast(s3, 6u), subgroupBroadcast(s3, 7u));
        c7_0 += b0 * a7; c7_1 += b1 * a7; c7_2 += b2 * a7; c7_3 += b3 * a7;
    }
    let oc = wid.z * p.stride_c;
    store(oc, m0 + 0u, n0 + 0u, c0_0); store(oc, m0 + 0u, n0 + 4u, c0_1); store(oc, m0 + 0u, n0 + 8u, c0_2); store(oc, m0 + 0u, n0 + 12u, c0_3);
    store(oc, m0 + 4u, n0 + 0u, c1_0); store(oc, m0 + 4u, n0 + 4u, c1_1); store(oc, m0 + 4u, n0 + 8u, c1_2); store(oc, m0 + 4u, n0 + 12u, c1_3);
    store(oc, m0 + 8u, n0 + 0u, c2_0); store(oc, m0 + 8u, n0 + 4u, c2_1); store(oc, m0 + 8u, n0 + 8u, c2_2); store(oc, m0 + 8u, n0 + 12u, c2_3);
    store(oc, m0 + 12u, n0 + 0u, c3_0); store(oc, m0 + 12u, n0 + 4u, c3_1); store(oc, m0 + 12u, n0 + 8u, c3_2); store(oc, m0 + 12u, n0 + 12u, c3_3);
    store(oc, m0 + 16u, n0 + 0u, c4_0); store(oc, m0 + 16u, n0 + 4u, c4_1); store(oc, m0 + 16u, n0 + 8u, c4_2); store(oc, m0 + 16u, n0 + 12u, c4_3);
    store(oc, m0 + 20u, n0 + 0u, c5_0); store(oc, m0 + 20u, n0 + 4u, c5_1); store(oc, m0 + 20u, n0 + 8u, c5_2); store(oc, m0 + 20u, n0 + 12u, c5_3);
    store(oc, m0 + 24u, n0 + 0u, c6_0); store(oc, m0 + 24u, n0 + 4u, c6_1); store(oc, m0 + 24u, n0 + 8u, c6_2); store(oc, m0 + 24u, n0 + 12u, c6_3);
    store(oc, m0 + 28u, n0 + 0u, c7_0); store(oc, m0 + 28u, n0 + 4u, c7_1); store(oc, m0 + 28u, n0 + 8u, c7_2); store(oc, m0 + 28u, n0 + 12u, c7_3);
}
