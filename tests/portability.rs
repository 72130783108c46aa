//! CPU-only: which entry points need more than WebGPU's default limits
//! (8 storage buffers per stage, 256 invocations per workgroup, 16384 bytes
//! of workgroup memory), read off the shaders by `contract::requirements`.
//! Prints the table; fails when the list changes, so a kernel that stops
//! fitting is seen the day it is written (and one that starts fitting is
//! struck off the list). Entries with a fallback that fits are checked to
//! have it. Needs no GPU.

use kairo::kernels::contract::{self, Requirements};

/// WebGPU's defaults (`wgpu::Limits::default()`).
fn defaults() -> wgpu::Limits {
    wgpu::Limits::default()
}

/// What `r` needs beyond the defaults, in words (empty: it fits).
fn over(r: &Requirements, l: &wgpu::Limits) -> Vec<String> {
    let mut out = Vec::new();
    if r.storage_buffers > l.max_storage_buffers_per_shader_stage {
        out.push(format!("{} storage buffers > {}", r.storage_buffers, l.max_storage_buffers_per_shader_stage));
    }
    if r.invocations() > l.max_compute_invocations_per_workgroup {
        out.push(format!("{} invocations > {}", r.invocations(), l.max_compute_invocations_per_workgroup));
    }
    let [x, y, z] = r.workgroup_size;
    if x > l.max_compute_workgroup_size_x || y > l.max_compute_workgroup_size_y || z > l.max_compute_workgroup_size_z {
        out.push(format!("workgroup {x}x{y}x{z} over the per-dimension limits"));
    }
    if r.workgroup_bytes > l.max_compute_workgroup_storage_size as u64 {
        out.push(format!("{} workgroup bytes > {}", r.workgroup_bytes, l.max_compute_workgroup_storage_size));
    }
    out
}

/// The entry points known to need more than the defaults and to have no
/// fallback yet, with their storage buffer counts: none since issue 12.
/// A new one fails the test until it gets a fallback in [`FALLBACKS`].
const KNOWN: &[(&str, &str, u32)] = &[];

/// Entry points over the defaults that kairo replaces, on a device with
/// fewer storage buffers per stage, by a sibling entry that fits, chosen
/// from `max_storage_buffers_per_shader_stage` (src/ops/ctc.rs,
/// src/nn/rnn/sweep.rs, src/nn/rnn_fused.rs).
const FALLBACKS: &[(&str, &str, &str)] = &[
    ("ctc", "ctc_grad", "ctc_grad_packed"),
    ("ctc", "ctc_beta_grad_serial", "ctc_beta_grad_serial_packed"),
    ("ctc_subgroup", "ctc_beta_grad_subgroup", "ctc_beta_grad_subgroup_packed"),
    ("lstm_cell", "lstm_forward", "lstm_forward_h0_in_hprev"),
    ("gru_cell", "gru_backward", "gru_backward_no_dghh"),
    ("rnn_fused", "lstm_fused_forward", "lstm_fused_forward_h0_in_hprev"),
    ("rnn_fused", "gru_fused_backward", "gru_fused_backward_dh0_in_carry"),
];

#[test]
fn entry_points_over_webgpu_defaults_are_the_known_ones() {
    let limits = defaults();
    let reqs = contract::requirements().expect("every shader reflects");
    println!("{:<42} {:>7} {:>11} {:>9} {:>9}  over the defaults", "entry point", "storage", "workgroup", "wg bytes", "subgroup");
    let mut found = Vec::new();
    for r in &reqs {
        let problems = over(r, &limits);
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
        let replaced = FALLBACKS.iter().any(|&(k, e, _)| k == r.kernel && e == r.entry);
        if !problems.is_empty() && !replaced {
            found.push((r.kernel, r.entry.as_str(), r.storage_buffers));
        }
    }
    for &(kernel, entry, fallback) in FALLBACKS {
        let find = |e: &str| reqs.iter().find(|r| r.kernel == kernel && r.entry == e);
        let original = find(entry).unwrap_or_else(|| panic!("{kernel}.{entry} is gone: strike it off FALLBACKS"));
        let fits = find(fallback).unwrap_or_else(|| panic!("{kernel}.{fallback} (fallback of {entry}) is missing"));
        assert!(!over(original, &limits).is_empty(), "{kernel}.{entry} fits the defaults now: strike it off FALLBACKS");
        assert!(over(fits, &limits).is_empty(), "{kernel}.{fallback} does not fit the defaults: {:?}", over(fits, &limits));
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
