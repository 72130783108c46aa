//! BatchNorm2d (`kairo::nn::batchnorm`, shaders/batchnorm.wgsl): both
//! modes against the CPU reference, the running statistics, gradients by
//! finite differences, chunked channel sums.

mod common;

use common::{assert_close, ctx, gradcheck, random};
use kairo::nn::batchnorm::{batch_norm2d, BatchNorm2d};
use kairo::nn::Module;
use kairo::reference::batchnorm as reference;
use kairo::{Tensor, Var};

// Outputs are O(1) (normalised); the GPU sums ≤ 32768 values per partial in
// f32 around a shift, so the mean and variance carry relative errors of
// ~1e-6; 1e-4 absolute and relative leaves a wide margin without hiding a
// wrong statistic (which moves outputs by O(1)).
const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(&ctx(), data, shape).unwrap()
}

#[test]
fn training_mode_normalises_with_batch_statistics_and_updates_running_ones() {
    // (N, C, H, W): one chunk per channel, and 2·48·48 = 4608 values per
    // channel (five chunks of 1024, merged).
    for xs in [[2, 3, 5, 5], [4, 2, 1, 1], [2, 3, 48, 48]] {
        let c = xs[1];
        let n: usize = xs.iter().product();
        // Offset so |mean| ≫ std: the shifted sums must not cancel.
        let x: Vec<f32> = random(n, 1).iter().map(|v| 3.0 * v + 50.0).collect();
        let (w, b) = (random(c, 2), random(c, 3));
        let (rm0, rv0): (Vec<f32>, Vec<f32>) = (random(c, 4), random(c, 5).iter().map(|v| v + 1.5).collect());
        let (rm, rv) = (t(&rm0, &[c]), t(&rv0, &[c]));
        let y = batch_norm2d(
            &Var::constant(t(&x, &xs)),
            Some(&Var::constant(t(&w, &[c]))),
            Some(&Var::constant(t(&b, &[c]))),
            &rm,
            &rv,
            true,
            0.1,
            1e-5,
        )
        .unwrap();
        let (want, want_rm, want_rv) = reference::batch_norm2d(&x, xs, Some(&w), Some(&b), &rm0, &rv0, true, 0.1, 1e-5);
        assert_close(&format!("train y {xs:?}"), &y.value().to_vec().unwrap(), &want, ATOL, RTOL);
        assert_close(&format!("running_mean {xs:?}"), &rm.to_vec().unwrap(), &want_rm, 1e-4, 1e-5);
        assert_close(&format!("running_var {xs:?}"), &rv.to_vec().unwrap(), &want_rv, 1e-4, 1e-4);
    }
}

#[test]
fn eval_mode_uses_running_statistics_and_leaves_them() {
    let xs = [2, 3, 4, 4];
    let x = random(32 * 3, 6);
    let (rm0, rv0): (Vec<f32>, Vec<f32>) = (random(3, 7), random(3, 8).iter().map(|v| v + 1.5).collect());
    let bn = BatchNorm2d::new(&ctx(), 3).unwrap();
    bn.running_mean.write(&rm0).unwrap();
    bn.running_var.write(&rv0).unwrap();
    bn.set_training(false);
    assert!(!bn.clone().is_training(), "clones share the mode");
    let y = bn.forward(&Var::constant(t(&x, &xs))).unwrap();
    let (want, _, _) = reference::batch_norm2d(&x, xs, Some(&[1.0; 3]), Some(&[0.0; 3]), &rm0, &rv0, false, 0.1, 1e-5);
    assert_close("eval y", &y.value().to_vec().unwrap(), &want, ATOL, RTOL);
    assert_eq!(bn.running_mean.to_vec().unwrap(), rm0);
    assert_eq!(bn.running_var.to_vec().unwrap(), rv0);
}

