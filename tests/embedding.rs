//! The Embedding layer (`kairo::nn::Embedding`, shaders/embedding.wgsl):
//! the gather and its chunked scatter-add backward against the CPU
//! reference (src/reference/embedding.rs), padding rows, out-of-range
//! indices, PyTorch init and parameter names, and the errors.

mod common;

use common::{assert_close, ctx, random, seeded_rng};
use kairo::nn::{Embedding, Module};
use kairo::reference::embedding as reference;
use kairo::{Error, Tensor};

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
            assert_close("embedding forward", &y.value().to_vec().unwrap(), &reference::embedding(&wd, num, dim, &idx), 0.0, 0.0);
            let dy = random(y.value().numel(), 11);
            y.backward_with(Tensor::from_slice(&c, &dy, y.shape()).unwrap()).unwrap();
            // sums of ≤ 4 terms in a fixed order: f32 rounding only
            let want = reference::embedding_backward(&dy, num, dim, &idx, padding);
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
    let want = reference::embedding_backward(&dy, num, dim, &idx, None);
    assert_close("embedding backward, chunked", &emb.weight.grad().unwrap().to_vec().unwrap(), &want, 5e-3, 1e-4);
}

#[test]
fn embedding_out_of_range_gives_zero_rows_and_init() {
    let c = ctx();
    let emb = Embedding::new(&c, 4, 3, Some(1), &mut seeded_rng(7)).unwrap();
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
    let big = Embedding::new(&c, 200, 200, None, &mut seeded_rng(7)).unwrap().weight.value().to_vec().unwrap();
    let mean = big.iter().map(|&v| v as f64).sum::<f64>() / big.len() as f64;
    let var = big.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / big.len() as f64;
    assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    assert!(Embedding::from_tensor(Tensor::zeros(&c, &[4, 3]).unwrap(), Some(4)).is_err());
    assert!(matches!(emb.forward(&Tensor::zeros(&c, &[2]).unwrap()), Err(Error::DType { .. })));
}
