//! Losses (src/nn/loss.rs, shaders/loss.wgsl): forward against the CPU
//! references for every reduction, GPU backward against central finite
//! differences of the references in f64, and the PyTorch corner cases
//! (ignore_index, all rows ignored, out-of-range targets, huge logits).

mod common;

use common::{assert_close, ctx, gradcheck, random};
use kairo::nn::loss::{binary_cross_entropy_with_logits, cross_entropy, mse_loss, Reduction};
use kairo::reference::loss as refl;
use kairo::{Tensor, Var};

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

// Forward: f32 kernels against f64 references over ≤ 64 terms of size ≤ ~10
// (exp/log on lavapipe are within a few ulp): 1e-5 absolute + 1e-5 relative.
const FATOL: f32 = 1e-5;
const FRTOL: f32 = 1e-5;

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(&ctx(), data, shape).unwrap()
}

fn param(data: &[f32], shape: &[usize]) -> Var {
    Var::parameter(t(data, shape))
}

fn scaled(n: usize, seed: u64, s: f32) -> Vec<f32> {
    random(n, seed).into_iter().map(|v| v * s).collect()
}

// ---- mse ---------------------------------------------------------------

#[test]
fn mse_forward_matches_reference() {
    let (x, y) = (random(20, 1), random(20, 2));
    for r in REDUCTIONS {
        let out = mse_loss(&param(&x, &[4, 5]), &Var::constant(t(&y, &[4, 5])), r).unwrap();
        let want: Vec<f32> = refl::mse_loss(&x, &y, r);
        let shape: &[usize] = if r == Reduction::None { &[4, 5] } else { &[] };
        assert_eq!(out.shape(), shape, "{r:?}");
        assert_close(&format!("mse {r:?}"), &out.value().to_vec().unwrap(), &want, FATOL, FRTOL);
    }
}

#[test]
fn mse_gradients_for_input_and_target() {
    for r in REDUCTIONS {
        gradcheck(
            &format!("mse {r:?}"),
            &[(random(20, 3), vec![4, 5]), (random(20, 4), vec![4, 5])],
            |v| mse_loss(&v[0], &v[1], r),
            |x| refl::mse_loss(&x[0], &x[1], r),
        );
    }
}

// ---- cross-entropy -----------------------------------------------------

#[test]
fn cross_entropy_forward_matches_reference_i32_and_u32() {
    let (n, c) = (8, 7);
    let x = scaled(n * c, 5, 3.0);
    let tg: Vec<i32> = vec![0, 6, 3, -100, 2, 5, -100, 1];
    for r in REDUCTIONS {
        for ignore in [Some(-100), None] {
            let targets = t_i32(&tg);
            let out = cross_entropy(&param(&x, &[n, c]), &targets, ignore, r).unwrap();
            let want: Vec<f32> = refl::cross_entropy(&x, n, c, &i64s(&tg), ignore.map(|v| v as i64), r);
            let name = format!("cross_entropy {r:?} ignore {ignore:?}");
            if ignore.is_none() {
                // -100 is then out of range: NaN, in the reference too.
                assert!(out.value().to_vec().unwrap().iter().any(|v| v.is_nan()), "{name}");
                assert!(want.iter().any(|v| v.is_nan()));
                continue;
            }
            assert_close(&name, &out.value().to_vec().unwrap(), &want, FATOL, FRTOL);
        }
        // U32 targets, nothing ignored.
        let tu: Vec<u32> = vec![0, 6, 3, 4, 2, 5, 0, 1];
        let out = cross_entropy(&param(&x, &[n, c]), &Tensor::from_u32(&ctx(), &tu, &[n]).unwrap(), None, r).unwrap();
        let ti: Vec<i64> = tu.iter().map(|&v| v as i64).collect();
        let want: Vec<f32> = refl::cross_entropy(&x, n, c, &ti, None, r);
        assert_close(&format!("cross_entropy u32 {r:?}"), &out.value().to_vec().unwrap(), &want, FATOL, FRTOL);
    }
}

#[test]
fn cross_entropy_many_classes_matches_reference() {
    // 3000 classes: long rows, sums of 3000 terms in f32 → 1e-4 relative.
    let (n, c) = (5, 3000);
    let x = scaled(n * c, 6, 5.0);
    let tg = vec![0, 2999, 1234, 7, 42];
    let out = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), None, Reduction::None).unwrap();
    let want: Vec<f32> = refl::cross_entropy(&x, n, c, &i64s(&tg), None, Reduction::None);
    assert_close("cross_entropy C=3000", &out.value().to_vec().unwrap(), &want, 1e-4, 1e-4);
}

