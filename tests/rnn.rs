//! Recurrent layers (tanh RNN, LSTM, GRU): forward against the CPU
//! reference, gradients against central finite differences of it, the
//! dispatch count of a sweep, and the errors.
//!
//! Covers the stems shaders/rnn_cell.wgsl, lstm_cell.wgsl, gru_cell.wgsl
//! (one cell step per dispatch) and rnn_fused.wgsl (product and cell in one
//! dispatch), all against src/reference/rnn.rs; the stacks of
//! rnn_layers.wgsl are in tests/rnn_layers.rs.

mod common;

use common::{ctx, fresh_ctx, gradcheck, random};
use kairo::autograd::{self, Var};
use kairo::nn::rnn::{CellKind, Recurrent};
use kairo::nn::Module;
use kairo::ops::{BinaryOp, ReduceOp};
use kairo::reference::rnn::{recurrent, RecurrentWeights};
use kairo::{Error, Tensor};
use rand::SeedableRng;

const KINDS: [CellKind; 3] = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];

/// Forward tolerance: f32 dot products of ≤ 4H + I ≈ 70 terms of size ≤ 1
/// per gate, through 5 steps of bounded non-linearities; observed error is
/// ~1e-6, so 1e-5 absolute plus 1e-4 relative leaves room without hiding a
/// wrong index (which gives errors of order 0.1).
const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;

/// weight_ih, weight_hh, bias_ih, bias_hh of one layer, seeded.
fn weights(kind: CellKind, input: usize, hidden: usize, seed: u64) -> [Vec<f32>; 4] {
    let rows = kind.gates() * hidden;
    let scale = |v: Vec<f32>| v.iter().map(|a| a * 0.6).collect::<Vec<f32>>();
    [
        scale(random(rows * input, seed)),
        scale(random(rows * hidden, seed + 1)),
        scale(random(rows, seed + 2)),
        scale(random(rows, seed + 3)),
    ]
}

fn layer(kind: CellKind, input: usize, hidden: usize, w: &[Vec<f32>; 4]) -> Recurrent {
    let c = ctx();
    let rows = kind.gates() * hidden;
    let t = |d: &Vec<f32>, s: &[usize]| Tensor::from_slice(&c, d, s).unwrap();
    Recurrent::from_tensors(
        kind,
        t(&w[0], &[rows, input]),
        t(&w[1], &[rows, hidden]),
        t(&w[2], &[rows]),
        t(&w[3], &[rows]),
    )
    .unwrap()
}

#[test]
fn forward_matches_reference_for_every_cell() {
    let c = ctx();
    let (steps, batch, input) = (5, 3, 4);
    for kind in KINDS {
        for (hidden, given_states, fused) in [(8, true, true), (8, false, true), (16, true, true), (36, true, true), (8, true, false)] {
            let name = format!("{kind:?} H={hidden} states={given_states} fused={fused}");
            let w = weights(kind, input, hidden, 10);
            let mut l = layer(kind, input, hidden, &w);
            l.fused = fused;
            let x = random(steps * batch * input, 1);
            let h0 = random(batch * hidden, 2);
            let c0 = random(batch * hidden, 3);
            let v = |d: &[f32], s: &[usize]| Var::constant(Tensor::from_slice(&c, d, s).unwrap());
            let (h0v, c0v) = (v(&h0, &[batch, hidden]), v(&c0, &[batch, hidden]));
            let lstm = kind == CellKind::Lstm;
            let out = l
                .forward(
                    &v(&x, &[steps, batch, input]),
                    given_states.then_some(&h0v),
                    (given_states && lstm).then_some(&c0v),
                )
                .unwrap();
            let want = recurrent(
                kind,
                &x,
                RecurrentWeights {
                    w_ih: &w[0],
                    w_hh: &w[1],
                    b_ih: &w[2],
                    b_hh: &w[3],
                },
                given_states.then_some(&h0[..]),
                (given_states && lstm).then_some(&c0[..]),
                steps,
                batch,
                input,
                hidden,
            );
            assert_eq!(out.output.shape(), [steps, batch, hidden]);
            assert_eq!(out.h_n.shape(), [batch, hidden]);
            common::assert_close(
                &format!("{name} output"),
                &out.output.value().to_vec().unwrap(),
                &want.output,
                ATOL,
                RTOL,
            );
            common::assert_close(
                &format!("{name} h_n"),
                &out.h_n.value().to_vec().unwrap(),
                &want.h_n,
                ATOL,
                RTOL,
            );
            match (&out.c_n, &want.c_n) {
                (Some(got), Some(want)) => common::assert_close(
                    &format!("{name} c_n"),
                    &got.value().to_vec().unwrap(),
                    want,
                    ATOL,
                    RTOL,
                ),
                (None, None) => {}
                _ => panic!("{name}: c_n present on one side only"),
            }
        }
    }
}

