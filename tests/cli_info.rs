//! `kairo info` tells the truth about the device it opens: the limits it is
//! opened with (`KAIRO_LIMITS`) beside the adapter's and WebGPU's defaults,
//! the kernel family lines, the entry points whose fallbacks run, and the
//! autotune choices cached for this device.

use std::path::{Path, PathBuf};
use std::process::Command;

use kairo::gpu::adapter::{self, AdapterChoice};
use kairo::gpu::tune_cache::Cache;
use kairo::kernels::contract;

fn info(env: &[(&str, &Path)], limits: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kairo"));
    cmd.arg("info");
    match limits {
        Some(l) => cmd.env("KAIRO_LIMITS", l),
        None => cmd.env_remove("KAIRO_LIMITS"),
    };
    cmd.env_remove("KAIRO_AUTOTUNE_CACHE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// (opened, adapter, WebGPU) of one row of the limits table.
fn row<'a>(text: &'a str, limit: &str) -> [&'a str; 3] {
    let line = text.lines().find(|l| l.split_whitespace().next() == Some(limit)).unwrap_or_else(|| panic!("no {limit} row in\n{text}"));
    let cols: Vec<&str> = line.split_whitespace().skip(1).collect();
    cols.try_into().unwrap_or_else(|c| panic!("{limit}: {c:?}"))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-cli-info-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn info_shows_the_opened_limits_beside_the_adapters_and_the_families() {
    let dir = temp_dir("limits");
    let adapter = adapter::choose(&AdapterChoice::from_env().unwrap()).unwrap().limits();
    let web = wgpu::Limits::default();
    let text = info(&[("KAIRO_CACHE_DIR", &dir)], Some("default"));
    assert!(text.contains("with WebGPU's default limits (KAIRO_LIMITS=default)"), "{text}");
    let [opened, own, webgpu] = row(&text, "max_storage_buffers_per_shader_stage");
    assert_eq!(opened, "8", "{text}");
    assert_eq!(own, adapter.max_storage_buffers_per_shader_stage.to_string(), "{text}");
    assert_eq!(webgpu, web.max_storage_buffers_per_shader_stage.to_string(), "{text}");
    let [opened, own, _] = row(&text, "max_compute_invocations_per_workgroup");
    assert_eq!((opened, own), ("256", adapter.max_compute_invocations_per_workgroup.to_string().as_str()), "{text}");
    for limit in ["max_compute_workgroup_storage_size", "max_storage_buffer_binding_size", "max_buffer_size", "max_compute_workgroups_per_dimension"] {
        row(&text, limit);
    }
    for family in ["  matmul: ", "  autotune cache: ", "  recurrent step (hidden 64): LSTM ", "  CTC β pass: ", "  over the opened limits: "] {
        assert!(text.lines().any(|l| l.starts_with(family)), "no {family:?} line in\n{text}");
    }
    // Every entry point over 8 storage buffers is listed with the fallback that runs.
    let reqs = contract::requirements().unwrap();
    let over: Vec<_> = reqs.iter().filter(|r| r.storage_buffers > 8).collect();
    assert!(!over.is_empty());
    for r in over {
        let want = format!("{}.{} ({} storage buffers > 8): runs {} instead", r.kernel, r.entry, r.storage_buffers, r.fallback().unwrap());
        assert!(text.contains(&want), "no {want:?} in\n{text}");
    }
    assert!(!text.contains("no fallback"), "{text}");

    // With the adapter's limits the opened column is the adapter's.
    let text = info(&[("KAIRO_CACHE_DIR", &dir)], Some("adapter"));
    let [opened, own, _] = row(&text, "max_storage_buffers_per_shader_stage");
    assert_eq!(opened, own, "{text}");
    assert_eq!(own, adapter.max_storage_buffers_per_shader_stage.to_string(), "{text}");
    assert!(!dir.exists(), "kairo info wrote into the cache folder");
}

#[test]
fn info_lists_the_choices_cached_for_this_device() {
    let dir = temp_dir("cache");
    // The test's context opens the device as the child will (same environment).
    let ctx = kairo::Context::new().unwrap();
    let key = "matmul/000/1x128x128x128";
    let cache = Cache::at(&dir);
    assert!(cache.store(&ctx.tune_device_key(), key, "reg4x4"));
    assert!(cache.store(&ctx.tune_device_key(), "matmul/100/1x128x128x128", "from-another-build"));
    assert!(cache.store("another device", "matmul/010/1x128x128x128", "reg8x4"));
    let limits = std::env::var("KAIRO_LIMITS").ok();
    let text = info(&[("KAIRO_CACHE_DIR", &dir)], limits.as_deref());
    let path = cache.path().unwrap().display().to_string();
    assert!(text.contains(&format!("  autotune cache: {path} (2 choices for this device)")), "{text}");
    assert!(text.contains(&format!("      {key} → reg4x4\n")), "{text}");
    assert!(text.contains("matmul/100/1x128x128x128 → from-another-build (not a candidate here: tuned again)"), "{text}");
    assert!(!text.contains("matmul/010"), "{text}");
    let off = Command::new(env!("CARGO_BIN_EXE_kairo")).arg("info").env("KAIRO_CACHE_DIR", &dir).env("KAIRO_AUTOTUNE_CACHE", "0").output().unwrap();
    assert!(String::from_utf8_lossy(&off.stdout).contains("  autotune cache: in memory only"));
    std::fs::remove_dir_all(&dir).unwrap();
}
