//! `kairo train gan` and `kairo sample gan`: the terminal output around
//! `kairo::jobs::gan` (a progress bar with iteration, D and G losses, D(x), D(G(z))
//! and images/s; a line per snapshot).

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;

use kairo::data::images::{Background, ImageFolder};
use kairo::data::shapes::{Shapes, CLASS_NAMES};
use kairo::jobs::gan::judge::{cache_dir, cache_file, classifier_for, JudgeSettings, ShapeClassifier};
use kairo::jobs::gan::quality::{train_classifier as train_scoring_classifier, Scorer};
use kairo::jobs::gan::conditional::{class_grid, resolve_class, sample_class};
use kairo::jobs::gan::report::{self as gan_report, render_grid_cols, RunFiles};
use kairo::jobs::gan::{checkpoint, generate, uniform_noise, GanConfig, GanData, GanTrainer};
use kairo::{Context, Error, Result, Tensor};

use crate::dist_cli::{self, Ranks};

/// How a run is started beyond its [`GanConfig`].
pub struct GanRun<'a> {
    /// An image folder (None: the built-in shapes).
    pub data: Option<&'a Path>,
    /// Continue from OUT/checkpoint.safetensors.
    pub resume: bool,
    /// Skip judging samples of the built-in shapes.
    pub no_judge: bool,
    /// What transparent pixels of the images are composited onto.
    pub background: Background,
    /// One rank of an `mpirun` job (`--distributed`).
    pub distributed: bool,
    /// Batch norm normalises with its running statistics (evaluation mode)
    /// in training too: the forward then does not depend on how a batch is
    /// split, which the distributed tests use to compare 2 ranks with 1
    /// process exactly. Default: batch statistics (per rank).
    pub running_batch_norm: bool,
}

/// Trains a DCGAN as configured on the folder `data` (or the built-in
/// shapes), resuming from OUT/checkpoint.safetensors if `resume`; on the
/// shapes, samples are judged unless `no_judge`. Distributed: every rank
/// trains, rank 0 alone prints, judges and writes the snapshots.
pub fn train(cfg: GanConfig, run: GanRun) -> Result<()> {
    let ranks = dist_cli::start(run.distributed)?;
    let result = train_ranks(cfg, &run, ranks.as_ref());
    dist_cli::finish(ranks, result)
}

fn train_ranks(cfg: GanConfig, run: &GanRun, ranks: Option<&Ranks>) -> Result<()> {
    let (data, resume) = (run.data, run.resume);
    let quiet = Ranks::quiet(ranks);
    let ctx = dist_cli::context(ranks)?;
    dist_cli::announce(ranks, &ctx);
    if !quiet {
        println!("adapter: {}", ctx.describe());
    }
    let m = cfg.model;
    // Sizes, then the checkpoint to resume: both before data, judge or trainer.
    kairo::jobs::gan::validate(&ctx, &cfg)?;
    let files = RunFiles::new(&cfg.out);
    if resume {
        let at = checkpoint::check_resume(&ctx, &files.checkpoint, &m)?;
        if at >= cfg.iters {
            return Err(Error::InvalidArgument(format!(
                "{} is already at iteration {at}: nothing to do for --iters {} (give a larger --iters to continue)",
                files.checkpoint.display(),
                cfg.iters
            )));
        }
    }
    let mut source = open_source(&cfg, data, run.background, quiet)?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::Io {
        path: cfg.out.display().to_string(),
        source: e,
    })?;
    let (classifier, scorer) = match run.no_judge || quiet {
        true => (None, None),
        false => (quality_judge(&ctx, &cfg, &source)?, quality_scorer(&ctx, &cfg, &mut source)?),
    };
    let mut t = GanTrainer::new(&ctx, cfg, source)?;
    if resume {
        checkpoint::load(&mut t, &files.checkpoint)?;
        if !quiet {
            println!("resumed {} at iteration {}", files.checkpoint.display(), t.iteration);
        }
    }
    if run.running_batch_norm {
        t.generator.set_training(false);
        t.discriminator.set_training(false);
    }
    if let Some(r) = ranks {
        t.set_reducer(kairo::dist::GradReducer::new(r.comm.clone(), kairo::dist::bucket_bytes()?))?;
    }
    if quiet {
        // Ranks after 0 train in step with rank 0 and write nothing.
        while t.iteration < t.config.iters {
            t.step()?;
        }
        return Ok(());
    }
    describe(&t);
    run_and_report(&mut t, &files, (classifier.as_ref(), scorer.as_ref()), resume, ranks)
}

