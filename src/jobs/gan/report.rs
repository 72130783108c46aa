//! What a DCGAN run shows and leaves behind: sample grids, the loss curve,
//! periodic checkpoints and quality judgements, and the loop that produces
//! them. All files are written kill-safely (tmp + rename).

use crate::io::lock::OutputLock;
use std::path::{Path, PathBuf};

use super::judge::{judge, Judgement, ShapeClassifier};
use super::quality::{Scorer, Scores};
use super::trainer::{GanTrainer, IterStats};
use crate::jobs::plot::{render_plot, Curve, PlotStyle};
use crate::error::{Error, Result};

/// Draws `n` images (n, C, S, S) in [-1, 1] as a square-ish grid, each
/// pixel `scale`×`scale`, with a 2-pixel grey border between images.
pub fn render_grid(
    images: &[f32],
    channels: usize,
    size: usize,
    scale: usize,
    path: &Path,
) -> Result<()> {
    render_grid_cols(images, channels, size, scale, None, path)
}

/// [`render_grid`] with `cols` images a row (a class grid: one row per
/// class), or square-ish when None.
pub fn render_grid_cols(images: &[f32], channels: usize, size: usize, scale: usize, cols: Option<usize>, path: &Path) -> Result<()> {
    crate::io::atomic::write_png(path, &grid_image_cols(images, channels, size, scale, cols)?)
}

/// The grid [`render_grid`] draws, as an image (a page shows it on a canvas).
pub fn grid_image(images: &[f32], channels: usize, size: usize, scale: usize) -> Result<image::RgbImage> {
    grid_image_cols(images, channels, size, scale, None)
}

/// [`grid_image`] with `cols` images a row, or square-ish when None.
pub fn grid_image_cols(images: &[f32], channels: usize, size: usize, scale: usize, cols: Option<usize>) -> Result<image::RgbImage> {
    let per = channels * size * size;
    if per == 0 || images.is_empty() || !images.len().is_multiple_of(per) || scale == 0 {
        return Err(Error::InvalidArgument(format!(
            "sample grid: {} values are not whole {channels}×{size}×{size} images",
            images.len()
        )));
    }
    let n = images.len() / per;
    let cols = cols.unwrap_or((n as f64).sqrt().ceil() as usize).clamp(1, n);
    let rows = n.div_ceil(cols);
    let (pad, cell) = (2usize, size * scale);
    let (w, h) = (cols * (cell + pad) + pad, rows * (cell + pad) + pad);
    let mut img = image::RgbImage::from_pixel(w as u32, h as u32, image::Rgb([128, 128, 128]));
    let to_u8 = |v: f32| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
    for k in 0..n {
        let src = &images[k * per..(k + 1) * per];
        let (ox, oy) = (
            pad + (k % cols) * (cell + pad),
            pad + (k / cols) * (cell + pad),
        );
        for y in 0..size {
            for x in 0..size {
                let i = y * size + x;
                let rgb = if channels == 1 {
                    [to_u8(src[i]); 3]
                } else {
                    [
                        to_u8(src[i]),
                        to_u8(src[size * size + i]),
                        to_u8(src[2 * size * size + i]),
                    ]
                };
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            (ox + x * scale + dx) as u32,
                            (oy + y * scale + dy) as u32,
                            image::Rgb(rgb),
                        );
                    }
                }
            }
        }
    }
    Ok(img)
}

/// Moving average over a trailing window, so curves of noisy GAN losses
/// stay readable.
fn smooth(values: &[f32], window: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0f64;
    for (i, &v) in values.iter().enumerate() {
        sum += v as f64;
        if i >= window {
            sum -= values[i - window] as f64;
        }
        out.push((sum / (i + 1).min(window) as f64) as f32);
    }
    out
}

/// The loss curve: D loss, G loss, D(x) and D(G(z)) over iterations,
/// smoothed, on a log axis (the plotting helper of every job), with a
/// legend naming each line.
pub fn render_loss_curve(history: &[IterStats], path: &Path) -> Result<()> {
    let window = (history.len() / 50).max(1);
    let series =
        |f: &dyn Fn(&IterStats) -> f32| smooth(&history.iter().map(f).collect::<Vec<_>>(), window);
    let curves = vec![
        Curve {
            label: "D loss".into(),
            color: [214, 39, 40],
            values: series(&|s| s.loss_d),
        },
        Curve {
            label: "G loss".into(),
            color: [31, 119, 180],
            values: series(&|s| s.loss_g),
        },
        Curve {
            label: "D(x)".into(),
            color: [44, 160, 44],
            values: series(&|s| s.d_x),
        },
        Curve {
            label: "D(G(z))".into(),
            color: [255, 127, 14],
            values: series(&|s| s.d_g_z),
        },
    ];
    let style = PlotStyle {
        title: match window {
            1 => "DCGAN losses".into(),
            w => format!("DCGAN losses (moving average over {w} iterations)"),
        },
        x_label: "iteration".into(),
        y_label: "loss / probability".into(),
        log_y: true,
        ..Default::default()
    };
    render_plot(&curves, &style, 720, 400, path)
}

/// Files of a run in its output folder.
pub struct RunFiles {
    pub checkpoint: PathBuf,
    pub loss_curve: PathBuf,
    pub quality: PathBuf,
}

