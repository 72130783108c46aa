//! When the subgroup kernels (shaders/matmul_subgroup.wgsl, rnn_fused.wgsl,
//! ctc_subgroup.wgsl) run: the selection rule over (min, max) subgroup
//! sizes, and, on the test adapter, a probe shader with the kernels'
//! 8-invocation workgroup that checks what they assume of a subgroup
//! wherever the rule selects them. CI runs this file on lavapipe at 4, 8
//! and 16 lanes (LP_NATIVE_VECTOR_WIDTH=128, 256, 512) and on SwiftShader
//! (4 lanes); lavapipe also gives 32, 64 and 128 lanes at 1024, 2048 and
//! 4096 bits.

mod common;

use common::ctx;
use kairo::gpu::workgroup_of_8_is_one_subgroup;

#[test]
fn rule_over_subgroup_size_ranges() {
    // (min, max, selected): every size the driver may pick must hold the
    // whole 8-invocation workgroup.
    let cases = [
        (8, 8, true),     // lavapipe at 256 bits
        (16, 16, true),   // lavapipe at 512 bits
        (32, 32, true),   // NVIDIA, Apple in practice
        (32, 64, true),   // AMD wave32/wave64
        (8, 32, true),    // Intel SIMD8..SIMD32
        (64, 64, true),   // AMD GCN
        (128, 128, true), // the widest wgpu reports
        (4, 4, false),    // SwiftShader, lavapipe at 128 bits
        (2, 2, false),    // lavapipe at 64 bits
        (4, 8, false),    // may pick 4: two subgroups per workgroup
        (4, 64, false),   // wgpu's Metal range
        (4, 128, false),  // wgpu's default when a driver reports nothing
        (1, 128, false),
        (0, 0, false),
        (16, 8, false), // not a range
    ];
    for (min, max, want) in cases {
        assert_eq!(workgroup_of_8_is_one_subgroup(min, max), want, "subgroup sizes {min}..={max}");
    }
    for min in [1u32, 2, 4, 8, 16, 32, 64, 128] {
        for max in [1u32, 2, 4, 8, 16, 32, 64, 128] {
            assert_eq!(workgroup_of_8_is_one_subgroup(min, max), min >= 8 && max >= min, "{min}..={max}");
        }
    }
}

const WORKGROUPS: u32 = 64;
const SLOTS: usize = 12;

/// One row of SLOTS values per invocation, workgroups of 8 like the
/// kernels'. Lane 7's shuffle down and lane 0's shuffle up read outside the
/// workgroup; the kernels mask those ends and so does the check.
const PROBE: &str = r#"
@group(0) @binding(0) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(8, 1, 1)
fn probe(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
         @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
    let g = wid.x * 8u + li;
    let o = g * 12u;
    out[o + 0u] = lane;
    out[o + 1u] = size;
    out[o + 2u] = subgroupAdd(1u);
    out[o + 3u] = subgroupMax(li);
    out[o + 4u] = subgroupBroadcast(g, 0u);
    out[o + 5u] = subgroupBroadcast(g, 3u);
    out[o + 6u] = subgroupBroadcast(g, 7u);
    out[o + 7u] = subgroupShuffleXor(g, 4u);
    out[o + 8u] = subgroupShuffleXor(g, 1u);
    out[o + 9u] = subgroupShuffleDown(g, 1u);
    out[o + 10u] = subgroupShuffleUp(g, 1u);
    out[o + 11u] = subgroupAdd(g);
}
"#;

