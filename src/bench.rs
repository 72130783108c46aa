//! Kernel benchmarks, shared by `kairo bench` and `cargo bench`.
//! Each result is the median of `reps` runs after a warm-up, timed with GPU
//! timestamps where the adapter has them and wall time otherwise.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::Result;
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
    /// generator alone) (empty: all; "rnn", "speech", "dcgan" and "conv" only
    /// when `sizes` is None too, so small-size runs stay quick).
    pub only: Vec<String>,
    /// The recurrent-layer entries' problem size.
    pub rnn: RnnBenchShape,
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

/// Times `work` `reps` times after one warm-up; median ms and which timer.
pub fn time_median(ctx: &Context, reps: usize, mut work: impl FnMut() -> Result<()>) -> Result<(f64, &'static str)> {
    ctx.timed(&mut work)?;
    let mut gpu = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..reps.max(1) {
        let t = ctx.timed(&mut work)?;
        if let Some(g) = t.gpu_ms {
            gpu.push(g);
        }
        wall.push(t.wall_ms);
    }
    if gpu.len() == wall.len() {
        Ok((median(gpu), "gpu_timestamps"))
    } else {
        Ok((median(wall), "wall"))
    }
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
                let (ms, timer) = time_median(ctx, cfg.reps, || ops::matmul_ex(&a, &b, &o).map(drop))?;
                let flops = 2.0 * (s as f64).powi(3);
                let variant = if v == MatmulVariant::Auto {
                    let key_variant = chosen_variant(ctx, &a, &b, &o)?;
                    format!("auto:{}", key_variant.name())
                } else {
                    v.name().to_string()
                };
                let r = BenchResult {
                    name: name.to_string(),
                    variant: Some(variant),
                    sizes: sizes_map(&[("m", s), ("n", s), ("k", s)]),
                    ms,
                    gflops: Some(flops / (ms * 1e-3) / 1e9),
                    us_per_dispatch: None,
                    timer: timer.to_string(),
                    dispatches: None,
                };
                report(&r);
                out.push(r);
            }
        }
    }
    Ok(out)
}

fn chosen_variant(ctx: &Context, a: &Tensor, b: &Tensor, o: &MatmulOptions) -> Result<MatmulVariant> {
    ops::matmul::chosen_variant(ctx, a, b, o)
}

