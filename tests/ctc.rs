//! The CTC loss (`kairo::nn::ctc`, shaders/ctc.wgsl): forward and gradient
//! against the f64 CPU reference, gradients by finite differences, both
//! kernel layouts and both target layouts, the edges (empty targets,
//! impossible alignments, long sequences) and the errors.
//!
//! Covers both stems shaders/ctc.wgsl and ctc_subgroup.wgsl (the subgroup
//! forward), against src/reference/ctc.rs.

mod common;

use common::{assert_close, ctx, random};
use kairo::autograd;
use kairo::nn::ctc::{ctc_loss, CtcLayout, CtcOptions, CtcTargets, Reduction};
use kairo::reference::ctc as reference;
use kairo::{Error, Tensor, Var};

// Loss: a log-space recursion of T steps in f32; each step's lse rounds at
// ~1e-7 relative to the running value, so |loss| ~ 10-100 here drifts by
// ~1e-5 at most: 1e-4 relative plus 1e-4 absolute.
const LOSS_ATOL: f32 = 1e-4;
const LOSS_RTOL: f32 = 1e-4;
// Gradient entries lie in [−1, 1] (softmax minus a posterior); the
// posterior exp(α + β + nll − lp) inherits the loss's absolute error
// (~1e-5), so 1e-4 absolute.
const GRAD_ATOL: f32 = 1e-4;
const GRAD_RTOL: f32 = 1e-3;

// Subgroup runs as Serial where the adapter lacks subgroups (GL).
const LAYOUTS: [CtcLayout; 3] = [CtcLayout::Serial, CtcLayout::Workgroup, CtcLayout::Subgroup];
const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Sum, Reduction::Mean];

/// A batch: logits (T, N, C) from a seed, per-utterance labels and input lengths.
struct Case {
    name: &'static str,
    t: usize,
    c: usize,
    blank: usize,
    labels: Vec<Vec<u32>>,
    input_lengths: Vec<usize>,
    seed: u64,
}

impl Case {
    fn n(&self) -> usize {
        self.labels.len()
    }
    fn logits(&self) -> Vec<f32> {
        // Spread ×3 so the posteriors are not all flat.
        random(self.t * self.n() * self.c, self.seed).iter().map(|v| 3.0 * v).collect()
    }
    fn log_probs(&self) -> Vec<f32> {
        let x: Vec<f64> = self.logits().iter().map(|&v| v as f64).collect();
        reference::log_softmax(&x, self.c).iter().map(|&v| v as f32).collect()
    }
    fn target_lengths(&self) -> Vec<usize> {
        self.labels.iter().map(|l| l.len()).collect()
    }
    fn concatenated(&self) -> CtcTargets {
        CtcTargets::Concatenated(self.labels.concat())
    }
    fn padded(&self) -> CtcTargets {
        let s = self.labels.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut data = Vec::new();
        for l in &self.labels {
            data.extend_from_slice(l);
            // Padding with a class that would be an error if read (the blank).
            data.extend(std::iter::repeat_n(self.blank as u32, s - l.len()));
        }
        CtcTargets::Padded { data, s }
    }
    fn var(&self, data: &[f32]) -> Var {
        Var::parameter(Tensor::from_slice(&ctx(), data, &[self.t, self.n(), self.c]).unwrap())
    }
    fn loss(&self, input: &Var, targets: &CtcTargets, opts: CtcOptions) -> kairo::Result<Var> {
        ctc_loss(input, targets, &self.input_lengths, &self.target_lengths(), opts)
    }
    fn reference_loss(&self, lp: &[f64], reduction: Reduction, zero_infinity: bool) -> Vec<f64> {
        reference::ctc_loss(lp, self.t, self.c, &self.labels, &self.input_lengths, self.blank, reduction, zero_infinity)
    }
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn to32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "distinct labels, full lengths",
            t: 12,
            c: 5,
            blank: 0,
            labels: vec![vec![1, 2, 3], vec![4, 1, 2, 3, 4]],
            input_lengths: vec![12, 12],
            seed: 1,
        },
        Case {
            name: "repeated labels, blank 2, varied lengths",
            t: 10,
            c: 4,
            blank: 2,
            labels: vec![vec![1, 1, 3], vec![0, 0, 0], vec![3], vec![1, 3, 3, 0]],
            input_lengths: vec![10, 7, 3, 9],
            seed: 2,
        },
        Case {
            name: "empty targets, last-class blank",
            t: 6,
            c: 3,
            blank: 2,
            labels: vec![vec![], vec![0, 1], vec![]],
            input_lengths: vec![6, 4, 1],
            seed: 3,
        },
        Case {
            name: "tight: exactly the frames the repeats need",
            t: 5,
            c: 3,
            blank: 0,
            labels: vec![vec![1, 1, 1], vec![2, 1, 2, 1, 2]],
            input_lengths: vec![5, 5],
            seed: 4,
        },
    ]
}

