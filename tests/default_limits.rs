//! Training on a device opened with WebGPU's default limits (8 storage
//! buffers per shader stage), made here the way an embedding host would make
//! it and handed to `Context::from_wgpu`: an LSTM and a GRU layer (fused where
//! the adapter has subgroups, and unfused) give the same outputs, gradients
//! and dispatch counts as on a device with the adapter's own limits (their
//! entry points all bind at most 8); the CTC loss and its gradient (through
//! the fallbacks of the entry points that bind 9), and a small GAN step, run
//! too. tests/portability.rs lists the fallbacks.

mod common;

use kairo::autograd::{self, Var};
use kairo::data::shapes::Shapes;
use kairo::gpu::adapter;
use kairo::gpu::AdapterChoice;
use kairo::jobs::gan::{GanConfig, GanData, GanTrainer};
use kairo::kernels::contract::FALLBACKS;
use kairo::kernels::CONTRACTS;
use kairo::nn::ctc::{ctc_loss, CtcOptions, CtcTargets, Reduction};
use kairo::nn::dcgan::DcganConfig;
use kairo::nn::rnn::{CellKind, Recurrent};
use kairo::ops::{BinaryOp, ReduceOp};
use kairo::optim::{Optimizer, Sgd};
use kairo::{Context, Tensor};

/// A context on the adapter KAIRO_BACKEND / KAIRO_ADAPTER choose, its device
/// requested with `limits` and the adapter's subgroup and timestamp features.
fn context_with(limits: wgpu::Limits) -> Context {
    let adapter = adapter::choose(&AdapterChoice::from_env().unwrap()).expect("an adapter");
    let wanted = wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
    let desc = wgpu::DeviceDescriptor {
        label: Some("kairo default-limits test"),
        required_features: adapter.features() & wanted,
        required_limits: limits,
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&desc)).expect("a device");
    let ctx = Context::from_wgpu(device, queue);
    eprintln!("{} with max_storage_buffers_per_shader_stage {}", ctx.describe(), ctx.limits().max_storage_buffers_per_shader_stage);
    ctx
}

/// WebGPU's defaults, and a check that the entries with fallbacks do not fit them.
fn default_ctx() -> Context {
    let ctx = context_with(wgpu::Limits::default());
    let max = ctx.limits().max_storage_buffers_per_shader_stage;
    assert_eq!(max, 8);
    for &(kernel, entry, _) in FALLBACKS {
        let e = CONTRACTS.iter().filter(|c| c.kernel == kernel).flat_map(|c| c.entries).find(|e| e.name == entry);
        let e = e.unwrap_or_else(|| panic!("{kernel}.{entry} is not in CONTRACTS"));
        assert!(e.storage_buffers() > max, "{} fits: its fallback is not exercised", e.name);
    }
    ctx
}

/// The adapter's own limits (more than 8 storage buffers on every adapter kairo tests on).
fn adapter_ctx() -> Context {
    let adapter = adapter::choose(&AdapterChoice::from_env().unwrap()).expect("an adapter");
    let ctx = context_with(adapter.limits());
    assert!(ctx.limits().max_storage_buffers_per_shader_stage > 8, "the adapter allows only 8: nothing to compare with");
    ctx
}

/// Σ up·v over all elements of v, `up` cut to v's size.
fn dot(ctx: &Context, v: &Var, up: &[f32]) -> Var {
    let n = v.value().numel();
    let u = Var::constant(Tensor::from_slice(ctx, &up[..n], v.shape()).unwrap());
    let m = autograd::binary(v, &u, BinaryOp::Mul).unwrap();
    autograd::reduce(&autograd::reshape(&m, &[n]).unwrap(), 0, ReduceOp::Sum, false).unwrap()
}

const T: usize = 50;
const B: usize = 3;
const I: usize = 5;
const H: usize = 8;

