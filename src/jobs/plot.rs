//! The one plotting module of the jobs: line plots with axes, tick values,
//! a title and a legend, drawn with `plotters` into a pixel buffer and
//! written as PNG kill-safely. Text uses DejaVu Sans embedded from the
//! `dejavu` crate (through plotters' `ab_glyph` feature), so plots render
//! the same on machines without system fonts. Every job (and the CLI) may
//! import it; it imports nothing of the jobs.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::nn::rnn::CellKind;

/// One line of a plot.
pub struct Curve {
    pub label: String,
    pub color: [u8; 3],
    pub values: Vec<f32>,
}

/// Labels and the y scale of a plot.
#[derive(Clone, Debug)]
pub struct PlotStyle {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// A log₁₀ y axis (values ≤ 0 or not finite are skipped) or a linear one.
    pub log_y: bool,
    /// The x of each value (every curve's i-th value at `x[i]`, increasing),
    /// such as the iterations of snapshots; empty: 1 … n.
    pub x: Vec<f64>,
}

impl Default for PlotStyle {
    fn default() -> Self {
        PlotStyle {
            title: String::new(),
            x_label: "step".into(),
            y_label: "value".into(),
            log_y: true,
            x: Vec::new(),
        }
    }
}

/// The colour kairo uses for each cell in plots.
pub fn cell_color(cell: CellKind) -> [u8; 3] {
    match cell {
        CellKind::RnnTanh => [214, 39, 40],
        CellKind::Lstm => [31, 119, 180],
        CellKind::Gru => [44, 160, 44],
    }
}

/// Registers the embedded font once under plotters' "sans-serif" family.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let bytes = match style {
                FontStyle::Bold => dejavu::sans::bold(),
                _ => dejavu::sans::regular(),
            };
            // The bytes are a valid TrueType font shipped by the crate.
            // (plotters draws text on wasm32 through the browser instead.)
            #[cfg(not(target_arch = "wasm32"))]
            let _ = plotters::style::register_font("sans-serif", style, bytes);
            #[cfg(target_arch = "wasm32")]
            let _ = (style, bytes);
        }
    });
}

/// Draws the curves against x = 1 … n on a log₁₀ y axis, with a default
/// title and axis labels (see [`render_plot`]).
pub fn render_log_plot(curves: &[Curve], width: u32, height: u32, path: &Path) -> Result<()> {
    render_plot(curves, &PlotStyle::default(), width, height, path)
}

/// Draws the curves against x = 1 … n (or `style.x`) as a PNG of `width`×`height`
/// written kill-safely (tmp + rename): axes with tick values, `style`'s
/// title and axis labels, and a legend (top right) naming each curve in
/// its colour. On a log axis zero, negative and non-finite values are
/// skipped; on a linear one non-finite values are.
pub fn render_plot(
    curves: &[Curve],
    style: &PlotStyle,
    width: u32,
    height: u32,
    path: &Path,
) -> Result<()> {
    let values = || curves.iter().flat_map(|c| c.values.iter().copied()).filter(|&v| usable(v, style.log_y));
    let lo = values().fold(f32::INFINITY, f32::min);
    let hi = values().fold(f32::NEG_INFINITY, f32::max);
    let n = curves.iter().map(|c| c.values.len()).max().unwrap_or(0);
    if !lo.is_finite() || n < 2 || width < 160 || height < 120 {
        return Err(Error::InvalidArgument(format!(
            "plot: nothing {}to draw, or smaller than 160×120",
            if style.log_y { "positive " } else { "" }
        )));
    }
    register_font();
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    draw(curves, style, (width, height), (lo as f64, hi as f64), n, &mut buf)
        .map_err(|e| Error::InvalidArgument(format!("plot: {e}")))?;
    let img = image::RgbImage::from_raw(width, height, buf).expect("buffer of width×height×3");
    crate::io::atomic::write_png(path, &img)
}

/// Whether a value can be drawn on the axis.
fn usable(v: f32, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(
    curves: &[Curve],
    style: &PlotStyle,
    size: (u32, u32),
    (lo, hi): (f64, f64),
    n: usize,
    buf: &mut [u8],
) -> DrawResult {
    let root = BitMapBackend::with_buffer(buf, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&style.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64);
    let x_of = |i: usize| style.x.get(i).copied().unwrap_or((i + 1) as f64);
    let x_range = x_of(0)..x_of(n - 1);
    // A log axis is drawn as log₁₀ of the values on a linear one, labelled
    // 10^y: ticks at whole decades over any span (plotters' own log axis
    // stops labelling below about 1e-15).
    let (lo, hi) = if style.log_y {
        (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0))
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad, hi + pad)
    };
    let log = style.log_y;
    let y_of = move |v: f32| if log { (v as f64).log10() } else { v as f64 };
    let mut chart = builder.build_cartesian_2d(x_range, lo..hi)?;
    let decades = (hi - lo) as usize;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&style.x_label)
        .y_desc(&style.y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 12))
        .bold_line_style(RGBColor(205, 205, 205))
        .light_line_style(RGBColor(238, 238, 238));
    let tick = |v: &f64| format!("{:.0e}", 10f64.powf(*v));
    if log {
        // At most ~12 labelled decades, every decade a grid line.
        mesh.y_labels(decades / decades.div_ceil(12) + 1).y_label_formatter(&tick);
    }
    mesh.draw()?;
    series(&mut chart, curves, |v| usable(v, log), x_of, y_of)?;
    let at = quiet_corner(curves, |v| (y_of(v) - lo) / (hi - lo));
    legend(&mut chart, at)?;
    root.present()?;
    Ok(())
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// One line per curve, broken where a value is skipped, with its legend entry.
fn series<'a, DB>(
    chart: &mut Chart<'a, DB>,
    curves: &[Curve],
    keep: impl Fn(f32) -> bool,
    x_of: impl Fn(usize) -> f64,
    y_of: impl Fn(f32) -> f64,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    for c in curves {
        let color = RGBColor(c.color[0], c.color[1], c.color[2]);
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, &v) in c.values.iter().enumerate() {
            if keep(v) {
                runs.last_mut().expect("one run").push((x_of(i), y_of(v)));
            } else if !runs.last().expect("one run").is_empty() {
                runs.push(Vec::new());
            }
        }
        for (k, run) in runs.into_iter().enumerate() {
            let line = chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            if k == 0 {
                line.label(c.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            }
        }
    }
    Ok(())
}

/// The corner of the plot area whose legend-sized patch the fewest curve
/// points fall in; `height` maps a value to 0 (bottom) … 1 (top).
fn quiet_corner(curves: &[Curve], height: impl Fn(f32) -> f64) -> SeriesLabelPosition {
    let n = curves.iter().map(|c| c.values.len()).max().unwrap_or(2).max(2);
    let tall = 0.08 + 0.07 * curves.len() as f64;
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let crowd = |right: bool, top: bool| {
        let points = curves.iter().flat_map(|c| c.values.iter().enumerate());
        points
            .filter(|(_, v)| v.is_finite())
            .filter(|&(i, &v)| {
                let (x, y) = (i as f64 / (n - 1) as f64, height(v));
                let in_x = if right { x > 0.6 } else { x < 0.4 };
                let in_y = if top { y > 1.0 - tall } else { y < tall };
                in_x && in_y && y.is_finite()
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, top)| crowd(right, top))
        .map(|(at, _, _)| at)
        .expect("four corners")
}

fn legend<'a, DB>(chart: &mut Chart<'a, DB>, at: SeriesLabelPosition) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}