#[test]
fn forward_and_gradient_match_reference_for_every_layout_reduction_target_layout_and_input() {
    for case in cases() {
        let lp = case.log_probs();
        let lp64 = to64(&lp);
        for layout in LAYOUTS {
            for reduction in REDUCTIONS {
                // Logits with padded targets: log_softmax inside the op. PyTorch's
                // gradient w.r.t. normalised log-probs is the gradient w.r.t. the
                // logits, so the same reference holds for both inputs.
                let logits = case.logits();
                for (tl, targets, from_logits) in [
                    ("concatenated", case.concatenated(), false),
                    ("padded", case.padded(), false),
                    ("padded, logits", case.padded(), true),
                ] {
                    let what = format!("{} / {layout:?} / {reduction:?} / {tl}", case.name);
                    let x = case.var(if from_logits { &logits } else { &lp });
                    let opts = CtcOptions { blank: case.blank, reduction, layout, from_logits, ..Default::default() };
                    let y = case.loss(&x, &targets, opts).unwrap();
                    let want = case.reference_loss(&lp64, reduction, false);
                    let expect_shape: &[usize] = if reduction == Reduction::None { &[case.n()] } else { &[] };
                    assert_eq!(y.shape(), expect_shape, "{what}");
                    assert_close(&format!("{what}: loss"), &y.value().to_vec().unwrap(), &to32(&want), LOSS_ATOL, LOSS_RTOL);
                    // Upstream: distinct per utterance for None, 1.7 for a scalar.
                    let g: Vec<f32> =
                        if reduction == Reduction::None { (0..case.n()).map(|i| 0.5 + i as f32).collect() } else { vec![1.7] };
                    y.backward_with(Tensor::from_slice(&ctx(), &g, y.shape()).unwrap()).unwrap();
                    let w = reference::reduction_weights(&case.labels, reduction);
                    let per: Vec<f64> = (0..case.n()).map(|i| w[i] * g[if g.len() == 1 { 0 } else { i }] as f64).collect();
                    let want_g = reference::ctc_grad(&lp64, case.t, case.c, &case.labels, &case.input_lengths, case.blank, &per);
                    assert_close(&format!("{what}: grad"), &x.grad().unwrap().to_vec().unwrap(), &to32(&want_g), GRAD_ATOL, GRAD_RTOL);
                }
            }
        }
    }
}

/// Finite differences with respect to the logits, through the fused path
/// (`from_logits`) and through an explicit log_softmax on the tape followed
/// by the log-prob path (PyTorch's usual `log_softmax → ctc_loss`).
#[test]
fn gradients_match_finite_differences_fused_and_through_log_softmax() {
    for case in cases() {
        for fused in [true, false] {
            for reduction in REDUCTIONS {
                let logits = case.logits();
                let x = case.var(&logits);
                let opts = CtcOptions { blank: case.blank, reduction, from_logits: fused, ..Default::default() };
                let y = if fused {
                    case.loss(&x, &case.concatenated(), opts).unwrap()
                } else {
                    let lp = autograd::softmax(&x, 2, true).unwrap();
                    case.loss(&lp, &case.concatenated(), opts).unwrap()
                };
                let cpu = |v: &[Vec<f64>]| case.reference_loss(&reference::log_softmax(&v[0], case.c), reduction, false);
                common::check_backward(&format!("{} fused={fused} {reduction:?}", case.name), &y, &[&x], &[logits], &cpu);
            }
        }
    }
}

