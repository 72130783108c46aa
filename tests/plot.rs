//! The plotting module: a PNG of the requested size with drawn axes, tick
//! labels and a legend, on log and linear axes, including values spanning
//! twenty decades.

use kairo::jobs::plot::{render_log_plot, render_plot, Curve, PlotStyle};

fn out_dir(tag: &str) -> std::path::PathBuf {
    let dir = match std::env::var_os("KAIRO_PLOT_KEEP") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("kairo-plot-{tag}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Dark pixels (text, axes, legend border) in the rectangle: neither the
/// background nor the light grey grid.
fn inked(img: &image::RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            if img.get_pixel(x, y).0.iter().all(|&c| c < 120) {
                n += 1;
            }
        }
    }
    n
}

fn curves() -> Vec<Curve> {
    vec![
        Curve { label: "vanishing".into(), color: [214, 39, 40], values: (0..=20).map(|t| 10f32.powi(t - 20)).collect() },
        Curve { label: "flat".into(), color: [31, 119, 180], values: vec![0.5; 21] },
    ]
}

#[test]
fn log_plot_spanning_twenty_decades_has_axes_ticks_and_legend() {
    let dir = out_dir("log");
    let path = dir.join("log.png");
    let style = PlotStyle { title: "twenty decades".into(), x_label: "step".into(), y_label: "norm".into(), log_y: true, x: Vec::new() };
    render_plot(&curves(), &style, 640, 400, &path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (640, 400));
    // Tick values left of the plot area, and below it.
    assert!(inked(&img, 0, 30, 70, 345) > 100, "no y tick labels");
    assert!(inked(&img, 80, 350, 620, 400) > 50, "no x tick labels or axis name");
    // The title at the top centre; the legend's box and names in the
    // corner the curves leave free (bottom right here), none elsewhere.
    assert!(inked(&img, 200, 0, 440, 28) > 50, "no title");
    assert!(inked(&img, 500, 280, 630, 350) > 150, "no legend bottom right");
    assert_eq!(inked(&img, 80, 40, 300, 120), 0, "ink top left");
    // Both curves are drawn in their colours.
    assert!(img.pixels().any(|p| p.0 == [214, 39, 40]) && img.pixels().any(|p| p.0 == [31, 119, 180]));
    assert!(!path.with_extension("png.tmp").exists());
    if std::env::var_os("KAIRO_PLOT_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn linear_plot_and_the_default_log_plot_are_written_at_their_size() {
    let dir = out_dir("lin");
    let lin = dir.join("linear.png");
    let style = PlotStyle { title: "linear".into(), log_y: false, ..Default::default() };
    let mut c = curves();
    c[0].values = (0..21).map(|t| (t as f32 * 0.3).sin() - 0.5).collect();
    render_plot(&c, &style, 400, 300, &lin).unwrap();
    assert_eq!(image::open(&lin).unwrap().to_rgb8().dimensions(), (400, 300));
    let log = dir.join("default.png");
    render_log_plot(&curves(), 320, 200, &log).unwrap();
    assert_eq!(image::open(&log).unwrap().to_rgb8().dimensions(), (320, 200));
    // Nothing positive on a log axis, or a plot too small to label, is refused.
    let zeros = vec![Curve { label: "z".into(), color: [0, 0, 0], values: vec![0.0; 5] }];
    assert!(render_log_plot(&zeros, 320, 200, &log).is_err());
    assert!(render_log_plot(&curves(), 100, 60, &log).is_err());
    if std::env::var_os("KAIRO_PLOT_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn values_are_drawn_at_their_given_x() {
    // Snapshots at uneven iterations: the lowest point (iteration 1000) sits
    // two thirds of the way across the x range 500 … 1250, not half way as
    // it would if the values were spaced by index.
    let dir = out_dir("x");
    let path = dir.join("x.png");
    let style = PlotStyle { x: vec![500.0, 1000.0, 1250.0], x_label: "iteration".into(), ..Default::default() };
    let c = vec![Curve { label: "distance".into(), color: [214, 39, 40], values: vec![1000.0, 10.0, 100.0] }];
    render_plot(&c, &style, 640, 400, &path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    let red: Vec<(u32, u32)> = img.enumerate_pixels().filter(|p| p.2 .0 == [214, 39, 40]).map(|p| (p.0, p.1)).collect();
    let (left, right) = (red.iter().map(|p| p.0).min().unwrap(), red.iter().map(|p| p.0).max().unwrap());
    // The legend's sample line is red too: take the curve's lowest pixel.
    let lowest = red.iter().max_by_key(|p| p.1).unwrap().0;
    let at = (lowest - left) as f32 / (right - left) as f32;
    assert!((at - 2.0 / 3.0).abs() < 0.06, "lowest point at {at:.2} of the width, want 0.67");
    if std::env::var_os("KAIRO_PLOT_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
