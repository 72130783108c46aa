//! matmul (`kairo::ops::matmul`): shaders/matmul.wgsl, matmul_scalar.wgsl
//! and matmul_subgroup.wgsl are three implementations of one op (picked by
//! `MatmulVariant`), so this one file tests all three against the CPU
//! reference (src/reference/matmul.rs), on whichever adapter KAIRO_BACKEND
//! selects; then the Linear layer built on it: forward, finite-difference
//! gradients, PyTorch init ranges and parameter names, and the errors.

mod common;

use common::{assert_close, ctx, random, seeded_rng};
use kairo::autograd::Var;
use kairo::nn::{Linear, Module};
use kairo::ops::{self, Activation, MatmulOptions, MatmulVariant};
use kairo::{reference, Error, Tensor};

// f32 products of length K against an f64 reference: the error grows like
// sqrt(K)·eps·|a||b|; with |values| ≤ 1 and K ≤ 300, 1e-4 absolute plus
// 1e-4 relative leaves a margin of ~10x over what the kernels show.
const MM_ATOL: f32 = 1e-4;
const MM_RTOL: f32 = 1e-4;

struct Case {
    batch: Option<(usize, bool, bool)>, // (batch, a batched, b batched)
    m: usize,
    n: usize,
    k: usize,
}

fn run_matmul(case: &Case, ta: bool, tb: bool, bias: bool, act: Activation, variant: MatmulVariant) {
    let c = ctx();
    let (m, n, k) = (case.m, case.n, case.k);
    let (batch, ab, bb) = case.batch.unwrap_or((1, false, false));
    let a_mat = if ta { [k, m] } else { [m, k] };
    let b_mat = if tb { [n, k] } else { [k, n] };
    let a_count = if ab { batch } else { 1 };
    let b_count = if bb { batch } else { 1 };
    let a = random(a_count * m * k, 11 + m as u64);
    let b = random(b_count * k * n, 23 + n as u64);
    let bias_v = random(n, 5);
    let shape = |mat: [usize; 2], batched: bool| if batched { vec![batch, mat[0], mat[1]] } else { mat.to_vec() };
    let ta_t = Tensor::from_slice(&c, &a, &shape(a_mat, ab)).unwrap();
    let tb_t = Tensor::from_slice(&c, &b, &shape(b_mat, bb)).unwrap();
    let tbias = Tensor::from_slice(&c, &bias_v, &[n]).unwrap();
    let o = MatmulOptions { trans_a: ta, trans_b: tb, bias: bias.then_some(&tbias), activation: act, variant };
    let out = ops::matmul_ex(&ta_t, &tb_t, &o).unwrap();
    let want_shape = if ab || bb { vec![batch, m, n] } else { vec![m, n] };
    assert_eq!(out.shape(), want_shape.as_slice());
    let got = out.to_vec().unwrap();
    let mut want = Vec::new();
    for z in 0..batch {
        let az = if ab { &a[z * m * k..(z + 1) * m * k] } else { &a[..] };
        let bz = if bb { &b[z * k * n..(z + 1) * k * n] } else { &b[..] };
        want.extend(reference::matmul(az, bz, m, n, k, ta, tb, bias.then_some(&bias_v[..]), act));
    }
    let what = format!("{variant:?} ta={ta} tb={tb} bias={bias} {act:?} batch={:?} {m}x{n}x{k}", case.batch);
    assert_close(&what, &got, &want, MM_ATOL, MM_RTOL);
}

#[test]
fn matmul_every_variant_and_transpose_matches_reference() {
    // Multiples of 4 that are not multiples of any tile, so edge tiles are hit;
    // 2-D, batched, and a 2-D operand shared across the batch.
    let cases = [
        Case { batch: None, m: 68, n: 36, k: 20 },
        Case { batch: None, m: 132, n: 260, k: 64 },
        Case { batch: Some((3, true, true)), m: 20, n: 44, k: 28 },
        Case { batch: Some((2, true, false)), m: 36, n: 12, k: 8 },
        Case { batch: Some((2, false, true)), m: 8, n: 72, k: 4 },
    ];
    for v in MatmulVariant::ALL.into_iter().chain([MatmulVariant::Auto]) {
        for case in &cases {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                run_matmul(case, ta, tb, false, Activation::None, v);
            }
        }
    }
}

#[test]
fn matmul_any_shape_falls_back_to_scalar_and_matches() {
    // Sizes that are not multiples of 4 route to matmul_scalar.wgsl.
    for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 9, 33), (65, 31, 70), (2, 130, 3)] {
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            run_matmul(&Case { batch: None, m, n, k }, ta, tb, false, Activation::None, MatmulVariant::Auto);
        }
        run_matmul(&Case { batch: Some((2, true, false)), m, n, k }, false, false, true, Activation::Relu, MatmulVariant::Auto);
    }
}

#[test]
fn matmul_fused_bias_and_activations_match_reference() {
    // Every activation through each epilogue implementation (vec4 register,
    // workgroup-tiled, workgroup-staged, subgroup, scalar); each variant with
    // bias once more.
    let acts = [Activation::None, Activation::Relu, Activation::LeakyRelu(0.2), Activation::Tanh, Activation::Sigmoid];
    let epilogues = [MatmulVariant::R4x4, MatmulVariant::Tiled, MatmulVariant::Wg128x128, MatmulVariant::Sg64x64, MatmulVariant::Scalar];
    for act in acts {
        for v in epilogues {
            run_matmul(&Case { batch: None, m: 24, n: 40, k: 16 }, false, false, true, act, v);
        }
        run_matmul(&Case { batch: None, m: 7, n: 9, k: 5 }, false, true, true, act, MatmulVariant::Auto);
    }
    for v in MatmulVariant::ALL {
        run_matmul(&Case { batch: Some((2, true, false)), m: 24, n: 40, k: 16 }, true, false, true, Activation::Relu, v);
    }
}

