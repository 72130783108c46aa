//! Every kernel against its CPU reference (src/reference), on whichever
//! adapter KAIRO_BACKEND selects. CI runs this file on Vulkan and on GL.

mod common;

use common::{assert_close, ctx, random};
use kairo::ops::{self, Activation, BinaryOp, MatmulOptions, MatmulVariant, ReduceOp, UnaryOp};
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
    // workgroup-tiled, subgroup, scalar); each variant with bias once more.
    let acts = [Activation::None, Activation::Relu, Activation::LeakyRelu(0.2), Activation::Tanh, Activation::Sigmoid];
    let epilogues = [MatmulVariant::R4x4, MatmulVariant::Tiled, MatmulVariant::Sg64x64, MatmulVariant::Scalar];
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

fn unary_case(op: UnaryOp, data: &[f32]) {
    let c = ctx();
    let x = Tensor::from_slice(&c, data, &[data.len()]).unwrap();
    let got = ops::unary(&x, op).unwrap().to_vec().unwrap();
    // Transcendentals on GPUs are accurate to a few ulp; 1e-5 relative covers it.
    assert_close(&format!("{op:?}"), &got, &reference::unary(data, op), 1e-6, 1e-5);
}

#[test]
fn unary_ops_match_reference() {
    let mut data = random(1000, 3);
    data.extend([0.0, -0.0, 30.0, -30.0, 100.0, -100.0, 1e-7]);
    for op in [
        UnaryOp::Scale(-2.5),
        UnaryOp::Relu,
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Neg,
        UnaryOp::AddScalar(0.75),
        UnaryOp::Clamp(-0.3, 0.4),
    ] {
        unary_case(op, &data);
    }
    let small: Vec<f32> = data.iter().map(|v| v.clamp(-20.0, 20.0)).collect();
    unary_case(UnaryOp::Exp, &small);
    let positive: Vec<f32> = data.iter().map(|v| v.abs() + 1e-3).collect();
    unary_case(UnaryOp::Log, &positive);
}

#[test]
fn unary_log_follows_pytorch_at_zero_and_below() {
    let c = ctx();
    let x = Tensor::from_slice(&c, &[0.0, -1.0, 1.0], &[3]).unwrap();
    let y = ops::unary(&x, UnaryOp::Log).unwrap().to_vec().unwrap();
    assert_eq!(y[0], f32::NEG_INFINITY);
    assert!(y[1].is_nan());
    assert_eq!(y[2], 0.0);
    assert!(matches!(ops::unary(&x, UnaryOp::Clamp(1.0, 0.0)), Err(Error::InvalidArgument(_))));
}

#[test]
fn unary_covers_more_than_one_dispatch_row() {
    // 70000 workgroups of 256 would exceed 65535 in x: the grid folds into y.
    let c = ctx();
    let n = 256 * 70_000;
    let x = Tensor::full(&c, &[n], 2.0).unwrap();
    let y = ops::unary(&x, UnaryOp::Scale(3.0)).unwrap();
    let s = ops::sum(&y, 0).unwrap().to_vec().unwrap();
    assert_close("sum of 6s", &s, &[6.0 * n as f32], 0.0, 1e-5);
}

