//! CPU-only: every file in shaders/ parses and validates with naga, and
//! every file is in the kernel registry. Needs no GPU.

use std::collections::BTreeSet;

fn validate(name: &str, source: &str) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("shaders/{name} does not parse:\n{}", e.emit_to_string(source)));
    let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
    let info = validator
        .validate(&module)
        .unwrap_or_else(|e| panic!("shaders/{name} does not validate:\n{}", e.emit_to_string(source)));
    // Resolve overrides with their defaults, as a backend would.
    let (resolved, resolved_info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, None, &Default::default())
            .unwrap_or_else(|e| panic!("shaders/{name}: overrides do not resolve: {e}"));
    // And translate to SPIR-V, as the Vulkan backend will.
    naga::back::spv::write_vec(&resolved, &resolved_info, &naga::back::spv::Options::default(), None)
        .unwrap_or_else(|e| panic!("shaders/{name}: SPIR-V translation fails: {e}"));
    assert!(!module.entry_points.is_empty(), "shaders/{name} has no entry point");
}

#[test]
fn every_shader_file_validates_with_naga() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("shaders/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            validate(&name, &std::fs::read_to_string(&path).unwrap());
            seen += 1;
        }
    }
    assert!(seen >= 5, "expected the kernel files in {dir}, found {seen}");
}

#[test]
fn registry_lists_every_shader_file_once() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    let registered: Vec<&str> = kairo::kernels::KERNELS.iter().map(|k| k.file).collect();
    let unique: BTreeSet<String> = registered.iter().map(|s| s.to_string()).collect();
    assert_eq!(unique.len(), registered.len(), "a kernel is registered twice");
    assert_eq!(unique, on_disk, "shaders/ and src/kernels.rs disagree");
    for k in kairo::kernels::KERNELS {
        validate(k.file, k.source);
    }
}

#[test]
fn a_broken_shader_is_caught() {
    let bad = "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }";
    let module = naga::front::wgsl::parse_str(bad);
    let caught = match module {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&m)
            .is_err(),
    };
    assert!(caught, "naga accepted a type error");
}
