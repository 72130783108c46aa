//! The GAN job's settings checked before anything is built or trained:
//! sizes at least 1 (batch at least 2), and batch, ngf and ndf against host
//! memory and the device's buffer limits.

use super::trainer::GanConfig;
use crate::error::Result;
use crate::jobs::limits::{at_least, f32s, fits_all, Budget, Need};
use crate::nn::dcgan::DcganConfig;
use crate::Context;

/// What a run needs: a real batch on the host; on the device the largest
/// of the widest activation (or its unfolded patches, batch × width × S²)
/// and the widest weight (8·ngf × 4·ngf × 4 × 4, or D's mirror).
fn need(m: &DcganConfig, batch: usize) -> Need {
    let s = m.image_size;
    let host = f32s(&[batch, m.channels, s, s]).saturating_mul(2);
    let width = m.ngf.max(m.ndf);
    let activations = f32s(&[batch, width, s, s]);
    let weights = f32s(&[width.saturating_mul(8), width.saturating_mul(4), 16]);
    Need { host, device: activations.max(weights) }
}

/// Checks `cfg` before a trainer, judge or data source is built.
pub fn validate(ctx: &Context, cfg: &GanConfig) -> Result<()> {
    at_least("--batch", cfg.batch, 2)?;
    at_least("--iters", usize::try_from(cfg.iters).unwrap_or(usize::MAX), 1)?;
    at_least("--every", usize::try_from(cfg.every).unwrap_or(usize::MAX), 1)?;
    at_least("--d-steps", cfg.d_steps, 1)?;
    at_least("--ngf", cfg.model.ngf, 1)?;
    at_least("--ndf", cfg.model.ndf, 1)?;
    cfg.model.validate()?;
    let budget = Budget::of(ctx);
    let m = cfg.model;
    let batch = |b| need(&m, b);
    let ngf = |g| need(&DcganConfig { ngf: g, ..m }, cfg.batch);
    let ndf = |d| need(&DcganConfig { ndf: d, ..m }, cfg.batch);
    fits_all(&budget, &[("--batch", cfg.batch, &batch), ("--ngf", m.ngf, &ngf), ("--ndf", m.ndf, &ndf)])
}