/// Rank 0's (or the only process's) training loop: progress bar, snapshots, summary.
fn run_and_report(t: &mut GanTrainer, files: &RunFiles, (classifier, scorer): (Option<&ShapeClassifier>, Option<&Scorer>), resume: bool, ranks: Option<&Ranks>) -> Result<()> {
    let bar = indicatif::ProgressBar::new(t.config.iters);
    bar.set_position(t.iteration);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:24} {pos}/{len} it  {msg}  [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    // Real + fake images through D, fakes through G, per second.
    let images_per_iter = (t.config.batch * (t.config.d_steps * 2 + 1)) as f64;
    let start = Instant::now();
    let first = t.iteration;
    // The last checkpoint this run can vouch for: the resumed one, then each snapshot's.
    let mut last_good = resume.then_some(t.iteration);
    let result = gan_report::run_scored(
        t,
        classifier,
        scorer,
        |i, s| {
            let rate =
                (i - first) as f64 * images_per_iter / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "D {:.3}  G {:.3}  D(x) {:.2}  D(G(z)) {:.2}  {:.0} img/s",
                s.loss_d, s.loss_g, s.d_x, s.d_g_z, rate
            ));
            bar.set_position(i);
        },
        |snap| {
            last_good = Some(snap.iteration);
            let mut quality = match &snap.judgement {
                Some(j) => format!("; {j}"),
                None => String::new(),
            };
            if let Some(s) = &snap.scores {
                quality.push_str(&format!("; {s}"));
            }
            bar.suspend(|| {
                println!(
                    "iteration {:>6} ({:.0} s): wrote {}{quality}",
                    snap.iteration,
                    start.elapsed().as_secs_f64(),
                    snap.grid.display()
                )
            });
        },
    );
    bar.finish();
    if let Err(Error::Diverged { .. } | Error::Distributed(_)) = &result {
        explain_divergence(files, last_good);
    }
    result?;
    if let GanData::Folder(f) = &t.data {
        if f.unreadable() > 0 {
            println!(
                "{} unreadable image file(s) were skipped (see the warnings)",
                f.unreadable()
            );
        }
    }
    println!(
        "done: {} iterations in {:.0} s; checkpoint {}, loss curve {}",
        t.iteration - first,
        start.elapsed().as_secs_f64(),
        files.checkpoint.display(),
        files.loss_curve.display()
    );
    if let Some(r) = ranks {
        let per = start.elapsed().as_secs_f64() / (t.iteration - first).max(1) as f64;
        let bytes = t.reducer().map_or(0, |d| d.totals().1) as f64 / (t.iteration - first).max(1) as f64;
        println!("{} ranks: {per:.3} s per iteration, {:.2} MB of gradients all-reduced per iteration", r.comm.size(), bytes / 1e6);
    }
    Ok(())
}

/// The run's model, schedule and conditioning, in a line or two.
fn describe(t: &GanTrainer) {
    let m = t.config.model;
    println!(
        "DCGAN: noise {} → G (ngf {}) → {}×{}×{}; D (ndf {}); batch {}, {} D step(s) per G step, Adam lr {} β1 {}; {} iterations, snapshot every {} into {}",
        m.nz,
        m.ngf,
        m.channels,
        m.image_size,
        m.image_size,
        m.ndf,
        t.config.batch,
        t.config.d_steps,
        t.config.lr,
        t.config.beta1,
        t.config.iters,
        t.config.every,
        t.config.out.display()
    );
    if !t.class_names.is_empty() {
        println!(
            "conditional on {} classes ({}): G joins label_embed(y) to the noise, D is a projection discriminator; grids have one row per class",
            t.class_names.len(),
            t.class_names.join(", ")
        );
    }
}

/// The real images: an image folder, or the built-in shapes; says which.
fn open_source(cfg: &GanConfig, data: Option<&Path>, background: Background, quiet: bool) -> Result<GanData> {
    let m = cfg.model;
    Ok(match data {
        Some(dir) => {
            let f = ImageFolder::open_on(dir, m.image_size, m.channels, background)?;
            if let Some(set) = f.idx() {
                let (rows, cols) = set.shape();
                if !quiet {
                    println!(
                        "data: {} IDX images {rows}×{cols} in {} ({} classes: {}), resized to {}×{}, {} channel(s)",
                        f.len(),
                        set.images.path().display(),
                        f.classes().len(),
                        f.classes().join(", "),
                        m.image_size,
                        m.image_size,
                        m.channels
                    );
                }
                return Ok(GanData::Folder(f));
            }
            if !quiet { println!(
                "data: {} image files under {} ({}), {}×{}, {} channel(s)",
                f.len(),
                dir.display(),
                if f.is_cached() {
                    "decoded once, kept in memory"
                } else {
                    "streamed"
                },
                m.image_size,
                m.image_size,
                m.channels
            ); }
            GanData::Folder(f)
        }
        None => {
            if !quiet { println!(
                "data: built-in coloured shapes ({}), {}×{}, {} channel(s)",
                CLASS_NAMES.join(", "),
                m.image_size,
                m.image_size,
                m.channels
            ); }
            GanData::Shapes(Shapes::new(m.image_size, m.channels, cfg.seed)?)
        }
    })
}

