// optim.wgsl: fused optimiser updates and gradient clipping by global norm
// (PyTorch torch.optim semantics). Every update is one pass over one
// parameter tensor; the parameter is updated in place.
//
// sgd (momentum = 0):
//   g = grad + wd·p;  p -= lr·g
// sgd_momentum:
//   g = grad + wd·p
//   buf = g                                   on the first step
//   buf = momentum·buf + (1 − dampening)·g    afterwards
//   g = nesterov ? g + momentum·buf : buf
//   p -= lr·g
// adam (DECOUPLED = false: Adam, L2 added to the gradient;
//       DECOUPLED = true: AdamW, p -= lr·wd·p before the update):
//   g = grad + wd·p                           (Adam only)
//   p = p·(1 − lr·wd)                         (AdamW only)
//   m = β1·m + (1 − β1)·g
//   v = β2·v + (1 − β2)·g²
//   p -= step_size · m / (sqrt(v) / bc2_sqrt + eps)
//   with step_size = lr / (1 − β1^t), bc2_sqrt = sqrt(1 − β2^t) computed on
//   the host, which is m̂ / (sqrt(v̂) + eps) with m̂, v̂ bias-corrected.
// clip_coef: total = sqrt(Σ‖g‖²); coef = min(1, max_norm / (total + 1e-6))
// clip_scale: g *= coef (coef read from a 1-element GPU tensor, no readback)
//
// Dispatch is 1-D over the elements, folded into a 2-D grid of 256-wide
// workgroups: i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * 256 + local_id.x.
// No loops: one element per invocation.

struct SgdParams {
    n: u32,             // elements
    first: u32,         // 1 on the step that creates the momentum buffer
    nesterov: u32,      // 1 for Nesterov momentum
    _pad: u32,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
}

struct AdamParams {
    n: u32,             // elements
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step_size: f32,     // lr / (1 − β1^t)
    bc2_sqrt: f32,      // sqrt(1 − β2^t)
    _pad3: f32,
}

struct ClipParams {
    n: u32,             // elements of the gradient being scaled
    max_norm: f32,
    _pad0: u32,
    _pad1: u32,
}

// false: Adam (L2 in the gradient); true: AdamW (decoupled weight decay)
override DECOUPLED: bool = false;

@group(0) @binding(0) var<uniform> sp: SgdParams;
@group(0) @binding(6) var<uniform> ap: AdamParams;
@group(0) @binding(7) var<uniform> cp: ClipParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;   // p: (n,), updated in place
@group(0) @binding(2) var<storage, read> grad: array<f32>;          // grad: (n,)
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;     // momentum buffer or exp_avg m: (n,)
@group(0) @binding(4) var<storage, read_write> sq: array<f32>;      // exp_avg_sq v: (n,)
@group(0) @binding(8) var<storage, read> sumsq: array<f32>;         // Σ‖g‖² over all gradients: (1,)
@group(0) @binding(9) var<storage, read_write> total: array<f32>;   // total norm: (1,)
@group(0) @binding(10) var<storage, read_write> coef_out: array<f32>; // clip coefficient: (1,)
@group(0) @binding(11) var<storage, read_write> gscale: array<f32>; // gradient scaled in place: (n,)
@group(0) @binding(12) var<storage, read> coef: array<f32>;         // clip coefficient: (1,)

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

@compute @workgroup_size(256, 1, 1)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= sp.n) { return; }
    let p = param[i];
    let g = grad[i] + sp.weight_decay * p;
    param[i] = p - sp.lr * g;
}

@compute @workgroup_size(256, 1, 1)
fn sgd_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= sp.n) { return; }
    let p = param[i];
    var g = grad[i] + sp.weight_decay * p;
    var b: f32;
    if (sp.first != 0u) {
        b = g;
    } else {
        b = sp.momentum * buf[i] + (1.0 - sp.dampening) * g;
    }
    buf[i] = b;
    if (sp.nesterov != 0u) {
        g = g + sp.momentum * b;
    } else {
        g = b;
    }
    param[i] = p - sp.lr * g;
}

@compute @workgroup_size(256, 1, 1)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ap.n) { return; }
    var p = param[i];
    var g = grad[i];
    if (DECOUPLED) {
        p = p * (1.0 - ap.lr * ap.weight_decay);
    } else {
        g = g + ap.weight_decay * p;
    }
    let m = ap.beta1 * buf[i] + (1.0 - ap.beta1) * g;
    let v = ap.beta2 * sq[i] + (1.0 - ap.beta2) * g * g;
    buf[i] = m;
    sq[i] = v;
    param[i] = p - ap.step_size * m / (sqrt(v) / ap.bc2_sqrt + ap.eps);
}

// One invocation: turns the summed squares into the norm and the coefficient.
@compute @workgroup_size(1, 1, 1)
fn clip_coef() {
    let t = sqrt(sumsq[0]);
    total[0] = t;
    coef_out[0] = min(1.0, cp.max_norm / (t + 1e-6));
}

@compute @workgroup_size(256, 1, 1)
fn clip_scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wid, nwg, lid);
    if (i >= cp.n) { return; }
    gscale[i] = gscale[i] * coef[0];
}
