//! Data-parallel training: every rank holds the whole model, trains on its
//! share of each global batch, and the ranks' gradients are summed before
//! clipping and the optimiser step, so N ranks take the step one process
//! would take on the global batch (up to float summation order).
//!
//! - [`Comm`]: rank, size, sum all-reduce, broadcast from rank 0, and an
//!   agreed "everyone fine?" check. [`SingleProcess`] is the size-1
//!   implementation (no MPI; the code path compiles and is tested without
//!   the `mpi` feature); `mpi::MpiComm` (feature `mpi`) runs on rsmpi.
//! - [`GradReducer`] ([`bucket`]): gradients packed into ~25 MB buckets,
//!   one readback, one all-reduce and one upload per bucket, bytes counted;
//!   the next bucket is read back while one is summed
//!   ([`Comm::all_reduce_sum_pipelined`]).
//! - [`shard`], [`Share`]: the deterministic split of a global batch and
//!   the weight each rank's mean-reduced loss gets (see [`Share::weight`]).
//! - [`sync_module`], [`sync_optimizer`]: rank 0's parameters and optimiser
//!   state broadcast to all ranks (start and resume).
//!
//! Batch norm keeps per-rank statistics (as PyTorch DDP without
//! SyncBatchNorm): a model with batch norm trained on N ranks is the
//! single-process model trained with each batch-norm layer seeing the
//! shards separately ("ghost" batches of the per-rank size).

pub mod bench;
pub mod bucket;
#[cfg(feature = "mpi")]
pub mod mpi;

pub use bucket::{bucket_bytes, plan_buckets, GradReducer, ReduceStats, DEFAULT_BUCKET_BYTES};

use std::ops::Range;

use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::Tensor;

/// The collectives data-parallel training needs. Every rank calls each
/// collective in the same order with the same lengths.
pub trait Comm {
    /// This process's rank, 0..size.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Element-wise sum over all ranks, in place, on every rank.
    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<()>;
    /// Sums `count` buffers over the ranks in turn: `produce(k)` makes
    /// this rank's buffer k, `consume(k, sum)` takes its sum. An
    /// implementation with non-blocking collectives calls `produce(k + 1)`
    /// while buffer k's sum is in flight (MPI: `MPI_Iallreduce`); this
    /// default does one after the other.
    fn all_reduce_sum_pipelined(
        &self,
        count: usize,
        produce: &mut dyn FnMut(usize) -> Result<Vec<f32>>,
        consume: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        all_reduce_sum_in_turn(self, count, produce, consume)
    }
    /// Rank 0's `data` to every rank (same length everywhere).
    fn broadcast(&self, data: &mut [f32]) -> Result<()>;
    /// Ends every rank at once (MPI_Abort): the way out when one rank
    /// fails where the others may be waiting in a collective.
    fn abort(&self, code: i32) -> !;
    /// A short description for logs ("rank 1 of 2 (MPI: Open MPI ...)").
    fn describe(&self) -> String {
        format!("rank {} of {}", self.rank(), self.size())
    }
}

/// [`Comm::all_reduce_sum_pipelined`] without overlap: produce, sum,
/// consume, one buffer after the other.
pub fn all_reduce_sum_in_turn<C: Comm + ?Sized>(
    comm: &C,
    count: usize,
    produce: &mut dyn FnMut(usize) -> Result<Vec<f32>>,
    consume: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    for k in 0..count {
        let mut data = produce(k)?;
        comm.all_reduce_sum(&mut data)?;
        consume(k, &data)?;
    }
    Ok(())
}

/// One process: rank 0 of 1; the collectives are the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Comm for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _data: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn broadcast(&self, _data: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The items `rank` of `size` takes from a global batch of `n` (in the
/// batch's order): contiguous, the first `n % size` ranks one more.
pub fn shard(n: usize, rank: usize, size: usize) -> Range<usize> {
    let size = size.max(1);
    let (base, extra) = (n / size, n % size);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

impl Share {
    /// This share's rows of a batch of `self.global` rows stored one after
    /// another (`data.len()` = global × row length).
    pub fn rows<'a, T>(&self, data: &'a [T]) -> &'a [T] {
        let row = data.len() / self.global.max(1);
        &data[self.items.start * row..self.items.end * row]
    }
}

