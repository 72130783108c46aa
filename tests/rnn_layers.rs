//! Multi-layer / bidirectional recurrent stacks: forward against a CPU
//! composition of `reference::rnn::recurrent`, PyTorch parameter names,
//! finite-difference gradients, batch_first, variable lengths and
//! truncated BPTT.

mod common;

use common::{check_backward, ctx, random};
use kairo::autograd::{self, Var};
use kairo::nn::rnn::CellKind;
use kairo::nn::rnn_layers::RecurrentStack;
use kairo::nn::Module;
use kairo::ops::{BinaryOp, ReduceOp};
use kairo::reference::rnn::{recurrent, RecurrentWeights};
use kairo::Tensor;
use rand::SeedableRng;

/// Forward tolerance: as tests/rnn.rs (f32 dot products of ≤ ~30 terms
/// through ≤ 2 layers × 5 steps; a wrong index gives errors ~0.1).
const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;

fn stack(kind: CellKind, input: usize, hidden: usize, layers: usize, bi: bool, bf: bool, seed: u64) -> RecurrentStack {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    RecurrentStack::new(&ctx(), kind, input, hidden, layers, bi, bf, 0.0, &mut rng).unwrap()
}

fn cvar(d: &[f32], s: &[usize]) -> Var {
    Var::constant(Tensor::from_slice(&ctx(), d, s).unwrap())
}

fn pvar(d: &[f32], s: &[usize]) -> Var {
    Var::parameter(Tensor::from_slice(&ctx(), d, s).unwrap())
}

/// [slot] → (w_ih, w_hh, b_ih, b_hh), slot = layer·D + direction.
fn weights_of(s: &RecurrentStack) -> Vec<[Vec<f64>; 4]> {
    let f = |v: &Var| v.value().to_vec().unwrap().iter().map(|&a| a as f64).collect::<Vec<f64>>();
    s.layers.iter().flatten().map(|c| [f(&c.weight_ih), f(&c.weight_hh), f(&c.bias_ih), f(&c.bias_hh)]).collect()
}

struct Dims {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    layers: usize,
    dirs: usize,
}

/// CPU stack, each sequence alone at its own length: output (T, B, D·H)
/// (0 past the length), h_n and c_n (L·D, B, H).
#[allow(clippy::type_complexity)]
fn reference(
    kind: CellKind,
    x: &[f64],
    w: &[[Vec<f64>; 4]],
    lengths: &[usize],
    h0: Option<&[f64]>,
    c0: Option<&[f64]>,
    d: &Dims,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (t_all, b_all, h) = (d.steps, d.batch, d.hidden);
    let slots = d.layers * d.dirs;
    let mut out = vec![0.0; t_all * b_all * d.dirs * h];
    let mut hn = vec![0.0; slots * b_all * h];
    let mut cn = vec![0.0; slots * b_all * h];
    for b in 0..b_all {
        let len = lengths[b];
        let mut seq: Vec<f64> = (0..len).flat_map(|t| x[(t * b_all + b) * d.input..][..d.input].to_vec()).collect();
        let mut width = d.input;
        for k in 0..d.layers {
            let mut next = vec![0.0; len * d.dirs * h];
            for dir in 0..d.dirs {
                let slot = k * d.dirs + dir;
                let rev = |v: &[f64], f: usize| (0..len).rev().flat_map(|t| v[t * f..][..f].to_vec()).collect::<Vec<f64>>();
                let input = if dir == 1 { rev(&seq, width) } else { seq.clone() };
                let st = |s: Option<&[f64]>| s.map(|s| s[(slot * b_all + b) * h..][..h].to_vec());
                let (hs, cs) = (st(h0), st(c0));
                let ws = &w[slot];
                let r = recurrent(
                    kind,
                    &input,
                    RecurrentWeights { w_ih: &ws[0], w_hh: &ws[1], b_ih: &ws[2], b_hh: &ws[3] },
                    hs.as_deref(),
                    cs.as_deref(),
                    len,
                    1,
                    width,
                    h,
                );
                let o = if dir == 1 { rev(&r.output, h) } else { r.output };
                for t in 0..len {
                    next[(t * d.dirs + dir) * h..][..h].copy_from_slice(&o[t * h..][..h]);
                }
                hn[(slot * b_all + b) * h..][..h].copy_from_slice(&r.h_n);
                if let Some(c) = r.c_n {
                    cn[(slot * b_all + b) * h..][..h].copy_from_slice(&c);
                }
            }
            seq = next;
            width = d.dirs * h;
        }
        for t in 0..len {
            out[(t * b_all + b) * width..][..width].copy_from_slice(&seq[t * width..][..width]);
        }
    }
    (out, hn, cn)
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&a| a as f32).collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

