//! The tape: every differentiable op's GPU backward against central finite
//! differences of its CPU reference in f64, plus accumulation, freezing,
//! inference mode and batching of a whole step into one submit.

mod common;

use common::{ctx, fresh_ctx, gradcheck, random};
use kairo::autograd::{self, Var};
use kairo::ops::{Activation, BinaryOp, ReduceOp, UnaryOp};
use kairo::{reference, Error, Tensor};

// Gradient checks go through common::gradcheck (tolerances explained there).

fn input(n: &[usize], seed: u64) -> (Vec<f32>, Vec<usize>) {
    (random(n.iter().product(), seed), n.to_vec())
}

#[test]
fn matmul_backward_every_transpose_bias_and_activation() {
    let (m, n, k) = (6, 8, 5);
    let acts = [Activation::None, Activation::Relu, Activation::LeakyRelu(0.1), Activation::Tanh, Activation::Sigmoid];
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for act in acts {
            let a = input(&if ta { [k, m] } else { [m, k] }, 1);
            let b = input(&if tb { [n, k] } else { [k, n] }, 2);
            let bias = input(&[n], 3);
            gradcheck(
                &format!("matmul ta={ta} tb={tb} {act:?}"),
                &[a, b, bias],
                |v| autograd::matmul(&v[0], &v[1], Some(&v[2]), ta, tb, act),
                |x| reference::matmul(&x[0], &x[1], m, n, k, ta, tb, Some(&x[2]), act),
            );
        }
    }
}

#[test]
fn batched_matmul_backward_sums_a_shared_operand_over_the_batch() {
    let (batch, m, n, k) = (3, 4, 8, 4); // multiples of 4: the vec4 kernels
    gradcheck(
        "batched matmul, shared B",
        &[input(&[batch, m, k], 4), input(&[k, n], 5)],
        |v| autograd::matmul(&v[0], &v[1], None, false, false, Activation::None),
        |x| {
            (0..batch)
                .flat_map(|z| {
                    reference::matmul(&x[0][z * m * k..(z + 1) * m * k], &x[1], m, n, k, false, false, None, Activation::None)
                })
                .collect()
        },
    );
}

#[test]
fn binary_backward_reduces_broadcast_axes() {
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
        let (sa, sb) = (vec![3, 1, 5], vec![4, 1]);
        let a = input(&sa, 6);
        // Keep divisors away from 0.
        let b = (random(4, 7).iter().map(|v| v + 2.0).collect(), sb.clone());
        gradcheck(
            &format!("{op:?} broadcast"),
            &[a, b],
            |v| autograd::binary(&v[0], &v[1], op),
            |x| reference::binary(&x[0], &sa, &x[1], &sb, op).0,
        );
    }
}

#[test]
fn unary_backward_every_op() {
    let ops = [
        UnaryOp::Scale(-1.5),
        UnaryOp::Relu,
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Clamp(-0.5, 0.5),
        UnaryOp::Neg,
        UnaryOp::AddScalar(3.0),
    ];
    for op in ops {
        // Inputs away from kinks (0, ±0.5) so ε steps never cross one; log needs x > 0.
        let data: Vec<f32> = random(40, 8)
            .iter()
            .map(|&v| {
                let v = if v.abs() < 0.05 { v + 0.1 } else { v };
                let v = if (v.abs() - 0.5).abs() < 0.05 { v * 1.2 } else { v };
                if op == UnaryOp::Log { v.abs() + 0.1 } else { v * 2.0 }
            })
            .collect();
        gradcheck(&format!("{op:?}"), &[(data, vec![5, 8])], |v| autograd::unary(&v[0], op), |x| reference::unary(&x[0], op));
    }
}

#[test]
fn reduction_backward_sum_mean_max() {
    let shape = [3, 4, 5];
    for axis in 0..3usize {
        let (outer, d, inner) = (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product());
        for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
            gradcheck(
                &format!("{op:?} axis {axis}"),
                &[input(&shape, 9 + axis as u64)],
                |v| autograd::reduce(&v[0], axis as isize, op, false),
                |x| reference::reduce(&x[0], outer, d, inner, op),
            );
        }
    }
}

