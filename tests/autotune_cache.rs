//! Autotune choices persist on disk (src/gpu/tune_cache.rs): a fresh
//! context, or a new process, on the same adapter and driver reads them
//! instead of tuning; entries of another driver or kernel set are never
//! reused and stay in the file; a corrupt file is replaced; with
//! `KAIRO_AUTOTUNE_CACHE=0` nothing is written.
//!
//! Each test gives its contexts a cache folder of its own through
//! `Context::set_tune_cache` (tests in one binary share the process, so no
//! test sets environment variables); the last test runs the binary with
//! `KAIRO_CACHE_DIR` and `KAIRO_AUTOTUNE_CACHE` set for it alone.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_close, fresh_ctx, random};
use kairo::gpu::tune_cache::{self, Cache, CacheFile};
use kairo::ops::matmul::{chosen_variant, tuned_variants};
use kairo::ops::{Activation, MatmulOptions, MatmulVariant};
use kairo::{reference, Context, Tensor};

/// Large enough to be tuned (over the op's minimum of 64³ multiply-adds).
const S: usize = 128;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-autotune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A context whose choices persist in `dir`.
fn ctx_at(dir: &Path) -> Context {
    let c = fresh_ctx();
    c.set_tune_cache(Cache::at(dir));
    c
}

fn operands(c: &Context) -> (Tensor, Tensor, Vec<f32>, Vec<f32>) {
    let (a, b) = (random(S * S, 1), random(S * S, 2));
    (Tensor::from_slice(c, &a, &[S, S]).unwrap(), Tensor::from_slice(c, &b, &[S, S]).unwrap(), a, b)
}

/// The one shape class tuned in `dir` on `c`'s device, and its choice.
fn only_entry(c: &Context, dir: &Path) -> (String, String) {
    let choices = Cache::at(dir).load(&c.tune_device_key());
    assert_eq!(choices.len(), 1, "{choices:?}");
    choices.into_iter().next().unwrap()
}

/// A candidate that is neither `chosen` nor the adapter's default (the first
/// candidate), so that getting it back proves the cache was read.
fn another_candidate(c: &Context, chosen: MatmulVariant) -> MatmulVariant {
    let candidates = tuned_variants(c);
    assert!(candidates.len() >= 3, "{candidates:?}");
    candidates[1..].iter().copied().find(|&v| v != chosen).unwrap()
}

