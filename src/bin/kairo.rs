//! The `kairo` command line: parsing, printing and progress bars around the
//! library, which returns values and progress events. All of kairo's
//! terminal output lives in this binary (`kairo/*.rs` hold the per-job parts).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use kairo::bench::{self, BenchConfig};
use kairo::nn::rnn::CellKind;
use kairo::nn::dcgan::DcganConfig;
use kairo::jobs::adding::{self, SeqConfig};
use kairo::jobs::copy::CopySpec;
use kairo::jobs::gan::GanConfig;
use kairo::jobs::plot::{self, Curve};
use kairo::jobs::speech;
use rand::SeedableRng;
use kairo::{Context, Result};

#[derive(Parser)]
#[command(name = "kairo", version, about = "Training engine with hand-written WGSL kernels on wgpu")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter (backend, type, driver, limits, optional features), then for the one kairo opens: the limits it is opened with beside the adapter's and WebGPU's defaults, the kernel variants it runs (matmul candidates and cached choices, recurrent step, CTC layout, over-limit fallbacks).
    Info {
        /// Instead: what every kernel entry point needs from a device (storage buffers, workgroup size and memory, subgroups), marking what exceeds WebGPU's default limits.
        #[arg(long)]
        kernels: bool,
    },
    /// Benchmark kernels: matmul GFLOP/s, dispatch overhead, LSTM/GRU layer forward and training step, CTC loss + gradient.
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
        /// Only these groups: matmul, dispatch, rnn, ctc, speech, dcgan, conv, generator, jobs (the web page's training steps, only when named) (default: all; rnn, speech, dcgan and conv are skipped when --sizes is given).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Built-in training jobs.
    Train {
        #[command(subcommand)]
        job: TrainJob,
    },
    /// Draw samples from a trained model (text or images).
    Sample {
        #[command(subcommand)]
        job: SampleJob,
    },
    /// Print the text of a WAV file with a trained speech model.
    Transcribe {
        /// A checkpoint written by `kairo train speech` (speech.safetensors).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Prefix beam search with this beam width (default: greedy best path).
        #[arg(long)]
        beam: Option<usize>,
        /// The WAV file (any common rate, bit depth, mono or stereo).
        wav: PathBuf,
    },
    /// Score a trained model: CER/WER of a speech checkpoint on a manifest, bits per character of a character model on a text.
    Eval {
        #[command(subcommand)]
        job: EvalJob,
    },
    /// A short tour on built-in data: a matmul checked against the CPU, an MLP trained on two spirals (writes kairo-spirals.png), kernel benchmarks.
    Demo,
    /// Serve the prebuilt web page (train in a browser tab through WebGPU) on loopback; build it first with scripts/web-build.sh.
    ServeWeb {
        /// The built page (what scripts/web-build.sh writes).
        #[arg(long, default_value = "web/dist")]
        dir: PathBuf,
        /// Address to listen on (loopback by default; 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Append what pages opened in test mode (?test=adding|gan|sample) POST to /report to this file, one JSON line each (scripts/web-bench.sh).
        #[arg(long)]
        report_to: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TrainJob {
    /// A recurrent net on a synthetic sequence task (the vanishing-gradient lesson).
    Seq {
        /// The task.
        #[arg(long, value_enum, default_value_t = Task::Adding)]
        task: Task,
        /// The recurrent cell.
        #[arg(long, value_enum, default_value_t = Cell::Lstm)]
        cell: Cell,
        /// Sequence length T (adding), the delay between symbols and go marker (copy); unused by text.
        #[arg(long, default_value_t = 100)]
        length: usize,
        /// Optimiser steps (a fresh random batch each).
        #[arg(long, default_value_t = 2000)]
        steps: usize,
        /// Sequences per step (text: parallel streams through the corpus).
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Hidden size (default 64; 128 for text).
        #[arg(long)]
        hidden: Option<usize>,
        /// Adam learning rate.
        #[arg(long, default_value_t = 0.01)]
        lr: f32,
        /// Seed of the initialisation and the data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Held-out MSE (adding) or loss and accuracy (copy) every this many steps.
        #[arg(long, default_value_t = 100)]
        eval_every: usize,
        /// Copy task: symbols to remember.
        #[arg(long, default_value_t = 10)]
        symbols: usize,
        /// Copy task: alphabet size.
        #[arg(long, default_value_t = 8)]
        alphabet: usize,
        #[command(flatten)]
        text: TextArgs,
        /// Adding task: draw ‖∂L/∂x_t‖ against t (log axis) for all three cells at init and for the trained model to this image (.png or .jpg).
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// A Deep Speech 2 style recogniser (conv + bidirectional GRU + CTC) on a
    /// manifest, or on built-in synthetic spoken digits.
    Speech {
        /// CSV manifest `wav_filename,wav_filesize,transcript` (default: built-in synthetic digits).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Passes over the training utterances.
        #[arg(long, default_value_t = 12)]
        epochs: usize,
        /// Utterances per step (grouped by length).
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// GRU hidden size per direction.
        #[arg(long, default_value_t = 128)]
        hidden: usize,
        /// GRU layers.
        #[arg(long, default_value_t = 1)]
        layers: usize,
        /// Adam learning rate (with global-norm gradient clipping).
        #[arg(long, default_value_t = 0.003)]
        lr: f32,
        /// Unidirectional GRU with a look-ahead convolution over this many future steps (online use).
        #[arg(long)]
        lookahead: Option<usize>,
        /// Checkpoint folder (speech.safetensors is written there after every epoch).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of the initialisation, the built-in data and the batch order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Continue from the checkpoint in --out.
        #[arg(long)]
        resume: bool,
        /// Fraction of the manifest held out for the per-epoch CER/WER, in (0, 1).
        #[arg(long, default_value_t = 0.1)]
        holdout: f32,
        /// Score this manifest after every epoch instead of a held-out part of --manifest (--holdout is then unused).
        #[arg(long)]
        valid_manifest: Option<PathBuf>,
        /// Synthetic utterances (train + held out) when there is no --manifest.
        #[arg(long, default_value_t = 500)]
        utterances: usize,
        /// One rank of a data-parallel run: start with `mpirun -np N` (needs the `mpi` feature).
        #[arg(long)]
        distributed: bool,
    },
    /// A DCGAN: alternating D/G training with sample grids, loss curve, checkpoints.
    Gan(GanArgs),
}

#[derive(Subcommand)]
enum EvalJob {
    /// Corpus CER and WER of a speech checkpoint on a manifest (batched forwards, no tape).
    Speech {
        /// A checkpoint written by `kairo train speech` (speech.safetensors).
        #[arg(long)]
        checkpoint: PathBuf,
        /// CSV manifest `wav_filename,wav_filesize,transcript`.
        #[arg(long)]
        manifest: PathBuf,
        /// Prefix beam search with this beam width (default: greedy best path).
        #[arg(long)]
        beam: Option<usize>,
        /// Utterances per forward (twice the training batch reproduces the CER training printed for the same set).
        #[arg(long, default_value_t = speech::EVAL_BATCH)]
        batch: usize,
        /// Also print each utterance's reference, hypothesis, CER and WER.
        #[arg(long)]
        verbose: bool,
    },
    /// Bits per character of a character model (`train seq --task text`) on a UTF-8 file.
    Seq {
        /// A checkpoint written by `kairo train seq --task text`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The text to score (every character must be in the model's vocabulary).
        #[arg(long)]
        data: PathBuf,
        /// Streams read side by side (one forward covers all of them).
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Characters of every stream per forward (the state is carried between forwards).
        #[arg(long, default_value_t = 256)]
        seq_len: usize,
    },
}

#[derive(Subcommand)]
enum SampleJob {
    /// Sample text from a character model saved by `train seq --task text`.
    Seq {
        /// A checkpoint written by `kairo train seq --task text`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Text the sample starts from (characters of the model's vocabulary).
        #[arg(long, default_value = "The ")]
        prompt: String,
        /// Characters to generate.
        #[arg(long, default_value_t = 500)]
        len: usize,
        /// 0: always the likeliest character; higher: bolder.
        #[arg(long, default_value_t = 0.8)]
        temperature: f32,
        /// Seed of the character draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A grid of DCGAN samples from a `kairo train gan` checkpoint.
    Gan {
        /// The checkpoint (OUT/checkpoint.safetensors of a run).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The image to write (.png or .jpg/.jpeg).
        #[arg(long, default_value = "grid.png")]
        out: PathBuf,
        /// Number of samples (of a conditional checkpoint without --class: about n, one row per class).
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// A conditional checkpoint's class, by number or name (default: a class grid, one row per class).
        #[arg(long)]
        class: Option<String>,
        /// Seeds the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// `kairo train gan` options (see `GanConfig`).
#[derive(clap::Args)]
struct GanArgs {
    /// Image folder (PNG/JPEG, recursive; class subfolders are labels) or a folder of IDX files (train-images-idx3-ubyte[.gz] and its labels, e.g. Fashion-MNIST); default: the built-in coloured shapes.
    #[arg(long)]
    data: Option<PathBuf>,
    /// What transparent pixels of --data images are composited onto: white, black or R,G,B.
    #[arg(long, default_value = "black")]
    background: String,
    /// Image side: 32 or 64.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// 1 (grey) or 3 (RGB). Grey is the default: it learns in fewer iterations on a CPU adapter.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Generator width (64 in the paper; 16 keeps a CPU adapter's run to minutes).
    #[arg(long, default_value_t = 16)]
    ngf: usize,
    /// Discriminator width (64 in the paper).
    #[arg(long, default_value_t = 16)]
    ndf: usize,
    /// Real images per D step (and as many fakes). 16 gives more updates per minute than 32 on a CPU adapter
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Iterations (a resumed run counts those already done).
    #[arg(long, default_value_t = 1200)]
    iters: u64,
    /// D updates per G update.
    #[arg(long, default_value_t = 1)]
    d_steps: usize,
    /// Sample grid, loss curve, checkpoint (and quality on built-in data) every N iterations.
    #[arg(long, default_value_t = 100)]
    every: u64,
    /// Adam learning rate (β1 0.5); the paper's 2e-4 needs more iterations than the default run has.
    #[arg(long, default_value_t = 4e-4)]
    lr: f32,
    /// D's target for real images (1: plain cross-entropy; 0.9: one-sided label smoothing)
    #[arg(long, default_value_t = 1.0)]
    real_label: f32,
    /// Output folder.
    #[arg(long, default_value = "gan-out")]
    out: PathBuf,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long)]
    resume: bool,
    /// Do not score samples (skips the shape judge on the built-in shapes, and the Fréchet-distance classifier on labelled --data).
    #[arg(long)]
    no_judge: bool,
    /// Seed of the initialisation, the noise and the built-in shapes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One rank of a data-parallel run: start with `mpirun -np N` (needs the `mpi` feature).
    #[arg(long)]
    distributed: bool,
    /// Batch norm's statistics in training: `batch` (per rank when distributed) or `running`.
    #[arg(long, default_value = "batch", value_parser = ["batch", "running"])]
    batch_norm: String,
    /// Class-conditional DCGAN (label embedded into G's input, projection D); needs labelled data.
    #[arg(long)]
    conditional: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Task {
    /// Sum of the two marked numbers (Hochreiter & Schmidhuber).
    Adding,
    /// Reproduce k symbols after a delay and a go marker.
    Copy,
    /// Character-level language model on --data FILE (or the built-in corpus).
    Text,
}

/// Options of `train seq --task text`.
#[derive(clap::Args)]
struct TextArgs {
    /// Text: a UTF-8 file to learn (default: the built-in corpus).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Text: recurrent layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Text: embedding width.
    #[arg(long, default_value_t = 32)]
    embed: usize,
    /// Text: truncated-BPTT length (characters per stream per step).
    #[arg(long, default_value_t = 64)]
    seq_len: usize,
    /// Text: dropout between recurrent layers.
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    /// Text: gradient clipping (global norm).
    #[arg(long, default_value_t = 5.0)]
    clip: f32,
    /// Text: print a sample every this many steps and after the last (0: never).
    #[arg(long, default_value_t = 200)]
    sample_every: usize,
    /// Text: characters per sample.
    #[arg(long, default_value_t = 200)]
    sample_len: usize,
    /// Text: sampling temperature (0: always the likeliest character).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Text: samples start from this text.
    #[arg(long, default_value = "The ")]
    prompt: String,
    /// Text: checkpoint file (model, optimiser, vocabulary), written kill-safely.
    #[arg(long, default_value = "kairo-text.safetensors")]
    checkpoint: PathBuf,
    /// Text: save the checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 200)]
    checkpoint_every: usize,
    /// Text: continue from --checkpoint if it exists (--steps counts the steps already done).
    #[arg(long)]
    resume: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Cell {
    /// Plain tanh RNN.
    Rnn,
    Lstm,
    Gru,
}

impl Cell {
    fn kind(self) -> CellKind {
        match self {
            Cell::Rnn => CellKind::RnnTanh,
            Cell::Lstm => CellKind::Lstm,
            Cell::Gru => CellKind::Gru,
        }
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = checks::command(&cli, &matches).and_then(|()| run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command.
fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info { kernels: false } => info::info(),
        Command::Info { kernels: true } => info::info_kernels(),
        Command::Bench { only, reps, .. } if only.iter().any(|o| o == "allreduce") => dist_cli::bench_allreduce(&only, reps),
        Command::Bench { sizes, reps, variants, only, json } => {
            let cfg = BenchConfig { sizes, reps, variants, only, ..Default::default() };
            run_bench(&cfg, json.as_deref())
        }
        Command::Train { job } => match job {
            TrainJob::Seq { task, cell, length, steps, batch, hidden, lr, seed, eval_every, plot, symbols, alphabet, text } => {
                let hidden = hidden.unwrap_or(if matches!(task, Task::Text) { 128 } else { 64 });
                let cfg = SeqConfig { cell: cell.kind(), length, steps, batch, hidden, lr, seed, eval_every, ..Default::default() };
                match task {
                    Task::Adding => train_seq(&cfg, plot.as_deref()),
                    Task::Copy => seq_cli::train_copy(&cfg, &CopySpec { symbols, alphabet, delay: length }),
                    Task::Text => seq_cli::train_text(&cfg, &text),
                }
            }
            TrainJob::Speech { manifest, epochs, batch, hidden, layers, lr, lookahead, out, seed, resume, holdout, valid_manifest, utterances, distributed } => {
                let mut cfg = speech::SpeechTrainConfig { manifest, epochs, batch, lr, out, seed, resume, synth_utterances: utterances, ..Default::default() };
                (cfg.holdout, cfg.valid_manifest) = (holdout, valid_manifest);
                cfg.model.hidden = hidden;
                cfg.model.layers = layers;
                if let Some(tau) = lookahead {
                    cfg.model.bidirectional = false;
                    cfg.model.lookahead = tau;
                }
                speech_cli::train_speech(&cfg, distributed)
            }
            TrainJob::Gan(a) => {
                let model = DcganConfig { image_size: a.size, channels: a.channels, nz: 100, ngf: a.ngf, ndf: a.ndf };
                let cfg = GanConfig {
                    model,
                    batch: a.batch,
                    iters: a.iters,
                    d_steps: a.d_steps,
                    every: a.every,
                    lr: a.lr,
                    real_label: a.real_label,
                    seed: a.seed,
                    out: a.out,
                    conditional: a.conditional,
                    ..Default::default()
                };
                let run = gan_cli::GanRun {
                    data: a.data.as_deref(),
                    resume: a.resume,
                    no_judge: a.no_judge,
                    background: a.background.parse()?,
                    distributed: a.distributed,
                    running_batch_norm: a.batch_norm == "running",
                };
                gan_cli::train(cfg, run)
            }
        },
        Command::Sample { job: SampleJob::Seq { checkpoint, prompt, len, temperature, seed } } => {
            seq_cli::sample_text(&checkpoint, &prompt, len, temperature, seed)
        }
        Command::Eval { job: EvalJob::Speech { checkpoint, manifest, beam, batch, verbose } } => {
            speech_cli::eval(&checkpoint, &manifest, beam.unwrap_or(0), batch, verbose)
        }
        Command::Eval { job: EvalJob::Seq { checkpoint, data, batch, seq_len } } => seq_cli::eval(&checkpoint, &data, batch, seq_len),
        Command::Transcribe { checkpoint, beam, wav } => speech_cli::transcribe(&checkpoint, beam.unwrap_or(0), &wav),
        Command::Sample { job: SampleJob::Gan { checkpoint, out, n, class, seed } } => {
            gan_cli::sample(&checkpoint, &out, n, class.as_deref(), seed)
        }
        Command::Demo => demo(),
        Command::ServeWeb { dir, addr, report_to } => serve_web(&dir, &addr, report_to.as_deref()),
    }
}

/// Serves the built page until interrupted.
fn serve_web(dir: &Path, addr: &str, report_to: Option<&Path>) -> Result<()> {
    let mut server = kairo::io::serve::WebServer::bind(dir, addr)?;
    if let Some(path) = report_to {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| kairo::Error::Io { path: path.display().to_string(), source: e })?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for report in rx {
                let line = report.replace('\n', " ");
                if writeln!(file, "{line}").and_then(|()| file.flush()).is_err() {
                    eprintln!("serve-web: could not append a report");
                }
            }
        });
        server = server.with_reports(tx);
    }
    println!("serving {} on http://{}/ (Ctrl-C stops)", dir.display(), server.addr());
    println!("open it in a browser with WebGPU (Chromium on Linux: --enable-unsafe-webgpu)");
    server.run();
    Ok(())
}

fn run_bench(cfg: &BenchConfig, json: Option<&Path>) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    println!(
        "timer: {}",
        if ctx.capabilities().timestamps { "GPU timestamps (matmul), wall time (dispatch, rnn)" } else { "wall time" }
    );
    let report = bench::run(&ctx, cfg, |r| println!("{}", bench::format_result(r)))?;
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serialises");
        kairo::io::atomic::write_atomic(path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn train_seq(cfg: &SeqConfig, plot: Option<&Path>) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    println!(
        "adding problem: {} cell, T = {}, hidden {}, batch {}, {} Adam steps (lr {}, clip {}), seed {}",
        cfg.cell.name(),
        cfg.length,
        cfg.hidden,
        cfg.batch,
        cfg.steps,
        cfg.lr,
        cfg.clip,
        cfg.seed
    );
    println!("baseline (always answer 1): MSE {:.3}", adding::ADDING_BASELINE_MSE);
    let bar = indicatif::ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  loss {msg}  {per_sec}").expect("valid template"),
    );
    let run = adding::train_adding(&ctx, cfg, |p| {
        bar.set_message(format!("{:.4}", p.loss));
        bar.inc(1);
        if let Some(m) = p.test_mse {
            bar.suspend(|| println!("step {:>6}: test MSE {m:.4}", p.step + 1));
        }
    })?;
    bar.finish();
    let verdict = if run.test_mse < 0.05 {
        "solved"
    } else if run.test_mse < 0.1 {
        "partly learned"
    } else {
        "not learned (baseline 0.167)"
    };
    println!("final test MSE {:.4}: {verdict}", run.test_mse);
    if let Some(path) = plot {
        let mut curves = Vec::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        for kind in [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru] {
            let model = adding::SeqModel::new(&ctx, kind, cfg.hidden, &mut rng)?;
            let values = adding::input_grad_norms(&ctx, &model, cfg.length, cfg.batch, cfg.seed)?;
            curves.push(Curve { label: format!("{} (init)", kind.name()), color: plot::cell_color(kind), values });
        }
        let trained = adding::input_grad_norms(&ctx, &run.model, cfg.length, cfg.batch, cfg.seed)?;
        let c = plot::cell_color(cfg.cell);
        curves.push(Curve {
            label: format!("{} (trained)", cfg.cell.name()),
            color: [c[0] / 2, c[1] / 2, c[2] / 2],
            values: trained,
        });
        let style = plot::PlotStyle {
            title: format!("gradient reaching step t from the loss at T = {}", cfg.length),
            x_label: "step t".into(),
            y_label: "‖∂L/∂x_t‖ (log)".into(),
            log_y: true,
            ..Default::default()
        };
        plot::render_plot(&curves, &style, 640, 400, path)?;
        println!(
            "\n‖∂L/∂x_t‖ per step t (proxy for ‖∂L/∂h_t‖: how much gradient from the loss at step T reaches step t), log y axis:"
        );
        for c in &curves {
            let (first, last) = (c.values[0], c.values[c.values.len() - 1]);
            println!("  {:<16} t=1: {first:.2e}  t=T: {last:.2e}  ratio {:.1e}", c.label, first / last);
        }
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
    let run = kairo::jobs::spirals::train_spirals(&ctx, 100, steps, 7, |p| {
        bar.set_message(format!("{:.4}", p.loss));
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
    kairo::jobs::spirals::render_png(&run, &ctx, 256, png)?;
    println!("   decision regions drawn to {}", png.display());

    println!("\n3. Kernel benchmarks (median of 5)");
    let cfg = BenchConfig { sizes: Some(vec![256, 512]), reps: 5, dispatches: 200, ..Default::default() };
    bench::run(&ctx, &cfg, |r| println!("   {}", bench::format_result(r)))?;
    Ok(())
}

#[path = "kairo/checks.rs"]
mod checks;
#[path = "kairo/dist_cli.rs"]
mod dist_cli;
#[path = "kairo/info.rs"]
mod info;
#[path = "kairo/gan_cli.rs"]
mod gan_cli;
#[path = "kairo/seq_cli.rs"]
mod seq_cli;
#[path = "kairo/speech_cli.rs"]
mod speech_cli;
