//! One writer per output: the output lock refuses a second holder, in this
//! process and in another, and is released when its holder dies; kill-safe
//! writes of one target from many threads never trip over each other.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kairo::io::atomic::{temporary_files, temporary_path, write_atomic};
use kairo::io::lock::{lock_file_for, OutputLock};
use kairo::io::safetensors::{load, save};
use kairo::{Error, Tensor};

struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kairo-lock-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CHILD_ENV: &str = "KAIRO_LOCK_TEST_CHILD";

#[test]
fn a_second_lock_in_the_same_process_is_refused_with_the_pid() {
    let dir = TempDir::new("same");
    let first = OutputLock::acquire(&dir.0).unwrap();
    assert_eq!(first.lock_file(), dir.0.join(".kairo.lock"));
    let err = OutputLock::acquire(&dir.0).unwrap_err();
    let want = format!("{} is in use by another kairo run (pid {})", dir.0.display(), std::process::id());
    assert_eq!(err.to_string(), want);
    assert!(matches!(err, Error::InUse { .. }));
    drop(first);
    let again = OutputLock::acquire(&dir.0).expect("released on drop");
    drop(again);
}

#[test]
fn a_new_output_folder_is_created_and_locked_inside() {
    let dir = TempDir::new("new");
    let out = dir.0.join("runs").join("a");
    let lock = OutputLock::acquire_dir(&out).unwrap();
    assert!(out.is_dir());
    assert_eq!(lock.lock_file(), out.join(".kairo.lock"));
    assert_eq!(lock.path(), out);
    // A later run locking the now existing folder takes the same lock.
    let err = OutputLock::acquire(&out).unwrap_err().to_string();
    assert!(err.contains("is in use by another kairo run"), "{err}");
}

#[test]
fn a_checkpoint_path_is_locked_beside_the_file() {
    let dir = TempDir::new("file");
    let ckpt = dir.0.join("model.safetensors");
    let lock = OutputLock::acquire(&ckpt).unwrap();
    assert_eq!(lock.lock_file(), lock_file_for(&ckpt));
    assert_eq!(lock.lock_file(), dir.0.join("model.safetensors.lock"));
    let text = std::fs::read_to_string(lock.lock_file()).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
    let err = OutputLock::acquire(&ckpt).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{} is in use by another kairo run (pid ", ckpt.display())), "{err}");
    // Another checkpoint in the same folder is another output.
    let _other = OutputLock::acquire(&dir.0.join("other.safetensors")).unwrap();
}

/// Run only as the child of `another_process_is_refused_until_the_holder_dies`:
/// takes the lock, says so, and waits to be killed.
#[test]
#[ignore = "helper process for the cross-process lock test"]
fn lock_holder_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let _lock = OutputLock::acquire(Path::new(&path)).unwrap();
    println!("LOCKED {}", std::process::id());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn another_process_is_refused_until_the_holder_dies() {
    let dir = TempDir::new("process");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let pid = loop {
        let line = lines.next().expect("child exited before taking the lock").unwrap();
        // libtest prints "test lock_holder_child ... " before the line.
        if let Some((_, pid)) = line.split_once("LOCKED ") {
            break pid.trim().parse::<u32>().unwrap();
        }
    };
    assert_eq!(pid, child.id());
    assert_ne!(pid, std::process::id());
    let err = OutputLock::acquire(&dir.0).unwrap_err().to_string();
    assert_eq!(err, format!("{} is in use by another kairo run (pid {pid})", dir.0.display()));

    // A killed holder releases the lock: the next run is not blocked.
    child.kill().unwrap();
    child.wait().unwrap();
    OutputLock::acquire(&dir.0).expect("the lock of a killed run is free");
}

#[test]
fn concurrent_writes_of_one_target_all_succeed_and_leave_a_whole_file() {
    let dir = TempDir::new("atomic");
    let target = dir.0.join("out.bin");
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let target = &target;
            s.spawn(move || {
                for i in 0..40u8 {
                    // Every payload is one byte value repeated, so a torn or
                    // mixed file is detectable.
                    let payload = vec![t.wrapping_mul(40).wrapping_add(i); 64 * 1024];
                    write_atomic(target, &payload).unwrap_or_else(|e| panic!("thread {t} write {i}: {e}"));
                }
            });
        }
    });
    let bytes = std::fs::read(&target).unwrap();
    assert_eq!(bytes.len(), 64 * 1024);
    assert!(bytes.iter().all(|&b| b == bytes[0]), "the file mixes two writes");
    assert_eq!(temporary_files(&target), Vec::<PathBuf>::new(), "temporaries left behind");
}