#[test]
fn matmul_workgroup_staged_variants_any_multiple_of_4() {
    // The GPU kernels (128x128 and 64x64 tiles, K slices of 8 and 16) at
    // sizes that are multiples of 4 but not of a tile or a slice: one block,
    // K shorter than a slice, K ending mid-slice, edge tiles in M and N.
    let shapes = [(4, 4, 4), (12, 100, 4), (132, 68, 36), (260, 124, 12), (100, 260, 100), (128, 132, 20)];
    let cases = shapes.map(|(m, n, k)| Case { batch: None, m, n, k });
    let acts = [Activation::None, Activation::Relu, Activation::LeakyRelu(0.2), Activation::Tanh, Activation::Sigmoid];
    for v in [MatmulVariant::Wg128x128, MatmulVariant::Wg64x64] {
        for case in &cases {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                run_matmul(case, ta, tb, false, Activation::None, v);
            }
        }
        for (i, act) in acts.into_iter().enumerate() {
            let case = &cases[2 + i % 3];
            run_matmul(case, i % 2 == 1, i >= 3, true, act, v);
        }
        // batched, and a 2-D operand broadcast across the batch
        for (batch, ab, bb) in [(3, true, true), (2, true, false), (2, false, true)] {
            for (ta, tb) in [(false, false), (true, true)] {
                run_matmul(&Case { batch: Some((batch, ab, bb)), m: 132, n: 68, k: 36 }, ta, tb, true, Activation::Relu, v);
            }
        }
    }
}

#[test]
fn matmul_large_enough_to_autotune_matches_reference() {
    run_matmul(&Case { batch: None, m: 128, n: 128, k: 128 }, false, false, false, Activation::None, MatmulVariant::Auto);
    run_matmul(&Case { batch: None, m: 128, n: 128, k: 128 }, true, false, false, Activation::None, MatmulVariant::Auto);
    run_matmul(&Case { batch: None, m: 128, n: 128, k: 128 }, false, true, false, Activation::None, MatmulVariant::Auto);
}

#[test]
fn matmul_rejects_mismatched_shapes_naming_both() {
    let c = ctx();
    let a = Tensor::zeros(&c, &[4, 5]).unwrap();
    let b = Tensor::zeros(&c, &[6, 7]).unwrap();
    let err = ops::matmul(&a, &b).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Shape { .. }), "{err:?}");
    assert!(msg.contains("[4, 5]") && msg.contains("[6, 7]"), "{msg}");
    // batch sizes that disagree
    let a3 = Tensor::zeros(&c, &[2, 4, 5]).unwrap();
    let b3 = Tensor::zeros(&c, &[3, 5, 4]).unwrap();
    assert!(matches!(ops::matmul(&a3, &b3), Err(Error::Shape { .. })));
    // wrong rank, wrong bias, wrong dtype
    let v = Tensor::zeros(&c, &[5]).unwrap();
    assert!(matches!(ops::matmul(&v, &b), Err(Error::InvalidShape { .. })));
    let sq = Tensor::zeros(&c, &[5, 5]).unwrap();
    let bad_bias = Tensor::zeros(&c, &[4]).unwrap();
    let o = MatmulOptions { bias: Some(&bad_bias), ..Default::default() };
    assert!(matches!(ops::matmul_ex(&sq, &sq, &o), Err(Error::Shape { .. })));
    let labels = Tensor::from_u32(&c, &[0; 25], &[5, 5]).unwrap();
    assert!(matches!(ops::matmul(&labels, &sq), Err(Error::DType { .. })));
}

// Linear: y = act(x·Wᵀ + b), one matmul with trans_b and the fused epilogue.
// Gradients are checked with common::check_backward (tolerances there);
// sums here run over ≤ 24 terms of size ≤ ~1.

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
    let want = reference::matmul::linear(&xd, &wd, Some(&bd), total_rows, in_f, out_f, act);
    assert_close("linear forward", &y.value().to_vec().unwrap(), &want, 1e-5, 1e-5);

    let cpu = |xs: &[Vec<f64>]| reference::matmul::linear(&xs[0], &xs[1], Some(&xs[2]), total_rows, in_f, out_f, act);
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
    let lin = Linear::new(&c, 5, 3, false, &mut seeded_rng(7)).unwrap();
    assert!(lin.bias.is_none());
    let names: Vec<String> = lin.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
    let xd = random(4 * 5, 4);
    let y = lin.forward(&Var::constant(Tensor::from_slice(&c, &xd, &[4, 5]).unwrap())).unwrap();
    let wd = lin.weight.value().to_vec().unwrap();
    assert_close("linear no bias", &y.value().to_vec().unwrap(), &reference::matmul::linear(&xd, &wd, None, 4, 5, 3, Activation::None), 1e-5, 1e-5);
}

#[test]
fn linear_init_ranges_and_names() {
    let c = ctx();
    let (in_f, out_f) = (64, 32);
    let lin = Linear::new(&c, in_f, out_f, true, &mut seeded_rng(7)).unwrap();
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
    let lin = Linear::new(&c, 5, 3, true, &mut seeded_rng(7)).unwrap();
    let x = Var::constant(Tensor::zeros(&c, &[2, 4]).unwrap());
    let e = lin.forward(&x).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("[2, 4]") && msg.contains("[3, 5]"), "{msg}");
    let x1 = Var::constant(Tensor::zeros(&c, &[5]).unwrap());
    assert!(lin.forward(&x1).is_err());
    assert!(Linear::new(&c, 0, 3, true, &mut seeded_rng(7)).is_err());
}
