//! Data-parallel training (issue 14).
//!
//! Without the `mpi` feature: the one-rank distributed code path
//! (`kairo::dist::SingleProcess`: the bucketed readback, all-reduce and
//! upload of every gradient, the agreed finite check) trains exactly as
//! plain training does, bit for bit.
//!
//! With `--features mpi` (Open MPI's `mpirun` on the PATH): the built
//! binary under `mpirun --oversubscribe --allow-run-as-root -np 2` on
//! loopback, both ranks on lavapipe:
//! - 2 ranks of a small speech (GRU + CTC) job end with the parameters and
//!   Adam moments of 1 process on the same global batches;
//! - 2 ranks of a small GAN job, likewise against 1 process that keeps
//!   batch norm's statistics per half batch (what per-rank statistics are);
//! - a rank killed mid-run ends the other with an error within a bound,
//!   and the last checkpoint still loads;
//! - a 2-rank run resumed from its checkpoint ends where an unbroken 2-rank
//!   run ends.

use kairo::dist::SingleProcess;
use kairo::jobs::speech::{self, SpeechTrainConfig};
use kairo::nn::Module;
use kairo::Context;

fn small_speech(out: Option<std::path::PathBuf>) -> SpeechTrainConfig {
    let mut cfg = SpeechTrainConfig { epochs: 1, batch: 7, synth_utterances: 24, out, show: 0, ..Default::default() };
    cfg.model.hidden = 16;
    cfg.model.conv_channels = 16;
    cfg
}

#[test]
fn one_rank_distributed_path_trains_exactly_as_plain_training() {
    let ctx = Context::new().unwrap();
    let cfg = small_speech(None);
    let data = speech::load_data(&cfg).unwrap();
    let (mut plain_losses, mut dist_losses) = (Vec::new(), Vec::new());
    let plain = speech::train_speech(&ctx, &cfg, &data, |e| {
        if let speech::SpeechEvent::Step { loss } = e {
            plain_losses.push(loss)
        }
    })
    .unwrap();
    let dist = speech::train_speech_on(&ctx, &cfg, &data, Some(std::sync::Arc::new(SingleProcess)), |e| {
        if let speech::SpeechEvent::Step { loss } = e {
            dist_losses.push(loss)
        }
    })
    .unwrap();
    assert_eq!(plain_losses, dist_losses);
    assert!(plain_losses.len() >= 3, "{plain_losses:?}");
    let (a, b) = (plain.model.parameters(), dist.model.parameters());
    assert_eq!(a.len(), b.len());
    for ((name, p), (_, q)) in a.iter().zip(&b) {
        assert_eq!(p.value().to_vec().unwrap(), q.value().to_vec().unwrap(), "{name}");
    }
    // The distributed path moved every gradient once per step.
    let numel: usize = a.iter().map(|(_, p)| p.value().numel()).sum();
    let r = &dist.epochs[0];
    assert_eq!(r.allreduce_bytes_per_step, numel as u64 * 4);
    assert_eq!(plain.epochs[0].allreduce_bytes_per_step, 0);
}

#[cfg(feature = "mpi")]
mod mpi {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    const KAIRO: &str = env!("CARGO_BIN_EXE_kairo");

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kairo-dist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn mpirun(np: usize, args: &[&str]) -> Command {
        let mut c = Command::new("mpirun");
        c.args(["--oversubscribe", "--allow-run-as-root", "-np", &np.to_string()]);
        // Both ranks on lavapipe, whatever the environment asked for.
        c.args(["-x", "KAIRO_BACKEND=vulkan"]);
        c.arg(KAIRO).args(args).arg("--distributed");
        c.env_remove("KAIRO_ADAPTER");
        c
    }

    fn run(c: &mut Command, what: &str) -> Output {
        let out = c.output().unwrap_or_else(|e| panic!("{what}: cannot start ({e}); is Open MPI installed (apt-get install openmpi-bin libopenmpi-dev)?"));
        assert!(
            out.status.success(),
            "{what} failed: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn single(args: &[&str]) -> Command {
        let mut c = Command::new(KAIRO);
        c.args(args).env("KAIRO_BACKEND", "vulkan").env_remove("KAIRO_ADAPTER");
        c
    }

    /// Every f32 tensor of a safetensors file.
    fn tensors(path: &Path) -> BTreeMap<String, Vec<f32>> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        st.tensors()
            .into_iter()
            .filter(|(_, v)| v.dtype() == safetensors::Dtype::F32)
            .map(|(n, v)| (n, v.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()))
            .collect()
    }

