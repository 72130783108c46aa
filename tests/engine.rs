//! The engine around the kernels: adapter choice, embedding, buffer reuse,
//! batching into one submit, views, limits, errors, benchmarks, the CLI.

mod common;

use common::{assert_close, ctx, fresh_ctx, random};
use kairo::gpu::adapter::{self, AdapterChoice};
use kairo::ops::{self, UnaryOp};
use kairo::{Context, DType, Error, Tensor};

/// One small "training-like" step: upload, matmul with bias, activation,
/// reduction, one readback.
fn step(c: &Context, x: &[f32], w: &Tensor, b: &Tensor) -> f32 {
    let tx = Tensor::from_slice(c, x, &[16, 32]).unwrap();
    let h = ops::matmul(&tx, w).unwrap();
    let h = ops::add_bias(&h, b, 1).unwrap();
    let h = ops::unary(&h, UnaryOp::Tanh).unwrap();
    let s = ops::sum(&h, 1).unwrap();
    let s = ops::sum(&s, 0).unwrap();
    s.to_vec().unwrap()[0]
}

#[test]
fn steady_state_repetition_allocates_no_new_buffers() {
    let c = fresh_ctx();
    let w = Tensor::from_slice(&c, &random(32 * 24, 1), &[32, 24]).unwrap();
    let b = Tensor::from_slice(&c, &random(24, 2), &[24]).unwrap();
    let x = random(16 * 32, 3);
    let first = step(&c, &x, &w, &b);
    step(&c, &x, &w, &b);
    let warm = c.counters();
    for _ in 0..10 {
        let v = step(&c, &x, &w, &b);
        assert_eq!(v, first, "same inputs, same result");
    }
    let after = c.counters();
    assert_eq!(after.buffers_created, warm.buffers_created, "steady state created buffers: {warm:?} -> {after:?}");
    assert!(after.buffers_reused >= warm.buffers_reused + 10 * 7, "pool was not used: {after:?}");
    assert_eq!(after.pipelines_compiled, warm.pipelines_compiled, "pipelines recompiled");
}

#[test]
fn a_step_records_many_dispatches_and_submits_once() {
    let c = fresh_ctx();
    let w = Tensor::from_slice(&c, &random(32 * 24, 1), &[32, 24]).unwrap();
    let b = Tensor::from_slice(&c, &random(24, 2), &[24]).unwrap();
    let x = random(16 * 32, 3);
    step(&c, &x, &w, &b); // compile pipelines
    let before = c.counters();
    step(&c, &x, &w, &b);
    let after = c.counters();
    assert_eq!(after.dispatches - before.dispatches, 5);
    assert_eq!(after.submits - before.submits, 1, "{before:?} -> {after:?}");
    assert_eq!(after.readbacks - before.readbacks, 1);
    // Recording alone submits nothing.
    let t = Tensor::from_slice(&c, &x, &[512]).unwrap();
    let before = c.counters();
    let mut y = t.clone();
    for _ in 0..20 {
        y = ops::unary(&y, UnaryOp::Scale(1.0)).unwrap();
    }
    assert_eq!(c.counters().submits, before.submits);
    assert_close("20 scales by 1", &y.to_vec().unwrap(), &x, 0.0, 0.0);
    assert_eq!(c.counters().submits, before.submits + 1);
}

#[test]
fn buffer_reuse_never_overtakes_recorded_work() {
    // A buffer freed while its readers are still recorded must not receive
    // a new upload before they run.
    let c = fresh_ctx();
    let a = Tensor::from_slice(&c, &[1.0; 64], &[64]).unwrap();
    let y = ops::unary(&a, UnaryOp::Scale(2.0)).unwrap();
    drop(a);
    let b = Tensor::from_slice(&c, &[5.0; 64], &[64]).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![2.0; 64]);
    assert_eq!(b.to_vec().unwrap(), vec![5.0; 64]);
    // write() on a tensor that recorded work still reads sees the old values.
    let t = Tensor::from_slice(&c, &[1.0; 8], &[8]).unwrap();
    let doubled = ops::unary(&t, UnaryOp::Scale(2.0)).unwrap();
    t.write(&[10.0; 8]).unwrap();
    assert_eq!(doubled.to_vec().unwrap(), vec![2.0; 8]);
    assert_eq!(t.to_vec().unwrap(), vec![10.0; 8]);
}

#[test]
fn tensors_round_trip_and_reshape_without_copying() {
    let c = ctx();
    let data: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let t = Tensor::from_slice(&c, &data, &[2, 3, 4]).unwrap();
    let r = t.reshape(&[6, 4]).unwrap();
    assert!(r.shares_storage(&t));
    assert_eq!(r.shape(), &[6, 4]);
    assert_eq!(r.to_vec().unwrap(), data);
    let err = t.reshape(&[5, 5]).unwrap_err().to_string();
    assert!(err.contains("[2, 3, 4]") && err.contains("[5, 5]"), "{err}");
    let copy = t.deep_clone().unwrap();
    assert!(!copy.shares_storage(&t));
    assert_eq!(copy.to_vec().unwrap(), data);
    let u = Tensor::from_u32(&c, &[7, 8, 9], &[3]).unwrap();
    assert_eq!(u.to_vec_u32().unwrap(), vec![7, 8, 9]);
    let i = Tensor::from_i32(&c, &[-1, 0, 5], &[3]).unwrap();
    assert_eq!(i.to_vec_i32().unwrap(), vec![-1, 0, 5]);
    assert!(matches!(u.to_vec(), Err(Error::DType { .. })));
    assert!(matches!(Tensor::from_slice(&c, &data, &[5, 5]), Err(Error::Shape { .. })));
    let empty = Tensor::zeros(&c, &[0, 3]).unwrap();
    assert!(empty.to_vec().unwrap().is_empty());
    assert_eq!(Tensor::empty(&c, &[2], DType::I32).unwrap().dtype(), DType::I32);
}

