//! The bucketed gradient all-reduce.
//!
//! Gradients are packed, in parameter order, into buckets of at most
//! [`DEFAULT_BUCKET_BYTES`] (PyTorch DDP's 25 MB; a tensor larger than the
//! cap is a bucket of its own). Per bucket: one readback (every gradient
//! of the bucket copied into one staging buffer in one encoder, one map:
//! [`Tensor::to_vecs`]), the rank's weight applied on the host, one
//! `MPI_Allreduce` (sum), one upload of the summed bucket into one device
//! buffer, and one submit of buffer-to-buffer copies from it into the
//! gradients. While one bucket is summed the next is read back
//! ([`Comm::all_reduce_sum_pipelined`]: `MPI_Iallreduce` on MPI). Bytes
//! moved are counted per call ([`ReduceStats`]).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Comm;
use crate::error::Result;
use crate::nn::Module;
use crate::Tensor;

/// 25 MB, PyTorch DDP's `bucket_cap_mb` default.
pub const DEFAULT_BUCKET_BYTES: usize = 25 * 1024 * 1024;

/// The bucket cap the jobs use: `KAIRO_BUCKET_BYTES` if set (at least 4),
/// else [`DEFAULT_BUCKET_BYTES`]. Smaller buckets mean more, smaller
/// all-reduces, each overlapping the next one's readback.
pub fn bucket_bytes() -> Result<usize> {
    match std::env::var("KAIRO_BUCKET_BYTES") {
        Err(_) => Ok(DEFAULT_BUCKET_BYTES),
        Ok(v) => v.trim().parse::<usize>().ok().filter(|&b| b >= 4).ok_or_else(|| {
            crate::Error::InvalidArgument(format!("KAIRO_BUCKET_BYTES must be a number of bytes >= 4, got {v:?}"))
        }),
    }
}

/// Consecutive groups of tensors (by index) whose f32 elements sum to at
/// most `cap_bytes` each; a tensor over the cap is alone in its bucket;
/// empty tensors join whatever bucket is open.
pub fn plan_buckets(numels: &[usize], cap_bytes: usize) -> Vec<Range<usize>> {
    let cap = (cap_bytes / 4).max(1);
    let mut out = Vec::new();
    let (mut start, mut filled) = (0, 0usize);
    for (i, &n) in numels.iter().enumerate() {
        if filled > 0 && filled + n > cap {
            out.push(start..i);
            (start, filled) = (i, 0);
        }
        filled += n;
    }
    if start < numels.len() {
        out.push(start..numels.len());
    }
    out
}

/// What one [`GradReducer::reduce`] moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReduceStats {
    /// Buckets (= readbacks = all-reduces = uploads).
    pub buckets: usize,
    /// Gradient bytes read back from the device (= uploaded again).
    pub device_bytes: u64,
    /// Bytes each rank handed to the all-reduce.
    pub allreduce_bytes: u64,
}

/// Sums gradients over the ranks of a [`Comm`], in buckets.
pub struct GradReducer {
    comm: Arc<dyn Comm>,
    bucket_bytes: usize,
    overlap: bool,
    total_buckets: AtomicU64,
    total_bytes: AtomicU64,
}

impl GradReducer {
    /// A reducer over `comm` with buckets of at most `bucket_bytes`.
    pub fn new(comm: Arc<dyn Comm>, bucket_bytes: usize) -> Self {
        GradReducer { comm, bucket_bytes, overlap: true, total_buckets: AtomicU64::new(0), total_bytes: AtomicU64::new(0) }
    }

    /// With `false`, each bucket is read back only after the previous one's
    /// sum came back (for measuring what the overlap saves).
    pub fn with_overlap(mut self, overlap: bool) -> Self {
        self.overlap = overlap;
        self
    }

    /// The communicator.
    pub fn comm(&self) -> &dyn Comm {
        self.comm.as_ref()
    }

    /// Rank `rank`'s share of a global batch of `n` (see [`super::Share`]).
    pub fn share(&self, n: usize) -> super::Share {
        super::Share::of(n, self.comm.rank(), self.comm.size())
    }

    /// Every gradient of `module`'s parameters (those that have one),
    /// replaced by Σ_ranks weight_r·grad_r, where `weight` is this rank's
    /// (see [`super::Share::weight`]). Every rank must call it with the
    /// same parameter list (same shapes, same order).
    pub fn reduce_module(&self, module: &dyn Module, weight: f32) -> Result<ReduceStats> {
        let grads: Vec<Tensor> = module.parameters().iter().filter_map(|(_, p)| p.grad()).collect();
        self.reduce(&grads, weight)
    }