/// A rank's share of one global batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    /// Indices into the global batch this rank trains on. Never empty: a
    /// rank whose shard is empty (fewer items than ranks) trains on the
    /// batch's last item with weight 0, so the collectives still match.
    pub items: Range<usize>,
    /// Items of this rank that count (0 for a filler share).
    pub counted: usize,
    /// Items in the global batch.
    pub global: usize,
}

impl Share {
    /// Rank `rank` of `size`'s share of a global batch of `n` ≥ 1 items.
    pub fn of(n: usize, rank: usize, size: usize) -> Share {
        let items = shard(n, rank, size);
        if items.is_empty() {
            let last = n.saturating_sub(1);
            return Share { items: last..last + 1, counted: 0, global: n };
        }
        Share { counted: items.len(), items, global: n }
    }

    /// What this rank's gradient is multiplied by before the sum, for a
    /// loss that is a mean over the batch's items: the global loss is
    /// Σ_r (n_r / n)·L_r where L_r is rank r's mean over its n_r items,
    /// so its gradient is Σ_r (n_r / n)·∇L_r. With equal shares this is
    /// "sum, then divide by N". A CTC "mean" loss divides each utterance's
    /// loss by its own target length and then averages over utterances,
    /// so the weight counts utterances, not target characters: ranks that
    /// hold different numbers of characters still get n_r / n (tested in
    /// `dist::bucket`'s tests against the global-batch gradient).
    pub fn weight(&self) -> f32 {
        if self.global == 0 {
            0.0
        } else {
            self.counted as f32 / self.global as f32
        }
    }
}

/// Per-step all-ranks agreement: `local` is this rank's step outcome
/// (`Ok(loss)` or [`Error::Diverged`]); every rank learns whether all
/// ranks are fine and the global loss Σ_r weight_r·loss_r. One 2-float
/// all-reduce. When any rank diverged, every rank returns an error naming
/// how many did, so all stop at the same step and none is left waiting.
pub fn agree(comm: &dyn Comm, step: u64, local: Result<f32>, weight: f32) -> Result<f32> {
    agree_values::<1>(comm, step, local.map(|l| [l]), weight).map(|v| v[0])
}

/// [`agree`] for several logged values at once: each comes back as
/// Σ_r weight_r·value_r (one all-reduce of K + 1 floats).
pub fn agree_values<const K: usize>(comm: &dyn Comm, step: u64, local: Result<[f32; K]>, weight: f32) -> Result<[f32; K]> {
    let mut v = vec![0.0f32; K + 1];
    match &local {
        Ok(values) => {
            v[0] = 1.0;
            for (d, x) in v[1..].iter_mut().zip(values) {
                *d = weight * x;
            }
        }
        Err(Error::Diverged { .. }) => {}
        // Other failures may have skipped collectives: not recoverable here.
        Err(_) => return local,
    }
    comm.all_reduce_sum(&mut v)?;
    let failed = comm.size().saturating_sub(v[0].round() as usize);
    match local {
        Err(e) => Err(e),
        Ok(_) if failed > 0 => Err(Error::Distributed(format!(
            "step {step}: {failed} other rank(s) read back a value that is not finite; every rank stops here (nothing was saved after step {step})"
        ))),
        Ok(_) => Ok(std::array::from_fn(|i| v[i + 1])),
    }
}

/// Overwrites every parameter and buffer of `module` with rank 0's (one
/// readback, one broadcast and one upload per tensor list).
pub fn sync_module(comm: &dyn Comm, module: &dyn Module) -> Result<()> {
    let mut tensors: Vec<Tensor> = module.parameters().iter().map(|(_, p)| p.value().clone()).collect();
    tensors.extend(module.buffers().into_iter().map(|(_, t)| t));
    broadcast_tensors(comm, &tensors)
}