    /// The largest |a − b| over every tensor whose name starts with a prefix
    /// of `prefixes` (all tensors when empty), with the tensor's name.
    fn max_diff(a: &Path, b: &Path, prefixes: &[&str]) -> (f32, String, usize) {
        let (ta, tb) = (tensors(a), tensors(b));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        let mut worst = (0.0f32, String::new(), 0);
        for (name, va) in &ta {
            if !prefixes.is_empty() && !prefixes.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let vb = &tb[name];
            assert_eq!(va.len(), vb.len(), "{name}");
            worst.2 += va.len();
            for (x, y) in va.iter().zip(vb) {
                assert!(x.is_finite() && y.is_finite(), "{name}");
                if (x - y).abs() > worst.0 {
                    worst = ((x - y).abs(), name.clone(), worst.2);
                }
            }
        }
        worst
    }

    const SPEECH: [&str; 12] = ["train", "speech", "--utterances", "24", "--batch", "7", "--hidden", "16", "--epochs", "2", "--seed", "5"];

    /// 22 training utterances in batches of 7 (7, 7, 7, 1): shares of 4 and 3
    /// utterances (unequal weights, unequal target characters) and a last
    /// batch that one rank holds alone (the other trains a weight-0 filler).
    /// 8 Adam steps with lr 3e-3 and clipping. The ranks sum their weighted
    /// gradients in another order than one process's batch reductions, so
    /// gradients agree to float rounding (~1e-7 relative); Adam divides by
    /// √v, so a rounding difference in a near-zero gradient can move an
    /// update by up to lr per step: the bound is 1e-4, 4% of one step's
    /// largest possible update over 8 steps (measured: 1.2e-6).
    #[test]
    fn two_speech_ranks_end_where_one_process_ends() {
        let (one, two) = (tmp("speech1"), tmp("speech2"));
        run(single(&SPEECH).args(["--out", one.to_str().unwrap()]), "1-process speech");
        // Buckets of 16 KiB: several all-reduces per step, each next bucket
        // read back while one is summed (MPI_Iallreduce).
        let mut two_ranks = mpirun(2, &SPEECH);
        two_ranks.args(["--out", two.to_str().unwrap()]).env("KAIRO_BUCKET_BYTES", "16384");
        let out = run(&mut two_ranks, "2-rank speech");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("2 ranks:") && stdout.contains("MB of gradients all-reduced per step"), "{stdout}");
        let buckets: f32 = stdout
            .split("per step in ")
            .nth(1)
            .and_then(|s| s.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no bucket count in {stdout}"));
        assert!(buckets > 2.0, "{buckets} buckets per step with 16 KiB buckets");
        let (a, b) = (one.join("speech.safetensors"), two.join("speech.safetensors"));
        let (d, name, n) = max_diff(&a, &b, &[]);
        eprintln!("speech, 1 process vs 2 ranks: max |Δ| {d:e} ({name}) over {n} values");
        assert!(d < 1e-4, "speech: 1 process vs 2 ranks differ by {d} in {name}");
    }

    const GAN: [&str; 16] =
        ["train", "gan", "--ngf", "8", "--ndf", "8", "--batch", "8", "--iters", "6", "--every", "3", "--no-judge", "--seed", "3", "--lr"];

