//! Optimisers, gradient clipping and LR schedules against the CPU references
//! in src/reference/optim.rs (PyTorch torch.optim semantics).

mod common;

use common::{assert_close, ctx, fresh_ctx, random};
use kairo::optim::{clip_grad_norm, Adam, LrSchedule, Optimizer, Sgd};
use kairo::reference::optim as reference;
use kairo::{Context, Error, Tensor};

// Parameter shapes: below one workgroup, not a multiple of 256, 3-D, ~10k.
const SHAPES: &[&[usize]] = &[&[7], &[33, 65], &[4, 5, 6], &[10_000]];
const STEPS: usize = 5;

// SGD: each step is a few f32 multiply-adds per element, which the GPU
// rounds after every operation and the reference only when storing; with
// |p| ≤ ~1.5, 5 steps differ by a few ulp (~1e-7). 1e-6 absolute plus 1e-5
// relative leaves a margin of about 10x.
const SGD_ATOL: f32 = 1e-6;
const SGD_RTOL: f32 = 1e-5;
// Adam: the update lr·m̂/(sqrt(v̂)+eps) carries a few ulp of relative error
// (f32 moments, sqrt, division) on top of the parameter's own rounding;
// after 5 steps of lr 0.01 that is well under 1e-6. Same bounds as SGD.
const ADAM_ATOL: f32 = 1e-6;
const ADAM_RTOL: f32 = 1e-5;
// The moments are compared relatively (a few ulp per step); v ~ g²·(1−β2)
// can be ~1e-9, so its absolute floor is tiny.
const MOMENT_RTOL: f32 = 1e-5;
// Clipping: the GPU sums ~10k squares in f32 through a 256-lane reduction
// (relative error ≲ (n/256 + 8)·eps ≈ 6e-6); the norm and the scaled
// gradients inherit it, so 1e-4 relative.
const CLIP_RTOL: f32 = 1e-4;

fn initial_params() -> Vec<Vec<f32>> {
    SHAPES.iter().enumerate().map(|(i, s)| random(s.iter().product(), 100 + i as u64)).collect()
}

/// Gradients of parameter `i` at step `s`: seeded, different every step.
fn grads_at(step: usize) -> Vec<Vec<f32>> {
    SHAPES.iter().enumerate().map(|(i, s)| random(s.iter().product(), 1000 * (step as u64 + 1) + i as u64)).collect()
}

fn upload(c: &Context, values: &[Vec<f32>]) -> Vec<Tensor> {
    values.iter().zip(SHAPES).map(|(v, s)| Tensor::from_slice(c, v, s).unwrap()).collect()
}

/// Runs steps `from..to` of `opt` on `params` with the seeded gradients.
fn run(opt: &mut dyn Optimizer, params: &[Tensor], from: usize, to: usize) {
    let c = params[0].context().clone();
    for step in from..to {
        let grads = upload(&c, &grads_at(step));
        let pairs: Vec<(&Tensor, &Tensor)> = params.iter().zip(&grads).collect();
        opt.step(&pairs).unwrap();
    }
}

fn read(ts: &[Tensor]) -> Vec<Vec<f32>> {
    ts.iter().map(|t| t.to_vec().unwrap()).collect()
}

fn state_value(opt: &dyn Optimizer, name: &str) -> Vec<f32> {
    let state = opt.state().unwrap();
    state.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no state {name}")).1.to_vec().unwrap()
}

fn check_sgd(label: &str, mut opt: Sgd) {
    let c = ctx();
    let params = upload(&c, &initial_params());
    run(&mut opt, &params, 0, STEPS);
    let got = read(&params);

    let mut want = initial_params();
    let mut bufs: Vec<Option<Vec<f32>>> = vec![None; SHAPES.len()];
    for step in 0..STEPS {
        for (i, g) in grads_at(step).iter().enumerate() {
            reference::sgd(&mut want[i], g, &mut bufs[i], opt.lr, opt.momentum, opt.dampening, opt.weight_decay, opt.nesterov);
        }
    }
    for i in 0..SHAPES.len() {
        assert_close(&format!("{label} param {i}"), &got[i], &want[i], SGD_ATOL, SGD_RTOL);
        if let Some(b) = &bufs[i] {
            let gpu = state_value(&opt, &format!("{i}.momentum_buffer"));
            assert_close(&format!("{label} momentum buffer {i}"), &gpu, b, SGD_ATOL, SGD_RTOL);
        }
    }
    assert_eq!(opt.step_count(), STEPS as u64);
    assert_eq!(opt.state().unwrap().len(), if opt.momentum != 0.0 { SHAPES.len() } else { 0 });
}