#[test]
fn a_choice_written_by_one_context_is_read_by_a_fresh_one() {
    let dir = temp_dir("fresh");
    let o = MatmulOptions::default();
    let first = ctx_at(&dir);
    let (a, b, _, _) = operands(&first);
    let chosen = chosen_variant(&first, &a, &b, &o).unwrap();
    let (key, name) = only_entry(&first, &dir);
    assert_eq!(name, chosen.name(), "{key}");
    assert!(tuned_variants(&first).contains(&chosen));

    // Another valid choice written into the file: a fresh context takes it
    // without tuning (tuning would compile every candidate's pipeline).
    let planted = another_candidate(&first, chosen);
    assert!(Cache::at(&dir).store(&first.tune_device_key(), &key, planted.name()));
    let second = ctx_at(&dir);
    assert_eq!(second.tune_device_key(), first.tune_device_key());
    let (a, b, av, bv) = operands(&second);
    let before = second.counters().pipelines_compiled;
    assert_eq!(chosen_variant(&second, &a, &b, &o).unwrap(), planted);
    assert_eq!(second.counters().pipelines_compiled, before, "the fresh context tuned instead of reading the cache");
    // ... and the product runs with it, correctly, compiling only its pipeline.
    let got = kairo::ops::matmul(&a, &b).unwrap().to_vec().unwrap();
    assert_eq!(second.counters().pipelines_compiled, before + 1);
    let want = reference::matmul(&av, &bv, S, S, S, false, false, None, Activation::None);
    assert_close("matmul with the cached variant", &got, &want, 1e-3, 1e-3);
    assert_eq!(second.tuned(&key).as_deref(), Some(planted.name()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn choices_of_another_driver_or_kernel_set_are_not_reused() {
    // Learn the shape class's key on this adapter.
    let scratch = temp_dir("key");
    let c = ctx_at(&scratch);
    let o = MatmulOptions::default();
    let (a, b, _, _) = operands(&c);
    chosen_variant(&c, &a, &b, &o).unwrap();
    let (key, _) = only_entry(&c, &scratch);
    std::fs::remove_dir_all(&scratch).unwrap();

    let dir = temp_dir("stale");
    let (f, l) = (c.device().features(), c.limits().clone());
    let mut other_driver = c.adapter_info().clone();
    other_driver.driver_info.push_str(" (older build)");
    let stale = [
        tune_cache::device_key(&other_driver, f, &l),
        tune_cache::device_key_with(c.adapter_info(), f, &l, tune_cache::kernel_fingerprint() ^ 1),
    ];
    for k in &stale {
        assert_ne!(k, &c.tune_device_key());
        assert!(Cache::at(&dir).store(k, &key, "no-such-variant"));
    }
    let fresh = ctx_at(&dir);
    assert_eq!(fresh.tuned(&key), None);
    let (a, b, _, _) = operands(&fresh);
    let chosen = chosen_variant(&fresh, &a, &b, &o).unwrap();
    let file = Cache::at(&dir).read();
    assert_eq!(file.devices.len(), 3, "entries of the other keys stay: {file:?}");
    assert_eq!(file.devices[&fresh.tune_device_key()][&key], chosen.name());
    for k in &stale {
        assert_eq!(file.devices[k][&key], "no-such-variant");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_name_tunes_again() {
    let dir = temp_dir("unknown");
    let scratch = ctx_at(&dir);
    let (a, b, _, _) = operands(&scratch);
    let o = MatmulOptions::default();
    chosen_variant(&scratch, &a, &b, &o).unwrap();
    let (key, _) = only_entry(&scratch, &dir);
    assert!(Cache::at(&dir).store(&scratch.tune_device_key(), &key, "a-variant-from-another-build"));
    let c = ctx_at(&dir);
    let (a, b, _, _) = operands(&c);
    let chosen = chosen_variant(&c, &a, &b, &o).unwrap();
    assert!(tuned_variants(&c).contains(&chosen));
    assert_eq!(only_entry(&c, &dir), (key, chosen.name().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_file_is_ignored_and_replaced() {
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(tune_cache::FILE_NAME);
    std::fs::write(&path, b"{\"format\": 1, \"devices\": {\"half a file").unwrap();
    let c = ctx_at(&dir);
    let (a, b, _, _) = operands(&c);
    let chosen = chosen_variant(&c, &a, &b, &MatmulOptions::default()).unwrap();
    let file = CacheFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file.devices.len(), 1);
    assert_eq!(file.devices[&c.tune_device_key()].values().next().map(String::as_str), Some(chosen.name()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn autotune_cache_0_writes_nothing() {
    let dir = temp_dir("off");
    let vars = |k: &str| match k {
        "KAIRO_AUTOTUNE_CACHE" => Some(OsString::from("0")),
        "KAIRO_CACHE_DIR" => Some(dir.clone().into_os_string()),
        _ => None,
    };
    let cache = Cache::from_vars(vars);
    assert_eq!(cache.path(), None);
    let c = fresh_ctx();
    c.set_tune_cache(cache);
    let (a, b, _, _) = operands(&c);
    let o = MatmulOptions::default();
    let chosen = chosen_variant(&c, &a, &b, &o).unwrap();
    // Remembered in memory, nothing on disk.
    let before = c.counters().pipelines_compiled;
    assert_eq!(chosen_variant(&c, &a, &b, &o).unwrap(), chosen);
    assert_eq!(c.counters().pipelines_compiled, before);
    assert!(!dir.exists());
}

fn bench_variants(dir: &Path, extra_env: &[(&str, &str)]) -> Vec<String> {
    let json = dir.with_extension("json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kairo"));
    cmd.args(["bench", "--only", "matmul", "--sizes", &S.to_string(), "--reps", "1", "--json"]).arg(&json);
    cmd.env("KAIRO_CACHE_DIR", dir).env_remove("KAIRO_AUTOTUNE_CACHE").env_remove("KAIRO_AUTOTUNE");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    v["results"].as_array().unwrap().iter().map(|r| r["variant"].as_str().unwrap().to_string()).collect()
}

/// The environment variables, in new processes: the first run tunes and
/// writes the three transpose forms' choices, a second run reads them
/// (planted ones, so reading is visible), `KAIRO_AUTOTUNE_CACHE=0` writes nothing.
#[test]
fn a_new_process_reuses_the_choices_kairo_cache_dir_holds() {
    let dir = temp_dir("process");
    let tuned = bench_variants(&dir, &[]);
    assert_eq!(tuned.len(), 3, "{tuned:?}");
    let cache = Cache::at(&dir);
    let mut file = cache.read();
    assert_eq!(file.devices.len(), 1, "{file:?}");
    let choices = file.devices.values_mut().next().unwrap();
    assert_eq!(choices.len(), 3, "{choices:?}");
    let mut want = Vec::new();
    for (i, choice) in choices.values_mut().enumerate() {
        // reg4x4 and reg8x4 are offered on every adapter and are no adapter's default.
        *choice = ["reg4x4", "reg8x4"][i % 2].to_string();
        want.push(choice.clone());
    }
    std::fs::write(cache.path().unwrap(), file.to_json()).unwrap();
    let mut reused = bench_variants(&dir, &[]);
    reused.sort();
    want.sort();
    assert_eq!(reused, want.iter().map(|v| format!("auto:{v}")).collect::<Vec<_>>());

    let off = temp_dir("process-off");
    bench_variants(&off, &[("KAIRO_AUTOTUNE_CACHE", "0")]);
    assert!(!off.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
