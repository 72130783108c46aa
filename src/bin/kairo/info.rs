//! `kairo info`: every adapter, then the device kairo opens — its limits
//! beside the adapter's and WebGPU's defaults, and which variant of each
//! kernel family it will run — and `kairo info --kernels`, the
//! requirements table of every entry point.

use kairo::gpu::adapter::{self, AdapterChoice};
use kairo::kernels::contract::{self, Requirements};
use kairo::nn::rnn::CellKind;
use kairo::nn::rnn_fused::StepKernel;
use kairo::ops::ctc::{self, CtcLayout, SUBGROUP_CHUNK};
use kairo::{Context, Result};

/// The hidden size the recurrent-step line asks about (`kairo train seq`'s default).
const TYPICAL_HIDDEN: usize = 64;

pub fn info() -> Result<()> {
    let choice = AdapterChoice::from_env()?;
    let adapters = adapter::enumerate(&choice);
    let chosen = adapter::choose(&choice)?;
    let chosen_info = chosen.get_info();
    for a in &adapters {
        print_adapter(a, a.get_info() == chosen_info);
    }
    println!("(* = the adapter kairo opens; override with KAIRO_BACKEND=vulkan|metal|dx12|gl, KAIRO_ADAPTER=<name>)");
    let ctx = Context::from_adapter(&chosen)?;
    println!();
    print_limits(&ctx, &chosen.limits());
    println!();
    println!("Kernels it runs:");
    print_matmul(&ctx);
    print_recurrent(&ctx);
    print_ctc(&ctx);
    print_cache(&ctx);
    print_over_limit(&ctx)?;
    Ok(())
}

/// One adapter as enumerated: name, driver, its own limits, features.
fn print_adapter(a: &wgpu::Adapter, chosen: bool) {
    let i = a.get_info();
    let l = a.limits();
    let f = a.features();
    println!("{} {} ({:?}, {:?})", if chosen { "*" } else { " " }, i.name, i.backend, i.device_type);
    println!("    driver: {} {}", i.driver, i.driver_info);
    println!(
        "    adapter limits: max_buffer_size {} MiB, max_storage_buffer_binding_size {} MiB, workgroup storage {} KiB,",
        l.max_buffer_size >> 20,
        l.max_storage_buffer_binding_size >> 20,
        l.max_compute_workgroup_storage_size >> 10
    );
    println!(
        "            invocations/workgroup {}, workgroups/dimension {}, storage buffers/stage {}",
        l.max_compute_invocations_per_workgroup, l.max_compute_workgroups_per_dimension, l.max_storage_buffers_per_shader_stage
    );
    let ts = f.contains(wgpu::Features::TIMESTAMP_QUERY);
    let subgroups = if !f.contains(wgpu::Features::SUBGROUP) {
        "no (matmul, the recurrent step and CTC take their portable paths)".to_string()
    } else if kairo::gpu::workgroup_of_8_is_one_subgroup(i.subgroup_min_size, i.subgroup_max_size) {
        format!("{}..{} lanes (the 8-lane subgroup kernels run)", i.subgroup_min_size, i.subgroup_max_size)
    } else {
        format!("{}..{} lanes (below 8: the portable paths run)", i.subgroup_min_size, i.subgroup_max_size)
    };
    println!(
        "    timestamps: {}   subgroups: {subgroups}",
        if ts { "yes (GPU timing in benchmarks)" } else { "no (benchmarks fall back to wall time)" },
    );
}

/// A byte count as the table prints it: one word, exact (a limit one byte
/// short of 2 GiB stays a plain number).
fn bytes(b: u64) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{}MiB", b >> 20)
    } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
        format!("{}KiB", b >> 10)
    } else {
        b.to_string()
    }
}