#[test]
fn max_backward_shares_the_gradient_among_ties() {
    let c = ctx();
    let x = Var::parameter(Tensor::from_slice(&c, &[1.0, 3.0, 3.0, 2.0], &[4]).unwrap());
    autograd::reduce(&x, 0, ReduceOp::Max, false).unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn softmax_and_log_softmax_backward() {
    let shape = [3, 6];
    for axis in 0..2usize {
        let (outer, d, inner) = (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product());
        for log in [false, true] {
            gradcheck(
                &format!("softmax log={log} axis {axis}"),
                &[input(&shape, 12)],
                |v| autograd::softmax(&v[0], axis as isize, log),
                |x| reference::softmax(&x[0], outer, d, inner, log),
            );
        }
    }
}

#[test]
fn a_composite_graph_with_reuse_and_reshape() {
    // y = sum(tanh(x·W + b) * x·W), x·W used twice: gradients add across uses.
    let (m, n, k) = (4, 4, 8);
    gradcheck(
        "composite",
        &[input(&[m, k], 13), input(&[k, n], 14), input(&[n], 15)],
        |v| {
            let xw = autograd::matmul(&v[0], &v[1], None, false, false, Activation::None)?;
            let h = autograd::unary(&autograd::binary(&xw, &autograd::reshape(&v[2], &[1, n])?, BinaryOp::Add)?, UnaryOp::Tanh)?;
            let p = autograd::binary(&h, &xw, BinaryOp::Mul)?;
            autograd::reduce(&autograd::reshape(&p, &[m * n])?, 0, ReduceOp::Sum, true)
        },
        |x| {
            let xw = reference::matmul(&x[0], &x[1], m, n, k, false, false, None, Activation::None);
            let (pre, _) = reference::binary(&xw, &[m, n], &x[2], &[1, n], BinaryOp::Add);
            let h = reference::unary(&pre, UnaryOp::Tanh);
            let (p, _) = reference::binary(&h, &[m, n], &xw, &[m, n], BinaryOp::Mul);
            reference::reduce(&p, 1, m * n, 1, ReduceOp::Sum)
        },
    );
}

#[test]
fn gradients_accumulate_until_zeroed_and_frozen_leaves_get_none() {
    let c = ctx();
    let w = Var::parameter(Tensor::from_slice(&c, &[1.0, 2.0], &[2]).unwrap());
    let frozen = Var::parameter(Tensor::from_slice(&c, &[5.0, 7.0], &[2]).unwrap());
    frozen.set_frozen(true).unwrap();
    let loss = || {
        let p = autograd::binary(&w, &frozen, BinaryOp::Mul).unwrap();
        autograd::reduce(&p, 0, ReduceOp::Sum, false).unwrap()
    };
    loss().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec().unwrap(), vec![5.0, 7.0]);
    loss().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec().unwrap(), vec![10.0, 14.0], "second call adds");
    assert!(frozen.grad().is_none());
    w.zero_grad();
    assert!(w.grad().is_none());
    // Only frozen inputs: nothing is recorded, and backward says why.
    w.set_frozen(true).unwrap();
    let l = loss();
    assert!(!l.requires_grad());
    assert!(matches!(l.backward(), Err(Error::InvalidArgument(_))));
}

#[test]
fn no_grad_records_nothing_and_backward_needs_a_scalar() {
    let c = ctx();
    let w = Var::parameter(Tensor::from_slice(&c, &[1.0, 2.0, 3.0], &[3]).unwrap());
    let y = kairo::no_grad(|| autograd::unary(&w, UnaryOp::Tanh).unwrap());
    assert!(!y.requires_grad());
    assert!(kairo::autograd::grad_enabled());
    let v = autograd::unary(&w, UnaryOp::Tanh).unwrap();
    assert!(matches!(v.backward(), Err(Error::InvalidShape { .. })));
    let wrong = Tensor::zeros(&c, &[2]).unwrap();
    assert!(matches!(v.backward_with(wrong), Err(Error::Shape { .. })));
}

#[test]
fn forward_and_backward_of_a_step_submit_once() {
    let c = fresh_ctx();
    let x = Var::constant(Tensor::from_slice(&c, &random(16 * 8, 1), &[16, 8]).unwrap());
    let w = Var::parameter(Tensor::from_slice(&c, &random(8 * 4, 2), &[8, 4]).unwrap());
    let b = Var::parameter(Tensor::from_slice(&c, &random(4, 3), &[4]).unwrap());
    let step = || {
        w.zero_grad();
        b.zero_grad();
        let h = autograd::matmul(&x, &w, Some(&b), false, false, Activation::Tanh).unwrap();
        let loss = autograd::reduce(&autograd::reshape(&h, &[64]).unwrap(), 0, ReduceOp::Mean, false).unwrap();
        loss.backward().unwrap();
        w.grad().unwrap().to_vec().unwrap()
    };
    let first = step();
    let before = c.counters();
    let second = step();
    let after = c.counters();
    assert_eq!(first, second);
    assert_eq!(after.submits - before.submits, 1, "forward + backward + readback: {before:?} -> {after:?}");
}
