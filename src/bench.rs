//! Kernel benchmarks, shared by `kairo bench` and `cargo bench`.
//! Each result is the median of `reps` runs after a warm-up, timed with GPU
//! timestamps where the adapter has them and wall time otherwise.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::kernels;
use crate::ops::{self, MatmulOptions, MatmulVariant};
use crate::{Context, Tensor};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Square matmul sizes; `None`: 256, 512, 1024, plus 2048 and 4096 on real GPUs.
    pub sizes: Option<Vec<usize>>,
    /// Timed repetitions per entry (after one warm-up).
    pub reps: usize,
    /// Also time every matmul kernel variant, not only the autotuned choice.
    pub variants: bool,
    /// Dispatches in the overhead measurement.
    pub dispatches: usize,
    /// Which groups to run: "matmul", "dispatch", "rnn", "ctc", "speech",
    /// "dcgan", "conv" (convolutions and the generator), "generator" (the
    /// generator alone), "jobs" (the web page's training steps; only when
    /// named) (empty: all; "rnn", "speech", "dcgan" and "conv" only
    /// when `sizes` is None too, so small-size runs stay quick).
    pub only: Vec<String>,
    /// The recurrent-layer entries' problem size.
    pub rnn: RnnBenchShape,
}

/// Every group [`BenchConfig::only`] may name.
pub const GROUPS: [&str; 9] = ["matmul", "dispatch", "rnn", "ctc", "speech", "dcgan", "conv", "generator", "jobs"];

impl BenchConfig {
    /// Errors unless every name in `only` is one of [`GROUPS`] (the message
    /// lists them) and `sizes`, if given, holds at least one size, none 0.
    /// [`run`] checks this before measuring anything.
    pub fn validate(&self) -> Result<()> {
        if let Some(bad) = self.only.iter().find(|o| !GROUPS.contains(&o.as_str())) {
            return Err(Error::InvalidArgument(format!("bench: unknown group {bad:?} (valid groups: {})", GROUPS.join(", "))));
        }
        match &self.sizes {
            Some(s) if s.is_empty() || s.contains(&0) => Err(Error::InvalidArgument(format!("bench: sizes {s:?} name no matmul (give sizes ≥ 1)"))),
            _ => Ok(()),
        }
    }
}

/// Problem size of the `lstm_*` / `gru_*` entries: one layer over x (T, B, I), hidden H.
#[derive(Clone, Copy, Debug)]
pub struct RnnBenchShape {
    pub steps: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
}

impl Default for RnnBenchShape {
    fn default() -> Self {
        RnnBenchShape { steps: 50, batch: 32, input: 128, hidden: 256 }
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            sizes: None,
            reps: 10,
            variants: false,
            dispatches: 1000,
            only: Vec::new(),
            rnn: RnnBenchShape::default(),
        }
    }
}

/// The adapter a report came from.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    #[serde(rename = "type")]
    pub device_type: String,
    pub driver: String,
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// `matmul`, `matmul_at_b`, `matmul_a_bt`, `dispatch_one_pass`, ...
    pub name: String,
    /// Kernel variant, where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Problem sizes (m, n, k; or dispatches).
    pub sizes: serde_json::Map<String, serde_json::Value>,
    /// Median milliseconds (per dispatch for dispatch entries: see `us_per_dispatch`).
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub us_per_dispatch: Option<f64>,
    /// `gpu_timestamps` or `wall`.
    pub timer: String,
    /// Compute dispatches recorded by one timed run (RNN entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatches: Option<u64>,
}

impl BenchResult {
    /// An entry reporting `t`: its median, timer and dispatch count.
    fn timed(name: impl Into<String>, variant: Option<String>, sizes: serde_json::Map<String, serde_json::Value>, t: Timed) -> Self {
        BenchResult {
            name: name.into(),
            variant,
            sizes,
            ms: t.ms,
            gflops: None,
            us_per_dispatch: None,
            timer: t.timer.to_string(),
            dispatches: t.dispatches,
        }
    }