fn check_stack_forward(kind: CellKind, lengths: Option<&[usize]>) {
    let d = Dims { steps: 5, batch: 4, input: 3, hidden: 5, layers: 2, dirs: 2 };
    let s = stack(kind, d.input, d.hidden, d.layers, true, false, 7);
    let slots = d.layers * d.dirs;
    let x = random(d.steps * d.batch * d.input, 1);
    let h0 = random(slots * d.batch * d.hidden, 2);
    let c0 = random(slots * d.batch * d.hidden, 3);
    let lstm = kind == CellKind::Lstm;
    let st = [slots, d.batch, d.hidden];
    let (h0v, c0v) = (cvar(&h0, &st), cvar(&c0, &st));
    let xv = cvar(&x, &[d.steps, d.batch, d.input]);
    let c0o = lstm.then_some(&c0v);
    let out = match lengths {
        Some(l) => s.forward_with_lengths(&xv, l, Some(&h0v), c0o).unwrap(),
        None => s.forward(&xv, Some(&h0v), c0o).unwrap(),
    };
    let full = vec![d.steps; d.batch];
    let lens = lengths.unwrap_or(&full);
    let (wo, wh, wc) =
        reference(kind, &f64s(&x), &weights_of(&s), lens, Some(&f64s(&h0)), lstm.then(|| f64s(&c0)).as_deref(), &d);
    let name = format!("{kind:?} lengths={lengths:?}");
    assert_eq!(out.output.shape(), [d.steps, d.batch, 2 * d.hidden]);
    assert_eq!(out.h_n.shape(), st);
    let got = out.output.value().to_vec().unwrap();
    common::assert_close(&format!("{name} output"), &got, &f32s(&wo), ATOL, RTOL);
    // Padded steps are exactly zero.
    for t in 0..d.steps {
        for b in 0..d.batch {
            if t >= lens[b] {
                assert!(got[(t * d.batch + b) * 2 * d.hidden..][..2 * d.hidden].iter().all(|&v| v == 0.0), "{name}: padded ({t}, {b})");
            }
        }
    }
    common::assert_close(&format!("{name} h_n"), &out.h_n.value().to_vec().unwrap(), &f32s(&wh), ATOL, RTOL);
    match &out.c_n {
        Some(c) => {
            assert!(lstm);
            assert_eq!(c.shape(), st);
            common::assert_close(&format!("{name} c_n"), &c.value().to_vec().unwrap(), &f32s(&wc), ATOL, RTOL);
        }
        None => assert!(!lstm),
    }
}

#[test]
fn two_layer_bidirectional_forward_matches_cpu_composition() {
    for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
        check_stack_forward(kind, None);
    }
}

#[test]
fn variable_lengths_match_each_sequence_alone() {
    for kind in [CellKind::Lstm, CellKind::Gru] {
        check_stack_forward(kind, Some(&[5, 2, 4, 2]));
    }
}

#[test]
fn parameter_names_are_pytorchs() {
    let s = stack(CellKind::Lstm, 3, 4, 2, true, false, 1);
    let names: Vec<String> = s.parameters().into_iter().map(|(n, _)| n).collect();
    let want = [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
    ];
    assert_eq!(names, want);
    let p = s.parameters();
    assert_eq!(p[8].1.shape(), [16, 8], "weight_ih_l1 takes D·H inputs");
    assert_eq!(p[1].1.shape(), [16, 4]);
}

