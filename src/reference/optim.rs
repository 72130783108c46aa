//! CPU references for the optimisers (shaders/optim.wgsl): PyTorch's
//! torch.optim update rules as plain loops. Each element is computed in f64
//! and stored as f32, as the GPU stores it.

/// One SGD step on one parameter (torch.optim.SGD). `buf` is the momentum
/// buffer: `None` before the first step with momentum ≠ 0.
#[allow(clippy::too_many_arguments)]
pub fn sgd(
    p: &mut [f32],
    g: &[f32],
    buf: &mut Option<Vec<f32>>,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: bool,
) {
    let (lr, mom, damp, wd) = (lr as f64, momentum as f64, dampening as f64, weight_decay as f64);
    let first = buf.is_none();
    if momentum != 0.0 && first {
        *buf = Some(vec![0.0; p.len()]);
    }
    for i in 0..p.len() {
        let pv = p[i] as f64;
        let mut gv = g[i] as f64 + wd * pv;
        if momentum != 0.0 {
            let b = buf.as_mut().expect("created above");
            let bv = if first { gv } else { mom * b[i] as f64 + (1.0 - damp) * gv };
            b[i] = bv as f32;
            gv = if nesterov { gv + mom * bv } else { bv };
        }
        p[i] = (pv - lr * gv) as f32;
    }
}

/// One Adam (`decoupled = false`) or AdamW (`decoupled = true`) step on one
/// parameter; `t` is the 1-based step count used for the bias corrections.
#[allow(clippy::too_many_arguments)]
pub fn adam(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    t: u64,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
) {
    let (lr, b1, b2, eps, wd) = (lr as f64, beta1 as f64, beta2 as f64, eps as f64, weight_decay as f64);
    let bc1 = 1.0 - b1.powi(t as i32);
    let bc2 = 1.0 - b2.powi(t as i32);
    for i in 0..p.len() {
        let mut pv = p[i] as f64;
        let mut gv = g[i] as f64;
        if decoupled {
            pv *= 1.0 - lr * wd;
        } else {
            gv += wd * pv;
        }
        let mv = b1 * m[i] as f64 + (1.0 - b1) * gv;
        let vv = b2 * v[i] as f64 + (1.0 - b2) * gv * gv;
        m[i] = mv as f32;
        v[i] = vv as f32;
        let m_hat = mv / bc1;
        let v_hat = vv / bc2;
        p[i] = (pv - lr * m_hat / (v_hat.sqrt() + eps)) as f32;
    }
}

/// torch.nn.utils.clip_grad_norm_: scales every gradient in place by
/// min(1, max_norm / (total + 1e-6)) and returns total = sqrt(Σ‖g‖²).
pub fn clip_grad_norm(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    let total = grads.iter().flatten().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    let coef = (max_norm as f64 / (total + 1e-6)).min(1.0);
    for g in grads.iter_mut() {
        for x in g.iter_mut() {
            *x = (*x as f64 * coef) as f32;
        }
    }
    total as f32
}
