//! The divergence rule, job by job: a huge learning rate stops training
//! with `Error::Diverged`, and no checkpoint is written after the step
//! that diverged: the file on disk is the one from before, byte for byte,
//! or there is none.

mod common;

use std::path::{Path, PathBuf};

use kairo::data::shapes::Shapes;
use kairo::data::text::TextCorpus;
use kairo::jobs::gan::report::{self as gan_report, RunFiles};
use kairo::jobs::gan::{GanConfig, GanData, GanTrainer};
use kairo::jobs::speech::{self, SpeechTrainConfig};
use kairo::jobs::text::{self, CharShape, TextConfig};
use kairo::jobs::{adding, copy};
use kairo::nn::dcgan::DcganConfig;
use kairo::nn::rnn::CellKind;
use kairo::speech::model::SpeechConfig;
use kairo::Error;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-diverge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn expect_diverged<T>(result: kairo::Result<T>) -> u64 {
    match result {
        Err(Error::Diverged { step, value }) => {
            assert!(!value.is_finite(), "Diverged carries the value that was not finite: {value}");
            step
        }
        Err(e) => panic!("expected Error::Diverged, got {e}"),
        Ok(_) => panic!("expected Error::Diverged, training finished"),
    }
}

fn all_finite(path: &Path) -> bool {
    let ckpt = kairo::io::safetensors::load(&common::ctx(), path).unwrap();
    ckpt.tensors.iter().all(|(_, t)| t.dtype() != kairo::DType::F32 || t.to_vec().unwrap().iter().all(|v| v.is_finite()))
}

#[test]
fn adding_and_copy_stop_with_diverged() {
    let cfg = adding::SeqConfig { length: 6, steps: 3, batch: 4, hidden: 4, lr: 1e30, eval_every: 0, test_size: 4, ..Default::default() };
    expect_diverged(adding::train_adding(&common::ctx(), &cfg, |_| {}));
    let spec = copy::CopySpec { symbols: 2, alphabet: 3, delay: 2 };
    let cfg = adding::SeqConfig { length: 2, ..cfg };
    expect_diverged(copy::train_copy(&common::ctx(), &cfg, &spec, |_| {}));
}

fn text_config(ckpt: &Path) -> TextConfig {
    TextConfig {
        shape: CharShape { cell: CellKind::Lstm, embed: 4, hidden: 8, layers: 1 },
        seq_len: 8,
        batch: 2,
        steps: 2,
        sample_every: 0,
        checkpoint: Some(ckpt.to_path_buf()),
        checkpoint_every: 1,
        ..Default::default()
    }
}

#[test]
fn text_keeps_the_checkpoint_from_before_the_divergence() {
    let ctx = common::ctx();
    let corpus = TextCorpus::from_text(&"the cat sat on the mat. ".repeat(4)).unwrap();
    let dir = scratch("text");
    let ckpt = dir.join("t.safetensors");
    // From scratch at lr 1e30: the first update already spoils the weights,
    // so nothing may be saved at all.
    let huge = TextConfig { lr: 1e30, steps: 4, ..text_config(&ckpt) };
    assert_eq!(expect_diverged(text::train_text(&ctx, &corpus, &huge, |_| {})), 1);
    assert!(!ckpt.exists(), "no checkpoint after a diverged first step");
    // Two good steps, then resume at lr 1e30: the good file stays.
    text::train_text(&ctx, &corpus, &text_config(&ckpt), |_| {}).unwrap();
    let before = std::fs::read(&ckpt).unwrap();
    let resumed = TextConfig { lr: 1e30, steps: 6, resume: true, ..text_config(&ckpt) };
    let mut saved = Vec::new();
    let step = expect_diverged(text::train_text(&ctx, &corpus, &resumed, |p| saved.extend(p.saved)));
    assert_eq!(step, 3, "the first resumed step diverges");
    assert!(saved.is_empty(), "nothing saved after the divergence: {saved:?}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "the last good checkpoint is untouched");
    assert!(all_finite(&ckpt));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn speech_keeps_the_epoch_checkpoint_from_before_the_divergence() {
    let ctx = common::ctx();
    let dir = scratch("speech");
    let cfg = SpeechTrainConfig {
        synth_utterances: 6,
        epochs: 1,
        batch: 4,
        out: Some(dir.clone()),
        show: 0,
        model: SpeechConfig { conv_channels: 4, hidden: 4, ..Default::default() },
        ..Default::default()
    };
    let data = speech::load_data(&cfg).unwrap();
    speech::train_speech(&ctx, &cfg, &data, |_| {}).unwrap();
    let path = dir.join(speech::CHECKPOINT);
    let before = std::fs::read(&path).unwrap();
    let huge = SpeechTrainConfig { epochs: 3, lr: 1e30, resume: true, ..cfg };
    expect_diverged(speech::train_speech(&ctx, &huge, &data, |_| {}));
    assert_eq!(std::fs::read(&path).unwrap(), before, "the epoch-1 checkpoint is untouched");
    assert!(all_finite(&path));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn gan(out: &Path, lr: f32) -> GanTrainer {
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 100, ngf: 8, ndf: 8 },
        batch: 4,
        iters: 2,
        every: 2,
        lr,
        seed: 3,
        out: out.to_path_buf(),
        grid: 4,
        ..Default::default()
    };
    GanTrainer::new(&common::ctx(), cfg, GanData::Shapes(Shapes::new(32, 1, 3).unwrap())).unwrap()
}

#[test]
fn gan_writes_no_checkpoint_after_the_divergence() {
    let out = scratch("gan");
    let files = RunFiles::new(&out);
    // From scratch: the snapshot due after iteration 2 is never written.
    let mut t = gan(&out, 1e30);
    expect_diverged(gan_report::run(&mut t, None, |_, _| {}, |_| {}));
    assert!(!files.checkpoint.exists(), "no checkpoint: none was good");
    // A good snapshot at iteration 2, then lr 1e30 up to iteration 4.
    let mut t = gan(&out, 2e-4);
    gan_report::run(&mut t, None, |_, _| {}, |_| {}).unwrap();
    let before = std::fs::read(&files.checkpoint).unwrap();
    t.opt_d.lr = 1e30;
    t.opt_g.lr = 1e30;
    t.config.iters = 4;
    let mut snapshots = Vec::new();
    expect_diverged(gan_report::run(&mut t, None, |_, _| {}, |s| snapshots.push(s.iteration)));
    assert!(snapshots.is_empty(), "no snapshot after the divergence: {snapshots:?}");
    assert_eq!(std::fs::read(&files.checkpoint).unwrap(), before, "the iteration-2 checkpoint is untouched");
    assert!(all_finite(&files.checkpoint));
    std::fs::remove_dir_all(&out).unwrap();
}