/// Rank 0's optimiser state (moments and step count) on every rank.
pub fn sync_optimizer(comm: &dyn Comm, opt: &mut dyn Optimizer) -> Result<()> {
    // Two exact f32 halves (f32 holds integers to 2^24 exactly).
    let n = opt.step_count();
    let mut steps = [(n % (1 << 20)) as f32, (n >> 20) as f32];
    comm.broadcast(&mut steps)?;
    opt.set_step_count(steps[0] as u64 + ((steps[1] as u64) << 20));
    let state = opt.state()?;
    if state.is_empty() {
        return Ok(());
    }
    let tensors: Vec<Tensor> = state.iter().map(|(_, t)| t.clone()).collect();
    broadcast_tensors(comm, &tensors)?;
    opt.load_state(&state)
}

fn broadcast_tensors(comm: &dyn Comm, tensors: &[Tensor]) -> Result<()> {
    if comm.size() == 1 || tensors.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Tensor> = tensors.iter().filter(|t| t.numel() > 0 && t.dtype() == crate::DType::F32).collect();
    let mut flat: Vec<f32> = Tensor::to_vecs(&refs)?.concat();
    comm.broadcast(&mut flat)?;
    let mut at = 0;
    for t in refs {
        t.write(&flat[at..at + t.numel()])?;
        at += t.numel();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ctc::{ctc_loss, CtcOptions, CtcTargets, Reduction};
    use crate::{Context, Var};

    #[test]
    fn shards_split_the_batch_in_order_and_evenly() {
        for n in 0..12 {
            for size in 1..5 {
                let parts: Vec<Range<usize>> = (0..size).map(|r| shard(n, r, size)).collect();
                let flat: Vec<usize> = parts.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n {n} size {size}");
                let (lo, hi) = (parts.iter().map(|r| r.len()).min().unwrap(), parts.iter().map(|r| r.len()).max().unwrap());
                assert!(hi - lo <= 1, "n {n} size {size}: {parts:?}");
            }
        }
    }

    #[test]
    fn weights_sum_to_one_and_filler_shares_count_nothing() {
        for n in 1..10 {
            for size in 1..6 {
                let shares: Vec<Share> = (0..size).map(|r| Share::of(n, r, size)).collect();
                let total: f32 = shares.iter().map(Share::weight).sum();
                assert!((total - 1.0).abs() < 1e-6, "n {n} size {size}: {total}");
                for s in &shares {
                    assert!(!s.items.is_empty() && s.items.end <= n);
                    assert_eq!(s.counted == 0, shard(n, (0..size).find(|&r| Share::of(n, r, size) == *s).unwrap(), size).is_empty());
                }
            }
        }
    }

    /// (T, B, C) logits of `b` utterances, seeded, as a parameter.
    fn logits(ctx: &Context, t: usize, rows: &[usize], b_all: usize, c: usize) -> Var {
        let all: Vec<f32> = (0..t * b_all * c).map(|i| ((i * 7919 % 613) as f32 / 613.0 - 0.5) * 3.0).collect();
        let mut x = Vec::with_capacity(t * rows.len() * c);
        for ti in 0..t {
            for &bi in rows {
                x.extend_from_slice(&all[(ti * b_all + bi) * c..(ti * b_all + bi + 1) * c]);
            }
        }
        Var::parameter(Tensor::from_slice(ctx, &x, &[t, rows.len(), c]).unwrap())
    }

    /// The gradient of CTC "mean" over `rows` of the batch, (T, rows, C) on the host.
    fn ctc_grad(ctx: &Context, rows: &[usize], labels: &[Vec<u32>], t: usize, c: usize) -> Vec<f32> {
        let x = logits(ctx, t, rows, labels.len(), c);
        let targets: Vec<u32> = rows.iter().flat_map(|&r| labels[r].clone()).collect();
        let lens: Vec<usize> = rows.iter().map(|&r| labels[r].len()).collect();
        let opts = CtcOptions { blank: 0, reduction: Reduction::Mean, zero_infinity: true, from_logits: true, ..Default::default() };
        let loss = ctc_loss(&x, &CtcTargets::Concatenated(targets), &vec![t; rows.len()], &lens, opts).unwrap();
        loss.backward().unwrap();
        x.grad().unwrap().to_vec().unwrap()
    }

    #[test]
    fn ctc_mean_gradients_weighted_by_utterances_equal_the_global_batch_gradient() {
        let ctx = Context::new().unwrap();
        let (t, c) = (12, 5);
        // Rank 0 holds 2 utterances with 2 characters in all, rank 1 two with 9.
        let labels: Vec<Vec<u32>> = vec![vec![1], vec![2], vec![3, 1, 4, 1, 2], vec![2, 3, 4, 4]];
        let global = ctc_grad(&ctx, &[0, 1, 2, 3], &labels, t, c);
        let shares = [Share::of(4, 0, 2), Share::of(4, 1, 2)];
        let parts: Vec<Vec<f32>> = shares.iter().map(|s| ctc_grad(&ctx, &s.items.clone().collect::<Vec<_>>(), &labels, t, c)).collect();
        // Reassemble (T, 4, C) from the weighted per-rank gradients, as the all-reduce of
        // whole-model gradients would sum them (here the rows do not overlap).
        let combine = |w: [f32; 2]| -> Vec<f32> {
            let mut out = vec![0.0; t * 4 * c];
            for (r, s) in shares.iter().enumerate() {
                let nb = s.items.len();
                for ti in 0..t {
                    for (j, bi) in s.items.clone().enumerate() {
                        for k in 0..c {
                            out[(ti * 4 + bi) * c + k] = w[r] * parts[r][(ti * nb + j) * c + k];
                        }
                    }
                }
            }
            out
        };
        let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let by_utterances = combine([shares[0].weight(), shares[1].weight()]);
        assert!(max_diff(&by_utterances, &global) < 1e-5, "{}", max_diff(&by_utterances, &global));
        // Weighting by target characters (2/11, 9/11) would be wrong: the test can tell.
        let by_chars = combine([2.0 / 11.0, 9.0 / 11.0]);
        assert!(max_diff(&by_chars, &global) > 1e-3, "{}", max_diff(&by_chars, &global));
    }

    #[test]
    fn single_process_reduce_scales_in_buckets_and_counts_bytes() {
        let ctx = Context::new().unwrap();
        let values: Vec<Vec<f32>> = vec![(0..300).map(|i| i as f32).collect(), vec![], (0..5).map(|i| -(i as f32)).collect(), vec![2.5; 64]];
        let grads: Vec<Tensor> = values
            .iter()
            .map(|v| if v.is_empty() { Tensor::zeros(&ctx, &[0]).unwrap() } else { Tensor::from_slice(&ctx, v, &[v.len()]).unwrap() })
            .collect();
        // 1200 B cap: 300 floats fill one bucket, the other two share the next.
        let reducer = GradReducer::new(std::sync::Arc::new(SingleProcess), 1200);
        let stats = reducer.reduce(&grads, 0.25).unwrap();
        assert_eq!(stats.buckets, 2);
        assert_eq!(stats.allreduce_bytes, (300 + 5 + 64) * 4);
        for (g, v) in grads.iter().zip(&values) {
            let got = if g.numel() == 0 { vec![] } else { g.to_vec().unwrap() };
            let want: Vec<f32> = v.iter().map(|x| x * 0.25).collect();
            assert_eq!(got, want);
        }
        assert_eq!(reducer.totals(), (2, (300 + 5 + 64) * 4));
    }

    #[test]
    fn agreement_passes_the_weighted_loss_and_stops_on_divergence() {
        assert_eq!(agree(&SingleProcess, 3, Ok(2.0), 1.0).unwrap(), 2.0);
        assert!(matches!(agree(&SingleProcess, 3, Err(Error::Diverged { step: 3, value: f32::NAN }), 1.0), Err(Error::Diverged { step: 3, .. })));
    }
}