/// Runs PROBE on the test context's device (raw wgpu: the probe is no
/// kernel of kairo's) and returns one row per invocation.
fn run_probe() -> Vec<[u32; SLOTS]> {
    let c = ctx();
    let device = c.device();
    let n = (WORKGROUPS as usize) * 8 * SLOTS;
    let bytes = (n * 4) as u64;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("subgroup probe"),
        source: wgpu::ShaderSource::Wgsl(PROBE.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("subgroup probe"),
        layout: None,
        module: &module,
        entry_point: Some("probe"),
        compilation_options: Default::default(),
        cache: None,
    });
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let out = device.create_buffer(&wgpu::BufferDescriptor { label: Some("probe out"), size: bytes, usage, mapped_at_creation: false });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("probe staging"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("probe"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() }],
    });
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("probe") });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("probe"), timestamp_writes: None });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(WORKGROUPS, 1, 1);
    }
    enc.copy_buffer_to_buffer(&out, 0, &staging, 0, bytes);
    c.queue().submit([enc.finish()]);
    let slice = staging.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely()).expect("probe finished");
    rx.recv().unwrap().expect("probe output mapped");
    let view = slice.get_mapped_range().expect("probe output readable");
    let words: &[u32] = bytemuck::cast_slice(&view);
    words.chunks(SLOTS).map(|r| r.try_into().unwrap()).collect()
}

/// What the subgroup kernels assume of every 8-invocation workgroup, as a
/// list of violations (empty when all hold).
fn violations(rows: &[[u32; SLOTS]]) -> Vec<String> {
    let mut bad = Vec::new();
    for (g, r) in rows.iter().enumerate() {
        let g = g as u32;
        let (li, base) = (g % 8, g - g % 8);
        let sum: u32 = (base..base + 8).sum();
        let mut check = |what: &str, got: u32, want: u32| {
            if got != want {
                bad.push(format!("invocation {li} of workgroup {}: {what} = {got}, kernels need {want}", g / 8));
            }
        };
        check("subgroup_invocation_id", r[0], li);
        check("subgroup_size >= 8", u32::from(r[1] >= 8), 1);
        check("subgroupAdd(1)", r[2], 8);
        check("subgroupMax(local index)", r[3], 7);
        check("subgroupBroadcast(lane 0)", r[4], base);
        check("subgroupBroadcast(lane 3)", r[5], base + 3);
        check("subgroupBroadcast(lane 7)", r[6], base + 7);
        check("subgroupShuffleXor(4)", r[7], g ^ 4);
        check("subgroupShuffleXor(1)", r[8], g ^ 1);
        if li < 7 {
            check("subgroupShuffleDown(1)", r[9], g + 1);
        }
        if li > 0 {
            check("subgroupShuffleUp(1)", r[10], g - 1);
        }
        check("subgroupAdd over the workgroup", r[11], sum);
    }
    bad
}

#[test]
fn kernels_run_only_where_a_workgroup_of_8_is_one_subgroup() {
    let c = ctx();
    let info = c.adapter_info();
    let (min, max) = (info.subgroup_min_size, info.subgroup_max_size);
    let selected = c.subgroup_kernels_run();
    eprintln!(
        "{}: Features::SUBGROUP {}, subgroup sizes {min}..={max}, subgroup kernels {}",
        c.describe(),
        c.capabilities().subgroups,
        if selected { "selected" } else { "not selected" }
    );
    assert_eq!(selected, c.capabilities().subgroups && workgroup_of_8_is_one_subgroup(min, max));
    if !c.capabilities().subgroups {
        return; // GL: no subgroup operations to probe
    }
    let rows = run_probe();
    let sizes: std::collections::BTreeSet<u32> = rows.iter().map(|r| r[1]).collect();
    eprintln!("probe: subgroup_size {sizes:?} in 8-invocation workgroups");
    for s in &sizes {
        assert!((min..=max).contains(s), "the probe ran with subgroup size {s}, outside the reported {min}..={max}");
    }
    let bad = violations(&rows);
    if selected {
        assert!(bad.is_empty(), "subgroup kernels selected but {} assumption(s) fail:\n{}", bad.len(), bad[..bad.len().min(20)].join("\n"));
    } else if max < 8 {
        // Every subgroup is narrower than the workgroup: the probe sees the
        // split the rule keeps the kernels away from.
        assert!(rows.iter().all(|r| r[2] == r[1] && r[1] < 8), "expected subgroups of {min}..={max} invocations");
        assert!(!bad.is_empty(), "a workgroup of 8 split into subgroups of {max} should break the kernels' assumptions");
        eprintln!("probe: {} violations, e.g. {}", bad.len(), bad[0]);
    }
}
