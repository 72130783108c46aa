//! Layers on the tape: Linear, Embedding and Dropout against their CPU
//! references (src/reference/{matmul,embedding,dropout}.rs), finite-difference gradients, PyTorch
//! init ranges and parameter names, and the errors.

mod common;

use common::{assert_close, ctx, random};
use kairo::autograd::Var;
use kairo::nn::{Dropout, Embedding, Linear, Module};
use kairo::ops::Activation;
use kairo::reference::{dropout as refdrop, embedding as refemb, matmul as refmm};
use kairo::{Error, Tensor};
use rand::SeedableRng;

// Gradients are checked with common::check_backward (tolerances there);
// sums here run over ≤ 24 terms of size ≤ ~1.

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

/// Linear of the given shapes with random weights, gradients checked for x, W, b.
fn linear_gradcheck(batch: Option<usize>, rows: usize, in_f: usize, out_f: usize, act: Activation) {
    let c = ctx();
    let total_rows = batch.unwrap_or(1) * rows;
    let mut xshape = vec![rows, in_f];
    if let Some(b) = batch {
        xshape.insert(0, b);
    }
    let (xd, wd, bd) = (random(total_rows * in_f, 1), random(out_f * in_f, 2), random(out_f, 3));
    let lin = Linear::from_tensors(
        Tensor::from_slice(&c, &wd, &[out_f, in_f]).unwrap(),
        Some(Tensor::from_slice(&c, &bd, &[out_f]).unwrap()),
    )
    .unwrap();
    let x = Var::parameter(Tensor::from_slice(&c, &xd, &xshape).unwrap());
    let y = lin.forward_act(&x, act).unwrap();
    let mut yshape = xshape.clone();
    *yshape.last_mut().unwrap() = out_f;
    assert_eq!(y.shape(), yshape);

    // forward vs reference (K ≤ 8 terms: f32 rounding ~1e-6)
    let want = refmm::linear(&xd, &wd, Some(&bd), total_rows, in_f, out_f, act);
    assert_close("linear forward", &y.value().to_vec().unwrap(), &want, 1e-5, 1e-5);

    let cpu = |xs: &[Vec<f64>]| refmm::linear(&xs[0], &xs[1], Some(&xs[2]), total_rows, in_f, out_f, act);
    let params = [&x, &lin.weight, lin.bias.as_ref().unwrap()];
    common::check_backward(&format!("linear {xshape:?} {act:?}"), &y, &params, &[xd, wd, bd], &cpu);
}

#[test]
fn linear_2d_forward_and_gradients() {
    linear_gradcheck(None, 6, 5, 7, Activation::None);
    linear_gradcheck(None, 4, 8, 4, Activation::Tanh);
}

#[test]
fn linear_3d_forward_and_gradients() {
    linear_gradcheck(Some(3), 4, 5, 6, Activation::None);
    linear_gradcheck(Some(2), 4, 8, 8, Activation::Sigmoid);
}

#[test]
fn linear_without_bias() {
    let c = ctx();
    let lin = Linear::new(&c, 5, 3, false, &mut rng()).unwrap();
    assert!(lin.bias.is_none());
    let names: Vec<String> = lin.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
    let xd = random(4 * 5, 4);
    let y = lin.forward(&Var::constant(Tensor::from_slice(&c, &xd, &[4, 5]).unwrap())).unwrap();
    let wd = lin.weight.value().to_vec().unwrap();
    assert_close("linear no bias", &y.value().to_vec().unwrap(), &refmm::linear(&xd, &wd, None, 4, 5, 3, Activation::None), 1e-5, 1e-5);
}

#[test]
fn linear_init_ranges_and_names() {
    let c = ctx();
    let (in_f, out_f) = (64, 32);
    let lin = Linear::new(&c, in_f, out_f, true, &mut rng()).unwrap();
    assert_eq!(lin.weight.shape(), [out_f, in_f]);
    assert_eq!(lin.bias.as_ref().unwrap().shape(), [out_f]);
    let bound = 1.0 / (in_f as f32).sqrt();
    for (what, v) in [("weight", lin.weight.value().to_vec().unwrap()), ("bias", lin.bias.as_ref().unwrap().value().to_vec().unwrap())] {
        assert!(v.iter().all(|a| a.abs() <= bound), "{what} outside ±{bound}");
        // uniform, not squeezed: the extremes reach most of the way to the bound
        let max = v.iter().fold(0.0f32, |m, a| m.max(a.abs()));
        assert!(max > 0.8 * bound, "{what}: max |v| {max} vs bound {bound}");
    }
    let params = lin.parameters();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(params[0].1.name().as_deref(), Some("weight"));
    assert_eq!(params[1].1.name().as_deref(), Some("bias"));
    assert!(params.iter().all(|(_, v)| v.requires_grad()));
    let nested: Vec<String> = kairo::nn::prefixed("0", params).into_iter().map(|(n, _)| n).collect();
    assert_eq!(nested, ["0.weight", "0.bias"]);
}

