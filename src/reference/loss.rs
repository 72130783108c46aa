//! CPU references for the losses in `nn::loss` (shaders/loss.wgsl): plain loops in f64,
//! PyTorch semantics. `Mean` and `Sum` return one element.

use super::Real;
use crate::nn::loss::Reduction;

fn reduce<T: Real>(per: Vec<f64>, denom: f64, reduction: Reduction) -> Vec<T> {
    match reduction {
        Reduction::None => per.into_iter().map(T::from_f64).collect(),
        Reduction::Sum => vec![T::from_f64(per.iter().sum())],
        Reduction::Mean => vec![T::from_f64(per.iter().sum::<f64>() / denom)],
    }
}

/// (input − target)², reduced.
pub fn mse_loss<T: Real>(input: &[T], target: &[T], reduction: Reduction) -> Vec<T> {
    let per: Vec<f64> = input
        .iter()
        .zip(target)
        .map(|(&x, &y)| {
            let d = x.to_f64() - y.to_f64();
            d * d
        })
        .collect();
    reduce(per, input.len() as f64, reduction)
}

/// loss_i = logsumexp(x_i) − x_i[t_i] for logits (n, c); rows whose target
/// equals `ignore_index` give 0 and leave the mean's denominator (all
/// ignored: NaN for mean); an out-of-range target gives NaN.
pub fn cross_entropy<T: Real>(logits: &[T], n: usize, c: usize, targets: &[i64], ignore_index: Option<i64>, reduction: Reduction) -> Vec<T> {
    let mut per = Vec::with_capacity(n);
    let mut count = 0usize;
    for i in 0..n {
        let row: Vec<f64> = logits[i * c..(i + 1) * c].iter().map(|v| v.to_f64()).collect();
        let t = targets[i];
        if Some(t) == ignore_index {
            per.push(0.0);
            continue;
        }
        count += 1;
        if t < 0 || t as usize >= c {
            per.push(f64::NAN);
            continue;
        }
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        per.push(lse - row[t as usize]);
    }
    reduce(per, count as f64, reduction)
}

/// max(x, 0) − x·y + ln(1 + e^−|x|), reduced.
pub fn bce_with_logits<T: Real>(logits: &[T], targets: &[T], reduction: Reduction) -> Vec<T> {
    let per: Vec<f64> = logits
        .iter()
        .zip(targets)
        .map(|(&x, &y)| {
            let (x, y) = (x.to_f64(), y.to_f64());
            x.max(0.0) - x * y + (-x.abs()).exp().ln_1p()
        })
        .collect();
    reduce(per, logits.len() as f64, reduction)
}
