//! The evaluation commands: `kairo eval speech` scores a checkpoint on a
//! manifest with the CER and WER the training run printed for the same
//! utterances (espeak-ng digits, spoken by .ci/espeak-digits.sh into the
//! target folder as tests/speech.rs does, or KAIRO_ESPEAK_MANIFEST);
//! transcripts carry no stray spaces; `kairo eval seq`'s bits per character
//! is the model's own cross-entropy / ln 2, computed here independently,
//! and lower after training than before.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ctx;
use kairo::data::text::TextCorpus;
use kairo::decode::{tidy_spaces, Alphabet};
use kairo::jobs::speech::{self, SpeechTrainConfig};
use kairo::jobs::text::{self, CharModel, CharShape, TextConfig};
use kairo::nn::rnn::CellKind;
use kairo::no_grad;
use rand::SeedableRng;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the kairo binary; panics with its output unless it succeeds.
fn kairo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kairo")).args(args).output().expect("running kairo");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "kairo {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The number after `key` in `text` (up to the next space or `%`).
fn number_after(text: &str, key: &str) -> f64 {
    let rest = &text[text.find(key).unwrap_or_else(|| panic!("{key:?} not in {text:?}")) + key.len()..];
    let num: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    num.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {text:?}"))
}

#[test]
fn transcripts_have_no_stray_spaces() {
    assert_eq!(tidy_spaces("  six  nine "), "six nine");
    assert_eq!(tidy_spaces(" "), "");
    let a = Alphabet::english();
    let space = a.index_of(' ').unwrap() as u32;
    let (s, i) = (a.index_of('s').unwrap() as u32, a.index_of('i').unwrap() as u32);
    // A model emitting the space class first, twice between words and last.
    let labels = [space, s, i, space, space, s, space];
    assert_eq!(a.decode(&labels), " si  s ", "decode keeps every class");
    assert_eq!(a.transcript(&labels), "si s");
    // The speech decoder (greedy and beam) goes through it: one-hot logits for those labels, blanks between.
    let c = a.classes();
    let mut logits = Vec::new();
    for &l in &labels {
        for k in [l, 0] {
            logits.extend((0..c).map(|j| if j == k as usize { 10.0 } else { 0.0 }));
        }
    }
    for beam in [0, 4] {
        assert_eq!(kairo::speech::text::decode(&logits, c, beam), "si s", "beam {beam}");
    }
}

/// The espeak-ng digits manifest (made once into the target folder).
fn espeak_manifest() -> PathBuf {
    if let Ok(m) = std::env::var("KAIRO_ESPEAK_MANIFEST") {
        return PathBuf::from(m);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("espeak-digits");
    let manifest = out.join("manifest.csv");
    if !manifest.exists() {
        let status = Command::new("bash")
            .arg(root.join(".ci/espeak-digits.sh"))
            .args([out.as_os_str(), "300".as_ref(), "7".as_ref()])
            .status()
            .expect("running bash .ci/espeak-digits.sh");
        assert!(
            status.success() && manifest.exists(),
            "this test needs real speech from espeak-ng: install it (apt-get install -y espeak-ng) \
             or point KAIRO_ESPEAK_MANIFEST at a manifest of spoken digit strings"
        );
    }
    manifest
}

/// Lines `range` of `manifest` (after its header) as a manifest in `dir`
/// naming the same WAV files by absolute path.
fn sub_manifest(manifest: &Path, range: std::ops::Range<usize>, dir: &Path, name: &str) -> PathBuf {
    let base = manifest.parent().unwrap();
    let text = std::fs::read_to_string(manifest).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    assert!(rows.len() >= range.end, "{} lists {} utterances, the test needs {}", manifest.display(), rows.len(), range.end);
    let mut out = String::from("wav_filename,wav_filesize,transcript\n");
    for row in &rows[range] {
        let (wav, rest) = row.split_once(',').unwrap();
        out.push_str(&format!("{},{rest}\n", base.join(wav).display()));
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

const TRAIN_UTTERANCES: usize = 200;
const VALID_UTTERANCES: usize = 60;
const EPOCHS: usize = 5;
const BATCH: usize = 8;

#[test]
fn eval_speech_matches_the_cer_training_printed() {
    let manifest = espeak_manifest();
    let dir = temp_dir("speech");
    let train = sub_manifest(&manifest, 0..TRAIN_UTTERANCES, &dir, "train.csv");
    let valid = sub_manifest(&manifest, TRAIN_UTTERANCES..TRAIN_UTTERANCES + VALID_UTTERANCES, &dir, "valid.csv");
    let out = dir.join("run");
    let c = ctx();
    let cfg = SpeechTrainConfig {
        manifest: Some(train),
        valid_manifest: Some(valid.clone()),
        epochs: EPOCHS,
        batch: BATCH,
        out: Some(out.clone()),
        show: usize::MAX,
        ..Default::default()
    };
    let data = speech::load_data(&cfg).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (TRAIN_UTTERANCES, VALID_UTTERANCES), "dropped {:?}", data.dropped);
    let run = speech::train_speech(&c, &cfg, &data, |_| {}).unwrap();
    let last = run.epochs.last().unwrap();
    eprintln!("espeak digits, {EPOCHS} epochs on {TRAIN_UTTERANCES}: validation CER {:.4}, WER {:.4}", last.cer, last.wer);
    // The comparison below means something only if the model says words.
    let spoken = last.samples.iter().filter(|(_, h)| !h.is_empty()).count();
    assert!(spoken * 2 > VALID_UTTERANCES && last.cer < 0.9, "{spoken} non-empty transcripts, CER {}", last.cer);

    // The library: the same utterances, transcripts and rates.
    let ckpt = out.join(speech::CHECKPOINT);
    let model = speech::load_model(&c, &ckpt).unwrap();
    let eval = speech::evaluate_manifest(&c, &model, &valid, 2 * BATCH, 0).unwrap();
    assert_eq!(eval.utterances.len(), VALID_UTTERANCES);
    assert!(eval.skipped.is_empty());
    let hyps: Vec<(String, String)> = eval.utterances.iter().map(|u| (u.reference.clone(), u.hypothesis.clone())).collect();
    assert_eq!(hyps, last.samples, "eval's (reference, hypothesis) pairs differ from the training run's");
    assert_eq!((eval.cer(), eval.wer()), (last.cer, last.wer));
    for (_, h) in &hyps {
        assert_eq!(h, &tidy_spaces(h), "stray spaces in {h:?}");
    }

    // The command prints the same rates.
    let ckpt_s = ckpt.display().to_string();
    let valid_s = valid.display().to_string();
    let printed = kairo(&["eval", "speech", "--checkpoint", &ckpt_s, "--manifest", &valid_s, "--batch", &(2 * BATCH).to_string(), "--verbose"]);
    eprintln!("{printed}");
    let (edits, chars) = (eval.chars.edits as f64, eval.chars.reference_len as f64);
    // The corpus rates (the last line), to two decimals of a percent.
    let summary = printed.lines().last().unwrap();
    assert!((number_after(summary, "CER") - 100.0 * edits / chars).abs() <= 0.0051, "{summary}");
    assert!((number_after(summary, "WER") - 100.0 * eval.wer() as f64).abs() <= 0.0051, "{summary}");
    assert_eq!(printed.matches("    hyp: ").count(), VALID_UTTERANCES, "--verbose prints every utterance");

    // --holdout is checked before any audio is read.
    let bad = SpeechTrainConfig { manifest: cfg.manifest.clone(), holdout: 1.0, ..Default::default() };
    let err = speech::load_data(&bad).err().expect("holdout 1 is refused").to_string();
    assert!(err.contains("--holdout"), "{err}");
}

/// Bits per character of `model` on `ids` computed on the host from one
/// forward of the whole text as a single stream: mean −ln softmax(target) / ln 2.
fn reference_bits(c: &kairo::Context, model: &CharModel, ids: &[u32]) -> f64 {
    let x = kairo::Tensor::from_u32(c, &ids[..ids.len() - 1], &[ids.len() - 1, 1]).unwrap();
    let (logits, _) = no_grad(|| model.forward(&x, None)).unwrap();
    let v = model.vocab.len();
    let values = logits.value().to_vec().unwrap();
    let mut nats = 0.0f64;
    for (t, row) in values.chunks_exact(v).enumerate() {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let lse = m + row.iter().map(|&z| (z as f64 - m).exp()).sum::<f64>().ln();
        nats += lse - row[ids[t + 1] as usize] as f64;
    }
    nats / (ids.len() - 1) as f64 / std::f64::consts::LN_2
}

#[test]
fn eval_seq_is_the_models_cross_entropy_in_bits_and_drops_with_training() {
    let c = ctx();
    let corpus = TextCorpus::builtin();
    let shape = CharShape { cell: CellKind::Lstm, embed: 16, hidden: 48, layers: 1 };
    let untrained = CharModel::new(&c, corpus.vocab.clone(), shape, 0.0, &mut rand::rngs::StdRng::seed_from_u64(5)).unwrap();
    let head = &corpus.ids[..600];
    let want = reference_bits(&c, &untrained, head);
    // One stream, read 37 characters per forward with the state carried: the same predictions.
    let got = text::eval::bits_per_char_ids(&c, &untrained, head, 1, 37).unwrap();
    assert_eq!((got.predicted, got.forwards), (599, 599usize.div_ceil(37)));
    assert!((got.bits_per_char - want).abs() < 1e-4 * want, "eval {} vs reference {want}", got.bits_per_char);
    let uniform = (corpus.vocab.len() as f64).log2();
    assert!((want - uniform).abs() < 0.5, "an untrained model is near uniform: {want} vs log2 V = {uniform}");

    // Trained (checkpoint written), scored through the command on a file.
    let dir = temp_dir("seq");
    let ckpt = dir.join("char.safetensors");
    let cfg = TextConfig { shape, steps: 150, batch: 16, seq_len: 32, lr: 0.01, sample_every: 0, checkpoint: Some(ckpt.clone()), ..Default::default() };
    let run = text::train_text(&c, &corpus, &cfg, |_| {}).unwrap();
    let text_file = dir.join("text.txt");
    std::fs::write(&text_file, corpus.vocab.decode(&corpus.ids)).unwrap();
    let before = text::bits_per_char_file(&c, &untrained, &text_file, 8, 64).unwrap();
    let after = text::bits_per_char_file(&c, &run.model, &text_file, 8, 64).unwrap();
    eprintln!("built-in corpus: {:.3} bits/char untrained, {:.3} after {} steps", before.bits_per_char, after.bits_per_char, cfg.steps);
    assert!(after.bits_per_char < before.bits_per_char - 1.0, "{} -> {}", before.bits_per_char, after.bits_per_char);
    let printed = kairo(&["eval", "seq", "--checkpoint", &ckpt.display().to_string(), "--data", &text_file.display().to_string(), "--batch", "8", "--seq-len", "64"]);
    let shown = number_after(&printed, "text.txt:");
    assert!((shown - after.bits_per_char).abs() < 1e-3, "printed {shown}, library {}: {printed}", after.bits_per_char);

    // A character outside the vocabulary is an error naming the file.
    let odd = dir.join("odd.txt");
    std::fs::write(&odd, "abc\u{263a}").unwrap();
    let err = text::bits_per_char_file(&c, &run.model, &odd, 1, 8).expect_err("unknown character").to_string();
    assert!(err.contains("odd.txt"), "{err}");
}

#[test]
fn eval_and_split_flags_are_checked_before_work() {
    let fails = |args: &[&str], needle: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kairo")).args(args).output().expect("running kairo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "kairo {args:?}: {stderr}");
    };
    fails(&["train", "speech", "--holdout", "1.5", "--epochs", "1"], "--holdout");
    fails(&["eval", "speech", "--checkpoint", "x", "--manifest", "y", "--batch", "0"], "--batch");
    fails(&["eval", "speech", "--checkpoint", "x", "--manifest", "y", "--beam", "5000"], "--beam");
    fails(&["eval", "seq", "--checkpoint", "x", "--data", "y", "--seq-len", "0"], "--seq-len");
    fails(&["eval", "seq", "--checkpoint", "/nonexistent/char.safetensors", "--data", "y"], "/nonexistent/char.safetensors");
    fails(&["train", "gan", "--background", "grey", "--iters", "1"], "--background");
}
