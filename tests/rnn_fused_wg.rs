//! The workgroup step kernel (shaders/rnn_fused_wg.wgsl: the fused LSTM/GRU
//! step without subgroup operations) forced on a layer: forward outputs,
//! h_n and c_n against the CPU reference (src/reference/rnn.rs) and every
//! gradient against the unfused path, across batch tiles (B not a multiple
//! of 32), unit tiles and K slices (H = 260: 5 forward and up to 17
//! backward slices of 16 chunks), T = 1 and T > 1, with and without h0/c0;
//! finite differences on it; one dispatch per step; stacked and
//! bidirectional; the selection's errors; and the autotuned choice.

mod common;

use common::{ctx, fresh_ctx, gradcheck, random};
use kairo::autograd::{self, Var};
use kairo::nn::rnn::{CellKind, Recurrent};
use kairo::nn::rnn_fused::{self, StepKernel};
use kairo::nn::rnn_layers::RecurrentStack;
use kairo::nn::Module;
use kairo::ops::{BinaryOp, ReduceOp};
use kairo::reference::rnn::{recurrent, RecurrentWeights};
use kairo::Tensor;
use rand::SeedableRng;

const KINDS: [CellKind; 2] = [CellKind::Lstm, CellKind::Gru];

/// weight_ih, weight_hh, bias_ih, bias_hh, ~U(−1/√H, 1/√H) as PyTorch's init
/// (so H = 260's pre-activations stay O(1) and the cell does not saturate).
fn weights(kind: CellKind, input: usize, hidden: usize, seed: u64) -> [Vec<f32>; 4] {
    let rows = kind.gates() * hidden;
    let s = 1.0 / (hidden as f32).sqrt();
    let scale = |v: Vec<f32>| v.iter().map(|a| a * s).collect::<Vec<f32>>();
    [
        scale(random(rows * input, seed)),
        scale(random(rows * hidden, seed + 1)),
        scale(random(rows, seed + 2)),
        scale(random(rows, seed + 3)),
    ]
}

fn layer(kind: CellKind, input: usize, hidden: usize, w: &[Vec<f32>; 4], step: StepKernel) -> Recurrent {
    let c = ctx();
    let rows = kind.gates() * hidden;
    let t = |d: &Vec<f32>, s: &[usize]| Tensor::from_slice(&c, d, s).unwrap();
    let mut l = Recurrent::from_tensors(kind, t(&w[0], &[rows, input]), t(&w[1], &[rows, hidden]), t(&w[2], &[rows]), t(&w[3], &[rows]))
        .unwrap();
    l.step_kernel = Some(step);
    l
}

struct Case {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    states: bool,
}

/// [output, h_n, c_n?] and the gradients [dx, dW_ih, dW_hh, db_ih, db_hh,
/// dh0?, dc0?] of Σ up·(output, h_n, c_n) through a layer on `step`.
fn run(kind: CellKind, case: &Case, step: StepKernel, seed: u64) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let c = ctx();
    let Case { steps, batch, input, hidden, states } = *case;
    let lstm = kind == CellKind::Lstm;
    let w = weights(kind, input, hidden, seed);
    let l = layer(kind, input, hidden, &w, step);
    let p = |d: &[f32], s: &[usize]| Var::parameter(Tensor::from_slice(&c, d, s).unwrap());
    let xv = p(&random(steps * batch * input, seed + 10), &[steps, batch, input]);
    let h0 = p(&random(batch * hidden, seed + 11), &[batch, hidden]);
    let c0 = p(&random(batch * hidden, seed + 12), &[batch, hidden]);
    let o = l.forward(&xv, states.then_some(&h0), (states && lstm).then_some(&c0)).unwrap();
    let up = random((steps + 2) * batch * hidden, seed + 13);
    let dot = |v: &Var, off: usize| {
        let n = v.value().numel();
        let u = Var::constant(Tensor::from_slice(&c, &up[off..off + n], v.shape()).unwrap());
        let flat = autograd::reshape(&autograd::binary(v, &u, BinaryOp::Mul).unwrap(), &[n]).unwrap();
        autograd::reduce(&flat, 0, ReduceOp::Sum, false).unwrap()
    };
    let mut loss = autograd::binary(&dot(&o.output, 0), &dot(&o.h_n, steps * batch * hidden), BinaryOp::Add).unwrap();
    let mut outs = vec![o.output.value().to_vec().unwrap(), o.h_n.value().to_vec().unwrap()];
    if let Some(cn) = &o.c_n {
        loss = autograd::binary(&loss, &dot(cn, (steps + 1) * batch * hidden), BinaryOp::Add).unwrap();
        outs.push(cn.value().to_vec().unwrap());
    }
    loss.backward().unwrap();
    let mut grads: Vec<Vec<f32>> =
        [&xv, &l.weight_ih, &l.weight_hh, &l.bias_ih, &l.bias_hh].iter().map(|v| v.grad().unwrap().to_vec().unwrap()).collect();
    if states {
        grads.push(h0.grad().unwrap().to_vec().unwrap());
        if lstm {
            grads.push(c0.grad().unwrap().to_vec().unwrap());
        }
    }
    (outs, grads)
}