#[test]
fn linear_wrong_input_width_names_both_shapes() {
    let c = ctx();
    let lin = Linear::new(&c, 5, 3, true, &mut rng()).unwrap();
    let x = Var::constant(Tensor::zeros(&c, &[2, 4]).unwrap());
    let e = lin.forward(&x).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("[2, 4]") && msg.contains("[3, 5]"), "{msg}");
    let x1 = Var::constant(Tensor::zeros(&c, &[5]).unwrap());
    assert!(lin.forward(&x1).is_err());
    assert!(Linear::new(&c, 0, 3, true, &mut rng()).is_err());
}

#[test]
fn embedding_forward_backward_with_duplicates_and_padding() {
    let c = ctx();
    let (num, dim) = (7, 5);
    let wd = random(num * dim, 10);
    for padding in [None, Some(2)] {
        let emb = Embedding::from_tensor(Tensor::from_slice(&c, &wd, &[num, dim]).unwrap(), padding).unwrap();
        // duplicates (3 ×4, 2 ×2 incl. the padding row), shape (2, 3, 2)
        let idx: Vec<u32> = vec![3, 0, 3, 2, 6, 3, 1, 2, 3, 5, 0, 6];
        for signed in [false, true] {
            let t = if signed {
                Tensor::from_i32(&c, &idx.iter().map(|&i| i as i32).collect::<Vec<_>>(), &[2, 3, 2]).unwrap()
            } else {
                Tensor::from_u32(&c, &idx, &[2, 3, 2]).unwrap()
            };
            emb.weight.zero_grad();
            let y = emb.forward(&t).unwrap();
            assert_eq!(y.shape(), [2, 3, 2, dim]);
            // a gather: exact
            assert_close("embedding forward", &y.value().to_vec().unwrap(), &refemb::embedding(&wd, num, dim, &idx), 0.0, 0.0);
            let dy = random(y.value().numel(), 11);
            y.backward_with(Tensor::from_slice(&c, &dy, y.shape()).unwrap()).unwrap();
            // sums of ≤ 4 terms in a fixed order: f32 rounding only
            let want = refemb::embedding_backward(&dy, num, dim, &idx, padding);
            assert_close("embedding backward", &emb.weight.grad().unwrap().to_vec().unwrap(), &want, 1e-6, 1e-6);
            if let Some(p) = padding {
                assert!(emb.weight.grad().unwrap().to_vec().unwrap()[p * dim..(p + 1) * dim].iter().all(|&v| v == 0.0));
            }
        }
    }
}

#[test]
fn embedding_backward_over_several_chunks() {
    // 70000 indices > two 32768-index passes; all hitting 3 rows.
    let c = ctx();
    let (num, dim) = (3, 2);
    let n = 70000;
    let idx: Vec<u32> = (0..n as u32).map(|i| (i * 7 + i / 5) % 3).collect();
    let wd = random(num * dim, 12);
    let emb = Embedding::from_tensor(Tensor::from_slice(&c, &wd, &[num, dim]).unwrap(), None).unwrap();
    let y = emb.forward(&Tensor::from_u32(&c, &idx, &[n]).unwrap()).unwrap();
    let dy = random(n * dim, 13);
    y.backward_with(Tensor::from_slice(&c, &dy, y.shape()).unwrap()).unwrap();
    // ~23000 f32 terms of size ≤ 1 with sums ~±100: rounding ≤ ~1e-3
    let want = refemb::embedding_backward(&dy, num, dim, &idx, None);
    assert_close("embedding backward, chunked", &emb.weight.grad().unwrap().to_vec().unwrap(), &want, 5e-3, 1e-4);
}

#[test]
fn embedding_out_of_range_gives_zero_rows_and_init() {
    let c = ctx();
    let emb = Embedding::new(&c, 4, 3, Some(1), &mut rng()).unwrap();
    let w = emb.weight.value().to_vec().unwrap();
    assert!(w[3..6].iter().all(|&v| v == 0.0), "padding row zeroed at init");
    let y = emb.forward(&Tensor::from_i32(&c, &[0, -1, 4, 3], &[4]).unwrap()).unwrap().value().to_vec().unwrap();
    assert_eq!(&y[0..3], &w[0..3]);
    assert!(y[3..9].iter().all(|&v| v == 0.0));
    assert_eq!(&y[9..12], &w[9..12]);
    let names: Vec<String> = emb.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
    assert_eq!(emb.weight.name().as_deref(), Some("weight"));
    // N(0, 1): mean and variance of 40000 samples
    let big = Embedding::new(&c, 200, 200, None, &mut rng()).unwrap().weight.value().to_vec().unwrap();
    let mean = big.iter().map(|&v| v as f64).sum::<f64>() / big.len() as f64;
    let var = big.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / big.len() as f64;
    assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    assert!(Embedding::from_tensor(Tensor::zeros(&c, &[4, 3]).unwrap(), Some(4)).is_err());
    assert!(matches!(emb.forward(&Tensor::zeros(&c, &[2]).unwrap()), Err(Error::DType { .. })));
}

