//! Deep Speech 2's look-ahead (row) convolution (`kairo::nn::lookahead`,
//! shaders/lookahead.wgsl): forward and gradients against the CPU reference.

mod common;

use common::{assert_close, ctx, gradcheck, random};
use kairo::nn::lookahead::LookAhead;
use kairo::nn::Module;
use kairo::reference::lookahead as reference;
use kairo::{Error, Tensor, Var};
use rand::SeedableRng;

// Forward: each output is a sum of at most τ+2 products of values in
// [-1, 1) (≤ 5 terms here), so f32 rounding stays below ~1e-6; 1e-5
// absolute plus 1e-5 relative leaves a margin without hiding a wrong tap.
const FWD_ATOL: f32 = 1e-5;
const FWD_RTOL: f32 = 1e-5;

fn layer(f: usize, context: usize, bias: bool, seed: u64) -> (LookAhead, Vec<f32>, Option<Vec<f32>>) {
    let c = ctx();
    let w = random((context + 1) * f, seed);
    let b = bias.then(|| random(f, seed + 1));
    let bt = b.as_ref().map(|b| Tensor::from_slice(&c, b, &[f]).unwrap());
    let l = LookAhead::from_tensors(Tensor::from_slice(&c, &w, &[context + 1, f]).unwrap(), bt).unwrap();
    (l, w, b)
}

#[test]
fn forward_matches_reference_for_every_context_with_and_without_bias() {
    let c = ctx();
    // (T, B, F, τ): τ = 0, 1, 3, and T < τ + 1 (every step reads padding).
    for (t, b, f, context) in [(7, 3, 5, 0), (7, 3, 5, 1), (9, 2, 4, 3), (2, 3, 4, 3), (1, 2, 3, 1)] {
        for bias in [false, true] {
            let (l, w, bv) = layer(f, context, bias, 10 + context as u64);
            let x = random(t * b * f, 20 + t as u64);
            let xv = Var::constant(Tensor::from_slice(&c, &x, &[t, b, f]).unwrap());
            let y = l.forward(&xv).unwrap();
            assert_eq!(y.shape(), &[t, b, f]);
            let want = reference::lookahead(&x, &w, bv.as_deref(), t, b, f, context);
            assert_close(&format!("lookahead T={t} B={b} F={f} τ={context} bias={bias}"), &y.value().to_vec().unwrap(), &want, FWD_ATOL, FWD_RTOL);
        }
    }
}

#[test]
fn context_zero_is_elementwise_scaling() {
    let c = ctx();
    let (t, b, f) = (4, 3, 6);
    let (l, w, _) = layer(f, 0, false, 3);
    let x = random(t * b * f, 4);
    let y = l.forward(&Var::constant(Tensor::from_slice(&c, &x, &[t, b, f]).unwrap())).unwrap().value().to_vec().unwrap();
    let want: Vec<f32> = x.iter().enumerate().map(|(i, &v)| v * w[i % f]).collect();
    // One product per element, the same f32 multiply on both sides.
    assert_close("τ = 0 scaling", &y, &want, 0.0, 0.0);
}

#[test]
fn gradients_for_x_weight_and_bias_match_finite_differences() {
    // Tolerances: common::GRAD_ATOL / GRAD_RTOL (explained there).
    for (t, b, f, context) in [(6, 2, 3, 0), (6, 2, 3, 1), (5, 2, 3, 3), (2, 2, 3, 3)] {
        for bias in [false, true] {
            let mut inputs = vec![
                (random(t * b * f, 30), vec![t, b, f]),
                (random((context + 1) * f, 31), vec![context + 1, f]),
            ];
            if bias {
                inputs.push((random(f, 32), vec![f]));
            }
            gradcheck(
                &format!("lookahead T={t} B={b} F={f} τ={context} bias={bias}"),
                &inputs,
                // The given Vars as the layer's parameters, so gradients reach them.
                |v| LookAhead { context, weight: v[1].clone(), bias: v.get(2).cloned() }.forward(&v[0]),
                |x| reference::lookahead(&x[0], &x[1], x.get(2).map(|b| b.as_slice()), t, b, f, context),
            );
        }
    }
}