/// The limits the device was opened with beside the adapter's and WebGPU's defaults.
fn print_limits(ctx: &Context, adapter: &wgpu::Limits) {
    let how = match std::env::var("KAIRO_LIMITS").as_deref().map(str::trim) {
        Ok("default") => "WebGPU's default limits (KAIRO_LIMITS=default)",
        _ => "the adapter's limits (KAIRO_LIMITS=default opens it with WebGPU's)",
    };
    println!("Opened {} with {how}:", ctx.describe());
    let web = wgpu::Limits::default();
    type Row = (&'static str, fn(&wgpu::Limits) -> String);
    let rows: [Row; 6] = [
        ("max_storage_buffers_per_shader_stage", |l| l.max_storage_buffers_per_shader_stage.to_string()),
        ("max_compute_invocations_per_workgroup", |l| l.max_compute_invocations_per_workgroup.to_string()),
        ("max_compute_workgroup_storage_size", |l| bytes(l.max_compute_workgroup_storage_size as u64)),
        ("max_storage_buffer_binding_size", |l| bytes(l.max_storage_buffer_binding_size)),
        ("max_buffer_size", |l| bytes(l.max_buffer_size)),
        ("max_compute_workgroups_per_dimension", |l| l.max_compute_workgroups_per_dimension.to_string()),
    ];
    println!("    {:<40} {:>10} {:>10} {:>10}", "limit", "opened", "adapter", "WebGPU");
    for (name, get) in rows {
        println!("    {name:<40} {:>10} {:>10} {:>10}", get(ctx.limits()), get(adapter), get(&web));
    }
}

/// The matmul candidates autotune times here.
fn print_matmul(ctx: &Context) {
    let candidates = kairo::ops::matmul::tuned_variants(ctx);
    let names: Vec<&str> = candidates.iter().map(|v| v.name()).collect();
    let default = names.first().copied().unwrap_or("-");
    if std::env::var("KAIRO_AUTOTUNE").is_ok_and(|v| v == "0") {
        println!("  matmul: autotune off (KAIRO_AUTOTUNE=0): {default} for every shape whose sizes are multiples of 4, scalar otherwise");
    } else {
        println!(
            "  matmul: autotune times {} per shape class, default first: {}; below 64³ multiply-adds {default} untimed; sizes not multiples of 4: scalar",
            names.len(),
            names.join(", ")
        );
    }
}

/// The recurrent step LSTM and GRU layers take at a typical hidden size
/// (`nn::rnn_fused::step_kernel`; `KAIRO_RNN_STEP` overrides it).
fn print_recurrent(ctx: &Context) {
    let step = |kind: CellKind| {
        let k = kairo::nn::rnn_fused::step_kernel(ctx, kind, TYPICAL_HIDDEN);
        let what = match k {
            StepKernel::Subgroup8 => "fused, one subgroup of 8 per workgroup (rnn_fused.wgsl)",
            StepKernel::Workgroup => "fused, 64-invocation workgroups (rnn_fused_wg.wgsl)",
            StepKernel::Unfused => "matmul + cell kernels",
        };
        format!("{} — {what}", k.name())
    };
    println!("  recurrent step (hidden {TYPICAL_HIDDEN}): LSTM {}; GRU {}; tanh RNN: matmul + cell kernels", step(CellKind::Lstm), step(CellKind::Gru));
    let runs: Vec<&str> = StepKernel::ALL.into_iter().filter(|k| k.runs(ctx, CellKind::Lstm, TYPICAL_HIDDEN)).map(StepKernel::name).collect();
    println!("      (the rule; layers of 2^18 multiply-adds per step and more time {} once per shape class, cached)", runs.join(", "));
}

/// The autotune choices cached for this device (matmul and recurrent-step
/// shape classes), each marked where it is no longer a candidate here.
fn print_cache(ctx: &Context) {
    let matmul: Vec<&str> = kairo::ops::matmul::tuned_variants(ctx).iter().map(|v| v.name()).collect();
    let candidate = |key: &str, name: &str| {
        if key.starts_with("rnn_step/") {
            name.parse::<StepKernel>().is_ok_and(|k| k.runs(ctx, CellKind::Lstm, TYPICAL_HIDDEN))
        } else {
            matmul.contains(&name)
        }
    };
    let cache = ctx.tune_cache();
    let Some(path) = cache.path() else {
        println!("  autotune cache: in memory only (KAIRO_AUTOTUNE_CACHE=0, or no cache folder: set KAIRO_CACHE_DIR or HOME)");
        return;
    };
    let choices = cache.load(&ctx.tune_device_key());
    if choices.is_empty() {
        println!("  autotune cache: {} (no choices for this device yet)", path.display());
        return;
    }
    println!("  autotune cache: {} ({} choices for this device)", path.display(), choices.len());
    for (key, name) in &choices {
        let note = if candidate(key, name) { "" } else { " (not a candidate here: tuned again)" };
        println!("      {key} → {name}{note}");
    }
}

/// CTC's β-pass layout for `CtcLayout::Auto` (`ops::ctc::resolve_layout`)
/// at short and long targets, and whether its gradient entry takes packed weights.
fn print_ctc(ctx: &Context) {
    let max = ctx.limits().max_storage_buffers_per_shader_stage;
    let describe = |l: usize| {
        let layout = ctc::resolve_layout(ctx, CtcLayout::Auto, 1, l);
        let e = ctc::gradient_entry(layout);
        let n = e.storage_buffers();
        let grad = if n <= max {
            format!("{} ({n} storage buffers)", e.name)
        } else {
            let instead = contract::FALLBACKS.iter().find(|f| f.1 == e.name).map_or("?", |f| f.2);
            format!("{instead} ({} binds {n} > {max}: packed weights)", e.name)
        };
        format!("{} layout, gradient {grad}", layout.name())
    };
    let long = 8 * SUBGROUP_CHUNK + 1;
    let (short, beyond) = (describe(long - 1), describe(long));
    if short == beyond {
        println!("  CTC β pass: {short}");
    } else {
        println!("  CTC β pass: up to {} label positions {short}; beyond, {beyond}", long - 1);
    }
}

/// Entry points over the opened limits: each with the fallback that runs, or the limit it breaks.
fn print_over_limit(ctx: &Context) -> Result<()> {
    let reqs = contract::requirements()?;
    let limits = ctx.limits();
    let fits = |r: &Requirements| r.over(limits).is_empty();
    let over: Vec<&Requirements> = reqs.iter().filter(|r| !fits(r)).collect();
    if over.is_empty() {
        println!("  over the opened limits: none, every entry point fits");
        return Ok(());
    }
    println!("  over the opened limits: {} entry points", over.len());
    for r in over {
        let fallback = r.fallback().and_then(|f| reqs.iter().find(|x| x.kernel == r.kernel && x.entry == f));
        let what = match fallback {
            Some(f) if fits(f) && r.over(limits).len() == 1 && r.storage_buffers > limits.max_storage_buffers_per_shader_stage => {
                format!("runs {} instead", f.entry)
            }
            _ if r.workgroup_size_overridable => "no fallback; its launcher sets the workgroup size (override constant)".to_string(),
            _ => "no fallback: an op that launches it fails with a limit error here".to_string(),
        };
        println!("      {}.{} ({}): {what}", r.kernel, r.entry, r.over(limits).join(", "));
    }
    Ok(())
}

/// The requirements table of `kairo info --kernels`, read off the shaders.
pub fn info_kernels() -> Result<()> {
    let web = wgpu::Limits::default();
    let reqs = contract::requirements()?;
    println!("{:<44} {:>7} {:>12} {:>9} {:>9}", "kernel.entry", "storage", "workgroup", "wg bytes", "subgroups");
    let mut over = 0;
    for r in &reqs {
        let [x, y, z] = r.workgroup_size;
        let size = format!("{x}×{y}×{z}{}", if r.workgroup_size_overridable { "*" } else { "" });
        let over_limits = r.over(&web);
        let exceeds = !over_limits.is_empty();
        over += exceeds as usize;
        println!(
            "{:<44} {:>7} {:>12} {:>9} {:>9}{}",
            format!("{}.{}", r.kernel, r.entry),
            r.storage_buffers,
            size,
            r.workgroup_bytes,
            if r.subgroups { "yes" } else { "-" },
            if exceeds {
                let instead = r.fallback().map(|f| format!("; runs {f} instead where the device has fewer")).unwrap_or_default();
                format!("  ! over WebGPU's defaults ({}{instead})", over_limits.join(", "))
            } else {
                String::new()
            }
        );
    }
    println!(
        "{} entry points, {over} over WebGPU's default limits ({} storage buffers per stage, {} invocations, {} workgroup bytes), {} of them with a fallback within them; * = set by an override constant (default shown)",
        reqs.len(),
        web.max_storage_buffers_per_shader_stage,
        web.max_compute_invocations_per_workgroup,
        web.max_compute_workgroup_storage_size,
        reqs.iter().filter(|r| r.fallback().is_some()).count()
    );
    Ok(())
}