#[test]
fn binary_ops_broadcast_like_numpy() {
    let c = ctx();
    let shapes: [(&[usize], &[usize]); 6] = [
        (&[5, 7], &[5, 7]),
        (&[5, 7], &[7]),
        (&[4, 1, 6], &[3, 1]),
        (&[1], &[2, 3, 4]),
        (&[2, 3, 1, 5], &[3, 4, 1]),
        (&[6, 1], &[1, 6]),
    ];
    for (i, (sa, sb)) in shapes.iter().enumerate() {
        let a = random(sa.iter().product(), 100 + i as u64);
        let b: Vec<f32> = random(sb.iter().product(), 200 + i as u64).iter().map(|v| v + 2.0).collect();
        let ta = Tensor::from_slice(&c, &a, sa).unwrap();
        let tb = Tensor::from_slice(&c, &b, sb).unwrap();
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            let out = ops::binary(&ta, &tb, op).unwrap();
            let (want, want_shape) = reference::binary(&a, sa, &b, sb, op);
            assert_eq!(out.shape(), want_shape.as_slice(), "{op:?} {sa:?} {sb:?}");
            assert_close(&format!("{op:?} {sa:?} {sb:?}"), &out.to_vec().unwrap(), &want, 1e-6, 1e-6);
        }
    }
    let a = Tensor::zeros(&c, &[2, 3]).unwrap();
    let b = Tensor::zeros(&c, &[4]).unwrap();
    let err = ops::add(&a, &b).unwrap_err().to_string();
    assert!(err.contains("[2, 3]") && err.contains("[4]"), "{err}");
}

#[test]
fn add_bias_along_each_axis() {
    let c = ctx();
    let shape = [2, 3, 4, 5];
    let x = random(120, 9);
    let tx = Tensor::from_slice(&c, &x, &shape).unwrap();
    for axis in 0..4 {
        let bias = random(shape[axis], 40 + axis as u64);
        let tb = Tensor::from_slice(&c, &bias, &[shape[axis]]).unwrap();
        let got = ops::add_bias(&tx, &tb, axis as isize).unwrap().to_vec().unwrap();
        let mut bshape = vec![1; 4 - axis];
        bshape[0] = shape[axis];
        let (want, _) = reference::binary(&x, &shape, &bias, &bshape, BinaryOp::Add);
        assert_close(&format!("add_bias axis {axis}"), &got, &want, 1e-6, 1e-6);
    }
    let tb = Tensor::zeros(&c, &[3]).unwrap();
    assert!(matches!(ops::add_bias(&tx, &tb, 0), Err(Error::Shape { .. })));
    assert!(matches!(ops::add_bias(&tx, &tb, 4), Err(Error::InvalidShape { .. })));
    assert!(ops::add_bias(&tx, &tb, -3).is_ok());
}

#[test]
fn reductions_match_reference_on_every_axis() {
    let c = ctx();
    let shape = [3, 5, 7];
    let x = random(105, 17);
    let tx = Tensor::from_slice(&c, &x, &shape).unwrap();
    for axis in 0..3 {
        let (outer, d, inner) = (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product());
        for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
            let out = ops::reduce(&tx, axis as isize, op, false).unwrap();
            let mut want_shape = shape.to_vec();
            want_shape.remove(axis);
            assert_eq!(out.shape(), want_shape.as_slice());
            let want = reference::reduce(&x, outer, d, inner, op);
            assert_close(&format!("{op:?} axis {axis}"), &out.to_vec().unwrap(), &want, 1e-5, 1e-5);
            let kept = ops::reduce(&tx, axis as isize, op, true).unwrap();
            assert_eq!(kept.shape()[axis], 1);
        }
    }
    assert!(matches!(ops::sum(&tx, 3), Err(Error::InvalidShape { .. })));
    let empty = Tensor::zeros(&c, &[2, 0]).unwrap();
    assert!(matches!(ops::max(&empty, 1), Err(Error::InvalidShape { .. })));
}

#[test]
fn long_row_reductions_use_the_wide_kernel_and_match() {
    let c = ctx();
    // (4, 50000): few outputs with long rows, and (50000,) reduced to one value.
    let x = random(200_000, 21);
    let tx = Tensor::from_slice(&c, &x, &[4, 50_000]).unwrap();
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
        let got = ops::reduce(&tx, 1, op, false).unwrap().to_vec().unwrap();
        // Summing 50000 values in f32 in a different order than the f64
        // reference: error ~ sqrt(n)·eps·max|x| ≈ 3e-5, so 1e-3 absolute.
        assert_close(&format!("wide {op:?}"), &got, &reference::reduce(&x, 4, 50_000, 1, op), 1e-3, 1e-4);
    }
    let negative: Vec<f32> = x.iter().map(|v| v.abs() - 3.0).collect();
    let tn = Tensor::from_slice(&c, &negative, &[200_000]).unwrap();
    let got = ops::max(&tn, 0).unwrap().to_vec().unwrap();
    assert_close("wide max of negatives", &got, &reference::reduce(&negative, 1, 200_000, 1, ReduceOp::Max), 0.0, 0.0);
}