#[test]
fn long_sequence_weight_gradient_uses_chunks() {
    // T·B = 70 000 rows: three chunks of ≤ 32768 rows, summed by ops::sum.
    let c = ctx();
    let (t, b, f, context) = (35_000, 2, 2, 2);
    let (l, w, bv) = layer(f, context, true, 40);
    let x = random(t * b * f, 41);
    let xv = Var::parameter(Tensor::from_slice(&c, &x, &[t, b, f]).unwrap());
    let y = l.forward(&xv).unwrap();
    let want_y = reference::lookahead(&x, &w, bv.as_deref(), t, b, f, context);
    assert_close("long forward", &y.value().to_vec().unwrap(), &want_y, FWD_ATOL, FWD_RTOL);

    let dy = random(t * b * f, 42);
    y.backward_with(Tensor::from_slice(&c, &dy, &[t, b, f]).unwrap()).unwrap();
    let (dx, dw, db) = reference::lookahead_backward(&x, &w, &dy, t, b, f, context);
    assert_close("long dx", &xv.grad().unwrap().to_vec().unwrap(), &dx, FWD_ATOL, FWD_RTOL);
    // dW and db sum 70 000 products of size ≤ 1 in f32: the sums are random
    // walks of size ~√70000·0.33 ≈ 90, and rounding error grows like
    // n·ε·|term| in the worst case (70000 · 6e-8 ≈ 4e-3), typically far
    // less; 1e-2 absolute plus 1e-4 relative bounds it.
    assert_close("long dW", &l.weight.grad().unwrap().to_vec().unwrap(), &dw, 1e-2, 1e-4);
    assert_close("long db", &l.bias.as_ref().unwrap().grad().unwrap().to_vec().unwrap(), &db, 1e-2, 1e-4);
}

#[test]
fn new_initialises_within_bound_and_names_parameters() {
    let c = ctx();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let l = LookAhead::new(&c, 5, 3, true, &mut rng).unwrap();
    assert_eq!(l.context, 3);
    assert_eq!(l.weight.shape(), &[4, 5]);
    let names: Vec<String> = l.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let bound = 1.0 / 2.0; // 1/√(τ+1)
    for v in l.weight.value().to_vec().unwrap().into_iter().chain(l.bias.as_ref().unwrap().value().to_vec().unwrap()) {
        assert!((-bound..bound).contains(&v), "{v} outside ±{bound}");
    }
    let no_bias = LookAhead::new(&c, 5, 0, false, &mut rng).unwrap();
    assert_eq!(no_bias.parameters().len(), 1);
    assert!(LookAhead::new(&c, 0, 1, false, &mut rng).is_err());
}

#[test]
fn shape_errors_name_both_shapes() {
    let c = ctx();
    let (l, _, _) = layer(4, 2, true, 50);
    // Feature width of x (5) differs from W's (4).
    let x = Var::constant(Tensor::zeros(&c, &[3, 2, 5]).unwrap());
    let e = l.forward(&x).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("[3, 2, 5]") && msg.contains("[3, 4]"), "{msg}");
    // x not 3-D.
    let x2 = Var::constant(Tensor::zeros(&c, &[6, 4]).unwrap());
    let e = l.forward(&x2).unwrap_err();
    assert!(matches!(e, Error::InvalidShape { .. }), "{e}");
    assert!(e.to_string().contains("[6, 4]"), "{e}");
    // Bias of the wrong width.
    let w = Tensor::zeros(&c, &[2, 4]).unwrap();
    let e = LookAhead::from_tensors(w, Some(Tensor::zeros(&c, &[3]).unwrap())).unwrap_err();
    assert!(e.to_string().contains("[2, 4]") && e.to_string().contains("[3]"), "{e}");
}