    /// 6 iterations of a small DCGAN (D and G steps, each all-reducing its
    /// own gradients, weight 1/2) on 2 ranks against 1 process with the
    /// same global batches. Batch norm uses running statistics here
    /// (`--batch-norm running`), so a forward does not depend on how the
    /// batch is split; with the default batch statistics each rank
    /// normalises its half (as PyTorch DDP), which is a different model
    /// than one process's. Every tensor of the checkpoint (both nets, both
    /// Adams' moments, the logged history) within 1e-4 (12 Adam updates
    /// of lr 4e-4 each; rounding of the 2-way sum, as for speech).
    #[test]
    fn two_gan_ranks_end_where_one_process_ends() {
        let (one, two) = (tmp("gan1"), tmp("gan2"));
        let args: Vec<&str> = GAN.iter().copied().chain(["4e-4", "--batch-norm", "running"]).collect();
        run(single(&args).args(["--out", one.to_str().unwrap()]), "1-process gan");
        let out = run(mpirun(2, &args).args(["--out", two.to_str().unwrap()]), "2-rank gan");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("2 ranks:") && stdout.contains("all-reduced per iteration"), "{stdout}");
        let (a, b) = (one.join("checkpoint.safetensors"), two.join("checkpoint.safetensors"));
        let (d, name, n) = max_diff(&a, &b, &[]);
        eprintln!("gan, 1 process vs 2 ranks: max |Δ| {d:e} ({name}) over {n} values");
        assert!(d < 1e-4, "gan: 1 process vs 2 ranks differ by {d} in {name}");
        // The nets did train: the 2-rank weights moved from the initial ones.
        let init = tmp("gan0");
        let zero: Vec<&str> = args.iter().map(|a| if *a == "6" { "1" } else { a }).collect();
        run(single(&zero).args(["--out", init.to_str().unwrap()]), "1-iteration gan");
        let (moved, _, _) = max_diff(&b, &init.join("checkpoint.safetensors"), &["netG.", "netD."]);
        assert!(moved > 1e-3, "{moved}");
    }

    /// The default (per-rank batch statistics) GAN runs on 2 ranks and
    /// writes a checkpoint that loads.
    #[test]
    fn two_gan_ranks_train_with_per_rank_batch_norm() {
        let dir = tmp("ganbn");
        let args: Vec<&str> = GAN.iter().copied().chain(["4e-4"]).collect();
        run(mpirun(2, &args).args(["--out", dir.to_str().unwrap()]), "2-rank gan, batch statistics");
        let ctx = kairo::Context::new().unwrap();
        kairo::jobs::gan::checkpoint::load_generator(&ctx, &dir.join("checkpoint.safetensors")).expect("checkpoint loads");
    }

    /// A 2-rank run of 1 epoch, resumed for a second, ends where the
    /// unbroken 2-rank run ends: the same trajectory (exactly: the same
    /// ranks do the same work in the same order).
    #[test]
    fn a_resumed_two_rank_run_continues_the_same_trajectory() {
        let (whole, parts) = (tmp("whole"), tmp("parts"));
        run(mpirun(2, &SPEECH).args(["--out", whole.to_str().unwrap()]), "2-rank speech");
        let mut first: Vec<&str> = SPEECH.to_vec();
        first[9] = "1";
        run(mpirun(2, &first).args(["--out", parts.to_str().unwrap()]), "2-rank speech, epoch 1");
        run(mpirun(2, &SPEECH).args(["--out", parts.to_str().unwrap(), "--resume"]), "2-rank speech, resumed");
        let (d, name, _) = max_diff(&whole.join("speech.safetensors"), &parts.join("speech.safetensors"), &[]);
        assert_eq!(d, 0.0, "resumed run differs in {name} by {d}");
    }

    /// A learning rate of 1e30 spoils the weights on every rank at the same
    /// step: every rank stops with the divergence error (none is left
    /// waiting in a collective), within a bound, and nothing is saved.
    #[test]
    fn a_diverging_run_ends_every_rank_with_a_clear_error() {
        let dir = tmp("diverge");
        let args: Vec<&str> = SPEECH.iter().copied().chain(["--lr", "1e30"]).collect();
        let start = Instant::now();
        // Without autotuning: the bound is on ending, not on first-use
        // kernel timing (minutes on a busy 2-core machine).
        let out = mpirun(2, &args).args(["--out", dir.to_str().unwrap()]).env("KAIRO_AUTOTUNE", "0").output().expect("mpirun starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(start.elapsed() < Duration::from_secs(120), "took {:?}", start.elapsed());
        assert!(stderr.contains("diverged") && stderr.contains("rank 0 of 2"), "{stderr}");
        assert!(!dir.join("speech.safetensors").exists(), "a diverged run wrote a checkpoint");
    }

    /// Rank 1 is killed (SIGKILL) once the first checkpoint exists; the
    /// run must end, non-zero, within 60 s, saying which rank died, and the
    /// checkpoint must still load.
    #[test]
    fn a_killed_rank_ends_the_run_with_a_clear_error() {
        let dir = tmp("killed");
        let mut args: Vec<&str> = SPEECH.to_vec();
        args[9] = "400";
        let mut c = mpirun(2, &args);
        c.args(["--out", dir.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("mpirun starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let ckpt = dir.join("speech.safetensors");
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut pid = None;
        while pid.is_none() || !ckpt.exists() {
            assert!(Instant::now() < deadline, "no checkpoint / rank line in 300 s: {lines:?}");
            while let Ok(l) = rx.try_recv() {
                if let Some(rest) = l.find("rank 1 of 2").map(|at| &l[at..]) {
                    pid = rest.split(" pid ").nth(1).and_then(|p| p.split(':').next()).and_then(|p| p.trim().parse::<u32>().ok());
                }
                lines.push(l);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let pid = pid.unwrap();
        let killed = Instant::now();
        assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if killed.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the run still runs 60 s after rank 1 was killed");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(300));
        lines.extend(rx.try_iter());
        let text = lines.join("\n");
        assert!(!status.success(), "{text}");
        assert!(text.contains(&pid.to_string()) && (text.contains("signal 9") || text.contains("Killed")), "no clear message:\n{text}");
        let ctx = kairo::Context::new().unwrap();
        kairo::jobs::speech::load_model(&ctx, &ckpt).expect("the last checkpoint loads");
    }
}
