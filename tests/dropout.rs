//! The Dropout layer (`kairo::nn::Dropout`, shaders/dropout.wgsl): the
//! hashed mask against the bit-exact CPU reference (src/reference/dropout.rs),
//! its statistics and scale, seeds and counters, the masked backward, eval
//! mode and the bounds on p.

mod common;

use common::{assert_close, ctx, random};
use kairo::autograd::Var;
use kairo::nn::{Dropout, Module};
use kairo::reference::dropout as reference;
use kairo::{Error, Tensor};

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
        let want = reference::dropout(&vec![1.0f32; n], 42, 0, p);
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
    assert_close("dropout backward vs reference", &g, &reference::dropout(&dy, 9, 1, p), 1e-6, 1e-6);
    assert_close("dropout forward vs reference", &y, &reference::dropout(&xd, 9, 0, p), 1e-6, 1e-6);
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