#[test]
fn dropout_eval_is_identity() {
    let c = ctx();
    let d = Dropout::new(0.5, 1).unwrap();
    d.set_training(false);
    let xd = random(1000, 20);
    let x = Var::parameter(Tensor::from_slice(&c, &xd, &[1000]).unwrap());
    let y = d.forward(&x).unwrap();
    assert_eq!(y.value().to_vec().unwrap(), xd);
    assert_eq!(d.counter(), 0);
}

#[test]
fn dropout_training_statistics_scale_and_reference() {
    let c = ctx();
    let n = 100_000;
    for p in [0.1f32, 0.5, 0.8] {
        let d = Dropout::new(p, 42).unwrap();
        let ones = Var::constant(Tensor::full(&c, &[n], 1.0).unwrap());
        let y = d.forward(&ones).unwrap().value().to_vec().unwrap();
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64;
        // binomial: sd = sqrt(n p (1-p)) ≤ 158; allow 5 sd
        let sd = (n as f64 * p as f64 * (1.0 - p as f64)).sqrt();
        assert!((zeros - n as f64 * p as f64).abs() < 5.0 * sd, "p {p}: {zeros} zeros of {n}");
        let scale = 1.0 / (1.0 - p);
        assert!(y.iter().all(|&v| v == 0.0 || (v - scale).abs() <= 1e-6 * scale), "kept values scaled by 1/(1-p)");
        // the CPU hash is bit-identical
        let want = refdrop::dropout(&vec![1.0f32; n], 42, 0, p);
        assert_close("dropout vs reference", &y, &want, 1e-6, 1e-6);
    }
}

#[test]
fn dropout_seeds_and_counters() {
    let c = ctx();
    let n = 4096;
    let xd = random(n, 21);
    let x = Var::constant(Tensor::from_slice(&c, &xd, &[n]).unwrap());
    let mask = |y: &Var| y.value().to_vec().unwrap().iter().map(|&v| v != 0.0).collect::<Vec<bool>>();
    let (a, b) = (Dropout::new(0.3, 5).unwrap(), Dropout::new(0.3, 5).unwrap());
    let (a1, b1) = (mask(&a.forward(&x).unwrap()), mask(&b.forward(&x).unwrap()));
    assert_eq!(a1, b1, "same seed, same call: same mask");
    let a2 = mask(&a.forward(&x).unwrap());
    assert_ne!(a1, a2, "next call: new mask");
    assert_eq!(a.counter(), 2);
    let other = mask(&Dropout::new(0.3, 6).unwrap().forward(&x).unwrap());
    assert_ne!(a1, other, "other seed: other mask");
    // replaying the counter reproduces the mask
    a.set_counter(1);
    assert_eq!(mask(&a.forward(&x).unwrap()), a2);
}

#[test]
fn dropout_backward_is_masked_and_scaled() {
    let c = ctx();
    let n = 5000;
    let p = 0.4f32;
    let xd: Vec<f32> = random(n, 22).iter().map(|v| v + 2.0).collect(); // nonzero: y == 0 only where dropped
    let x = Var::parameter(Tensor::from_slice(&c, &xd, &[n]).unwrap());
    let d = Dropout::new(p, 9).unwrap();
    let y = d.forward(&x).unwrap().value().to_vec().unwrap();
    let dy = random(n, 23);
    let yv = d.forward(&x).unwrap(); // a fresh call: counter 1
    yv.backward_with(Tensor::from_slice(&c, &dy, &[n]).unwrap()).unwrap();
    let g = x.grad().unwrap().to_vec().unwrap();
    let ym = yv.value().to_vec().unwrap();
    let scale = 1.0 / (1.0 - p);
    let want: Vec<f32> = dy.iter().zip(&ym).map(|(&g, &y)| if y != 0.0 { g * scale } else { 0.0 }).collect();
    assert_close("dropout backward", &g, &want, 1e-6, 1e-6);
    assert_close("dropout backward vs reference", &g, &refdrop::dropout(&dy, 9, 1, p), 1e-6, 1e-6);
    assert_close("dropout forward vs reference", &y, &refdrop::dropout(&xd, 9, 0, p), 1e-6, 1e-6);
}

#[test]
fn dropout_p_bounds() {
    let c = ctx();
    for bad in [-0.1f32, 1.5, f32::NAN] {
        assert!(matches!(Dropout::new(bad, 0), Err(Error::InvalidArgument(_))), "p = {bad}");
    }
    let x = Var::constant(Tensor::from_slice(&c, &random(100, 24), &[10, 10]).unwrap());
    let all = Dropout::new(1.0, 0).unwrap().forward(&x).unwrap();
    assert!(all.value().to_vec().unwrap().iter().all(|&v| v == 0.0), "p = 1 drops everything");
    let none = Dropout::new(0.0, 0).unwrap().forward(&x).unwrap();
    assert_eq!(none.value().to_vec().unwrap(), x.value().to_vec().unwrap());
    assert!(Dropout::new(0.5, 0).unwrap().parameters().is_empty());
}