#[test]
fn impossible_alignments_give_inf_or_zero_never_nan() {
    // Utterance 0: 3 labels with two repeats need 5 frames, has 4. Utterance
    // 1: 4 labels in 3 frames. Utterance 2 is possible.
    let case = Case {
        name: "impossible",
        t: 6,
        c: 4,
        blank: 0,
        labels: vec![vec![1, 1, 1], vec![1, 2, 3, 1], vec![2, 3]],
        input_lengths: vec![4, 3, 6],
        seed: 5,
    };
    let lp = case.log_probs();
    let lp64 = to64(&lp);
    let possible = reference::ctc_nll(&lp64, case.t, case.c, &case.labels, &case.input_lengths, 0)[2];
    assert!(possible.is_finite());
    for layout in LAYOUTS {
        for zero_infinity in [false, true] {
            for reduction in REDUCTIONS {
                let x = case.var(&lp);
                let opts = CtcOptions { reduction, zero_infinity, layout, ..Default::default() };
                let y = case.loss(&x, &case.concatenated(), opts).unwrap();
                let got = y.value().to_vec().unwrap();
                let want = to32(&case.reference_loss(&lp64, reduction, zero_infinity));
                let what = format!("{layout:?} zero_infinity={zero_infinity} {reduction:?}");
                if zero_infinity {
                    assert!(got.iter().all(|v| v.is_finite()), "{what}: {got:?}");
                } else {
                    assert_eq!(got[0], f32::INFINITY, "{what}: +inf, not a large finite stand-in");
                }
                assert_close(&what, &got, &want, LOSS_ATOL, LOSS_RTOL);
                y.backward_with(Tensor::full(&ctx(), y.shape(), 1.0).unwrap()).unwrap();
                let grad = x.grad().unwrap().to_vec().unwrap();
                assert!(grad.iter().all(|v| v.is_finite()), "{what}: gradient has NaN/inf");
                let row = |t: usize, n: usize| &grad[(t * 3 + n) * 4..(t * 3 + n) * 4 + 4];
                for t in 0..case.t {
                    assert!(row(t, 0).iter().chain(row(t, 1)).all(|&v| v == 0.0), "{what}: impossible utterances get zero gradient");
                }
                assert!(row(0, 2).iter().any(|&v| v != 0.0), "{what}: the possible utterance still learns");
            }
        }
    }
}

#[test]
fn empty_target_loss_is_the_all_blank_path() {
    // With no labels the only alignment is blank at every frame.
    let case = Case { name: "empty", t: 7, c: 3, blank: 1, labels: vec![vec![]], input_lengths: vec![5], seed: 6 };
    let lp = case.log_probs();
    let y = case.loss(&case.var(&lp), &case.concatenated(), CtcOptions { blank: 1, reduction: Reduction::None, ..Default::default() });
    let want: f32 = -(0..5).map(|t| lp[t * 3 + 1]).sum::<f32>();
    assert_close("all-blank", &y.unwrap().value().to_vec().unwrap(), &[want], LOSS_ATOL, LOSS_RTOL);
}

/// T = 2500 frames and 300 labels (L = 601): a serial invocation would
/// loop 1.5 M times, far over llvmpipe's 65535 cap, so this checks the
/// chunked dispatches (and α/β in global memory) against the reference.
#[test]
fn long_sequences_match_reference() {
    let (t, c) = (2500, 12);
    let mut labels = vec![Vec::new(), Vec::new()];
    for i in 0..300u32 {
        labels[0].push(1 + (i * 7 + i / 5) % 11);
        labels[1].push(1 + (i % 3)); // no repeats inside 3-cycles
    }
    labels[1].truncate(200);
    let case = Case { name: "long", t, c, blank: 0, labels, input_lengths: vec![2500, 2100], seed: 7 };
    let lp = case.log_probs();
    let lp64 = to64(&lp);
    let want = case.reference_loss(&lp64, Reduction::None, false);
    let want_g = reference::ctc_grad(&lp64, t, c, &case.labels, &case.input_lengths, 0, &[1.0, 1.0]);
    for layout in LAYOUTS {
        let x = case.var(&lp);
        let opts = CtcOptions { reduction: Reduction::None, layout, ..Default::default() };
        let y = case.loss(&x, &case.concatenated(), opts).unwrap();
        // Losses ~ 5000 after 2500 steps: relative 1e-4 as the short cases.
        assert_close(&format!("long {layout:?} loss"), &y.value().to_vec().unwrap(), &to32(&want), LOSS_ATOL, LOSS_RTOL);
        y.backward_with(Tensor::full(&ctx(), &[2], 1.0).unwrap()).unwrap();
        // α + β and the likelihood each drift ~1e-7 × 5000 in f32 over 2500
        // steps, which would scale every posterior by ~1% (seen before the
        // kernels divided posteriors by their per-frame total). What is left
        // is the drift between positions within a frame: ≤ 5e-4 seen, so 1e-3.
        assert_close(&format!("long {layout:?} grad"), &x.grad().unwrap().to_vec().unwrap(), &to32(&want_g), 1e-3, GRAD_RTOL);
    }
}

