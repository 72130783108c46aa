//! The `kairo` command line: thin, calls the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kairo::bench::{self, BenchConfig};
use kairo::gpu::adapter::{self, AdapterChoice};
use kairo::{Context, Result};

#[derive(Parser)]
#[command(name = "kairo", version, about = "Training engine with hand-written WGSL kernels on wgpu")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter with backend, type, key limits and optional features.
    Info,
    /// Benchmark kernels: matmul GFLOP/s and dispatch overhead.
    Bench {
        /// Square matmul sizes, comma-separated (default 256,512,1024; plus 2048,4096 on real GPUs).
        #[arg(long, value_delimiter = ',')]
        sizes: Option<Vec<usize>>,
        /// Timed repetitions per entry (median reported).
        #[arg(long, default_value_t = 10)]
        reps: usize,
        /// Also time every matmul kernel variant.
        #[arg(long)]
        variants: bool,
        /// Only these groups: matmul, dispatch.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A short tour on built-in data: a matmul checked against the CPU, an MLP trained on two spirals (writes kairo-spirals.png), kernel benchmarks.
    Demo,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => info(),
        Command::Bench { sizes, reps, variants, only, json } => {
            let cfg = BenchConfig { sizes, reps, variants, only, ..Default::default() };
            run_bench(&cfg, json.as_deref())
        }
        Command::Demo => demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn info() -> Result<()> {
    let choice = AdapterChoice::from_env()?;
    let adapters = adapter::enumerate(&choice);
    if adapters.is_empty() {
        adapter::choose(&choice)?;
    }
    let chosen = adapter::choose(&choice).ok().map(|a| a.get_info());
    for a in &adapters {
        let i = a.get_info();
        let l = a.limits();
        let f = a.features();
        let mark = if chosen.as_ref() == Some(&i) { "*" } else { " " };
        println!("{mark} {} ({:?}, {:?})", i.name, i.backend, i.device_type);
        println!("    driver: {} {}", i.driver, i.driver_info);
        println!(
            "    limits: max_buffer_size {} MiB, max_storage_buffer_binding_size {} MiB, workgroup storage {} KiB,",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroup_storage_size >> 10
        );
        println!(
            "            invocations/workgroup {}, workgroups/dimension {}, storage buffers/stage {}",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage
        );
        let ts = f.contains(wgpu::Features::TIMESTAMP_QUERY);
        let sg = f.contains(wgpu::Features::SUBGROUP);
        println!(
            "    timestamps: {}   subgroups: {}",
            if ts { "yes (GPU timing in benchmarks)" } else { "no (benchmarks fall back to wall time)" },
            if sg { "yes" } else { "no (not needed: kernels do not use them)" }
        );
    }
    println!("(* = the adapter kairo opens; override with KAIRO_BACKEND=vulkan|metal|dx12|gl, KAIRO_ADAPTER=<name>)");
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| kairo::Error::Io { path: path.display().to_string(), source };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn run_bench(cfg: &BenchConfig, json: Option<&Path>) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    println!(
        "timer: {}",
        if ctx.capabilities().timestamps { "GPU timestamps (matmul), wall time (dispatch)" } else { "wall time" }
    );
    let report = bench::run(&ctx, cfg, |r| println!("{}", bench::format_result(r)))?;
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serialises");
        write_atomic(path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn demo() -> Result<()> {
    use kairo::ops;
    let ctx = Context::new()?;
    println!("kairo demo on {}", ctx.describe());

    println!("\n1. A matmul on the GPU against the CPU reference");
    let (m, n, k) = (96, 80, 112);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729) % 89) as f32 / 89.0 - 0.5).collect();
    let ta = kairo::Tensor::from_slice(&ctx, &a, &[m, k])?;
    let tb = kairo::Tensor::from_slice(&ctx, &b, &[k, n])?;
    let got = ops::matmul(&ta, &tb)?.to_vec()?;
    let want = kairo::reference::matmul(&a, &b, m, n, k, false, false, None, ops::Activation::None);
    let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    println!("   {m}x{k} · {k}x{n}: max |gpu - cpu| = {worst:.2e}");

    println!("\n2. Training: an MLP (2-48-48-2, tanh, Adam) separates two spirals");
    let steps = 300;
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("   {bar:30} {pos}/{len} steps  loss {msg}  {per_sec}")
            .expect("valid template"),
    );
    let run = kairo::train::spirals::train_spirals(&ctx, 100, steps, 7, |_, loss| {
        bar.set_message(format!("{loss:.4}"));
        bar.inc(1);
    })?;
    bar.finish();
    println!(
        "   loss {:.4} -> {:.4}, training accuracy {:.1}%",
        run.losses[0],
        run.losses[run.losses.len() - 1],
        run.accuracy * 100.0
    );
    let png = Path::new("kairo-spirals.png");
    kairo::train::spirals::render_png(&run, &ctx, 256, png)?;
    println!("   decision regions drawn to {}", png.display());

    println!("\n3. Kernel benchmarks (median of 5)");
    let cfg = BenchConfig { sizes: Some(vec![256, 512]), reps: 5, dispatches: 200, ..Default::default() };
    bench::run(&ctx, &cfg, |r| println!("   {}", bench::format_result(r)))?;
    Ok(())
}
