//! Files the engine reads and writes: safetensors checkpoints, the one
//! strict parameter loader, whole training states (model, optimiser, step)
//! built on them, the lock that keeps one writer per output, and where
//! kairo's cache folder is.
//!
//! May import: `tensor`, `nn` (the `Module` trait), `optim`, `error`.
//! Imported by: `jobs`, the CLI, and applications.

pub mod atomic;
pub mod lock;
pub mod parameters;
pub mod safetensors;
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
pub mod training;

use std::ffi::OsString;
use std::path::PathBuf;

/// kairo's cache folder (autotune choices, trained GAN judges):
/// `KAIRO_CACHE_DIR`, else `XDG_CACHE_HOME/kairo`, else `HOME/.cache/kairo`;
/// None without any of them. `var` looks a variable up (empty counts as
/// unset), so tests can pass their own environment.
pub fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("KAIRO_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kairo")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("kairo")))
}

/// [`cache_dir_from`] the process environment.
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_from(|k| std::env::var_os(k))
}