impl RunFiles {
    /// The files under `out`.
    pub fn new(out: &Path) -> RunFiles {
        RunFiles {
            checkpoint: out.join("checkpoint.safetensors"),
            loss_curve: out.join("loss.png"),
            quality: out.join("quality.csv"),
        }
    }

    /// The sample grid written at `iteration`.
    pub fn grid(out: &Path, iteration: u64) -> PathBuf {
        out.join(format!("samples_{iteration:06}.png"))
    }
}

/// What one periodic save produced.
pub struct Snapshot {
    pub iteration: u64,
    pub grid: PathBuf,
    pub judgement: Option<Judgement>,
    /// Fréchet distance (and a conditional run's accuracy) when a scorer is given.
    pub scores: Option<Scores>,
}

/// Samples judged per snapshot.
pub const JUDGED_SAMPLES: usize = 200;

/// Writes the sample grid, the loss curve and the checkpoint of the
/// trainer's current state, and judges fresh samples if a classifier is
/// given (appending a line to quality.csv).
pub fn snapshot(t: &GanTrainer, classifier: Option<&ShapeClassifier>) -> Result<Snapshot> {
    snapshot_scored(t, classifier, None)
}

/// [`snapshot`], and with a scorer the Fréchet distance (and a
/// conditional run's accuracy per class) of fresh samples, appended to
/// quality.csv (scores.csv when a shape judge has quality.csv) and
/// plotted in quality.png.
pub fn snapshot_scored(t: &GanTrainer, classifier: Option<&ShapeClassifier>, scorer: Option<&Scorer>) -> Result<Snapshot> {
    let out = &t.config.out;
    std::fs::create_dir_all(out).map_err(|e| Error::Io {
        path: out.display().to_string(),
        source: e,
    })?;
    let files = RunFiles::new(out);
    let m = t.config.model;
    let grid = RunFiles::grid(out, t.iteration);
    let scale = if m.image_size <= 32 { 2 } else { 1 };
    let cols = (!t.class_names.is_empty()).then(|| t.fixed_noise.shape()[0] / t.class_names.len());
    render_grid_cols(&t.generate_grid()?, m.channels, m.image_size, scale, cols, &grid)?;
    if t.history.len() >= 2 {
        render_loss_curve(&t.history, &files.loss_curve)?;
    }
    super::checkpoint::save(t, &files.checkpoint)?;
    let judgement = match classifier {
        None => None,
        Some(c) => {
            // Fresh noise per snapshot (not the grid's), seeded by the iteration.
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
                t.config.seed ^ 0x5A11 ^ t.iteration,
            );
            let noise = super::trainer::uniform_noise(JUDGED_SAMPLES, m.nz, &mut rng);
            let noise = crate::Tensor::from_slice(&t.ctx, &noise, &[JUDGED_SAMPLES, m.nz])?;
            let j = judge(&t.ctx, c, &t.generate(&noise)?)?;
            let mut text = std::fs::read_to_string(&files.quality).unwrap_or_else(|_| {
                "iteration,classes_covered,mean_confidence,diversity,confident_per_class,in_distribution,judged\n".into()
            });
            let counts: Vec<String> = j.confident_counts.iter().map(|c| c.to_string()).collect();
            text.push_str(&format!(
                "{},{},{:.4},{:.4},{},{:.4},{}\n",
                t.iteration,
                j.classes_covered,
                j.mean_confidence,
                j.diversity,
                counts.join(" "),
                j.in_distribution,
                j.judged
            ));
            crate::io::atomic::write_atomic(&files.quality, text.as_bytes())?;
            Some(j)
        }
    };
    let scores = match scorer {
        None => None,
        Some(sc) => {
            let s = sc.score(t, t.config.seed ^ 0x5C04E ^ t.iteration)?;
            let csv = if classifier.is_some() { out.join("scores.csv") } else { files.quality.clone() };
            super::quality::record(&s, &csv, &out.join("quality.png"))?;
            Some(s)
        }
    };
    Ok(Snapshot {
        iteration: t.iteration,
        grid,
        judgement,
        scores,
    })
}

/// Trains until `config.iters` iterations, with a snapshot every
/// `config.every` iterations and at the end. `on_iter` sees every
/// iteration's numbers, `on_snapshot` every snapshot. A value read back
/// not finite ends the run with [`Error::Diverged`] before any snapshot
/// of that iteration: the last snapshot's checkpoint (if any) stays.
pub fn run(
    t: &mut GanTrainer,
    classifier: Option<&ShapeClassifier>,
    on_iter: impl FnMut(u64, &IterStats),
    on_snapshot: impl FnMut(&Snapshot),
) -> Result<()> {
    run_scored(t, classifier, None, on_iter, on_snapshot)
}

/// [`run`] with a scorer at each snapshot ([`snapshot_scored`]).
pub fn run_scored(
    t: &mut GanTrainer,
    classifier: Option<&ShapeClassifier>,
    scorer: Option<&Scorer>,
    mut on_iter: impl FnMut(u64, &IterStats),
    mut on_snapshot: impl FnMut(&Snapshot),
) -> Result<()> {
    // One run per output folder, held until the run ends (created if missing).
    let _lock = OutputLock::acquire_dir(&t.config.out)?;
    while t.iteration < t.config.iters {
        let stats = t.step()?;
        on_iter(t.iteration, &stats);
        if t.snapshot_due(t.iteration) {
            on_snapshot(&snapshot_scored(t, classifier, scorer)?);
        }
    }
    Ok(())
}
