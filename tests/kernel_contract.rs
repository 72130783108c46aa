//! CPU-only: the host–shader contract of every launcher in src/kernels/
//! holds (Params layouts, binding slots, entry points), and the check catches
//! a field added on one side only. Needs no GPU.

use kairo::kernels::{contract, reduce, Contract, KERNELS};

fn source(kernel: &str) -> &'static str {
    KERNELS.iter().find(|k| k.name == kernel).expect("registered").source
}

#[test]
fn every_launcher_matches_its_shader() {
    let problems = contract::check_all();
    assert!(problems.is_empty(), "{} contract problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn a_field_added_in_wgsl_only_is_caught() {
    let src = source("reduce").replacen("    divisor: f32,", "    divisor: f32,\n    extra: u32,", 1);
    assert_ne!(src, source("reduce"), "the edit must apply");
    let problems = contract::check(&src, &reduce::CONTRACT);
    assert!(problems.iter().any(|p| p.contains("field extra is in WGSL only")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("size 32 bytes in Rust, 36 in WGSL")), "{problems:?}");
}

kairo::kernels::params! {
    /// reduce's Params with one field too many on the Rust side.
    pub struct Wider as "Params" { outer: u32, d: u32, inner: u32, chunk: u32, divisor: f32, extra: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
}

#[test]
fn a_field_added_in_rust_only_is_caught() {
    let wider = Contract { params: &[Wider::LAYOUT], ..reduce::CONTRACT };
    let problems = contract::check(source("reduce"), &wider);
    assert!(problems.iter().any(|p| p.contains("field extra is in Rust only")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("field _pad0 at offset 24")), "{problems:?}");
}

#[test]
fn a_wrong_slot_is_caught() {
    const SWAPPED: kairo::kernels::Entry = kairo::kernels::Entry { name: "reduce_rows", slots: &[reduce::P, reduce::X] };
    let c = Contract { entries: &[SWAPPED, reduce::REDUCE_WIDE], ..reduce::CONTRACT };
    let problems = contract::check(source("reduce"), &c);
    assert!(problems.iter().any(|p| p.contains("@binding(2) y") && p.contains("does not list")), "{problems:?}");
    let src = source("reduce").replace("var<storage, read> x", "var<storage, read_write> x");
    let problems = contract::check(&src, &reduce::CONTRACT);
    assert!(problems.iter().any(|p| p.contains("Slot \"x\"") && p.contains("ReadWrite")), "{problems:?}");
}

#[test]
fn requirements_are_read_off_every_entry_point() {
    let reqs = contract::requirements().expect("every shader reflects");
    let wide = reqs.iter().find(|r| r.kernel == "reduce" && r.entry == "reduce_wide").expect("listed");
    assert_eq!((wide.storage_buffers, wide.invocations(), wide.workgroup_bytes, wide.subgroups), (2, 256, 1024, false));
    assert!(reqs.iter().any(|r| r.kernel == "matmul_subgroup" && r.subgroups), "subgroup kernels are seen as such");
    let entries: usize = KERNELS
        .iter()
        .map(|k| naga::front::wgsl::parse_str(k.source).unwrap().entry_points.len())
        .sum();
    assert_eq!(reqs.len(), entries);
}