#[test]
fn sgd_plain() {
    check_sgd("sgd", Sgd::new(0.1));
}

#[test]
fn sgd_weight_decay() {
    check_sgd("sgd wd", Sgd::new(0.1).weight_decay(0.05));
}

#[test]
fn sgd_momentum() {
    check_sgd("sgd momentum", Sgd::new(0.1).momentum(0.9));
}

#[test]
fn sgd_momentum_dampening_weight_decay() {
    check_sgd("sgd dampening", Sgd::new(0.05).momentum(0.8).dampening(0.3).weight_decay(0.01));
}

#[test]
fn sgd_nesterov() {
    check_sgd("sgd nesterov", Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
}

#[test]
fn sgd_nesterov_needs_momentum_and_no_dampening() {
    let c = ctx();
    let p = Tensor::zeros(&c, &[3]).unwrap();
    let g = Tensor::zeros(&c, &[3]).unwrap();
    for mut opt in [Sgd::new(0.1).nesterov(true), Sgd::new(0.1).momentum(0.9).dampening(0.1).nesterov(true)] {
        assert!(matches!(opt.step(&[(&p, &g)]), Err(Error::InvalidArgument(_))));
    }
}

fn check_adam(label: &str, mut opt: Adam) {
    let c = ctx();
    let params = upload(&c, &initial_params());
    run(&mut opt, &params, 0, STEPS);
    let got = read(&params);

    let mut want = initial_params();
    let mut m: Vec<Vec<f32>> = want.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut v = m.clone();
    for step in 0..STEPS {
        for (i, g) in grads_at(step).iter().enumerate() {
            reference::adam(
                &mut want[i],
                g,
                &mut m[i],
                &mut v[i],
                step as u64 + 1,
                opt.lr,
                opt.beta1,
                opt.beta2,
                opt.eps,
                opt.weight_decay,
                opt.decoupled_weight_decay,
            );
        }
    }
    for i in 0..SHAPES.len() {
        assert_close(&format!("{label} param {i}"), &got[i], &want[i], ADAM_ATOL, ADAM_RTOL);
        let gm = state_value(&opt, &format!("{i}.exp_avg"));
        assert_close(&format!("{label} exp_avg {i}"), &gm, &m[i], 1e-7, MOMENT_RTOL);
        let gv = state_value(&opt, &format!("{i}.exp_avg_sq"));
        assert_close(&format!("{label} exp_avg_sq {i}"), &gv, &v[i], 1e-10, MOMENT_RTOL);
    }
    assert_eq!(opt.step_count(), STEPS as u64);
}

#[test]
fn adam_plain() {
    check_adam("adam", Adam::new(0.01));
}

#[test]
fn adam_l2_weight_decay() {
    check_adam("adam wd", Adam::new(0.01).weight_decay(0.1).betas(0.8, 0.99).eps(1e-6));
}

#[test]
fn adamw_weight_decay() {
    check_adam("adamw", Adam::adamw(0.01).weight_decay(0.1));
}

#[test]
fn adamw_without_weight_decay_equals_adam() {
    check_adam("adamw wd 0", Adam::adamw(0.01).weight_decay(0.0));
}

fn check_clip(max_norm: f32, expect_clipped: bool) {
    let c = ctx();
    let mut want: Vec<Vec<f32>> = grads_at(7);
    let grads = upload(&c, &want);
    let refs: Vec<&Tensor> = grads.iter().collect();
    let total = clip_grad_norm(&refs, max_norm).unwrap();
    let want_total = reference::clip_grad_norm(&mut want, max_norm);
    assert_eq!(total.shape(), &[1]);
    assert_close("total norm", &total.to_vec().unwrap(), &[want_total], 0.0, CLIP_RTOL);
    assert_eq!(want_total > max_norm, expect_clipped, "test setup: norm {want_total} vs max {max_norm}");
    for (i, g) in grads.iter().enumerate() {
        assert_close(&format!("clipped grad {i}"), &g.to_vec().unwrap(), &want[i], 1e-7, CLIP_RTOL);
    }
    if !expect_clipped {
        assert_eq!(read(&grads), grads_at(7), "a norm under max_norm leaves gradients exactly as they were");
    }
}

#[test]
fn clip_grad_norm_clips_above_max_norm() {
    // Σ of ~12.6k squares of U(-1, 1): total ≈ 65.
    check_clip(1.0, true);
}

#[test]
fn clip_grad_norm_leaves_small_norms_alone() {
    check_clip(1000.0, false);
}

#[test]
fn clip_and_step_record_without_submit_or_readback() {
    let c = fresh_ctx();
    let params = upload(&c, &initial_params());
    let grads = upload(&c, &grads_at(0));
    let mut opt = Adam::adamw(0.01);
    let before = c.counters();
    let refs: Vec<&Tensor> = grads.iter().collect();
    let total = clip_grad_norm(&refs, 0.5).unwrap();
    let pairs: Vec<(&Tensor, &Tensor)> = params.iter().zip(&grads).collect();
    opt.step(&pairs).unwrap();
    let after = c.counters();
    assert_eq!(after.submits, before.submits, "clip/step submitted");
    assert_eq!(after.readbacks, before.readbacks, "clip/step read back");
    assert!(after.dispatches > before.dispatches);
    // And the recorded work did happen: the gradients now have norm 0.5.
    let norm: f64 = read(&grads).iter().flatten().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    assert!((norm - 0.5).abs() < 1e-4, "clipped norm {norm}");
    assert!(total.to_vec().unwrap()[0] > 0.5);
}

#[test]
fn lr_schedules_match_torch() {
    let step = LrSchedule::Step { step_size: 3, gamma: 0.1 };
    let want = [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01];
    let got: Vec<f32> = (0..8).map(|e| step.lr(1.0, e)).collect();
    assert_close("StepLR", &got, &want, 0.0, 1e-6);

    // CosineAnnealingLR(t_max 10, eta_min 0.001) from 0.1: 0.1 at 0,
    // (0.1 + 0.001)/2 at 5, 0.001 at 10; at 2: 0.001 + 0.099·(1 + cos(π/5))/2.
    let cos = LrSchedule::Cosine { t_max: 10, eta_min: 0.001 };
    let got: Vec<f32> = [0, 2, 5, 10].iter().map(|&e| cos.lr(0.1, e)).collect();
    let at2 = 0.001 + 0.099 * (1.0 + (std::f64::consts::PI / 5.0).cos()) / 2.0;
    assert_close("CosineAnnealingLR", &got, &[0.1, at2 as f32, 0.0505, 0.001], 0.0, 1e-6);

    assert_eq!(LrSchedule::Constant.lr(0.3, 1000), 0.3);
}

#[test]
fn schedule_drives_the_optimiser_lr() {
    let mut opt = Sgd::new(0.5);
    let base = opt.lr();
    let sched = LrSchedule::Step { step_size: 2, gamma: 0.5 };
    opt.set_lr(sched.lr(base, 4));
    assert_eq!(opt.lr(), 0.125);
}

#[test]
fn mismatched_value_and_grad_shapes_are_an_error() {
    let c = ctx();
    let p = Tensor::zeros(&c, &[2, 3]).unwrap();
    let g = Tensor::zeros(&c, &[3, 2]).unwrap();
    for opt in [&mut Sgd::new(0.1) as &mut dyn Optimizer, &mut Adam::new(0.1)] {
        let err = opt.step(&[(&p, &g)]).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("[2, 3]") && msg.contains("[3, 2]"), "{msg}");
    }
    let gu = Tensor::from_u32(&c, &[0; 6], &[2, 3]).unwrap();
    assert!(matches!(Adam::new(0.1).step(&[(&p, &gu)]), Err(Error::DType { .. })));
}

