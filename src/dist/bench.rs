//! `kairo bench --only allreduce` (under `mpirun`): the time to sum a
//! gradient of 1, 4, 25 and 100 MB over the ranks, host all-reduce alone
//! and the whole bucketed path (readback, all-reduce, upload), its buckets
//! overlapped (`MPI_Iallreduce` while the next is read back) and in turn.

use std::sync::Arc;
use std::time::Instant;

use super::{Comm, GradReducer, DEFAULT_BUCKET_BYTES};
use crate::error::Result;
use crate::{Context, Tensor};

/// The sizes measured, in MB (10^6 bytes).
pub const SIZES_MB: [usize; 4] = [1, 4, 25, 100];

/// One size's figures (medians over the repetitions, rank 0's clock).
#[derive(Clone, Debug, serde::Serialize)]
pub struct AllreduceFigures {
    pub megabytes: usize,
    pub ranks: usize,
    /// MPI_Allreduce of the host buffer alone.
    pub host_seconds: f64,
    /// Readback + all-reduce + upload through [`GradReducer`] (25 MB
    /// buckets) of a list of 1 MB gradient tensors, the next bucket read
    /// back while one is summed.
    pub device_seconds: f64,
    /// The same with each bucket read back after the previous one's sum.
    pub in_turn_seconds: f64,
    pub buckets: usize,
}

impl AllreduceFigures {
    /// Milliseconds per MB of the host all-reduce.
    pub fn host_ms_per_mb(&self) -> f64 {
        self.host_seconds * 1e3 / self.megabytes as f64
    }
    /// Bytes / time (the "algorithm bandwidth"), GB/s.
    pub fn host_gbps(&self) -> f64 {
        self.megabytes as f64 * 1e6 / self.host_seconds / 1e9
    }
    /// What each rank's link carried per second in a ring all-reduce,
    /// 2·(N−1)/N·bytes / time (the "bus bandwidth"), GB/s.
    pub fn bus_gbps(&self) -> f64 {
        let n = self.ranks as f64;
        2.0 * (n - 1.0) / n * self.host_gbps()
    }
    /// Bytes / time of the whole device path, GB/s.
    pub fn device_gbps(&self) -> f64 {
        self.megabytes as f64 * 1e6 / self.device_seconds / 1e9
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures every size of [`SIZES_MB`] `reps` times (after a warm-up);
/// every rank must call it. A 1-float all-reduce lines the ranks up
/// before each repetition.
pub fn bench_allreduce(ctx: &Context, comm: Arc<dyn Comm>, reps: usize, mut report: impl FnMut(&AllreduceFigures)) -> Result<Vec<AllreduceFigures>> {
    let reps = reps.max(1);
    let overlapped = GradReducer::new(comm.clone(), DEFAULT_BUCKET_BYTES);
    let in_turn = GradReducer::new(comm.clone(), DEFAULT_BUCKET_BYTES).with_overlap(false);
    let mut out = Vec::new();
    for mb in SIZES_MB {
        let n = mb * 1_000_000 / 4;
        let mut host = vec![1.0f32; n];
        // A gradient list of 1 MB tensors, as a model's parameters come.
        let grads: Vec<Tensor> = (0..mb).map(|_| Tensor::full(ctx, &[n / mb], 1.0)).collect::<Result<_>>()?;
        let (mut h, mut d, mut s, mut buckets) = (Vec::new(), Vec::new(), Vec::new(), 0);
        let device = |r: &GradReducer| -> Result<(f64, usize)> {
            comm.all_reduce_sum(&mut [0.0])?;
            let t = Instant::now();
            let buckets = r.reduce(&grads, 1.0)?.buckets;
            ctx.sync()?;
            Ok((t.elapsed().as_secs_f64(), buckets))
        };
        for rep in 0..=reps {
            comm.all_reduce_sum(&mut [0.0])?;
            let t = Instant::now();
            comm.all_reduce_sum(&mut host)?;
            let host_s = t.elapsed().as_secs_f64();
            let (dev_s, b) = device(&overlapped)?;
            let (turn_s, _) = device(&in_turn)?;
            buckets = b;
            if rep > 0 {
                h.push(host_s);
                d.push(dev_s);
                s.push(turn_s);
            }
        }
        let f = AllreduceFigures {
            megabytes: mb,
            ranks: comm.size(),
            host_seconds: median(h),
            device_seconds: median(d),
            in_turn_seconds: median(s),
            buckets,
        };
        report(&f);
        out.push(f);
    }
    Ok(out)
}