/// y = output + h_n + c_n (broadcast over T), so the random upstream
/// gradient reaches the layer through all three outputs at once.
#[test]
fn gradients_of_every_input_match_finite_differences() {
    let (steps, batch, input, hidden) = (3, 2, 3, 4);
    for (kind, fused) in KINDS.into_iter().flat_map(|k| [(k, true), (k, false)]) {
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
            &format!("{kind:?} (fused {fused}) x, weights, biases, h0, c0"),
            &inputs,
            |v| {
                let l = Recurrent {
                    kind,
                    input_size: input,
                    hidden_size: hidden,
                    weight_ih: v[1].clone(),
                    weight_hh: v[2].clone(),
                    bias_ih: v[3].clone(),
                    bias_hh: v[4].clone(),
                    fused,
                    step_kernel: None,
                };
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
                    RecurrentWeights {
                        w_ih: &x[1],
                        w_hh: &x[2],
                        b_ih: &x[3],
                        b_hh: &x[4],
                    },
                    Some(&x[5]),
                    x.get(6).map(|c| &c[..]),
                    steps,
                    batch,
                    input,
                    hidden,
                );
                let bh = batch * hidden;
                (0..steps * bh)
                    .map(|i| {
                        r.output[i] + r.h_n[i % bh] + r.c_n.as_ref().map_or(0.0, |c| c[i % bh])
                    })
                    .collect()
            },
        );
    }
}

#[test]
fn a_sweep_is_one_dispatch_per_step_where_fused_and_a_training_step_one_submit() {
    let c = fresh_ctx();
    let (steps, batch, input, hidden) = (12, 2, 4, 8);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for kind in KINDS {
        let l = Recurrent::new(&c, kind, input, hidden, &mut rng).unwrap();
        let x = Var::constant(
            Tensor::from_slice(
                &c,
                &random(steps * batch * input, 6),
                &[steps, batch, input],
            )
            .unwrap(),
        );
        c.sync().unwrap();
        let before = c.counters();
        let o = l.forward(&x, None, None).unwrap();
        let fwd = c.counters().dispatches - before.dispatches;
        // The input matmul, per step one fused kernel (or, without
        // subgroups and for the tanh RNN, one h·W_hhᵀ matmul and one cell
        // kernel), and the h_n (and for LSTM output, c_n) slices.
        let per = if kairo::nn::rnn_fused::available(&c, kind, hidden) { 1 } else { 2 };
        eprintln!("{kind:?}: forward of {steps} steps recorded {fwd} dispatches");
        assert!(
            fwd >= per * steps as u64 && fwd <= per * steps as u64 + 5,
            "{kind:?}: {fwd} dispatches for {steps} steps"
        );
        let flat = autograd::reshape(&o.output, &[steps * batch * hidden]).unwrap();
        let loss = autograd::reduce(&flat, 0, ReduceOp::Sum, false).unwrap();
        let mid = c.counters();
        loss.backward().unwrap();
        let bwd = c.counters().dispatches - mid.dispatches;
        eprintln!("{kind:?}: backward recorded {bwd} dispatches");
        assert!(
            bwd >= per * steps as u64 - 1 && bwd <= per * steps as u64 + 12,
            "{kind:?}: {bwd} backward dispatches"
        );
        let g = l.weight_hh.grad().unwrap().to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0));
        let after = c.counters();
        assert_eq!(
            after.submits - before.submits,
            1,
            "{kind:?}: forward + backward + readback"
        );
        assert_eq!(after.readbacks - before.readbacks, 1);
    }
}

#[test]
fn wrong_input_width_names_both_shapes() {
    let l = layer(CellKind::Lstm, 4, 8, &weights(CellKind::Lstm, 4, 8, 30));
    let x = Var::constant(Tensor::from_slice(&ctx(), &random(5 * 3 * 7, 31), &[5, 3, 7]).unwrap());
    let e = l.forward(&x, None, None).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Shape { .. }), "{msg}");
    assert!(
        msg.contains("[5, 3, 7]") && msg.contains("[32, 4]"),
        "{msg}"
    );
    // A state of the wrong shape and a c0 for a cell without one are errors too.
    let x = Var::constant(Tensor::from_slice(&ctx(), &random(5 * 3 * 4, 32), &[5, 3, 4]).unwrap());
    let bad = Var::constant(Tensor::zeros(&ctx(), &[2, 8]).unwrap());
    assert!(l.forward(&x, Some(&bad), None).is_err());
    let gru = layer(CellKind::Gru, 4, 8, &weights(CellKind::Gru, 4, 8, 33));
    let c0 = Var::constant(Tensor::zeros(&ctx(), &[3, 8]).unwrap());
    assert!(gru.forward(&x, None, Some(&c0)).is_err());
}

