//! CPU reference for the CTC loss (`crate::nn::ctc`, shaders/ctc.wgsl and
//! its subgroup variant shaders/ctc_subgroup.wgsl, which compute the same):
//! plain loops in f64 with true −inf for log 0, straight from Graves et
//! al. (2006) eqs. 6-16, and PyTorch's gradient.
//!
//! `lp` is (T, N, C) row-major; `labels[n]` holds utterance n's target
//! labels (already cut to its target length).

use crate::nn::loss::Reduction;

fn lse(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Blank-extended label sequence: blank, l1, blank, l2, …, blank.
fn extend(labels: &[u32], blank: usize) -> Vec<usize> {
    let mut e = vec![blank];
    for &l in labels {
        e.push(l as usize);
        e.push(blank);
    }
    e
}

/// Whether position s may be entered from s − 2.
fn skip(e: &[usize], s: usize) -> bool {
    s >= 2 && e[s] != e[s - 2]
}

/// log α (T_n, L) and log β (T_n, L) of one utterance; β includes the
/// emission at t, as PyTorch's.
fn alpha_beta(lp: &[f64], n: usize, nb: usize, c: usize, tn: usize, e: &[usize]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let l = e.len();
    let at = |t: usize, k: usize| lp[(t * nb + n) * c + k];
    let mut alpha = vec![vec![f64::NEG_INFINITY; l]; tn];
    alpha[0][0] = at(0, e[0]);
    if l > 1 {
        alpha[0][1] = at(0, e[1]);
    }
    for t in 1..tn {
        for s in 0..l {
            let mut terms = vec![alpha[t - 1][s]];
            if s >= 1 {
                terms.push(alpha[t - 1][s - 1]);
            }
            if skip(e, s) {
                terms.push(alpha[t - 1][s - 2]);
            }
            alpha[t][s] = lse(&terms) + at(t, e[s]);
        }
    }
    let mut beta = vec![vec![f64::NEG_INFINITY; l]; tn];
    beta[tn - 1][l - 1] = at(tn - 1, e[l - 1]);
    if l > 1 {
        beta[tn - 1][l - 2] = at(tn - 1, e[l - 2]);
    }
    for t in (0..tn.saturating_sub(1)).rev() {
        for s in 0..l {
            let mut terms = vec![beta[t + 1][s]];
            if s + 1 < l {
                terms.push(beta[t + 1][s + 1]);
            }
            if s + 2 < l && skip(e, s + 2) {
                terms.push(beta[t + 1][s + 2]);
            }
            beta[t][s] = lse(&terms) + at(t, e[s]);
        }
    }
    (alpha, beta)
}

/// Per-utterance −log p (+inf where no alignment exists).
pub fn ctc_nll(lp: &[f64], t: usize, c: usize, labels: &[Vec<u32>], input_lengths: &[usize], blank: usize) -> Vec<f64> {
    let nb = labels.len();
    assert_eq!(lp.len(), t * nb * c, "lp must be (T, N, C)");
    (0..nb)
        .map(|n| {
            let e = extend(&labels[n], blank);
            let (alpha, _) = alpha_beta(lp, n, nb, c, input_lengths[n], &e);
            let last = &alpha[input_lengths[n] - 1];
            let l = e.len();
            let ll = if l > 1 { lse(&[last[l - 1], last[l - 2]]) } else { last[0] };
            -ll
        })
        .collect()
}

/// Weights per utterance that turn losses into the reduced value: 1 for
/// None and Sum, 1 / (N·max(S_n, 1)) for Mean.
pub fn reduction_weights(labels: &[Vec<u32>], reduction: Reduction) -> Vec<f64> {
    let nb = labels.len() as f64;
    labels.iter().map(|l| if reduction == Reduction::Mean { 1.0 / (nb * l.len().max(1) as f64) } else { 1.0 }).collect()
}

#[allow(clippy::too_many_arguments)]
/// The loss as `ctc_loss` returns it: (N,) for None, one value for Sum and
/// Mean; +inf for impossible utterances, or 0 with `zero_infinity`.
pub fn ctc_loss(
    lp: &[f64],
    t: usize,
    c: usize,
    labels: &[Vec<u32>],
    input_lengths: &[usize],
    blank: usize,
    reduction: Reduction,
    zero_infinity: bool,
) -> Vec<f64> {
    let per: Vec<f64> = ctc_nll(lp, t, c, labels, input_lengths, blank)
        .into_iter()
        .map(|v| if zero_infinity && v == f64::INFINITY { 0.0 } else { v })
        .collect();
    if reduction == Reduction::None {
        return per;
    }
    let w = reduction_weights(labels, reduction);
    vec![per.iter().zip(&w).map(|(l, w)| l * w).sum()]
}

/// PyTorch's gradient (T, N, C) of Σ_n g_n·loss_n with respect to `lp`:
/// (exp(lp) − Σ_{s: l'(s)=c} exp(α + β + nll − lp))·g_n, zero past each
/// input length and (unlike PyTorch's NaN) for impossible utterances.
/// `g` already holds any reduction weight.
pub fn ctc_grad(lp: &[f64], t: usize, c: usize, labels: &[Vec<u32>], input_lengths: &[usize], blank: usize, g: &[f64]) -> Vec<f64> {
    let nb = labels.len();
    let mut grad = vec![0.0; t * nb * c];
    for n in 0..nb {
        let e = extend(&labels[n], blank);
        let tn = input_lengths[n];
        let (alpha, beta) = alpha_beta(lp, n, nb, c, tn, &e);
        let l = e.len();
        let last = &alpha[tn - 1];
        let ll = if l > 1 { lse(&[last[l - 1], last[l - 2]]) } else { last[0] };
        if ll == f64::NEG_INFINITY {
            continue;
        }
        for ti in 0..tn {
            let row = (ti * nb + n) * c;
            for k in 0..c {
                let terms: Vec<f64> = (0..l).filter(|&s| e[s] == k).map(|s| alpha[ti][s] + beta[ti][s]).collect();
                let lcab = lse(&terms);
                let v = lp[row + k];
                grad[row + k] = (v.exp() - (lcab - ll - v).exp()) * g[n];
            }
        }
    }
    grad
}

/// log_softmax over the last axis of rows of length `c`.
pub fn log_softmax(x: &[f64], c: usize) -> Vec<f64> {
    x.chunks(c)
        .flat_map(|row| {
            let m = lse(row);
            row.iter().map(move |v| v - m)
        })
        .collect()
}
