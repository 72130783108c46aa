//! A soak test: a thousand training steps of a small LSTM with Adam, with a
//! checkpoint every hundred, must reach a steady state, creating no GPU
//! buffers after warm-up and holding host memory flat, so a run of days
//! does not die of a slow leak.

mod common;

use kairo::io::lock::OutputLock;
use kairo::io::training::save_training;
use kairo::nn::loss::{mse_loss, Reduction};
use kairo::nn::rnn::{CellKind, Recurrent};
use kairo::nn::Module;
use kairo::optim::{Adam, Optimizer};
use kairo::{Tensor, Var};
use rand::SeedableRng;

const STEPS: usize = 1000;
/// Steps before the measurements start (one save included): pipelines
/// compile, the optimiser creates its moments and the buffer pool fills.
const WARM_UP: usize = 50;
/// Host memory may grow this much after warm-up (allocator noise, driver
/// caches): a leak of 17 KiB per step over the 950 measured steps passes
/// it. On lavapipe the resident set stays flat to the page.
const RSS_MARGIN_KIB: u64 = 16 * 1024;
/// A checkpoint is saved (kill-safely, under the output lock) this often,
/// as a training job does.
const SAVE_EVERY: usize = 100;

/// Resident set size of this process, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One step: forward, loss, backward, Adam; returns the loss (one readback).
fn step(layer: &Recurrent, opt: &mut Adam, x: &Var, target: &Var) -> f32 {
    let params = layer.parameters();
    for (_, p) in &params {
        p.zero_grad();
    }
    let out = layer.forward(x, None, None).unwrap();
    let loss = mse_loss(&out.output, target, Reduction::Mean).unwrap();
    loss.backward().unwrap();
    let grads: Vec<(Tensor, Tensor)> =
        params.iter().map(|(n, p)| (p.value().clone(), p.grad().unwrap_or_else(|| panic!("no gradient for {n}")))).collect();
    let pairs: Vec<(&Tensor, &Tensor)> = grads.iter().map(|(v, g)| (v, g)).collect();
    opt.step(&pairs).unwrap();
    loss.value().to_vec().unwrap()[0]
}

#[test]
fn a_thousand_lstm_steps_allocate_nothing_after_warm_up() {
    let c = common::fresh_ctx();
    let (t, b, i, h) = (8, 4, 3, 16);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let layer = Recurrent::new(&c, CellKind::Lstm, i, h, &mut rng).unwrap();
    let x = Var::constant(Tensor::from_slice(&c, &common::random(t * b * i, 1), &[t, b, i]).unwrap());
    let target = Var::constant(Tensor::from_slice(&c, &common::random(t * b * h, 2), &[t, b, h]).unwrap());
    let mut opt = Adam::new(0.01);
    let dir = std::env::temp_dir().join(format!("kairo-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _lock = OutputLock::acquire(&dir).unwrap();
    let ckpt = dir.join("soak.safetensors");

    let start = std::time::Instant::now();
    let first = step(&layer, &mut opt, &x, &target);
    for _ in 1..WARM_UP {
        step(&layer, &mut opt, &x, &target);
    }
    // The first save creates its snapshot and readback buffers.
    save_training(&ckpt, &layer, &opt, &[("step", &WARM_UP.to_string())]).unwrap();
    let warm = c.counters();
    let warm_rss = rss_kib();
    let mut last = first;
    let mut peak_rss = warm_rss;
    for s in WARM_UP..STEPS {
        last = step(&layer, &mut opt, &x, &target);
        assert!(last.is_finite(), "loss became {last} at step {s}");
        if s % SAVE_EVERY == 0 {
            save_training(&ckpt, &layer, &opt, &[("step", &s.to_string())]).unwrap();
            peak_rss = peak_rss.max(rss_kib());
        }
    }
    let after = c.counters();
    let end_rss = rss_kib();
    assert!(kairo::io::atomic::temporary_files(&ckpt).is_empty());
    drop(_lock);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "soak: {STEPS} steps in {:.1} s, loss {first:.4} -> {last:.4}; buffers created {} -> {}, reused {} -> {}; \
         VmRSS {warm_rss:?} -> {end_rss:?} KiB (peak sampled {peak_rss:?})",
        start.elapsed().as_secs_f64(),
        warm.buffers_created,
        after.buffers_created,
        warm.buffers_reused,
        after.buffers_reused
    );
    assert!(last < first, "no learning: loss {first} -> {last}");
    assert_eq!(after.buffers_created, warm.buffers_created, "buffers created after warm-up: {warm:?} -> {after:?}");
    assert_eq!(after.bytes_created, warm.bytes_created);
    assert_eq!(after.pipelines_compiled, warm.pipelines_compiled, "pipelines compiled after warm-up");
    assert!(after.buffers_reused > warm.buffers_reused, "the pool was not used: {after:?}");
    if let (Some(w), Some(e)) = (warm_rss, end_rss) {
        assert!(e <= w + RSS_MARGIN_KIB, "host memory grew {} KiB over {} steps ({w} -> {e} KiB)", e.saturating_sub(w), STEPS - WARM_UP);
    }
}