/// The CPU reference's [output, h_n, c_n?] for `run`'s inputs.
fn reference(kind: CellKind, case: &Case, seed: u64) -> Vec<Vec<f32>> {
    let Case { steps, batch, input, hidden, states } = *case;
    let w = weights(kind, input, hidden, seed);
    let (x, h0, c0) = (random(steps * batch * input, seed + 10), random(batch * hidden, seed + 11), random(batch * hidden, seed + 12));
    let lstm = kind == CellKind::Lstm;
    let r = recurrent(
        kind,
        &x,
        RecurrentWeights { w_ih: &w[0], w_hh: &w[1], b_ih: &w[2], b_hh: &w[3] },
        states.then_some(&h0[..]),
        (states && lstm).then_some(&c0[..]),
        steps,
        batch,
        input,
        hidden,
    );
    let mut out = vec![r.output, r.h_n];
    out.extend(r.c_n);
    out
}

/// The fused kernels that run here besides the unfused path (the workgroup
/// one everywhere; the subgroup one where subgroups of 8 are).
fn fused_kernels(kind: CellKind, hidden: usize) -> Vec<StepKernel> {
    let c = ctx();
    [StepKernel::Workgroup, StepKernel::Subgroup8].into_iter().filter(|k| k.runs(&c, kind, hidden)).collect()
}

#[test]
fn workgroup_kernel_matches_the_reference_and_the_unfused_path() {
    let cases = [
        Case { steps: 1, batch: 3, input: 5, hidden: 4, states: true },
        Case { steps: 4, batch: 3, input: 5, hidden: 4, states: false },
        Case { steps: 3, batch: 33, input: 4, hidden: 12, states: true },
        Case { steps: 5, batch: 7, input: 3, hidden: 36, states: false },
        Case { steps: 2, batch: 35, input: 6, hidden: 36, states: true },
        Case { steps: 1, batch: 5, input: 4, hidden: 260, states: true },
        Case { steps: 3, batch: 34, input: 4, hidden: 260, states: true },
    ];
    assert!(StepKernel::Workgroup.runs(&ctx(), CellKind::Lstm, 4), "the workgroup kernel runs on every adapter at WebGPU's defaults");
    for kind in KINDS {
        for (i, case) in cases.iter().enumerate() {
            let seed = 100 + 20 * i as u64;
            let (want_out, want_grads) = run(kind, case, StepKernel::Unfused, seed);
            let cpu = reference(kind, case, seed);
            // Dot products of up to H = 260 terms: a little more room there.
            let tol = if case.hidden > 64 { 5e-5 } else { 1e-5 };
            for k in fused_kernels(kind, case.hidden) {
                let name = format!("{kind:?} {} T={} B={} H={} states={}", k.name(), case.steps, case.batch, case.hidden, case.states);
                let (out, grads) = run(kind, case, k, seed);
                let names = ["output", "h_n", "c_n"];
                for (j, (g, w)) in out.iter().zip(&cpu).enumerate() {
                    common::assert_close(&format!("{name} {} vs reference", names[j]), g, w, tol, 1e-4);
                }
                for (j, (g, w)) in out.iter().zip(&want_out).enumerate() {
                    common::assert_close(&format!("{name} {} vs unfused", names[j]), g, w, tol, 1e-4);
                }
                let gnames = ["dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dc0"];
                assert_eq!(grads.len(), want_grads.len());
                for (j, (g, w)) in grads.iter().zip(&want_grads).enumerate() {
                    common::assert_close(&format!("{name} {} vs unfused", gnames[j]), g, w, 1e-4, 1e-4);
                }
            }
        }
    }
}

