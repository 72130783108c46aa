//! The picture of a spirals run: learned decision regions under the
//! training points.

use std::path::Path;

use super::trainer::{classify, SpiralRun};
use crate::error::Result;
use crate::Context;

/// Draws the decision regions over [-1.2, 1.2]² (`size`×`size` pixels)
/// with the training points on top, as a PNG written kill-safely.
pub fn render_png(run: &SpiralRun, ctx: &Context, size: u32, path: &Path) -> Result<()> {
    let span = 1.2f32;
    let to_world = |p: u32| (p as f32 + 0.5) / size as f32 * 2.0 * span - span;
    let grid: Vec<f32> = (0..size).flat_map(|py| (0..size).flat_map(move |px| [to_world(px), -to_world(py)])).collect();
    let probs = classify(&run.model, ctx, &grid)?;
    let mut img = image::RgbImage::new(size, size);
    for (i, &(_, p1)) in probs.iter().enumerate() {
        let (a, b) = ([250.0, 200.0, 170.0], [170.0, 200.0, 250.0]); // class 0 warm, class 1 cool
        let mix: Vec<u8> = (0..3).map(|c| (a[c] * (1.0 - p1) + b[c] * p1) as u8).collect();
        img.put_pixel(i as u32 % size, i as u32 / size, image::Rgb([mix[0], mix[1], mix[2]]));
    }
    for (pt, &label) in run.points.chunks(2).zip(&run.labels) {
        let px = ((pt[0] + span) / (2.0 * span) * size as f32) as i64;
        let py = ((span - pt[1]) / (2.0 * span) * size as f32) as i64;
        let color = if label == 0 { image::Rgb([200, 40, 20]) } else { image::Rgb([20, 60, 200]) };
        for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] {
            let (x, y) = (px + dx, py + dy);
            if x >= 0 && y >= 0 && x < size as i64 && y < size as i64 {
                img.put_pixel(x as u32, y as u32, color);
            }
        }
    }
    crate::io::atomic::write_png(path, &img)
}