    /// [`Self::reduce_module`] on a list of gradient tensors (f32). The
    /// next bucket is read back while one is summed
    /// ([`Comm::all_reduce_sum_pipelined`]).
    pub fn reduce(&self, grads: &[Tensor], weight: f32) -> Result<ReduceStats> {
        let numels: Vec<usize> = grads.iter().map(Tensor::numel).collect();
        let buckets: Vec<Vec<&Tensor>> = plan_buckets(&numels, self.bucket_bytes)
            .into_iter()
            .map(|range| grads[range].iter().filter(|g| g.numel() > 0).collect::<Vec<_>>())
            .filter(|b| !b.is_empty())
            .collect();
        let mut stats = ReduceStats::default();
        let mut read = |k: usize| -> Result<Vec<f32>> {
            let mut flat: Vec<f32> = Tensor::to_vecs(&buckets[k])?.concat();
            if weight != 1.0 {
                flat.iter_mut().for_each(|v| *v *= weight);
            }
            Ok(flat)
        };
        let mut upload = |k: usize, sum: &[f32]| -> Result<()> {
            upload_bucket(&buckets[k], sum)?;
            stats.buckets += 1;
            stats.device_bytes += sum.len() as u64 * 4;
            stats.allreduce_bytes += sum.len() as u64 * 4;
            Ok(())
        };
        if self.overlap {
            self.comm.all_reduce_sum_pipelined(buckets.len(), &mut read, &mut upload)?;
        } else {
            super::all_reduce_sum_in_turn(self.comm.as_ref(), buckets.len(), &mut read, &mut upload)?;
        }
        self.total_buckets.fetch_add(stats.buckets as u64, Ordering::Relaxed);
        self.total_bytes.fetch_add(stats.allreduce_bytes, Ordering::Relaxed);
        Ok(stats)
    }

    /// (buckets, all-reduce bytes) over every call so far.
    pub fn totals(&self) -> (u64, u64) {
        (self.total_buckets.load(Ordering::Relaxed), self.total_bytes.load(Ordering::Relaxed))
    }
}

/// One upload of `flat` into one device buffer, then one submit of copies
/// from it into each tensor of `bucket` (in order, back to back). Work
/// recorded before (the backward that wrote the gradients) was submitted
/// by the bucket's readback; work recorded after lands behind these copies
/// in queue order.
fn upload_bucket(bucket: &[&Tensor], flat: &[f32]) -> Result<()> {
    let ctx = bucket[0].context();
    let staging = Tensor::from_slice(ctx, flat, &[flat.len()])?;
    ctx.submit()?;
    let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kairo dist bucket") });
    let mut offset = 0u64;
    for g in bucket {
        enc.copy_buffer_to_buffer(staging.buffer(), offset, g.buffer(), 0, g.bytes());
        offset += g.bytes();
    }
    ctx.queue().submit(Some(enc.finish()));
    drop(staging);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_tensor_once_in_order_under_the_cap() {
        let numels = [10, 0, 300, 7, 1000, 5, 5, 0, 250];
        for cap_bytes in [4, 40, 1200, 4000, 1 << 20] {
            let plan = plan_buckets(&numels, cap_bytes);
            let flat: Vec<usize> = plan.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(flat, (0..numels.len()).collect::<Vec<_>>(), "cap {cap_bytes}");
            for r in &plan {
                let bytes: usize = numels[r.clone()].iter().sum::<usize>() * 4;
                assert!(bytes <= cap_bytes || r.clone().filter(|&i| numels[i] > 0).count() == 1, "cap {cap_bytes}: {r:?} holds {bytes} B");
            }
        }
        assert_eq!(plan_buckets(&numels, 1 << 20).len(), 1);
        assert_eq!(plan_buckets(&[], 100), Vec::<Range<usize>>::new());
    }

    #[test]
    fn a_bucket_closes_when_the_next_tensor_would_overflow_it() {
        // 25 MB cap, f32: 6_553_600 elements per bucket.
        let per = DEFAULT_BUCKET_BYTES / 4;
        let plan = plan_buckets(&[per / 2, per / 2, 1, per * 2, 3], DEFAULT_BUCKET_BYTES);
        assert_eq!(plan, vec![0..2, 2..3, 3..4, 4..5]);
    }
}
