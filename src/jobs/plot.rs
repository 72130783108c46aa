//! The one plotting module of the jobs: line plots on a log axis, drawn
//! to PNG files written kill-safely. Every job (and the CLI) may import it;
//! it imports nothing of the jobs.

use std::path::Path;

use crate::error::{Error, Result};
use crate::nn::rnn::CellKind;

/// One line of a plot.
pub struct Curve {
    pub label: String,
    pub color: [u8; 3],
    pub values: Vec<f32>,
}

/// The colour kairo uses for each cell in plots.
pub fn cell_color(cell: CellKind) -> [u8; 3] {
    match cell {
        CellKind::RnnTanh => [214, 39, 40],
        CellKind::Lstm => [31, 119, 180],
        CellKind::Gru => [44, 160, 44],
    }
}

/// Draws the curves against x = 1 … n on a log₁₀ y axis (decade ticks),
/// with a legend of coloured boxes (in curve order, top right), as a PNG
/// written kill-safely (tmp + rename). Zero or non-finite values are skipped.
pub fn render_log_plot(curves: &[Curve], width: u32, height: u32, path: &Path) -> Result<()> {
    let positive = || {
        curves
            .iter()
            .flat_map(|c| c.values.iter().copied())
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let lo = positive().fold(f32::INFINITY, f32::min);
    let hi = positive().fold(0.0f32, f32::max);
    let n = curves.iter().map(|c| c.values.len()).max().unwrap_or(0);
    if !lo.is_finite() || n < 2 || width < 100 || height < 80 {
        return Err(Error::InvalidArgument(
            "plot: nothing positive to draw, or too small".into(),
        ));
    }
    let (dlo, dhi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let (left, right, top, bottom) = (50i64, width as i64 - 20, 20i64, height as i64 - 40);
    let mut img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let put = |img: &mut image::RgbImage, x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && x < width as i64 && y < height as i64 {
            img.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    };
    let px = |i: usize| left + ((right - left) as f32 * i as f32 / (n - 1) as f32).round() as i64;
    let py =
        |v: f32| bottom - ((bottom - top) as f32 * (v.log10() - dlo) / (dhi - dlo)).round() as i64;
    // Grid lines and ticks at each decade (y) and every tenth of the run (x).
    let grey = [225, 225, 225];
    let black = [0, 0, 0];
    for d in dlo as i64..=dhi as i64 {
        let y = py(10f32.powi(d as i32));
        for x in left..=right {
            put(&mut img, x, y, grey);
        }
        for x in left - 6..left {
            put(&mut img, x, y, black);
        }
        // Minor ticks at 2..9 × 10^d.
        for m in 2..10 {
            let y = py(m as f32 * 10f32.powi(d as i32));
            if d < dhi as i64 {
                for x in left - 3..left {
                    put(&mut img, x, y, black);
                }
            }
        }
    }
    for k in 0..=10 {
        let x = left + (right - left) * k / 10;
        for y in bottom..bottom + 6 {
            put(&mut img, x, y, black);
        }
    }
    for x in left..=right {
        put(&mut img, x, bottom, black);
    }
    for y in top..=bottom {
        put(&mut img, left, y, black);
    }
    for c in curves {
        let points: Vec<Option<(i64, i64)>> = c
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v.is_finite() && v > 0.0).then(|| (px(i), py(v))))
            .collect();
        for w in points.windows(2) {
            if let (Some((x0, y0)), Some((x1, y1))) = (w[0], w[1]) {
                let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
                for s in 0..=steps {
                    let x = x0 + (x1 - x0) * s / steps;
                    let y = y0 + (y1 - y0) * s / steps;
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        put(&mut img, x + dx, y + dy, c.color);
                    }
                }
            }
        }
    }
    // Legend: one coloured box per curve, top right.
    for (k, c) in curves.iter().enumerate() {
        let (x0, y0) = (right - 40, top + 8 + 18 * k as i64);
        for y in y0..y0 + 12 {
            for x in x0..x0 + 30 {
                let edge = y == y0 || y == y0 + 11 || x == x0 || x == x0 + 29;
                put(&mut img, x, y, if edge { black } else { c.color });
            }
        }
    }
    crate::io::atomic::write_png(path, &img)
}
