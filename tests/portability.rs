//! CPU-only: which entry points need more than WebGPU's default limits
//! (8 storage buffers per stage, 256 invocations per workgroup, 16384 bytes
//! of workgroup memory), read off the shaders by `contract::requirements`.
//! Prints the table; fails when the list changes, so a kernel that stops
//! fitting is seen the day it is written (and one that starts fitting is
//! struck off the list). Entries with a fallback that fits are checked to
//! have it. Needs no GPU.

use kairo::kernels::contract::{self, FALLBACKS};

/// WebGPU's defaults (`wgpu::Limits::default()`).
fn defaults() -> wgpu::Limits {
    wgpu::Limits::default()
}

/// The entry points known to need more than the defaults and to have no
/// fallback yet, with their storage buffer counts: none since issue 12.
/// A new one fails the test until it gets a fallback in [`FALLBACKS`].
const KNOWN: &[(&str, &str, u32)] = &[];

#[test]
fn entry_points_over_webgpu_defaults_are_the_known_ones() {
    let limits = defaults();
    let reqs = contract::requirements().expect("every shader reflects");
    println!("{:<42} {:>7} {:>11} {:>9} {:>9}  over the defaults", "entry point", "storage", "workgroup", "wg bytes", "subgroup");
    let mut found = Vec::new();
    for r in &reqs {
        let problems = r.over(&limits);
        let [x, y, z] = r.workgroup_size;
        println!(
            "{:<42} {:>7} {:>11} {:>9} {:>9}  {}",
            format!("{}.{}", r.kernel, r.entry),
            r.storage_buffers,
            format!("{x}x{y}x{z}{}", if r.workgroup_size_overridable { "*" } else { "" }),
            r.workgroup_bytes,
            if r.subgroups { "yes" } else { "" },
            problems.join(", ")
        );
        let replaced = r.fallback().is_some();
        if !problems.is_empty() && !replaced {
            found.push((r.kernel, r.entry.as_str(), r.storage_buffers));
        }
    }
    for &(kernel, entry, fallback) in FALLBACKS {
        let find = |e: &str| reqs.iter().find(|r| r.kernel == kernel && r.entry == e);
        let original = find(entry).unwrap_or_else(|| panic!("{kernel}.{entry} is gone: strike it off FALLBACKS"));
        let fits = find(fallback).unwrap_or_else(|| panic!("{kernel}.{fallback} (fallback of {entry}) is missing"));
        assert!(!original.over(&limits).is_empty(), "{kernel}.{entry} fits the defaults now: strike it off FALLBACKS");
        assert!(fits.over(&limits).is_empty(), "{kernel}.{fallback} does not fit the defaults: {:?}", fits.over(&limits));
        println!("{kernel}.{entry} ({} storage buffers) falls back to {fallback} ({})", original.storage_buffers, fits.storage_buffers);
    }
    println!("(* workgroup size set by an override constant; shown at its default)");
    let mut known: Vec<_> = KNOWN.to_vec();
    known.sort();
    found.sort();
    let new: Vec<_> = found.iter().filter(|f| !known.contains(f)).collect();
    let gone: Vec<_> = known.iter().filter(|k| !found.contains(k)).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "entry points over WebGPU's defaults changed: new or changed {new:?}; no longer over (strike off KNOWN) {gone:?}"
    );
}
