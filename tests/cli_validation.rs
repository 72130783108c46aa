//! The command line refuses what cannot work before it starts working:
//! sizes that do not fit, zero sizes, options foreign to the task, output
//! paths that cannot be written, a `--resume` without a checkpoint, image
//! names that are neither PNG nor JPEG.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn kairo(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kairo")).args(args).output().unwrap();
    (out, start.elapsed())
}

/// Runs and expects a quick, plain failure (exit 1, no panic) whose stderr holds all of `want`.
fn refused(args: &[&str], want: &[&str]) -> String {
    let (out, took) = kairo(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: wanted {w:?} in {err}");
    }
    assert!(took < Duration::from_secs(60), "{args:?} took {took:?}");
    err
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn sizes_that_do_not_fit_are_refused_with_the_largest_that_fits() {
    refused(&["train", "seq", "--task", "adding", "--batch", "100000000"], &["--batch 100000000", "largest --batch that fits is"]);
    refused(&["train", "seq", "--task", "adding", "--length", "100000000"], &["--length 100000000", "largest --length"]);
    refused(&["train", "seq", "--task", "copy", "--length", "100000000"], &["--length 100000000", "largest --length"]);
    refused(&["train", "seq", "--task", "text", "--hidden", "100000000"], &["--hidden 100000000", "largest --hidden"]);
    refused(&["train", "seq", "--task", "text", "--seq-len", "100000000"], &["--seq-len 100000000", "at most 3532"]);
    refused(&["train", "speech", "--batch", "100000000", "--epochs", "1"], &["--batch 100000000", "largest --batch"]);
    refused(&["train", "gan", "--batch", "100000000"], &["--batch 100000000", "largest --batch"]);
    refused(&["train", "gan", "--ngf", "100000"], &["--ngf 100000", "largest --ngf"]);
}

#[test]
fn zero_sizes_must_be_at_least_one() {
    let e = refused(&["train", "seq", "--task", "text", "--batch", "0"], &["--batch must be at least 1"]);
    assert!(!e.contains("at most"), "{e}");
    refused(&["train", "seq", "--task", "text", "--seq-len", "0"], &["--seq-len must be at least 1"]);
    refused(&["train", "seq", "--task", "adding", "--steps", "0"], &["--steps must be at least 1"]);
    refused(&["train", "speech", "--batch", "0"], &["--batch must be at least 1"]);
    refused(&["train", "gan", "--iters", "0"], &["--iters must be at least 1"]);
    refused(&["bench", "--reps", "0"], &["--reps must be at least 1"]);
}

#[test]
fn options_of_other_tasks_are_refused() {
    refused(&["train", "seq", "--task", "adding", "--data", "x.txt", "--resume"], &["--data does not apply to --task adding"]);
    refused(&["train", "seq", "--task", "adding", "--resume"], &["--resume does not apply to --task adding"]);
    refused(&["train", "seq", "--task", "copy", "--plot", "p.png"], &["--plot does not apply to --task copy"]);
    refused(&["train", "seq", "--task", "text", "--symbols", "4"], &["--symbols does not apply to --task text"]);
    refused(&["train", "seq", "--task", "text", "--length", "50"], &["--length does not apply to --task text"]);
}

#[test]
fn output_paths_are_checked_before_work_starts() {
    let dir = temp_dir("paths");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = |name: &str| file.join(name).display().to_string();
    refused(&["train", "seq", "--task", "text", "--checkpoint", &under_file("t.safetensors")], &["--checkpoint"]);
    refused(&["train", "seq", "--task", "adding", "--plot", &under_file("p.png")], &["--plot"]);
    refused(&["train", "seq", "--task", "adding", "--plot", &dir.join("p.svg").display().to_string()], &["--plot", "p.svg", ".png"]);
    refused(&["bench", "--only", "dispatch", "--json", &under_file("b.json")], &["--json"]);
    refused(&["train", "gan", "--out", &under_file("run")], &["--out"]);
    // A missing folder is created and used.
    let plot = dir.join("new/folder/grad.png");
    let (out, _) = kairo(&["train", "seq", "--task", "adding", "--length", "6", "--steps", "2", "--batch", "4", "--hidden", "4", "--plot", &plot.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(&std::fs::read(&plot).unwrap()[..4], b"\x89PNG");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_without_a_checkpoint_fails_before_any_training() {
    let dir = temp_dir("resume");
    let gan_out = dir.join("gan");
    refused(&["train", "gan", "--resume", "--out", &gan_out.display().to_string()], &["checkpoint.safetensors", "--resume"]);
    // The quality judge was not trained (it would have been cached in --out).
    assert!(std::fs::read_dir(&gan_out).map_or(true, |d| d.count() == 0));
    let speech_out = dir.join("speech").display().to_string();
    refused(&["train", "speech", "--resume", "--out", &speech_out], &["speech.safetensors", "--resume"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn beam_width_is_bounded_before_anything_loads() {
    refused(&["transcribe", "--checkpoint", "none.safetensors", "--beam", "100000", "none.wav"], &["--beam must be at most 1024"]);
    refused(&["transcribe", "--checkpoint", "none.safetensors", "--beam", "0", "none.wav"], &["--beam must be at least 1"]);
}

#[test]
fn sampled_images_follow_their_extension() {
    use kairo::data::shapes::Shapes;
    use kairo::jobs::gan::{checkpoint, GanConfig, GanData, GanTrainer};
    let dir = temp_dir("sample");
    refused(&["sample", "gan", "--checkpoint", "none.safetensors", "--out", &dir.join("x.gif").display().to_string()], &["x.gif", ".png"]);
    let model = kairo::nn::dcgan::DcganConfig { image_size: 32, channels: 1, nz: 8, ngf: 4, ndf: 4 };
    let cfg = GanConfig { model, batch: 4, iters: 1, every: 1, grid: 4, out: dir.clone(), ..Default::default() };
    let ctx = kairo::Context::new().unwrap();
    let t = GanTrainer::new(&ctx, cfg, GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    let ckpt = dir.join("checkpoint.safetensors");
    checkpoint::save(&t, &ckpt).unwrap();
    for (name, magic) in [("x.jpg", &b"\xFF\xD8\xFF"[..]), ("x.png", &b"\x89PNG"[..])] {
        let out = dir.join(name);
        let (o, _) = kairo(&["sample", "gan", "--checkpoint", &ckpt.display().to_string(), "--n", "4", "--out", &out.display().to_string()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(&std::fs::read(&out).unwrap()[..magic.len()], magic, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