/// y = output + h_n + c_n (broadcast over T), the layer forced onto the
/// workgroup kernel, against finite differences of the CPU reference.
#[test]
fn workgroup_kernel_gradients_match_finite_differences() {
    let (steps, batch, input, hidden) = (3, 2, 3, 8);
    for kind in KINDS {
        let lstm = kind == CellKind::Lstm;
        let rows = kind.gates() * hidden;
        let w = weights(kind, input, hidden, 20);
        let mut inputs = vec![
            (random(steps * batch * input, 21), vec![steps, batch, input]),
            (w[0].clone(), vec![rows, input]),
            (w[1].clone(), vec![rows, hidden]),
            (w[2].clone(), vec![rows]),
            (w[3].clone(), vec![rows]),
            (random(batch * hidden, 22), vec![batch, hidden]),
        ];
        if lstm {
            inputs.push((random(batch * hidden, 23), vec![batch, hidden]));
        }
        gradcheck(
            &format!("{kind:?} (workgroup step kernel) x, weights, biases, h0, c0"),
            &inputs,
            |v| {
                let mut l = Recurrent::from_tensors(
                    kind,
                    v[1].value().clone(),
                    v[2].value().clone(),
                    v[3].value().clone(),
                    v[4].value().clone(),
                )?;
                (l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh) = (v[1].clone(), v[2].clone(), v[3].clone(), v[4].clone());
                l.step_kernel = Some(StepKernel::Workgroup);
                let o = l.forward(&v[0], Some(&v[5]), v.get(6))?;
                let y = autograd::binary(&o.output, &o.h_n, BinaryOp::Add)?;
                match &o.c_n {
                    Some(c) => autograd::binary(&y, c, BinaryOp::Add),
                    None => Ok(y),
                }
            },
            |x| {
                let r = recurrent(
                    kind,
                    &x[0],
                    RecurrentWeights { w_ih: &x[1], w_hh: &x[2], b_ih: &x[3], b_hh: &x[4] },
                    Some(&x[5]),
                    x.get(6).map(|c| &c[..]),
                    steps,
                    batch,
                    input,
                    hidden,
                );
                let bh = batch * hidden;
                (0..steps * bh).map(|i| r.output[i] + r.h_n[i % bh] + r.c_n.as_ref().map_or(0.0, |c| c[i % bh])).collect()
            },
        );
    }
}

#[test]
fn workgroup_kernel_is_one_dispatch_per_step() {
    let c = fresh_ctx();
    let (steps, batch, input, hidden) = (12, 2, 4, 8);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for kind in KINDS {
        let mut l = Recurrent::new(&c, kind, input, hidden, &mut rng).unwrap();
        l.step_kernel = Some(StepKernel::Workgroup);
        let x = Var::constant(Tensor::from_slice(&c, &random(steps * batch * input, 6), &[steps, batch, input]).unwrap());
        c.sync().unwrap();
        let before = c.counters().dispatches;
        let o = l.forward(&x, None, None).unwrap();
        let fwd = c.counters().dispatches - before;
        // The input matmul, one dispatch per step, the h_n (and c_n) slices.
        assert!(fwd >= steps as u64 && fwd <= steps as u64 + 5, "{kind:?}: {fwd} dispatches for {steps} steps");
        let flat = autograd::reshape(&o.output, &[steps * batch * hidden]).unwrap();
        let loss = autograd::reduce(&flat, 0, ReduceOp::Sum, false).unwrap();
        let mid = c.counters().dispatches;
        loss.backward().unwrap();
        let bwd = c.counters().dispatches - mid;
        assert!(bwd >= steps as u64 - 1 && bwd <= steps as u64 + 12, "{kind:?}: {bwd} backward dispatches");
    }
}