#[test]
fn cross_entropy_gradients_with_and_without_ignored_rows() {
    let (n, c) = (6, 5);
    for (tg, ignore) in [(vec![0, 4, 2, 1, 3, 0], None), (vec![0, -1, 2, 1, -1, 4], Some(-1))] {
        for r in REDUCTIONS {
            let tgc = tg.clone();
            let ti = i64s(&tg);
            gradcheck(
                &format!("cross_entropy {r:?} ignore {ignore:?}"),
                &[(scaled(n * c, 7, 2.0), vec![n, c])],
                |v| cross_entropy(&v[0], &t_i32(&tgc), ignore, r),
                |x| refl::cross_entropy(&x[0], n, c, &ti, ignore.map(|v| v as i64), r),
            );
        }
    }
}

#[test]
fn cross_entropy_mean_divides_by_non_ignored_rows_only() {
    let (n, c) = (4, 3);
    let x = scaled(n * c, 8, 2.0);
    let tg = vec![1, -100, 2, -100];
    let none = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), Some(-100), Reduction::None).unwrap().value().to_vec().unwrap();
    assert_eq!((none[1], none[3]), (0.0, 0.0), "ignored rows contribute 0");
    let mean = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), Some(-100), Reduction::Mean).unwrap();
    assert_close("mean over 2 rows", &mean.value().to_vec().unwrap(), &[(none[0] + none[2]) / 2.0], FATOL, FRTOL);
    // Gradient rows of ignored targets are exactly zero.
    let v = param(&x, &[n, c]);
    cross_entropy(&v, &t_i32(&tg), Some(-100), Reduction::Mean).unwrap().backward().unwrap();
    let g = v.grad().unwrap().to_vec().unwrap();
    assert!(g[c..2 * c].iter().chain(&g[3 * c..]).all(|&d| d == 0.0), "{g:?}");
    // Non-ignored rows sum to zero (softmax − one-hot).
    assert!(g[..c].iter().sum::<f32>().abs() < 1e-6);
}

#[test]
fn cross_entropy_all_rows_ignored_mean_nan_sum_zero() {
    let (n, c) = (3, 4);
    let x = random(n * c, 9);
    let tg = vec![-100; n];
    let mean = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), Some(-100), Reduction::Mean).unwrap();
    assert!(mean.value().to_vec().unwrap()[0].is_nan(), "PyTorch: mean over no targets is NaN");
    let v = param(&x, &[n, c]);
    let sum = cross_entropy(&v, &t_i32(&tg), Some(-100), Reduction::Sum).unwrap();
    assert_eq!(sum.value().to_vec().unwrap(), vec![0.0]);
    sum.backward().unwrap();
    assert!(v.grad().unwrap().to_vec().unwrap().iter().all(|&d| d == 0.0));
    let none = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), Some(-100), Reduction::None).unwrap();
    assert_eq!(none.value().to_vec().unwrap(), vec![0.0; n]);
}

#[test]
fn cross_entropy_out_of_range_target_gives_nan() {
    let (n, c) = (4, 3);
    let x = random(n * c, 10);
    for bad in [3, 7, -2] {
        let tg = vec![0, bad, 2, 1];
        let none = cross_entropy(&param(&x, &[n, c]), &t_i32(&tg), Some(-100), Reduction::None).unwrap().value().to_vec().unwrap();
        assert!(none[1].is_nan() && !none[0].is_nan() && !none[2].is_nan() && !none[3].is_nan(), "target {bad}: {none:?}");
        let v = param(&x, &[n, c]);
        let mean = cross_entropy(&v, &t_i32(&tg), Some(-100), Reduction::Mean).unwrap();
        assert!(mean.value().to_vec().unwrap()[0].is_nan(), "target {bad}");
        mean.backward().unwrap();
        // Its gradient row is NaN too (the count is finite, so only that row).
        let g = v.grad().unwrap().to_vec().unwrap();
        assert!(g[c..2 * c].iter().all(|d| d.is_nan()) && g[..c].iter().all(|d| d.is_finite()), "{g:?}");
    }
    // u32 above 2^31 reads as negative: out of range as well.
    let tu = Tensor::from_u32(&ctx(), &[0, u32::MAX - 5], &[2]).unwrap();
    let out = cross_entropy(&param(&x[..2 * c], &[2, c]), &tu, None, Reduction::None).unwrap().value().to_vec().unwrap();
    assert!(out[1].is_nan() && out[0].is_finite(), "{out:?}");
}