#[test]
fn changed_parameters_between_steps_are_an_error() {
    let c = ctx();
    let a = Tensor::zeros(&c, &[4]).unwrap();
    let ga = Tensor::zeros(&c, &[4]).unwrap();
    let b = Tensor::zeros(&c, &[5]).unwrap();
    let gb = Tensor::zeros(&c, &[5]).unwrap();
    for opt in [&mut Sgd::new(0.1).momentum(0.9) as &mut dyn Optimizer, &mut Adam::new(0.1)] {
        opt.step(&[(&a, &ga), (&b, &gb)]).unwrap();
        let err = opt.step(&[(&a, &ga)]).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        let err = opt.step(&[(&b, &gb), (&a, &ga)]).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        // The failed calls changed nothing: the right list still works.
        opt.step(&[(&a, &ga), (&b, &gb)]).unwrap();
    }
}

fn check_round_trip(make: &dyn Fn() -> Box<dyn Optimizer>, names: &[&str]) {
    let c = ctx();
    // Five uninterrupted steps.
    let straight = upload(&c, &initial_params());
    let mut opt = make();
    run(opt.as_mut(), &straight, 0, STEPS);

    // Three steps, save, then two more on both the old and a restored optimiser.
    let resumed = upload(&c, &initial_params());
    let mut first = make();
    run(first.as_mut(), &resumed, 0, 3);
    let saved = first.state().unwrap();
    let saved_steps = first.step_count();
    let mut got_names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
    got_names.sort_unstable();
    let mut want_names: Vec<String> = (0..SHAPES.len()).flat_map(|i| names.iter().map(move |n| format!("{i}.{n}"))).collect();
    want_names.sort_unstable();
    assert_eq!(got_names, want_names);

    let continued: Vec<Tensor> = resumed.iter().map(|t| t.deep_clone().unwrap()).collect();
    run(first.as_mut(), &continued, 3, STEPS);

    let mut restored = make();
    restored.load_state(&saved).unwrap();
    restored.set_step_count(saved_steps);
    run(restored.as_mut(), &resumed, 3, STEPS);

    let want = read(&straight);
    assert_eq!(read(&continued), want, "continuing after state() changed the result");
    assert_eq!(read(&resumed), want, "restored optimiser differs from uninterrupted run");
}