/// One training step of a `kind` layer on `ctx`: forward over T = 50 steps
/// from given h0 (and c0), a loss reaching output, h_n and c_n, backward, an
/// SGD update. Returns output, h_n, c_n, the gradients of x, the four
/// parameters, h0 and c0, the updated parameters, and the dispatches of the
/// layer's forward and of the whole backward (the loss's few included).
fn train_step(ctx: &Context, kind: CellKind, fused: bool) -> (Vec<Vec<f32>>, u64, u64) {
    let rows = kind.gates() * H;
    let t = |n: usize, seed: u64, shape: &[usize]| Tensor::from_slice(ctx, &common::random(n, seed), shape).unwrap();
    let mut l = Recurrent::from_tensors(kind, t(rows * I, 1, &[rows, I]), t(rows * H, 2, &[rows, H]), t(rows, 3, &[rows]), t(rows, 4, &[rows]))
        .unwrap();
    l.fused = fused;
    let lstm = kind == CellKind::Lstm;
    let (x, h0, c0) = (Var::parameter(t(T * B * I, 5, &[T, B, I])), Var::parameter(t(B * H, 6, &[B, H])), Var::parameter(t(B * H, 7, &[B, H])));
    let up = common::random((T + 2) * B * H, 8);
    ctx.sync().unwrap();
    let start = ctx.counters().dispatches;
    let o = l.forward(&x, Some(&h0), lstm.then_some(&c0)).unwrap();
    let fwd = ctx.counters().dispatches - start;
    let mut loss = autograd::binary(&dot(ctx, &o.output, &up), &dot(ctx, &o.h_n, &up[B * H..]), BinaryOp::Add).unwrap();
    if let Some(cn) = &o.c_n {
        loss = autograd::binary(&loss, &dot(ctx, cn, &up[2 * B * H..]), BinaryOp::Add).unwrap();
    }
    let mid = ctx.counters().dispatches;
    loss.backward().unwrap();
    let bwd = ctx.counters().dispatches - mid;
    let mut r = vec![o.output.value().to_vec().unwrap(), o.h_n.value().to_vec().unwrap()];
    r.extend(o.c_n.map(|c| c.value().to_vec().unwrap()));
    let params = [&l.weight_ih, &l.weight_hh, &l.bias_ih, &l.bias_hh];
    for v in [&x, params[0], params[1], params[2], params[3], &h0] {
        r.push(v.grad().unwrap().to_vec().unwrap());
    }
    if lstm {
        r.push(c0.grad().unwrap().to_vec().unwrap());
    }
    let grads: Vec<Tensor> = params.iter().map(|p| p.grad().unwrap()).collect();
    let pairs: Vec<(&Tensor, &Tensor)> = params.iter().zip(&grads).map(|(p, g)| (p.value(), g)).collect();
    Sgd::new(0.1).step(&pairs).unwrap();
    for p in params {
        r.push(p.value().to_vec().unwrap());
    }
    (r, fwd, bwd)
}

#[test]
fn lstm_and_gru_train_on_default_limits_as_on_the_adapters() {
    let (small, full) = (default_ctx(), adapter_ctx());
    for kind in [CellKind::Lstm, CellKind::Gru] {
        for fused in [true, false] {
            let runs_fused = fused && kairo::nn::rnn_fused::available(&small, kind, H);
            if fused && !runs_fused {
                eprintln!("{kind:?}: no subgroups of 8 on this adapter, so no fused sweep");
                continue;
            }
            let what = format!("{kind:?} T={T} {}", if runs_fused { "fused" } else { "unfused" });
            let (got, fwd, bwd) = train_step(&small, kind, fused);
            let (want, full_fwd, full_bwd) = train_step(&full, kind, fused);
            eprintln!("{what}: dispatches forward {full_fwd} + backward {full_bwd} at the adapter's limits, {fwd} + {bwd} at the defaults");
            let mut names = vec!["output", "h_n"];
            if kind == CellKind::Lstm {
                names.push("c_n");
            }
            names.extend(["dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0"]);
            if kind == CellKind::Lstm {
                names.push("dc0");
            }
            names.extend(["W_ih after", "W_hh after", "b_ih after", "b_hh after"]);
            assert_eq!(got.len(), names.len());
            let mut identical = true;
            for ((g, w), name) in got.iter().zip(&want).zip(&names) {
                common::assert_close(&format!("{what}: {name}"), g, w, 1e-6, 1e-5);
                identical &= g == w;
            }
            eprintln!("{what}: {}", if identical { "bit-identical" } else { "within 1e-6 + 1e-5·|x|, not bit-identical" });
            // The same entry points run at both limits.
            assert_eq!((fwd, bwd), (full_fwd, full_bwd), "{what}: dispatch counts");
        }
    }
}

#[test]
fn ctc_loss_and_gradient_on_default_limits() {
    let (small, full) = (default_ctx(), adapter_ctx());
    let (t, n, c) = (12, 2, 5);
    let logits = common::random(t * n * c, 21);
    let targets = CtcTargets::Concatenated(vec![1, 2, 2, 3, 1]);
    let run = |ctx: &Context| -> Vec<Vec<f32>> {
        let x = Var::parameter(Tensor::from_slice(ctx, &logits, &[t, n, c]).unwrap());
        let opts = CtcOptions { reduction: Reduction::Mean, from_logits: true, ..Default::default() };
        let y = ctc_loss(&x, &targets, &[12, 10], &[3, 2], opts).unwrap();
        y.backward().unwrap();
        vec![y.value().to_vec().unwrap(), x.grad().unwrap().to_vec().unwrap()]
    };
    let (got, want) = (run(&small), run(&full));
    assert!(got[0][0].is_finite());
    common::assert_close("CTC loss", &got[0], &want[0], 1e-6, 1e-5);
    common::assert_close("CTC gradient", &got[1], &want[1], 1e-6, 1e-5);
}

#[test]
fn a_gan_step_on_default_limits() {
    let ctx = default_ctx();
    let out = std::env::temp_dir().join(format!("kairo-default-limits-gan-{}", std::process::id()));
    let model = DcganConfig { image_size: 32, channels: 1, nz: 100, ngf: 8, ndf: 8 };
    let cfg = GanConfig { model, batch: 8, iters: 1, every: 1, seed: 3, out: out.clone(), grid: 16, ..Default::default() };
    let mut trainer = GanTrainer::new(&ctx, cfg, GanData::Shapes(Shapes::new(32, 1, 3).unwrap())).unwrap();
    let stats = trainer.step().unwrap();
    assert!(stats.loss_d.is_finite() && stats.loss_g.is_finite(), "{stats:?}");
    let _ = std::fs::remove_dir_all(&out);
}