#[test]
fn gradients_match_finite_differences_in_both_modes() {
    // Tolerances: common::GRAD_ATOL / GRAD_RTOL (explained there).
    for xs in [[2, 3, 3, 3], [3, 2, 2, 1]] {
        let c = xs[1];
        let n: usize = xs.iter().product();
        for training in [true, false] {
            let rm0 = random(c, 9);
            let rv0: Vec<f32> = random(c, 10).iter().map(|v| v + 1.5).collect();
            let inputs = [(random(n, 11), xs.to_vec()), (random(c, 12), vec![c]), (random(c, 13), vec![c])];
            gradcheck(
                &format!("batch_norm2d {xs:?} training={training}"),
                &inputs,
                // Fresh running statistics per call: each gradcheck forward runs once.
                |v| batch_norm2d(&v[0], Some(&v[1]), Some(&v[2]), &t(&rm0, &[c]), &t(&rv0, &[c]), training, 0.1, 1e-5),
                |x| {
                    let (rm, rv) = (rm0.iter().map(|&v| v as f64).collect::<Vec<_>>(), rv0.iter().map(|&v| v as f64).collect::<Vec<_>>());
                    reference::batch_norm2d(&x[0], xs, Some(&x[1]), Some(&x[2]), &rm, &rv, training, 0.1, 1e-5).0
                },
            );
        }
    }
}

#[test]
fn gradient_through_many_chunks() {
    // 2·40·40 = 3200 values per channel: four partials merged; checked by
    // finite differences on the input only at a few values would be slow, so
    // compare with the closed form dx = rstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    let xs = [2, 2, 40, 40];
    let n: usize = xs.iter().product();
    let x = random(n, 14);
    let dy = random(n, 15);
    let xv = Var::parameter(t(&x, &xs));
    let (rm, rv) = (t(&[0.0; 2], &[2]), t(&[1.0; 2], &[2]));
    let y = batch_norm2d(&xv, None, None, &rm, &rv, true, 0.1, 1e-5).unwrap();
    y.backward_with(t(&dy, &xs)).unwrap();
    let got = xv.grad().unwrap().to_vec().unwrap();
    let l = 1600;
    let mut want = vec![0.0f32; n];
    for c in 0..2 {
        let idx: Vec<usize> = (0..2).flat_map(|ni| (0..l).map(move |li| (ni * 2 + c) * l + li)).collect();
        let m = idx.len() as f64;
        let mean = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / m;
        let var = idx.iter().map(|&i| (x[i] as f64 - mean).powi(2)).sum::<f64>() / m;
        let rstd = 1.0 / (var + 1e-5).sqrt();
        let xhat = |i: usize| (x[i] as f64 - mean) * rstd;
        let mdy = idx.iter().map(|&i| dy[i] as f64).sum::<f64>() / m;
        let mdyx = idx.iter().map(|&i| dy[i] as f64 * xhat(i)).sum::<f64>() / m;
        for &i in &idx {
            want[i] = (rstd * (dy[i] as f64 - mdy - xhat(i) * mdyx)) as f32;
        }
    }
    assert_close("chunked dx", &got, &want, 1e-4, 1e-3);
}

#[test]
fn module_names_parameters_and_buffers_and_rejects_bad_shapes() {
    let c = ctx();
    let bn = BatchNorm2d::new(&c, 4).unwrap();
    let p: Vec<String> = bn.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(p, ["weight", "bias"]);
    let b: Vec<String> = bn.buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(b, ["running_mean", "running_var"]);
    assert_eq!(bn.running_var.to_vec().unwrap(), [1.0; 4]);
    let e = bn.forward(&Var::constant(Tensor::zeros(&c, &[2, 3, 2, 2]).unwrap())).unwrap_err();
    assert!(e.to_string().contains("[2, 3, 2, 2]") && e.to_string().contains("[4]"), "{e}");
    // One value per channel cannot be normalised in training mode (PyTorch errors too).
    assert!(bn.forward(&Var::constant(Tensor::zeros(&c, &[1, 4, 1, 1]).unwrap())).is_err());
    assert!(BatchNorm2d::new(&c, 0).is_err());
}