#[test]
fn hidden_size_over_the_loop_limit_is_an_error() {
    let c = ctx();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (kind, max) in [
        (CellKind::RnnTanh, 4096),
        (CellKind::Lstm, 1024),
        (CellKind::Gru, 1365),
    ] {
        assert_eq!(kind.max_hidden(), max);
        let e = Recurrent::new(&c, kind, 4, max + 1, &mut rng).unwrap_err();
        assert!(matches!(e, Error::OverLimit { .. }), "{kind:?}: {e}");
    }
}

#[test]
fn parameters_have_pytorch_names_and_shapes() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let l = Recurrent::new(&ctx(), CellKind::Gru, 5, 6, &mut rng).unwrap();
    let p: Vec<(String, Vec<usize>)> = l
        .parameters()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    let want = [
        ("weight_ih_l0", vec![18, 5]),
        ("weight_hh_l0", vec![18, 6]),
        ("bias_ih_l0", vec![18]),
        ("bias_hh_l0", vec![18]),
    ];
    assert_eq!(
        p,
        want.iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect::<Vec<_>>()
    );
    let bound = 1.0 / 6f32.sqrt();
    for (_, v) in l.parameters() {
        assert!(v.value().to_vec().unwrap().iter().all(|a| a.abs() <= bound));
    }
}

/// Batch 33 and H = 36 cross the fused kernel's 32-row and 32/64-unit tiles:
/// the fused sweep must give the unfused path's outputs and every gradient
/// (h0 and c0 included).
#[test]
fn fused_sweep_matches_the_unfused_path_across_tile_edges() {
    let c = ctx();
    let (steps, batch, input, hidden) = (4, 33, 5, 36);
    for kind in [CellKind::Lstm, CellKind::Gru] {
        let lstm = kind == CellKind::Lstm;
        let w = weights(kind, input, hidden, 40);
        let x = random(steps * batch * input, 41);
        let s0 = random(batch * hidden, 42);
        let s1 = random(batch * hidden, 43);
        let up = random((steps + 2) * batch * hidden, 44);
        let run = |fused: bool| -> Vec<Vec<f32>> {
            let mut l = layer(kind, input, hidden, &w);
            l.fused = fused;
            let p = |d: &[f32], s: &[usize]| Var::parameter(Tensor::from_slice(&c, d, s).unwrap());
            let (xv, h0, c0) = (p(&x, &[steps, batch, input]), p(&s0, &[batch, hidden]), p(&s1, &[batch, hidden]));
            let o = l.forward(&xv, Some(&h0), lstm.then_some(&c0)).unwrap();
            // Σ up·output + Σ up·h_n (+ Σ up·c_n): every output gets a gradient.
            let dot = |v: &Var, off: usize| {
                let n = v.value().numel();
                let u = Var::constant(Tensor::from_slice(&c, &up[off..off + n], v.shape()).unwrap());
                let m = autograd::binary(v, &u, BinaryOp::Mul).unwrap();
                let flat = autograd::reshape(&m, &[n]).unwrap();
                autograd::reduce(&flat, 0, ReduceOp::Sum, false).unwrap()
            };
            let mut loss = autograd::binary(&dot(&o.output, 0), &dot(&o.h_n, batch * hidden), BinaryOp::Add).unwrap();
            if let Some(cn) = &o.c_n {
                loss = autograd::binary(&loss, &dot(cn, 2 * batch * hidden), BinaryOp::Add).unwrap();
            }
            loss.backward().unwrap();
            let mut r = vec![o.output.value().to_vec().unwrap()];
            for v in [&xv, &l.weight_ih, &l.weight_hh, &l.bias_ih, &l.bias_hh, &h0] {
                r.push(v.grad().unwrap().to_vec().unwrap());
            }
            if lstm {
                r.push(c0.grad().unwrap().to_vec().unwrap());
            }
            r
        };
        let (fused, plain) = (run(true), run(false));
        let names = ["output", "dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dc0"];
        for (i, (f, p)) in fused.iter().zip(&plain).enumerate() {
            common::assert_close(&format!("{kind:?} {}", names[i]), f, p, 1e-4, 1e-4);
        }
    }
}