/// Where the rule would decide, a layer large enough to be worth it times
/// every kernel that runs once per shape class and keeps the choice in
/// the autotune cache; a remembered choice is what runs (one dispatch per
/// step fused, two unfused), and every choice computes the same output.
#[test]
fn the_step_kernel_is_autotuned_once_per_shape_class_and_the_choice_runs() {
    if std::env::var("KAIRO_RNN_STEP").is_ok() || std::env::var("KAIRO_AUTOTUNE").is_ok_and(|v| v == "0") {
        eprintln!("KAIRO_RNN_STEP or KAIRO_AUTOTUNE=0 set: the rule decides, nothing to tune");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kairo-rnn-step-tune-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let c = fresh_ctx();
    c.set_tune_cache(kairo::gpu::tune_cache::Cache::at(&dir));
    // B·G·H·H = 64·4·64·64 multiply-adds per step: over the tuning minimum.
    let (steps, batch, input, hidden) = (12, 64, 8, 64);
    let kind = CellKind::Lstm;
    let l = Recurrent::new(&c, kind, input, hidden, &mut rand::rngs::StdRng::seed_from_u64(7)).unwrap();
    let x = Var::constant(Tensor::from_slice(&c, &random(steps * batch * input, 8), &[steps, batch, input]).unwrap());
    let key = "rnn_step/lstm/64x64";
    let first = l.forward(&x, None, None).unwrap().output.value().to_vec().unwrap();
    let tuned: StepKernel = c.tuned(key).expect("the first forward tuned this shape class").parse().unwrap();
    assert!(tuned.runs(&c, kind, hidden));
    let stored = kairo::gpu::tune_cache::Cache::at(&dir).load(&c.tune_device_key());
    assert_eq!(stored.get(key).map(String::as_str), Some(tuned.name()), "{stored:?}");
    for k in StepKernel::ALL.into_iter().filter(|k| k.runs(&c, kind, hidden)) {
        c.set_tuned(key, k.name());
        c.sync().unwrap();
        let before = c.counters().dispatches;
        let out = l.forward(&x, None, None).unwrap().output.value().to_vec().unwrap();
        let fwd = c.counters().dispatches - before;
        let per = if k.is_fused() { 1 } else { 2 };
        assert!(fwd >= per * steps as u64 && fwd <= per * steps as u64 + 5, "{}: {fwd} dispatches for {steps} steps", k.name());
        let worst = out.iter().zip(&first).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{} differs from the tuned run by {worst}", k.name());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 2-layer bidirectional stack with every layer on the workgroup kernel
/// gives the unfused stack's output, h_n, c_n and parameter gradients.
#[test]
fn stacked_bidirectional_layers_on_the_workgroup_kernel_match_unfused() {
    let c = ctx();
    let (steps, batch, input, hidden) = (4, 5, 3, 12);
    for kind in KINDS {
        let run = |step: StepKernel| -> Vec<Vec<f32>> {
            let mut rng = rand::rngs::StdRng::seed_from_u64(9);
            let mut s = RecurrentStack::new(&c, kind, input, hidden, 2, true, false, 0.0, &mut rng).unwrap();
            for l in s.layers.iter_mut().flatten() {
                l.step_kernel = Some(step);
            }
            let x = Var::constant(Tensor::from_slice(&c, &random(steps * batch * input, 7), &[steps, batch, input]).unwrap());
            let o = s.forward(&x, None, None).unwrap();
            let n = o.output.value().numel();
            let flat = autograd::reshape(&o.output, &[n]).unwrap();
            let sq = autograd::binary(&flat, &flat, BinaryOp::Mul).unwrap();
            autograd::reduce(&sq, 0, ReduceOp::Sum, false).unwrap().backward().unwrap();
            let mut r = vec![o.output.value().to_vec().unwrap(), o.h_n.value().to_vec().unwrap()];
            r.extend(o.c_n.map(|v| v.value().to_vec().unwrap()));
            r.extend(s.parameters().iter().map(|(_, v)| v.grad().unwrap().to_vec().unwrap()));
            r
        };
        let (got, want) = (run(StepKernel::Workgroup), run(StepKernel::Unfused));
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            common::assert_close(&format!("{kind:?} stack tensor {i}"), g, w, 1e-4, 1e-4);
        }
    }
}

#[test]
fn step_kernel_names_read_back_and_a_kernel_that_cannot_run_is_an_error() {
    let c = ctx();
    for k in StepKernel::ALL {
        assert_eq!(k.name().parse::<StepKernel>().unwrap(), k);
    }
    let e = "warp".parse::<StepKernel>().unwrap_err().to_string();
    assert!(e.contains("\"warp\"") && e.contains("workgroup"), "{e}");
    // The tanh RNN has no fused kernel; H = 6 is not a multiple of 4.
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let x = Var::constant(Tensor::from_slice(&c, &random(2 * 3, 2), &[2, 1, 3]).unwrap());
    for (kind, hidden) in [(CellKind::RnnTanh, 8), (CellKind::Lstm, 6)] {
        assert!(!StepKernel::Workgroup.runs(&c, kind, hidden));
        assert_eq!(rnn_fused::step_kernel(&c, kind, hidden), StepKernel::Unfused);
        let mut l = Recurrent::new(&c, kind, 3, hidden, &mut rng).unwrap();
        l.step_kernel = Some(StepKernel::Workgroup);
        let e = l.forward(&x, None, None).unwrap_err().to_string();
        assert!(e.contains("workgroup"), "{e}");
        l.step_kernel = Some(StepKernel::Unfused);
        l.forward(&x, None, None).unwrap();
    }
    // The rule picks a fused kernel for every LSTM/GRU with H % 4 == 0.
    for kind in KINDS {
        assert!(rnn_fused::available(&c, kind, 8));
        assert!(rnn_fused::step_kernel(&c, kind, 8).runs(&c, kind, 8));
    }
}