/// x and one weight of each layer/direction of a 2-layer bidirectional
/// GRU, through output (then, on a fresh stack, through h_n), against
/// central differences of the CPU composition (tolerances of common).
#[test]
fn gru_stack_gradients_match_finite_differences() {
    let d = Dims { steps: 3, batch: 2, input: 2, hidden: 2, layers: 2, dirs: 2 };
    for (through_h_n, lengths) in [(false, None), (true, None), (false, Some([3usize, 2]))] {
        let s = stack(CellKind::Gru, d.input, d.hidden, d.layers, true, false, 11);
        let x = random(d.steps * d.batch * d.input, 5);
        let xv = pvar(&x, &[d.steps, d.batch, d.input]);
        // (slot, which weight): l0 w_hh, l0_reverse w_ih, l1 w_ih, l1_reverse w_hh.
        let picks = [(0usize, 1usize), (1, 0), (2, 0), (3, 1)];
        let cell = |slot: usize| &s.layers[slot / 2][slot % 2];
        let pick = |slot: usize, w: usize| if w == 0 { cell(slot).weight_ih.clone() } else { cell(slot).weight_hh.clone() };
        let mut vars = vec![xv.clone()];
        vars.extend(picks.iter().map(|&(slot, w)| pick(slot, w)));
        let data: Vec<Vec<f32>> = vars.iter().map(|v| v.value().to_vec().unwrap()).collect();
        let out = match lengths {
            Some(l) => s.forward_with_lengths(&xv, &l, None, None).unwrap(),
            None => s.forward(&xv, None, None).unwrap(),
        };
        let y = if through_h_n { out.h_n } else { out.output };
        let base = weights_of(&s);
        let lens = lengths.map(|l| l.to_vec()).unwrap_or(vec![d.steps; d.batch]);
        let cpu = |inp: &[Vec<f64>]| {
            let mut w = base.clone();
            for (i, &(slot, which)) in picks.iter().enumerate() {
                w[slot][which] = inp[i + 1].clone();
            }
            let (o, hn, _) = reference(CellKind::Gru, &inp[0], &w, &lens, None, None, &d);
            if through_h_n {
                hn
            } else {
                o
            }
        };
        let refs: Vec<&Var> = vars.iter().collect();
        check_backward(&format!("GRU stack h_n={through_h_n} lengths={lengths:?}"), &y, &refs, &data, &cpu);
    }
}

#[test]
fn batch_first_equals_time_first_transposed() {
    let (t, b, i, h) = (4, 3, 2, 3);
    for kind in [CellKind::Lstm, CellKind::Gru] {
        let tf = stack(kind, i, h, 2, true, false, 3);
        let bf = stack(kind, i, h, 2, true, true, 3);
        let x = random(t * b * i, 9);
        let xt: Vec<f32> = (0..b).flat_map(|bb| (0..t).flat_map(move |tt| (0..i).map(move |k| (tt, bb, k)))).map(|(tt, bb, k)| x[(tt * b + bb) * i + k]).collect();
        let a = tf.forward(&cvar(&x, &[t, b, i]), None, None).unwrap();
        let c = bf.forward(&cvar(&xt, &[b, t, i]), None, None).unwrap();
        assert_eq!(c.output.shape(), [b, t, 2 * h]);
        let (ao, co) = (a.output.value().to_vec().unwrap(), c.output.value().to_vec().unwrap());
        for tt in 0..t {
            for bb in 0..b {
                for k in 0..2 * h {
                    assert_eq!(ao[(tt * b + bb) * 2 * h + k], co[(bb * t + tt) * 2 * h + k], "{kind:?} ({tt}, {bb}, {k})");
                }
            }
        }
        assert_eq!(a.h_n.value().to_vec().unwrap(), c.h_n.value().to_vec().unwrap());
    }
}

/// Σ w ⊙ v as a scalar Var.
fn weighted_sum(v: &Var, w: &[f32]) -> Var {
    let p = autograd::binary(v, &cvar(w, v.shape()), BinaryOp::Mul).unwrap();
    let flat = autograd::reshape(&p, &[w.len()]).unwrap();
    autograd::reduce(&flat, 0, ReduceOp::Sum, false).unwrap()
}

fn grads(s: &RecurrentStack) -> Vec<Vec<f32>> {
    s.parameters().iter().map(|(_, v)| v.grad().map(|g| g.to_vec().unwrap()).unwrap_or_default()).collect()
}

fn zero(s: &RecurrentStack) {
    for (_, v) in s.parameters() {
        v.zero_grad();
    }
}