#[test]
fn concurrent_checkpoint_saves_leave_a_loadable_checkpoint() {
    let ctx = common::ctx();
    let dir = TempDir::new("save");
    let path = dir.0.join("ckpt.safetensors");
    std::thread::scope(|s| {
        for t in 0..4 {
            let (ctx, path) = (ctx.clone(), &path);
            s.spawn(move || {
                for i in 0..10 {
                    let v = (t * 10 + i) as f32;
                    let w = Tensor::from_slice(&ctx, &[v, v + 1.0, v + 2.0], &[3]).unwrap();
                    save(path, &[("w", &w)], &[]).unwrap_or_else(|e| panic!("thread {t} save {i}: {e}"));
                }
            });
        }
    });
    let loaded = load(&ctx, &path).unwrap();
    let w = loaded.get("w").unwrap().to_vec().unwrap();
    assert_eq!(w, vec![w[0], w[0] + 1.0, w[0] + 2.0]);
    assert!(temporary_files(&path).is_empty());
}

// Telling a dead writer from a live one reads /proc.
#[cfg(target_os = "linux")]
#[test]
fn stale_temporaries_of_dead_runs_are_removed_by_the_next_save() {
    let dir = TempDir::new("stale");
    let target = dir.0.join("out.json");
    // A bare `.tmp` (older versions), one from a pid that cannot be alive,
    // and one from this process that no write owns (a dead run whose pid
    // was reused).
    let legacy = temporary_path(&target);
    let dead = dir.0.join("out.json.4000000000.7.tmp");
    let reused = dir.0.join(format!("out.json.{}.999999.tmp", std::process::id()));
    // A live process's temporary stays: its write may still be going on.
    let parent = std::os::unix::process::parent_id();
    let live = dir.0.join(format!("out.json.{parent}.3.tmp"));
    let unrelated = dir.0.join("out.json.notes.tmp");
    for p in [&legacy, &dead, &reused, &live, &unrelated] {
        std::fs::write(p, b"partial").unwrap();
    }
    write_atomic(&target, b"{}").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    for p in [&legacy, &dead, &reused] {
        assert!(!p.exists(), "{} was left", p.display());
    }
    assert!(live.exists() && unrelated.exists());
    assert_eq!(temporary_files(&target), vec![live]);
}

/// Every job that writes takes the lock: while another run holds the output,
/// the job fails with `Error::InUse` before it trains or writes anything.
#[test]
fn every_writing_job_refuses_an_output_in_use() {
    use kairo::data::shapes::Shapes;
    use kairo::data::text::TextCorpus;
    use kairo::jobs::gan::{report as gan_report, GanConfig, GanData, GanTrainer};
    use kairo::jobs::speech::{self, SpeechTrainConfig};
    use kairo::jobs::text::{self, TextConfig};
    use kairo::nn::dcgan::DcganConfig;

    let ctx = common::ctx();
    let dir = TempDir::new("jobs");
    let in_use = |r: kairo::Result<()>, what: &str| match r {
        Err(Error::InUse { .. }) => {}
        Err(e) => panic!("{what}: expected Error::InUse, got {e}"),
        Ok(()) => panic!("{what}: ran although its output was locked"),
    };

    let ckpt = dir.0.join("text.safetensors");
    let held = OutputLock::acquire(&ckpt).unwrap();
    let corpus = TextCorpus::from_text(&"the cat sat on the mat. ".repeat(4)).unwrap();
    let cfg = TextConfig { steps: 2, batch: 2, seq_len: 8, sample_every: 0, checkpoint: Some(ckpt.clone()), ..Default::default() };
    in_use(text::train_text(&ctx, &corpus, &cfg, |_| {}).map(drop), "train_text");
    assert!(!ckpt.exists());
    drop(held);

    let out = dir.0.join("speech");
    let held = OutputLock::acquire_dir(&out).unwrap();
    let cfg = SpeechTrainConfig { synth_utterances: 6, epochs: 1, batch: 4, out: Some(out.clone()), ..Default::default() };
    let data = speech::load_data(&cfg).unwrap();
    in_use(speech::train_speech(&ctx, &cfg, &data, |_| {}).map(drop), "train_speech");
    drop(held);

    let out = dir.0.join("gan");
    let held = OutputLock::acquire_dir(&out).unwrap();
    let model = DcganConfig { image_size: 32, channels: 1, nz: 8, ngf: 4, ndf: 4 };
    let gan = GanConfig { model, batch: 2, grid: 4, iters: 1, out: out.clone(), ..Default::default() };
    let mut t = GanTrainer::new(&ctx, gan, GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    in_use(gan_report::run(&mut t, None, |_, _| {}, |_| {}), "gan run");
    assert_eq!(t.iteration, 0, "no iteration ran");
    drop(held);
}