/// The shape classifier that judges samples, on the built-in data only (it
/// has labels): trained once per image size and channels, then loaded from
/// the cache folder (`KAIRO_CACHE_DIR`, `XDG_CACHE_HOME/kairo` or
/// `~/.cache/kairo`).
fn quality_judge(
    ctx: &Context,
    cfg: &GanConfig,
    source: &GanData,
) -> Result<Option<ShapeClassifier>> {
    let m = cfg.model;
    if let GanData::Folder(_) = source {
        return Ok(None);
    }
    let Some(dir) = cache_dir() else {
        println!("quality judge: off (no cache folder: set KAIRO_CACHE_DIR or HOME)");
        return Ok(None);
    };
    let settings = JudgeSettings::default();
    let cache = cache_file(&dir, m.image_size, m.channels, settings);
    let start = Instant::now();
    if !cache.exists() {
        println!("quality judge: training a shape classifier once for {}×{}×{} (cached in {}; --no-judge skips it)", m.channels, m.image_size, m.image_size, dir.display());
    }
    let (c, acc) = classifier_for(ctx, m.image_size, m.channels, settings, &cache)?;
    match acc {
        Some(a) => println!(
            "quality judge: trained in {:.0} s, held-out accuracy {:.1}%, saved to {}",
            start.elapsed().as_secs_f64(),
            a * 100.0,
            cache.display()
        ),
        None => println!("quality judge: loaded {}", cache.display()),
    }
    Ok(Some(c))
}

/// Steps of the scoring classifier on labelled folder data.
const SCORER_STEPS: usize = 400;
/// Real images the scorer's Gaussian is fitted to, and samples per score.
const SCORER_IMAGES: usize = 1000;

/// On labelled folder data (IDX, class subfolders): a classifier trained
/// here whose features score samples by a Fréchet distance (and a
/// conditional run's samples by its accuracy), at every snapshot.
fn quality_scorer(ctx: &Context, cfg: &GanConfig, source: &mut GanData) -> Result<Option<Scorer>> {
    if matches!(source, GanData::Shapes(_)) || source.classes().len() < 2 {
        return Ok(None);
    }
    let start = Instant::now();
    println!("quality: training a {}-class scoring classifier ({SCORER_STEPS} steps of 64; --no-judge skips it)", source.classes().len());
    let c = train_scoring_classifier(ctx, source, SCORER_STEPS, cfg.seed)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0xF1D);
    let (real, labels) = source.labelled_batch(SCORER_IMAGES, &mut rng)?;
    let acc = c.accuracy(ctx, &real, &labels)?;
    let scorer = Scorer::new(ctx, c, &real, SCORER_IMAGES)?;
    println!(
        "quality: classifier trained in {:.0} s ({:.1}% on {SCORER_IMAGES} training-set images); Fréchet distances are in its 64 features, not Inception FID",
        start.elapsed().as_secs_f64(),
        acc * 100.0
    );
    Ok(Some(scorer))
}

/// Says which checkpoint, if any, is the last good one of a diverged run.
fn explain_divergence(files: &RunFiles, last_good: Option<u64>) {
    match last_good {
            Some(i) => eprintln!(
                "the last good checkpoint is {} (iteration {i}): resume from it with a lower learning rate",
                files.checkpoint.display()
            ),
            None => eprintln!("no checkpoint was written by this run before it diverged"),
        }
}

/// Writes a grid of `n` samples of the generator in `checkpoint` to `out`:
/// of one class with `class`, a class grid (one row per class) for a
/// conditional checkpoint without it.
pub fn sample(checkpoint: &Path, out: &Path, n: usize, class: Option<&str>, seed: u64) -> Result<()> {
    if n < 2 {
        return Err(Error::InvalidArgument(format!(
            "sample: n must be at least 2 (batch norm), got {n}"
        )));
    }
    let ctx = Context::new()?;
    let (g, names) = checkpoint::load_labelled_generator(&ctx, checkpoint)?;
    let label = class.map(|c| resolve_class(&names, c)).transpose()?;
    let m = g.config;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let scale = if m.image_size <= 32 { 2 } else { 1 };
    let (images, cols, what) = match (label, names.len()) {
        (Some(l), _) => (sample_class(&ctx, &g, n, l, &mut rng)?, None, format!("{n} samples of class {l} ({})", names[l as usize])),
        (None, 0) => {
            let noise = Tensor::from_slice(&ctx, &uniform_noise(n, m.nz, &mut rng), &[n, m.nz])?;
            (generate(&g, &noise)?, None, format!("{n} samples"))
        }
        (None, k) => {
            let per_row = (n / k).max(1);
            let what = format!("class grid, {per_row} a row: {}", names.join(", "));
            (class_grid(&ctx, &g, per_row, &mut rng)?, Some(per_row), what)
        }
    };
    render_grid_cols(&images, m.channels, m.image_size, scale, cols, out)?;
    println!("wrote {} ({what}, {}×{}×{})", out.display(), m.channels, m.image_size, m.image_size);
    Ok(())
}