/// Gradients of a padded batch (params and x) equal those of running each
/// sequence alone at its own length, summed; x's padded steps get 0.
#[test]
fn variable_length_gradients_equal_separate_runs() {
    let (t, b, i, h) = (5, 3, 2, 3);
    let lens = [5usize, 2, 3];
    for kind in [CellKind::Lstm, CellKind::Gru] {
        let s = stack(kind, i, h, 2, true, false, 21);
        let x = random(t * b * i, 4);
        let w = random(t * b * 2 * h, 5);
        let wh = random(4 * b * h, 6);
        let xv = pvar(&x, &[t, b, i]);
        let out = s.forward_with_lengths(&xv, &lens, None, None).unwrap();
        let loss = autograd::binary(&weighted_sum(&out.output, &w), &weighted_sum(&out.h_n, &wh), BinaryOp::Add).unwrap();
        loss.backward().unwrap();
        let (g_batch, gx) = (grads(&s), xv.grad().unwrap().to_vec().unwrap());
        zero(&s);
        let mut gx_sep = vec![0.0f32; t * b * i];
        for bb in 0..b {
            let l = lens[bb];
            let xs: Vec<f32> = (0..l).flat_map(|tt| x[(tt * b + bb) * i..][..i].to_vec()).collect();
            let ws: Vec<f32> = (0..l).flat_map(|tt| w[(tt * b + bb) * 2 * h..][..2 * h].to_vec()).collect();
            let whs: Vec<f32> = (0..4).flat_map(|k| wh[(k * b + bb) * h..][..h].to_vec()).collect();
            let xsv = pvar(&xs, &[l, 1, i]);
            let o = s.forward(&xsv, None, None).unwrap();
            let loss = autograd::binary(&weighted_sum(&o.output, &ws), &weighted_sum(&o.h_n, &whs), BinaryOp::Add).unwrap();
            loss.backward().unwrap();
            let g = xsv.grad().unwrap().to_vec().unwrap();
            for tt in 0..l {
                gx_sep[(tt * b + bb) * i..][..i].copy_from_slice(&g[tt * i..][..i]);
            }
        }
        let g_sep = grads(&s);
        zero(&s);
        for (k, (a, c)) in g_batch.iter().zip(&g_sep).enumerate() {
            common::assert_close(&format!("{kind:?} param {k}"), a, c, 2e-5, 1e-4);
        }
        common::assert_close(&format!("{kind:?} dx"), &gx, &gx_sep, 2e-5, 1e-4);
        for tt in 0..t {
            for bb in 0..b {
                if tt >= lens[bb] {
                    assert!(gx[(tt * b + bb) * i..][..i].iter().all(|&v| v == 0.0));
                }
            }
        }
    }
}

/// TBPTT with k1 ≥ T is full BPTT (bit for bit); with k1 < T it differs
/// from full BPTT and equals the sum of per-chunk gradients run by hand.
#[test]
fn tbptt_matches_full_bptt_and_per_chunk_sums() {
    let (t, b, i, h) = (6, 2, 3, 4);
    let s = stack(CellKind::Lstm, i, h, 2, false, false, 31);
    let x = random(t * b * i, 12);
    let w = random(t * b * h, 13);
    let xv = cvar(&x, &[t, b, i]);
    let chunk_w = |start: usize, len: usize| w[start * b * h..(start + len) * b * h].to_vec();

    let out = s.forward(&xv, None, None).unwrap();
    weighted_sum(&out.output, &w).backward().unwrap();
    let full = grads(&s);
    zero(&s);

    for k1 in [6, 10] {
        s.tbptt(&xv, k1, None, None, |start, o| Ok(weighted_sum(&o.output, &chunk_w(start, o.output.shape()[0])))).unwrap();
        assert_eq!(grads(&s), full, "k1 = {k1}");
        zero(&s);
    }

    let k1 = 4;
    let (hn, cn) = s.tbptt(&xv, k1, None, None, |start, o| Ok(weighted_sum(&o.output, &chunk_w(start, o.output.shape()[0])))).unwrap();
    let tb = grads(&s);
    zero(&s);
    // By hand: chunk [0, 4), then [4, 6) from the first chunk's states as constants.
    let x1 = cvar(&x[..k1 * b * i], &[k1, b, i]);
    let o1 = s.forward(&x1, None, None).unwrap();
    weighted_sum(&o1.output, &chunk_w(0, k1)).backward().unwrap();
    let g1 = grads(&s);
    zero(&s);
    let st = [2, b, h];
    let h1 = cvar(&o1.h_n.value().to_vec().unwrap(), &st);
    let c1 = cvar(&o1.c_n.as_ref().unwrap().value().to_vec().unwrap(), &st);
    let x2 = cvar(&x[k1 * b * i..], &[t - k1, b, i]);
    let o2 = s.forward(&x2, Some(&h1), Some(&c1)).unwrap();
    weighted_sum(&o2.output, &chunk_w(k1, t - k1)).backward().unwrap();
    let g2 = grads(&s);
    zero(&s);
    let mut max_diff = 0.0f32;
    for (k, ((a, p), q)) in tb.iter().zip(&g1).zip(&g2).enumerate() {
        let sum: Vec<f32> = p.iter().zip(q).map(|(u, v)| u + v).collect();
        common::assert_close(&format!("tbptt param {k}"), a, &sum, 1e-6, 1e-5);
        for (u, v) in a.iter().zip(&full[k]) {
            max_diff = max_diff.max((u - v).abs());
        }
    }
    assert!(max_diff > 1e-3, "truncation must change the gradient (max diff {max_diff})");
    assert_eq!(hn.value().to_vec().unwrap(), o2.h_n.value().to_vec().unwrap());
    assert_eq!(cn.unwrap().value().to_vec().unwrap(), o2.c_n.unwrap().value().to_vec().unwrap());
    assert!(!hn.requires_grad(), "carried state is detached");
}
