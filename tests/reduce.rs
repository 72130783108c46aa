//! shaders/reduce.wgsl (`kairo::ops::reduce`: sum, mean, max over one
//! axis; row and wide kernels, multi-pass long axes) against the CPU
//! reference (src/reference/reduce.rs), on whichever adapter KAIRO_BACKEND
//! selects.

mod common;

use common::{assert_close, ctx, random};
use kairo::ops::{self, ReduceOp};
use kairo::{reference, Error, Tensor};

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