#[test]
fn sizes_over_device_limits_are_errors_naming_the_limit() {
    let c = ctx();
    let limit = c.limits().max_storage_buffer_binding_size as usize;
    let too_big = [limit / 4 + 1024];
    let err = Tensor::empty(&c, &too_big, DType::F32).unwrap_err();
    match &err {
        Error::OverLimit { limit_name, .. } => assert_eq!(*limit_name, "max_storage_buffer_binding_size"),
        other => panic!("expected OverLimit, got {other:?}"),
    }
    assert!(err.to_string().contains("max_storage_buffer_binding_size"));
    let overflow = Tensor::empty(&c, &[usize::MAX, 2], DType::F32).unwrap_err();
    assert!(matches!(overflow, Error::InvalidShape { .. }), "{overflow:?}");
}

#[test]
fn adapter_choice_errors_are_clear() {
    assert!(matches!(adapter::parse_backend("bogus"), Err(Error::UnknownBackend(_))));
    assert_eq!(adapter::parse_backend("Vulkan").unwrap(), wgpu::Backends::VULKAN);
    assert_eq!(adapter::parse_backend("gl").unwrap(), wgpu::Backends::GL);
    let choice = AdapterChoice { backend: None, name: Some("no-such-adapter-xyz".into()) };
    match Context::with_choice(&choice) {
        Err(Error::AdapterNotFound { available, .. }) => assert!(!available.is_empty()),
        other => panic!("expected AdapterNotFound, got {other:?}"),
    }
    // A backend this platform does not have gives the no-adapter error with its fix.
    let none = AdapterChoice { backend: Some(if cfg!(target_os = "macos") { wgpu::Backends::DX12 } else { wgpu::Backends::METAL }), name: None };
    match Context::with_choice(&none) {
        Err(e @ Error::NoAdapter { .. }) => {
            if cfg!(target_os = "linux") {
                assert!(e.to_string().contains("mesa-vulkan-drivers"), "{e}");
            }
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}

#[test]
fn adapters_are_ordered_best_first() {
    let all = adapter::enumerate(&AdapterChoice::default());
    assert!(!all.is_empty(), "no adapter: install mesa-vulkan-drivers");
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let ranks: Vec<u32> = all.iter().map(|a| rank(a.get_info().device_type)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
}

#[test]
fn a_host_device_can_be_handed_to_kairo() {
    // The host creates its own instance, adapter and device with default limits.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .expect("GPU tests need an adapter");
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let c = Context::from_wgpu(device.clone(), queue);
    assert_eq!(c.limits().max_storage_buffer_binding_size, device.limits().max_storage_buffer_binding_size);
    let a = Tensor::from_slice(&c, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let b = Tensor::from_slice(&c, &[5.0, 6.0, 7.0, 8.0], &[2, 2]).unwrap();
    assert_eq!(ops::matmul(&a, &b).unwrap().to_vec().unwrap(), vec![19.0, 22.0, 43.0, 50.0]);
    // Over the host's (default, smaller) limits is an error, not a panic.
    let limit = device.limits().max_storage_buffer_binding_size as usize;
    assert!(matches!(Tensor::empty(&c, &[limit / 4 + 4], DType::F32), Err(Error::OverLimit { .. })));
}

#[test]
fn benchmarks_report_every_entry_and_write_json() {
    let c = ctx();
    let cfg = kairo::bench::BenchConfig { sizes: Some(vec![32]), reps: 1, dispatches: 5, ..Default::default() };
    let mut printed = 0;
    let report = kairo::bench::run(&c, &cfg, |_| printed += 1).unwrap();
    let names: Vec<&str> = report.results.iter().map(|r| r.name.as_str()).collect();
    for want in ["matmul", "matmul_at_b", "matmul_a_bt", "dispatch_one_pass", "dispatch_submit_each", "dispatch_submit_wait_each"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert_eq!(printed, report.results.len());
    for r in &report.results {
        assert!(r.ms > 0.0 && r.ms.is_finite(), "{r:?}");
        if r.name.starts_with("matmul") {
            assert!(r.gflops.unwrap() > 0.0);
        }
    }
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["adapter"]["name"], c.adapter_info().name.as_str());
    assert!(json["adapter"]["backend"].is_string() && json["adapter"]["type"].is_string());
    assert_eq!(json["results"][0]["sizes"]["m"], 32);
}

#[test]
fn cli_info_and_bench_json_work() {
    let exe = env!("CARGO_BIN_EXE_kairo");
    let info = std::process::Command::new(exe).arg("info").output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("max_storage_buffer_binding_size") && text.contains('*'), "{text}");
    let kernels = std::process::Command::new(exe).args(["info", "--kernels"]).output().unwrap();
    assert!(kernels.status.success(), "{}", String::from_utf8_lossy(&kernels.stderr));
    let table = String::from_utf8_lossy(&kernels.stdout);
    let entries = kairo::kernels::contract::requirements().unwrap().len();
    assert_eq!(table.lines().filter(|l| l.split_whitespace().next().is_some_and(|w| w.contains('.') && w != "kernel.entry")).count(), entries, "{table}");
    assert!(table.contains("ctc.ctc_grad") && table.contains("over WebGPU's defaults"), "{table}");
    let dir = std::env::temp_dir().join(format!("kairo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let out = std::process::Command::new(exe)
        .args(["bench", "--sizes", "16", "--reps", "1", "--only", "matmul", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    let bad = std::process::Command::new(exe).arg("bench").env("KAIRO_BACKEND", "bogus").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown backend"));
    std::fs::remove_dir_all(&dir).ok();
}
