//! shaders/elementwise.wgsl (`kairo::ops::unary`, `binary`, `add_bias`)
//! against the CPU reference (src/reference/elementwise.rs), on whichever
//! adapter KAIRO_BACKEND selects.

mod common;

use common::{assert_close, ctx, random};
use kairo::ops::{self, BinaryOp, UnaryOp};
use kairo::{reference, Error, Tensor};

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