/// The subgroup layout's own long case: T = 2500 with L = 95 (the longest
/// it takes, every lane holding positions) and L = 61. Unchunked, one lane
/// would loop ~75 000 times (past llvmpipe's 65535 cap), so this checks its
/// chunked dispatches and the α it reloads at each chunk start.
#[test]
fn long_sequences_match_reference_subgroup() {
    let (t, c) = (2500, 12);
    let mut labels = vec![Vec::new(), Vec::new()];
    for i in 0..47u32 {
        labels[0].push(1 + (i * 7 + i / 5) % 11);
        labels[1].push(1 + (i % 3));
    }
    labels[1].truncate(30);
    let case = Case { name: "long subgroup", t, c, blank: 0, labels, input_lengths: vec![2500, 2100], seed: 9 };
    let lp = case.log_probs();
    let lp64 = to64(&lp);
    let want = case.reference_loss(&lp64, Reduction::None, false);
    let want_g = reference::ctc_grad(&lp64, t, c, &case.labels, &case.input_lengths, 0, &[1.0, 1.0]);
    let logits = case.logits();
    for from_logits in [false, true] {
        let x = case.var(if from_logits { &logits } else { &lp });
        let opts = CtcOptions { reduction: Reduction::None, layout: CtcLayout::Subgroup, from_logits, ..Default::default() };
        let y = case.loss(&x, &case.concatenated(), opts).unwrap();
        assert_close("long subgroup loss", &y.value().to_vec().unwrap(), &to32(&want), LOSS_ATOL, LOSS_RTOL);
        if !from_logits {
            y.backward_with(Tensor::full(&ctx(), &[2], 1.0).unwrap()).unwrap();
            assert_close("long subgroup grad", &x.grad().unwrap().to_vec().unwrap(), &to32(&want_g), 1e-3, GRAD_RTOL);
        }
    }
}

#[test]
fn invalid_inputs_are_errors() {
    let c = ctx();
    let x = Var::parameter(Tensor::from_slice(&c, &random(4 * 2 * 3, 8), &[4, 2, 3]).unwrap());
    let ok = CtcTargets::Concatenated(vec![1, 2, 1]);
    let opts = CtcOptions::default();
    let bad = |r: kairo::Result<Var>, why: &str| match r {
        Err(Error::InvalidArgument(_) | Error::InvalidShape { .. } | Error::Shape { .. }) => {}
        other => panic!("{why}: expected an error, got {other:?}"),
    };
    assert!(ctc_loss(&x, &ok, &[4, 4], &[2, 1], opts).is_ok());
    bad(ctc_loss(&x, &CtcTargets::Concatenated(vec![1, 0, 1]), &[4, 4], &[2, 1], opts), "label is the blank");
    bad(ctc_loss(&x, &CtcTargets::Concatenated(vec![1, 3, 1]), &[4, 4], &[2, 1], opts), "label ≥ C");
    bad(ctc_loss(&x, &ok, &[4, 5], &[2, 1], opts), "input length > T");
    bad(ctc_loss(&x, &ok, &[0, 4], &[2, 1], opts), "input length 0");
    bad(ctc_loss(&x, &ok, &[4, 4], &[2, 2], opts), "target lengths do not sum to the labels");
    bad(ctc_loss(&x, &ok, &[4, 4, 4], &[1, 1, 1], opts), "three lengths for a batch of two");
    bad(ctc_loss(&x, &ok, &[4], &[3], opts), "one length for a batch of two");
    let padded = CtcTargets::Padded { data: vec![1, 2, 1, 2], s: 2 };
    bad(ctc_loss(&x, &padded, &[4, 4], &[3, 1], opts), "target length over the padded row");
    bad(ctc_loss(&x, &CtcTargets::Padded { data: vec![1, 2, 1], s: 2 }, &[4, 4], &[2, 1], opts), "padded data not N·S");
    bad(ctc_loss(&x, &ok, &[4, 4], &[2, 1], CtcOptions { blank: 3, ..opts }), "blank ≥ C");
    let empty = Var::parameter(Tensor::zeros(&c, &[4, 0, 3]).unwrap());
    bad(ctc_loss(&empty, &CtcTargets::Concatenated(vec![]), &[], &[], opts), "empty batch");
    let flat = Var::parameter(Tensor::zeros(&c, &[4, 3]).unwrap());
    bad(ctc_loss(&flat, &ok, &[4, 4], &[2, 1], opts), "rank 2 input");
    // The padding of a padded row is ignored, whatever it holds.
    let padded = CtcTargets::Padded { data: vec![1, 2, 1, 0], s: 2 };
    assert!(ctc_loss(&x, &padded, &[4, 4], &[2, 1], opts).is_ok());
}