#[test]
fn adam_state_round_trip() {
    check_round_trip(&|| Box::new(Adam::adamw(0.01)), &["exp_avg", "exp_avg_sq"]);
}

#[test]
fn sgd_state_round_trip() {
    check_round_trip(&|| Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true)), &["momentum_buffer"]);
}

#[test]
fn load_state_rejects_bad_entries() {
    let c = ctx();
    let t = Tensor::zeros(&c, &[3]).unwrap();
    let u = Tensor::zeros(&c, &[4]).unwrap();
    let mut adam = Adam::new(0.1);
    let only_m = [("0.exp_avg".to_string(), t.clone())];
    assert!(matches!(adam.load_state(&only_m), Err(Error::InvalidArgument(_))));
    let unknown = [("0.momentum".to_string(), t.clone())];
    assert!(matches!(adam.load_state(&unknown), Err(Error::InvalidArgument(_))));
    let mismatched = [("0.exp_avg".to_string(), t.clone()), ("0.exp_avg_sq".to_string(), u.clone())];
    assert!(matches!(adam.load_state(&mismatched), Err(Error::Shape { .. })));
    // A restored state fixes the parameter shapes.
    let good = [("0.exp_avg".to_string(), t.clone()), ("0.exp_avg_sq".to_string(), t.clone())];
    adam.load_state(&good).unwrap();
    let gu = Tensor::zeros(&c, &[4]).unwrap();
    assert!(matches!(adam.step(&[(&u, &gu)]), Err(Error::Shape { .. })));
}