#[test]
fn cross_entropy_rejects_bad_shapes_and_dtypes() {
    let x = param(&random(12, 11), &[4, 3]);
    let e = cross_entropy(&x, &t_i32(&[0, 1, 2]), None, Reduction::Mean).unwrap_err().to_string();
    assert!(e.contains("[4, 3]") && e.contains("[3]"), "{e}");
    let e = cross_entropy(&param(&random(12, 11), &[12]), &t_i32(&[0; 12]), None, Reduction::Mean).unwrap_err().to_string();
    assert!(e.contains("[12]"), "{e}");
    assert!(cross_entropy(&x, &t(&[0.0; 4], &[4]), None, Reduction::Mean).is_err(), "f32 targets");
    let wide = param(&vec![0.0; 10_001], &[1, 10_001]);
    let e = cross_entropy(&wide, &t_i32(&[0]), None, Reduction::Mean).unwrap_err().to_string();
    assert!(e.contains("10001"), "{e}");
}

// ---- binary cross-entropy with logits ----------------------------------

#[test]
fn bce_with_logits_forward_matches_reference() {
    let x = scaled(24, 12, 4.0);
    let y: Vec<f32> = random(24, 13).into_iter().map(|v| (v + 1.0) / 2.0).collect();
    for r in REDUCTIONS {
        let out = binary_cross_entropy_with_logits(&param(&x, &[2, 3, 4]), &Var::constant(t(&y, &[2, 3, 4])), r).unwrap();
        let shape: &[usize] = if r == Reduction::None { &[2, 3, 4] } else { &[] };
        assert_eq!(out.shape(), shape);
        let want: Vec<f32> = refl::bce_with_logits(&x, &y, r);
        assert_close(&format!("bce {r:?}"), &out.value().to_vec().unwrap(), &want, FATOL, FRTOL);
    }
}

#[test]
fn bce_with_logits_gradients_for_logits_and_targets() {
    for r in REDUCTIONS {
        gradcheck(
            &format!("bce {r:?}"),
            &[(scaled(15, 14, 3.0), vec![3, 5]), (random(15, 15).into_iter().map(|v| (v + 1.0) / 2.0).collect(), vec![3, 5])],
            |v| binary_cross_entropy_with_logits(&v[0], &v[1], r),
            |x| refl::bce_with_logits(&x[0], &x[1], r),
        );
    }
}

#[test]
fn bce_with_logits_constant_targets_get_no_gradient() {
    let x = param(&random(6, 16), &[6]);
    let y = Var::constant(t(&[1.0, 0.0, 1.0, 0.0, 0.5, 1.0], &[6]));
    binary_cross_entropy_with_logits(&x, &y, Reduction::Mean).unwrap().backward().unwrap();
    assert!(x.grad().is_some() && y.grad().is_none());
}

#[test]
fn bce_with_logits_is_finite_for_huge_logits() {
    let x = [100.0f32, -100.0, 100.0, -100.0, 80.0, -80.0];
    let y = [1.0f32, 0.0, 0.0, 1.0, 0.5, 0.5];
    let xv = param(&x, &[6]);
    let out = binary_cross_entropy_with_logits(&xv, &Var::constant(t(&y, &[6])), Reduction::None).unwrap();
    let got = out.value().to_vec().unwrap();
    assert!(got.iter().all(|v| v.is_finite()), "{got:?}");
    // Values ~100: f32 resolution there is ~1e-5.
    assert_close("bce ±100", &got, &refl::bce_with_logits(&x, &y, Reduction::None), 1e-4, 1e-6);
    let g = random(6, 17);
    out.backward_with(t(&g, &[6])).unwrap();
    let dx = xv.grad().unwrap().to_vec().unwrap();
    let want: Vec<f32> = (0..6).map(|i| ((1.0 / (1.0 + (-x[i] as f64).exp())) - y[i] as f64) as f32 * g[i]).collect();
    assert_close("bce ±100 dx", &dx, &want, 1e-6, 1e-5);
}

#[test]
fn shape_mismatches_name_both_shapes() {
    let a = param(&random(20, 18), &[4, 5]);
    let b = param(&random(20, 19), &[5, 4]);
    for e in [
        mse_loss(&a, &b, Reduction::Mean).unwrap_err().to_string(),
        binary_cross_entropy_with_logits(&a, &b, Reduction::Mean).unwrap_err().to_string(),
    ] {
        assert!(e.contains("[4, 5]") && e.contains("[5, 4]"), "{e}");
    }
}

fn t_i32(v: &[i32]) -> Tensor {
    Tensor::from_i32(&ctx(), v, &[v.len()]).unwrap()
}

fn i64s(v: &[i32]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}