#[test]
fn long_axes_reduce_in_several_passes_and_match() {
    // Rows longer than one invocation may loop on software adapters (65535
    // iterations): many outputs (row kernel) and one output (wide kernel).
    let c = ctx();
    let x = random(300 * 70_000, 8);
    let tx = Tensor::from_slice(&c, &x, &[300, 70_000]).unwrap();
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
        let got = ops::reduce(&tx, 1, op, false).unwrap().to_vec().unwrap();
        // A sequential f32 sum of 70000 terms of size ≤ 1 with partial sums
        // near 150: error ~ sqrt(n)·eps·150 ≈ 3e-3; 1e-2 leaves a margin.
        assert_close(&format!("rows of 70000 {op:?}"), &got, &reference::reduce(&x, 300, 70_000, 1, op), 1e-2, 1e-4);
        let got = ops::reduce(&tx.reshape(&[300 * 70_000]).unwrap(), 0, op, false).unwrap().to_vec().unwrap();
        let want = reference::reduce(&x, 1, 300 * 70_000, 1, op);
        // 21M f32 values summed in another order than the f64 reference.
        assert_close(&format!("all 21M {op:?}"), &got, &want, 0.5, 1e-4);
    }
}

#[test]
fn long_axis_softmax_is_composed_and_matches() {
    let c = ctx();
    let x: Vec<f32> = random(3 * 20_000, 44).iter().map(|v| v * 20.0).collect();
    let tx = Tensor::from_slice(&c, &x, &[3, 20_000]).unwrap();
    let sm = ops::softmax(&tx, 1).unwrap().to_vec().unwrap();
    assert_close("softmax 20000", &sm, &reference::softmax(&x, 3, 20_000, 1, false), 1e-7, 1e-4);
    let lsm = ops::log_softmax(&tx, 1).unwrap().to_vec().unwrap();
    assert_close("log_softmax 20000", &lsm, &reference::softmax(&x, 3, 20_000, 1, true), 1e-4, 1e-5);
}

#[test]
fn softmax_and_log_softmax_match_reference() {
    let c = ctx();
    let shape = [4, 6, 9];
    let x: Vec<f32> = random(216, 31).iter().map(|v| v * 30.0).collect();
    let tx = Tensor::from_slice(&c, &x, &shape).unwrap();
    for axis in 0..3 {
        let (outer, d, inner) = (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product());
        let sm = ops::softmax(&tx, axis as isize).unwrap().to_vec().unwrap();
        assert_close(&format!("softmax axis {axis}"), &sm, &reference::softmax(&x, outer, d, inner, false), 1e-6, 1e-5);
        let lsm = ops::log_softmax(&tx, axis as isize).unwrap().to_vec().unwrap();
        assert_close(&format!("log_softmax axis {axis}"), &lsm, &reference::softmax(&x, outer, d, inner, true), 1e-5, 1e-5);
    }
    // Large logits stay finite.
    let big = Tensor::from_slice(&c, &[1000.0, 0.0, -1000.0], &[3]).unwrap();
    let s = ops::softmax(&big, -1).unwrap().to_vec().unwrap();
    assert_eq!(s, vec![1.0, 0.0, 0.0]);
    let l = ops::log_softmax(&big, -1).unwrap().to_vec().unwrap();
    assert_eq!(l[0], 0.0);
    assert!(l.iter().all(|v| v.is_finite()));
}
