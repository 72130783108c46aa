// elementwise.wgsl: unary maps and broadcasting binary ops over f32 tensors.
//
// Dispatch is 1-D over the output, folded into a 2-D grid of 256-wide
// workgroups so tensors beyond 65535 workgroups still fit:
//   i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x

struct UnaryParams {
    n: u32,      // elements
    alpha: f32,  // scale factor, leaky slope, clamp minimum
    beta: f32,   // clamp maximum
    _pad: u32,
}

// Binary ops broadcast NumPy-style over up to 8 dimensions: the output
// index is split into coordinates (last dimension fastest) and each input
// steps by its own stride per dimension, 0 where it is broadcast.
struct BinaryParams {
    n: u32,
    rank: u32,
    _pad0: u32,
    _pad1: u32,
    shape: array<vec4<u32>, 2>,     // output dims, padded with 1
    stride_a: array<vec4<u32>, 2>,  // strides of a in elements (0 = broadcast)
    stride_b: array<vec4<u32>, 2>,  // strides of b in elements (0 = broadcast)
}

// 0 scale, 1 relu, 2 leaky_relu, 3 tanh, 4 sigmoid, 5 exp, 6 log, 7 clamp, 8 neg, 9 add_scalar
override UNARY_OP: u32 = 0u;
// 0 add, 1 sub, 2 mul, 3 div, 4 a (broadcast copy: expand), 5 a == b (1.0 or 0.0)
override BINARY_OP: u32 = 0u;
// false: a, b and out share one shape, no index arithmetic
override BROADCAST: bool = true;

@group(0) @binding(0) var<uniform> up: UnaryParams;
@group(0) @binding(5) var<uniform> bp: BinaryParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x: (n,)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y: (n,)
@group(0) @binding(3) var<storage, read> lhs: array<f32>;      // a: broadcastable to out
@group(0) @binding(4) var<storage, read> rhs: array<f32>;      // b: broadcastable to out

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// log with IEEE results at 0 and below, as PyTorch gives them: WGSL leaves
// log(x ≤ 0) to the implementation, and SwiftShader's returns −88.03 at 0.
// (−inf and NaN from bit patterns the compiler cannot fold: WGSL constant
// expressions must be finite.)
fn ieee_log(v: f32) -> f32 {
    let neg_inf = bitcast<f32>(0xff800000u | (up.n & 0u));
    let nan = bitcast<f32>(0x7fc00000u | (up.n & 0u));
    return select(select(log(v), neg_inf, v == 0.0), nan, v < 0.0);
}

// tanh that stays finite for large |v| (exp(2v) would overflow).
fn safe_tanh(v: f32) -> f32 {
    let e = exp(-2.0 * abs(v));
    return sign(v) * (1.0 - e) / (1.0 + e);
}

fn sigmoid(v: f32) -> f32 {
    if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
    let e = exp(v);
    return e / (1.0 + e);
}

@compute @workgroup_size(256, 1, 1)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= up.n) { return; }
    let v = x[i];
    var r: f32;
    switch UNARY_OP {
        case 0u: { r = up.alpha * v; }
        case 1u: { r = max(v, 0.0); }
        case 2u: { r = select(up.alpha * v, v, v > 0.0); }
        case 3u: { r = safe_tanh(v); }
        case 4u: { r = sigmoid(v); }
        case 5u: { r = exp(v); }
        case 6u: { r = ieee_log(v); }
        case 7u: { r = clamp(v, up.alpha, up.beta); }
        case 8u: { r = -v; }
        case 9u: { r = v + up.alpha; }
        default: { r = v; }
    }
    y[i] = r;
}

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
    return v[d / 4u][d % 4u];
}

@compute @workgroup_size(256, 1, 1)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= bp.n) { return; }
    var ia = i;
    var ib = i;
    if (BROADCAST) {
        ia = 0u;
        ib = 0u;
        var rem = i;
        for (var d = bp.rank; d > 0u; d--) {
            let size = dim_of(bp.shape, d - 1u);
            let coord = rem % size;
            rem = rem / size;
            ia += coord * dim_of(bp.stride_a, d - 1u);
            ib += coord * dim_of(bp.stride_b, d - 1u);
        }
    }
    let va = lhs[ia];
    let vb = rhs[ib];
    var r: f32;
    switch BINARY_OP {
        case 0u: { r = va + vb; }
        case 1u: { r = va - vb; }
        case 2u: { r = va * vb; }
        case 3u: { r = va / vb; }
        case 4u: { r = va; }
        default: { r = select(0.0, 1.0, va == vb); }
    }
    y[i] = r;
}

// Backward of `unary`: dx = dy · f'(x), with f' written from the input x
// (bound at 1), the forward output y (bound at 3) or both; dy at 4, dx at 2.
//   scale:      y = a·x              dx = a·dy
//   relu:       y = max(x, 0)        dx = dy·[x > 0]
//   leaky_relu: y = x or a·x         dx = dy·(x > 0 ? 1 : a)
//   tanh:       y = tanh(x)          dx = dy·(1 − y²)
//   sigmoid:    y = σ(x)             dx = dy·y·(1 − y)
//   exp:        y = eˣ               dx = dy·y
//   log:        y = ln x             dx = dy / x
//   clamp:      y = clamp(x, a, b)   dx = dy·[a ≤ x ≤ b]
//   neg:        y = −x               dx = −dy
//   add_scalar: y = x + a            dx = dy
@compute @workgroup_size(256, 1, 1)
fn unary_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= up.n) { return; }
    let xv = x[i];
    let yv = lhs[i];
    let g = rhs[i];
    var r: f32;
    switch UNARY_OP {
        case 0u: { r = up.alpha * g; }
        case 1u: { r = select(0.0, g, xv > 0.0); }
        case 2u: { r = select(up.alpha * g, g, xv > 0.0); }
        case 3u: { r = g * (1.0 - yv * yv); }
        case 4u: { r = g * yv * (1.0 - yv); }
        case 5u: { r = g * yv; }
        case 6u: { r = g / xv; }
        case 7u: { r = select(0.0, g, xv >= up.alpha && xv <= up.beta); }
        case 8u: { r = -g; }
        default: { r = g; }
    }
    y[i] = r;
}
