//! shaders/softmax.wgsl (`kairo::ops::softmax`, `log_softmax`) against
//! the CPU reference (src/reference/softmax.rs), on whichever adapter
//! KAIRO_BACKEND selects; long axes are composed from reductions.

mod common;

use common::{assert_close, ctx, random};
use kairo::ops;
use kairo::{reference, Tensor};

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