    /// With the rate of `flops` floating-point operations per run.
    fn with_flops(mut self, flops: f64) -> Self {
        self.gflops = Some(flops / (self.ms * 1e-3) / 1e9);
        self
    }
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub adapter: AdapterReport,
    pub results: Vec<BenchResult>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn random(ctx: &Context, shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_slice(ctx, &data, shape)
}

/// Which clock a measurement reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// GPU timestamps where the adapter has them ([`Context::timed`]), wall time otherwise.
    Gpu,
    /// Wall time of the work alone (which does its own submit and wait).
    Wall,
}

/// The median of one entry's timed runs.
#[derive(Clone, Copy, Debug)]
struct Timed {
    /// Median milliseconds.
    ms: f64,
    /// `gpu_timestamps` or `wall`.
    timer: &'static str,
    /// Compute dispatches one run records, where counted.
    dispatches: Option<u64>,
}

/// The one timing loop every benchmark uses: `work` once to warm up
/// (pipelines, autotune, pool), once more untimed to count its dispatches
/// if `count_dispatches`, then `reps` (at least 1) timed runs on `clock`;
/// the median of those.
fn measure(ctx: &Context, clock: Clock, reps: usize, count_dispatches: bool, mut work: impl FnMut() -> Result<()>) -> Result<Timed> {
    match clock {
        Clock::Gpu => drop(ctx.timed(&mut work)?),
        Clock::Wall => work()?,
    }
    let dispatches = if count_dispatches {
        let before = ctx.counters().dispatches;
        work()?;
        Some(ctx.counters().dispatches - before)
    } else {
        None
    };
    let (mut gpu, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..reps.max(1) {
        match clock {
            Clock::Gpu => {
                let t = ctx.timed(&mut work)?;
                if let Some(g) = t.gpu_ms {
                    gpu.push(g);
                }
                wall.push(t.wall_ms);
            }
            Clock::Wall => {
                let start = Instant::now();
                work()?;
                wall.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    if clock == Clock::Gpu && gpu.len() == wall.len() {
        Ok(Timed { ms: median(gpu), timer: "gpu_timestamps", dispatches })
    } else {
        Ok(Timed { ms: median(wall), timer: "wall", dispatches })
    }
}

/// Times `work` `reps` times after one warm-up; median ms and which timer
/// (GPU timestamps where the adapter has them, wall time otherwise).
pub fn time_median(ctx: &Context, reps: usize, work: impl FnMut() -> Result<()>) -> Result<(f64, &'static str)> {
    let t = measure(ctx, Clock::Gpu, reps, false, work)?;
    Ok((t.ms, t.timer))
}

fn is_real_gpu(ctx: &Context) -> bool {
    !matches!(ctx.adapter_info().device_type, wgpu::DeviceType::Cpu | wgpu::DeviceType::Other)
}

fn sizes_map(pairs: &[(&str, usize)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect()
}

/// Matmul entries: the three transpose forms at each size, autotuned (and
/// every variant with `variants`).
pub fn bench_matmul(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    let sizes = cfg.sizes.clone().unwrap_or_else(|| {
        if is_real_gpu(ctx) {
            vec![256, 512, 1024, 2048, 4096]
        } else {
            vec![256, 512, 1024]
        }
    });
    let mut out = Vec::new();
    for &s in &sizes {
        let a = random(ctx, &[s, s], 1)?;
        let b = random(ctx, &[s, s], 2)?;
        for (name, ta, tb) in [("matmul", false, false), ("matmul_at_b", true, false), ("matmul_a_bt", false, true)] {
            let mut variants = vec![MatmulVariant::Auto];
            if cfg.variants {
                variants.extend(MatmulVariant::ALL);
            }
            for v in variants {
                let o = MatmulOptions { trans_a: ta, trans_b: tb, variant: v, ..Default::default() };
                // First call outside the timing: autotune and pipeline compilation.
                ops::matmul_ex(&a, &b, &o)?;
                ctx.sync()?;
                let t = measure(ctx, Clock::Gpu, cfg.reps, false, || ops::matmul_ex(&a, &b, &o).map(drop))?;
                let flops = 2.0 * (s as f64).powi(3);
                let variant = if v == MatmulVariant::Auto {
                    let key_variant = ops::matmul::chosen_variant(ctx, &a, &b, &o)?;
                    format!("auto:{}", key_variant.name())
                } else {
                    v.name().to_string()
                };
                let r = BenchResult::timed(name, Some(variant), sizes_map(&[("m", s), ("n", s), ("k", s)]), t).with_flops(flops);
                report(&r);
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Dispatch overhead: `n` tiny dependent dispatches in one pass, with one
/// submit each, and with submit-and-wait each. Wall time (the point is the
/// host and driver cost, which GPU timestamps would not see).
pub fn bench_dispatch_overhead(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    let n = cfg.dispatches.max(1);
    let x = Tensor::zeros(ctx, &[64])?;
    let bump = || kernels::bench::record_bump(ctx, &x, [1, 1, 1]);
    bump()?;
    ctx.sync()?;
    let mut out = Vec::new();
    let modes: [(&str, &dyn Fn() -> Result<()>); 3] = [
        ("dispatch_one_pass", &|| {
            for _ in 0..n {
                bump()?;
            }
            ctx.sync()
        }),
        ("dispatch_submit_each", &|| {
            for _ in 0..n {
                bump()?;
                ctx.submit()?;
            }
            ctx.wait()
        }),
        ("dispatch_submit_wait_each", &|| {
            for _ in 0..n {
                bump()?;
                ctx.sync()?;
            }
            Ok(())
        }),
    ];
    let reps = (cfg.reps / 3).max(3);
    for (name, run) in modes {
        let t = measure(ctx, Clock::Wall, reps, false, run)?;
        let mut r = BenchResult::timed(name, None, sizes_map(&[("dispatches", n)]), t);
        r.us_per_dispatch = Some(t.ms * 1e3 / n as f64);
        report(&r);
        out.push(r);
    }
    Ok(out)
}

/// One recurrent layer (LSTM, GRU) over (T, B, I): `*_forward` is the
/// forward pass alone (no tape), `*_step` forward, loss = Σ outputs, and
/// backward to every parameter. Wall time of the work plus its one submit
/// and wait, median of `reps` (10 by default, as the figures) after
/// a warm-up;
/// `dispatches` is what one run records. The variant names the step kernel
/// that ran (`nn::rnn_fused::StepKernel`: subgroup8, workgroup, unfused):
/// the adapter's choice, or with `KAIRO_RNN_STEP=all` every one that runs
/// here, side by side (rows of one name, one per kernel).
pub fn bench_rnn(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::autograd::{self, Var};
    use crate::nn::rnn::{CellKind, Recurrent};
    use crate::nn::rnn_fused::{self, StepKernel};
    let RnnBenchShape { steps, batch, input, hidden } = cfg.rnn;
    let mut out = Vec::new();
    let every = rnn_fused::bench_every_step_kernel();
    let kinds = [(CellKind::Lstm, "lstm"), (CellKind::Gru, "gru")];
    let runs = kinds.into_iter().flat_map(|(kind, prefix)| {
        // None: the kernel a layer takes by itself (autotuned).
        let kernels: Vec<Option<StepKernel>> = if every {
            StepKernel::ALL.into_iter().filter(|k| k.runs(ctx, kind, hidden)).map(Some).collect()
        } else {
            vec![None]
        };
        kernels.into_iter().map(move |k| (kind, prefix, k))
    });
    for (kind, prefix, forced) in runs {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut layer = Recurrent::new(ctx, kind, input, hidden, &mut rng)?;
        layer.step_kernel = forced;
        let x = Var::constant(random(ctx, &[steps, batch, input], 4)?);
        let forward = || -> Result<()> {
            crate::no_grad(|| layer.forward(&x, None, None).map(drop))?;
            ctx.sync()
        };
        let step = || -> Result<()> {
            for p in [&layer.weight_ih, &layer.weight_hh, &layer.bias_ih, &layer.bias_hh] {
                p.zero_grad();
            }
            let o = layer.forward(&x, None, None)?;
            let flat = autograd::reshape(&o.output, &[steps * batch * hidden])?;
            autograd::reduce(&flat, 0, ops::ReduceOp::Sum, false)?.backward()?;
            ctx.sync()
        };
        let runs: [(&str, &dyn Fn() -> Result<()>); 2] = [("forward", &forward), ("step", &step)];
        for (what, run) in runs {
            let t = measure(ctx, Clock::Wall, cfg.reps, true, run)?;
            let kernel = forced.unwrap_or_else(|| rnn_fused::chosen_step_kernel(ctx, kind, batch, hidden));
            let sizes = sizes_map(&[("T", steps), ("B", batch), ("I", input), ("H", hidden)]);
            let r = BenchResult::timed(format!("{prefix}_{what}"), Some(kernel.name().to_string()), sizes, t);
            report(&r);
            out.push(r);
        }
    }
    Ok(out)
}

/// CTC loss + gradient at T 150, N 16, C 28, 40-label targets, all at full
/// length, from logits (the fused log_softmax path, reduction mean): one
/// entry per kernel layout. `ctc_forward` is the loss alone (no tape),
/// `ctc_loss_grad` loss and backward to the logits. Wall time of the work
/// plus its one submit and wait, median of `reps` after a warm-up.
pub fn bench_ctc(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::autograd::Var;
    use crate::nn::ctc::{ctc_loss, CtcLayout, CtcOptions, CtcTargets};
    let (t, n, c, s) = (150, 16, 28, 40);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let labels: Vec<u32> = (0..n * s).map(|_| rng.random_range(1..c as u32)).collect();
    let targets = CtcTargets::Padded { data: labels, s };
    let (input_lengths, target_lengths) = (vec![t; n], vec![s; n]);
    let x = Var::parameter(random(ctx, &[t, n, c], 6)?);
    let mut out = Vec::new();
    for (layout, name) in [(CtcLayout::Serial, "serial"), (CtcLayout::Workgroup, "workgroup"), (CtcLayout::Subgroup, "subgroup")] {
        let opts = CtcOptions { from_logits: true, layout, ..Default::default() };
        let forward = || -> Result<()> {
            crate::no_grad(|| ctc_loss(&x, &targets, &input_lengths, &target_lengths, opts).map(drop))?;
            ctx.sync()
        };
        let step = || -> Result<()> {
            x.zero_grad();
            ctc_loss(&x, &targets, &input_lengths, &target_lengths, opts)?.backward()?;
            ctx.sync()
        };
        let runs: [(&str, &dyn Fn() -> Result<()>); 2] = [("ctc_forward", &forward), ("ctc_loss_grad", &step)];
        for (what, run) in runs {
            let timed = measure(ctx, Clock::Wall, cfg.reps, true, run)?;
            let sizes = sizes_map(&[("T", t), ("N", n), ("C", c), ("S", s)]);
            let r = BenchResult::timed(what, Some(name.to_string()), sizes, timed);
            report(&r);
            out.push(r);
        }
    }
    Ok(out)
}

/// The speech recogniser (`crate::jobs::speech`, default model): one
/// training step (conv, bidirectional GRU, CTC, backward, clipping, Adam,
/// submit, loss readback) on a fixed batch of 16 synthetic utterances.
/// Wall time, median of `reps`; the throughput in seconds of audio trained
/// per second is in `sizes` as `audio_s_per_s`, beside the batch's `audio_s`.
pub fn bench_speech(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    let batch = 16;
    let mut step = crate::jobs::speech::BenchStep::new(ctx, batch)?;
    let timed = measure(ctx, Clock::Wall, cfg.reps, true, || step.step())?;
    let audio = step.audio_seconds;
    let mut sizes = sizes_map(&[("B", batch)]);
    let round = |v: f64| serde_json::json!((v * 100.0).round() / 100.0);
    sizes.insert("audio_s".into(), round(audio));
    sizes.insert("audio_s_per_s".into(), round(audio / (timed.ms / 1e3)));
    let r = BenchResult::timed("speech_train_step", None, sizes, timed);
    report(&r);
    Ok(vec![r])
}

/// The full DCGAN iteration of `kairo train gan` (D step on 16 real and 16
/// fake images, then G step; batch norm, Adam) at 64×64 RGB, ngf = ndf = 64:
/// wall time of one iteration with its submit and readback, median of
/// `reps` after a warm-up. `images_per_s`
/// (in `sizes`) is the batch over the step time, as PyTorch reports it.
pub fn bench_dcgan(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::data::shapes::Shapes;
    use crate::nn::dcgan::DcganConfig;
    use crate::jobs::gan::{GanConfig, GanData, GanTrainer};
    let batch = 16;
    let model = DcganConfig { image_size: 64, channels: 3, nz: 100, ngf: 64, ndf: 64 };
    let gan = GanConfig { model, batch, grid: 16, ..Default::default() };
    let mut t = GanTrainer::new(ctx, gan, GanData::Shapes(Shapes::new(64, 3, 1)?))?;
    // The warm-up also creates the optimiser state.
    let timed = measure(ctx, Clock::Wall, cfg.reps, true, || t.step().map(drop))?;
    let ms = timed.ms;
    let mut sizes = sizes_map(&[("batch", batch), ("size", 64), ("ngf", 64), ("ndf", 64)]);
    let ips = (batch as f64 * 1e3 / ms * 10.0).round() / 10.0;
    sizes.insert("images_per_s".into(), serde_json::json!(ips));
    let r = BenchResult::timed("dcgan_step", Some("bn_adam".into()), sizes, timed);
    report(&r);
    Ok(vec![r])
}

/// The training steps the web page runs, at the sizes its figures are
/// reported for, so a native run and the page compare like for like: the
/// adding problem's step (LSTM, T 50, hidden 64, batch 64) and the DCGAN
/// iteration of `kairo train gan`'s default configuration (32×32 RGB,
/// ngf = ndf = 32, batch 64). Wall time per step with its submit and
/// readback, median of `reps` after a warm-up; `steps_per_s` in `sizes`.
pub fn bench_jobs(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::jobs::adding::{AddingTrainer, SeqConfig};
    use crate::jobs::gan::{GanConfig, GanData, GanTrainer};
    let adding = SeqConfig { length: 50, hidden: 64, batch: 64, steps: usize::MAX, ..Default::default() };
    let mut a = AddingTrainer::new(ctx, &adding)?;
    let adding_ms = measure(ctx, Clock::Wall, cfg.reps, true, || a.step().map(drop))?;
    let gan = GanConfig::default();
    let m = gan.model;
    let mut g = GanTrainer::new(ctx, gan.clone(), GanData::Shapes(crate::data::shapes::Shapes::new(m.image_size, m.channels, 1)?))?;
    let gan_ms = measure(ctx, Clock::Wall, cfg.reps, true, || g.step().map(drop))?;
    let per_s = |ms: f64| serde_json::json!((1e4 / ms).round() / 10.0);
    let mut a_sizes = sizes_map(&[("T", 50), ("H", 64), ("B", 64)]);
    a_sizes.insert("steps_per_s".into(), per_s(adding_ms.ms));
    let mut g_sizes = sizes_map(&[("size", m.image_size), ("ngf", m.ngf), ("ndf", m.ndf), ("batch", gan.batch)]);
    g_sizes.insert("steps_per_s".into(), per_s(gan_ms.ms));
    let out = vec![
        BenchResult::timed("adding_train_step", Some("lstm".into()), a_sizes, adding_ms),
        BenchResult::timed("gan_iteration", Some("default".into()), g_sizes, gan_ms),
    ];
    out.iter().for_each(&mut report);
    Ok(out)
}

/// FLOPs (2 per multiply-add) of a convolution whose smaller side is the
/// grid: `positions` kernel placements of `taps` = C·kh·kw inputs, `out` channels.
fn conv_flops(positions: usize, taps: usize, out: usize) -> f64 {
    2.0 * positions as f64 * taps as f64 * out as f64
}

/// The DCGAN generator without batch norm (z (16, 100, 1, 1) → 512·4² → 256·8²
/// → 128·16² → 64·32² → 3·64², kernel 4, ReLU between, tanh last, no bias).
fn dcgan_generator(ctx: &Context) -> Result<Vec<crate::nn::conv::ConvTranspose2d>> {
    use crate::nn::conv::ConvTranspose2d;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let widths = [100, 512, 256, 128, 64, 3];
    (0..5)
        .map(|i| {
            let (s, p) = if i == 0 { (1, 0) } else { (2, 1) };
            ConvTranspose2d::new(ctx, widths[i], widths[i + 1], 4, s, p, 0, false, &mut rng)
        })
        .collect()
}

fn generator_forward(layers: &[crate::nn::conv::ConvTranspose2d], z: &crate::Var) -> Result<crate::Var> {
    use crate::autograd;
    let mut h = z.clone();
    for (i, l) in layers.iter().enumerate() {
        let op = if i + 1 == layers.len() { ops::UnaryOp::Tanh } else { ops::UnaryOp::Relu };
        h = autograd::unary(&l.forward(&h)?, op)?;
    }
    Ok(h)
}

/// Convolution entries (`--only conv`): a discriminator-sized Conv2d and a
/// generator-sized ConvTranspose2d, forward and forward+backward (input and
/// weight gradients), GPU timestamps where available; the transposed
/// convolution also as the direct gather kernel, for comparison; and the
/// whole DCGAN generator without batch norm (batch 16, 64×64), forward and
/// forward+backward to every weight, wall time of the work with its submit
/// and wait, as an application sees it.
pub fn bench_conv(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::autograd::{self, Var};
    use crate::nn::conv::{conv2d, conv_transpose2d};
    let mut out = Vec::new();
    let mut emit = |r: BenchResult, out: &mut Vec<BenchResult>| {
        report(&r);
        out.push(r);
    };
    let entry = |name: &str, variant: &str, sizes: &[(&str, usize)], t: Timed, flops: f64| {
        BenchResult::timed(name, Some(variant.to_string()), sizes_map(sizes), t).with_flops(flops)
    };
    let sum_backward = |y: &Var| -> Result<()> {
        let n = y.value().numel();
        autograd::reduce(&autograd::reshape(y, &[n])?, 0, ops::ReduceOp::Sum, false)?.backward()
    };
    let only_generator = cfg.only.iter().any(|o| o == "generator") && !cfg.only.iter().any(|o| o == "conv");
    if !only_generator {
        // Discriminator layer 2: (16, 64, 32, 32) → (16, 128, 16, 16).
        let x = Var::parameter(random(ctx, &[16, 64, 32, 32], 6)?);
        let w = Var::parameter(random(ctx, &[128, 64, 4, 4], 7)?);
        let sizes = [("n", 16), ("c", 64), ("h", 32), ("o", 128), ("k", 4), ("s", 2)];
        let flops = conv_flops(16 * 16 * 16, 64 * 16, 128);
        let t = measure(ctx, Clock::Gpu, cfg.reps, false, || crate::no_grad(|| conv2d(&x, &w, None, 2, 1, 1).map(drop)))?;
        emit(entry("conv2d", "im2col_matmul", &sizes, t, flops), &mut out);
        let t = measure(ctx, Clock::Gpu, cfg.reps, false, || {
            x.zero_grad();
            w.zero_grad();
            sum_backward(&conv2d(&x, &w, None, 2, 1, 1)?)
        })?;
        emit(entry("conv2d_fwd_bwd", "im2col_matmul", &sizes, t, 3.0 * flops), &mut out);

        // Generator layer 3: (16, 256, 8, 8) → (16, 128, 16, 16).
        let x = Var::parameter(random(ctx, &[16, 256, 8, 8], 8)?);
        let w = Var::parameter(random(ctx, &[256, 128, 4, 4], 9)?);
        let sizes = [("n", 16), ("c", 256), ("h", 8), ("o", 128), ("k", 4), ("s", 2)];
        let flops = conv_flops(16 * 8 * 8, 128 * 16, 256);
        let o = ops::ConvOptions { stride: 2, padding: 1, dilation: 1, output_padding: 0 };
        let forward = || crate::no_grad(|| conv_transpose2d(&x, &w, None, 2, 1, 0, 1).map(drop));
        emit(entry("conv_transpose2d", "gemm_col2im", &sizes, measure(ctx, Clock::Gpu, cfg.reps, false, forward)?, flops), &mut out);
        let direct = || ops::conv::conv_transpose2d_direct(x.value(), w.value(), None, &o).map(drop);
        let t = measure(ctx, Clock::Gpu, cfg.reps.min(3), false, direct)?;
        emit(entry("conv_transpose2d", "direct_gather", &sizes, t, flops), &mut out);
        let t = measure(ctx, Clock::Gpu, cfg.reps, false, || {
            x.zero_grad();
            w.zero_grad();
            sum_backward(&conv_transpose2d(&x, &w, None, 2, 1, 0, 1)?)
        })?;
        emit(entry("conv_transpose2d_fwd_bwd", "gemm_col2im", &sizes, t, 3.0 * flops), &mut out);
    }

    // The generator: FLOPs of its five transposed convolutions.
    let layers = dcgan_generator(ctx)?;
    let z = Var::constant(random(ctx, &[16, 100, 1, 1], 10)?);
    let grid = [(1, 100, 512), (4, 512, 256), (8, 256, 128), (16, 128, 64), (32, 64, 3)];
    let flops: f64 = grid.iter().map(|&(h, c, o)| conv_flops(16 * h * h, o * 16, c)).sum();
    let sizes = [("batch", 16), ("nz", 100), ("ngf", 64), ("size", 64)];
    let wall = |run: &dyn Fn() -> Result<()>| measure(ctx, Clock::Wall, cfg.reps, false, run);
    let t = wall(&|| {
        crate::no_grad(|| generator_forward(&layers, &z).map(drop))?;
        ctx.sync()
    })?;
    emit(entry("generator_forward", "no_bn", &sizes, t, flops), &mut out);
    let t = wall(&|| {
        for l in &layers {
            l.weight.zero_grad();
        }
        sum_backward(&generator_forward(&layers, &z)?)?;
        ctx.sync()
    })?;
    // Backward: input and weight gradients, twice the forward's FLOPs
    // (the first layer's input gradient is not needed, nor computed).
    emit(entry("generator_fwd_bwd", "no_bn", &sizes, t, 3.0 * flops), &mut out);
    Ok(out)
}

/// Runs the selected groups and returns the report; a config that names no
/// group or size that exists is an error (see [`BenchConfig::validate`]).
pub fn run(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<BenchReport> {
    cfg.validate()?;
    let info = ctx.adapter_info();
    let named = |g: &str| cfg.only.iter().any(|o| o == g);
    let wants = |g: &str| cfg.only.is_empty() || named(g);
    // Slow groups run unasked only without `sizes`, so small-size runs stay quick.
    let slow = |g: &str| named(g) || (cfg.only.is_empty() && cfg.sizes.is_none());
    type Group = fn(&Context, &BenchConfig, &mut dyn FnMut(&BenchResult)) -> Result<Vec<BenchResult>>;
    let groups: [(bool, Group); 8] = [
        (wants("matmul"), |c, g, r| bench_matmul(c, g, r)),
        (wants("dispatch"), |c, g, r| bench_dispatch_overhead(c, g, r)),
        (slow("rnn"), |c, g, r| bench_rnn(c, g, r)),
        (slow("speech"), |c, g, r| bench_speech(c, g, r)),
        (wants("ctc"), |c, g, r| bench_ctc(c, g, r)),
        (slow("dcgan"), |c, g, r| bench_dcgan(c, g, r)),
        (slow("conv") || named("generator"), |c, g, r| bench_conv(c, g, r)),
        (named("jobs"), |c, g, r| bench_jobs(c, g, r)),
    ];
    let mut results = Vec::new();
    for (_, group) in groups.iter().filter(|(selected, _)| *selected) {
        results.extend(group(ctx, cfg, &mut report)?);
    }
    Ok(BenchReport {
        adapter: AdapterReport {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        },
        results,
    })
}

/// One line per result, as `kairo bench` prints it.
pub fn format_result(r: &BenchResult) -> String {
    let sizes: Vec<String> = r.sizes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut line = format!("{:<28} {:<16} {:<26}", r.name, r.variant.as_deref().unwrap_or(""), sizes.join(" "));
    if let Some(g) = r.gflops {
        line.push_str(&format!(" {:>10.3} ms {:>9.2} GFLOP/s", r.ms, g));
    } else if let Some(us) = r.us_per_dispatch {
        line.push_str(&format!(" {:>10.3} ms {:>9.2} µs/dispatch", r.ms, us));
    } else if let Some(d) = r.dispatches {
        line.push_str(&format!(" {:>10.3} ms {:>9} dispatches", r.ms, d));
    }
    line.push_str(&format!("  [{}]", r.timer));
    line
}