/// Dispatch overhead: `n` tiny dependent dispatches in one pass, with one
/// submit each, and with submit-and-wait each. Wall time (the point is the
/// host and driver cost, which GPU timestamps would not see).
pub fn bench_dispatch(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    let n = cfg.dispatches.max(1);
    let x = Tensor::zeros(ctx, &[64])?;
    let bump = || ctx.dispatch("bench", "bump", &[], &[], &[x.binding(1)], [1, 1, 1]);
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
        let mut times = Vec::new();
        run()?;
        for _ in 0..reps {
            let start = Instant::now();
            run()?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let ms = median(times);
        let r = BenchResult {
            name: name.to_string(),
            variant: None,
            sizes: sizes_map(&[("dispatches", n)]),
            ms,
            gflops: None,
            us_per_dispatch: Some(ms * 1e3 / n as f64),
            timer: "wall".to_string(),
            dispatches: None,
        };
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
/// `dispatches` is what one run records.
pub fn bench_rnn(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    use crate::autograd::{self, Var};
    use crate::nn::rnn::{CellKind, Recurrent};
    let RnnBenchShape { steps, batch, input, hidden } = cfg.rnn;
    let mut out = Vec::new();
    for (kind, prefix) in [(CellKind::Lstm, "lstm"), (CellKind::Gru, "gru")] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let layer = Recurrent::new(ctx, kind, input, hidden, &mut rng)?;
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
            run()?; // warm-up: pipelines, pool
            let before = ctx.counters().dispatches;
            run()?;
            let dispatches = ctx.counters().dispatches - before;
            let mut times = Vec::new();
            let reps = cfg.reps;
            for _ in 0..reps.max(1) {
                let start = Instant::now();
                run()?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let r = BenchResult {
                name: format!("{prefix}_{what}"),
                variant: None,
                sizes: sizes_map(&[("T", steps), ("B", batch), ("I", input), ("H", hidden)]),
                ms: median(times),
                gflops: None,
                us_per_dispatch: None,
                timer: "wall".to_string(),
                dispatches: Some(dispatches),
            };
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
            run()?; // warm-up: pipelines, pool
            let before = ctx.counters().dispatches;
            run()?;
            let dispatches = ctx.counters().dispatches - before;
            let mut times = Vec::new();
            for _ in 0..cfg.reps.max(1) {
                let start = Instant::now();
                run()?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let r = BenchResult {
                name: what.to_string(),
                variant: Some(name.to_string()),
                sizes: sizes_map(&[("T", t), ("N", n), ("C", c), ("S", s)]),
                ms: median(times),
                gflops: None,
                us_per_dispatch: None,
                timer: "wall".to_string(),
                dispatches: Some(dispatches),
            };
            report(&r);
            out.push(r);
        }
    }
    Ok(out)
}

/// The speech recogniser (`crate::train::speech`, default model): one
/// training step (conv, bidirectional GRU, CTC, backward, clipping, Adam,
/// submit, loss readback) on a fixed batch of 16 synthetic utterances.
/// Wall time, median of `reps`; the
/// throughput in seconds of audio trained per second is in `sizes` as
/// `audio_s_per_s`, beside the batch's `audio_s`.
pub fn bench_speech(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<Vec<BenchResult>> {
    let batch = 16;
    let reps = cfg.reps;
    let (times, audio, dispatches) = crate::jobs::speech::step_timing(ctx, batch, reps)?;
    let ms = median(times);
    let mut sizes = sizes_map(&[("B", batch)]);
    let round = |v: f64| serde_json::json!((v * 100.0).round() / 100.0);
    sizes.insert("audio_s".into(), round(audio));
    sizes.insert("audio_s_per_s".into(), round(audio / (ms / 1e3)));
    let r = BenchResult {
        name: "speech_train_step".to_string(),
        variant: None,
        sizes,
        ms,
        gflops: None,
        us_per_dispatch: None,
        timer: "wall".to_string(),
        dispatches: Some(dispatches),
    };
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
    t.step()?; // warm-up: pipelines, pool, optimiser state
    let before = ctx.counters().dispatches;
    t.step()?;
    let dispatches = ctx.counters().dispatches - before;
    let reps = cfg.reps;
    let mut times = Vec::new();
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        t.step()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let ms = median(times);
    let mut sizes = sizes_map(&[("batch", batch), ("size", 64), ("ngf", 64), ("ndf", 64)]);
    let ips = (batch as f64 * 1e3 / ms * 10.0).round() / 10.0;
    sizes.insert("images_per_s".into(), serde_json::json!(ips));
    let r = BenchResult {
        name: "dcgan_step".into(),
        variant: Some("bn_adam".into()),
        sizes,
        ms,
        gflops: None,
        us_per_dispatch: None,
        timer: "wall".to_string(),
        dispatches: Some(dispatches),
    };
    report(&r);
    Ok(vec![r])
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
    let entry = |name: &str, variant: &str, sizes: &[(&str, usize)], ms: f64, flops: f64, timer: &str| BenchResult {
        name: name.to_string(),
        variant: Some(variant.to_string()),
        sizes: sizes_map(sizes),
        ms,
        gflops: Some(flops / (ms * 1e-3) / 1e9),
        us_per_dispatch: None,
        timer: timer.to_string(),
        dispatches: None,
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
        let (ms, timer) = time_median(ctx, cfg.reps, || crate::no_grad(|| conv2d(&x, &w, None, 2, 1, 1).map(drop)))?;
        emit(entry("conv2d", "im2col_matmul", &sizes, ms, flops, timer), &mut out);
        let (ms, timer) = time_median(ctx, cfg.reps, || {
            x.zero_grad();
            w.zero_grad();
            sum_backward(&conv2d(&x, &w, None, 2, 1, 1)?)
        })?;
        emit(entry("conv2d_fwd_bwd", "im2col_matmul", &sizes, ms, 3.0 * flops, timer), &mut out);

        // Generator layer 3: (16, 256, 8, 8) → (16, 128, 16, 16).
        let x = Var::parameter(random(ctx, &[16, 256, 8, 8], 8)?);
        let w = Var::parameter(random(ctx, &[256, 128, 4, 4], 9)?);
        let sizes = [("n", 16), ("c", 256), ("h", 8), ("o", 128), ("k", 4), ("s", 2)];
        let flops = conv_flops(16 * 8 * 8, 128 * 16, 256);
        let o = ops::ConvOptions { stride: 2, padding: 1, dilation: 1, output_padding: 0 };
        let (ms, timer) = time_median(ctx, cfg.reps, || crate::no_grad(|| conv_transpose2d(&x, &w, None, 2, 1, 0, 1).map(drop)))?;
        emit(entry("conv_transpose2d", "gemm_col2im", &sizes, ms, flops, timer), &mut out);
        let (ms, timer) =
            time_median(ctx, cfg.reps.min(3), || ops::conv::conv_transpose2d_direct(x.value(), w.value(), None, &o).map(drop))?;
        emit(entry("conv_transpose2d", "direct_gather", &sizes, ms, flops, timer), &mut out);
        let (ms, timer) = time_median(ctx, cfg.reps, || {
            x.zero_grad();
            w.zero_grad();
            sum_backward(&conv_transpose2d(&x, &w, None, 2, 1, 0, 1)?)
        })?;
        emit(entry("conv_transpose2d_fwd_bwd", "gemm_col2im", &sizes, ms, 3.0 * flops, timer), &mut out);
    }

    // The generator: FLOPs of its five transposed convolutions.
    let layers = dcgan_generator(ctx)?;
    let z = Var::constant(random(ctx, &[16, 100, 1, 1], 10)?);
    let grid = [(1, 100, 512), (4, 512, 256), (8, 256, 128), (16, 128, 64), (32, 64, 3)];
    let flops: f64 = grid.iter().map(|&(h, c, o)| conv_flops(16 * h * h, o * 16, c)).sum();
    let sizes = [("batch", 16), ("nz", 100), ("ngf", 64), ("size", 64)];
    let wall = |run: &dyn Fn() -> Result<()>| -> Result<f64> {
        run()?; // warm-up: pipelines, autotune, pool
        let mut times = Vec::new();
        for _ in 0..cfg.reps.max(1) {
            let start = Instant::now();
            run()?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok(median(times))
    };
    let ms = wall(&|| {
        crate::no_grad(|| generator_forward(&layers, &z).map(drop))?;
        ctx.sync()
    })?;
    emit(entry("generator_forward", "no_bn", &sizes, ms, flops, "wall"), &mut out);
    let ms = wall(&|| {
        for l in &layers {
            l.weight.zero_grad();
        }
        sum_backward(&generator_forward(&layers, &z)?)?;
        ctx.sync()
    })?;
    // Backward: input and weight gradients, twice the forward's FLOPs
    // (the first layer's input gradient is not needed, nor computed).
    emit(entry("generator_fwd_bwd", "no_bn", &sizes, ms, 3.0 * flops, "wall"), &mut out);
    Ok(out)
}

/// Runs the selected groups and returns the report.
pub fn run(ctx: &Context, cfg: &BenchConfig, mut report: impl FnMut(&BenchResult)) -> Result<BenchReport> {
    let info = ctx.adapter_info();
    let wants = |g: &str| cfg.only.is_empty() || cfg.only.iter().any(|o| o == g);
    let mut results = Vec::new();
    if wants("matmul") {
        results.extend(bench_matmul(ctx, cfg, &mut report)?);
    }
    if wants("dispatch") {
        results.extend(bench_dispatch(ctx, cfg, &mut report)?);
    }
    if cfg.only.iter().any(|o| o == "rnn") || (cfg.only.is_empty() && cfg.sizes.is_none()) {
        results.extend(bench_rnn(ctx, cfg, &mut report)?);
    }
    if cfg.only.iter().any(|o| o == "speech") || (cfg.only.is_empty() && cfg.sizes.is_none()) {
        results.extend(bench_speech(ctx, cfg, &mut report)?);
    }
    if wants("ctc") {
        results.extend(bench_ctc(ctx, cfg, &mut report)?);
    }
    if cfg.only.iter().any(|o| o == "dcgan") || (cfg.only.is_empty() && cfg.sizes.is_none()) {
        results.extend(bench_dcgan(ctx, cfg, &mut report)?);
    }
    if cfg.only.iter().any(|o| o == "conv" || o == "generator") || (cfg.only.is_empty() && cfg.sizes.is_none()) {
        results.extend(bench_conv(ctx, cfg, &mut report)?);
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
