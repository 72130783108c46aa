//! Character-level language model: the corpus and vocabulary, clear errors
//! for bad files, training on the built-in corpus to a stated loss, and a
//! checkpoint that samples the same text as the model that wrote it.

mod common;

use kairo::data::text::{TextCorpus, Vocab, BUILTIN_CORPUS};
use kairo::nn::rnn::CellKind;
use kairo::jobs::text::{self, CharModel, CharShape, TextConfig};
use rand::SeedableRng;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kairo-text-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn vocabulary_round_trips() {
    let c = TextCorpus::from_text("héllo, wörld").unwrap();
    assert_eq!(c.vocab.len(), 10);
    assert_eq!(c.vocab.decode(&c.ids), "héllo, wörld");
    let v = Vocab::from_json(&c.vocab.to_json()).unwrap();
    assert_eq!(v, c.vocab);
    assert!(c.vocab.encode("hello!").is_err(), "'!' is not in the vocabulary");
    assert!(Vocab::from_json("\"ba\"").is_err(), "unsorted");
    assert!(Vocab::from_json("3").is_err());
    // Two equally likely characters: ln 2 nats.
    let two = TextCorpus::from_text("abab").unwrap();
    assert!((two.unigram_entropy() - std::f32::consts::LN_2).abs() < 1e-6);
    let b = TextCorpus::builtin();
    assert!(BUILTIN_CORPUS.len() > 2000 && b.vocab.len() > 20);
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = temp_dir("bad");
    let missing = dir.join("nope.txt");
    let e = TextCorpus::from_file(&missing).unwrap_err().to_string();
    assert!(e.contains("nope.txt"), "{e}");
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let e = TextCorpus::from_file(&empty).unwrap_err().to_string();
    assert!(e.contains("empty.txt") && e.contains("at least 2"), "{e}");
    let binary = dir.join("latin1.txt");
    std::fs::write(&binary, b"caf\xe9 au lait").unwrap();
    let e = TextCorpus::from_file(&binary).unwrap_err().to_string();
    assert!(e.contains("latin1.txt") && e.contains("UTF-8") && e.contains("offset 3"), "{e}");
    let good = dir.join("good.txt");
    std::fs::write(&good, "abcabc").unwrap();
    assert_eq!(TextCorpus::from_file(&good).unwrap().ids, [0, 1, 2, 0, 1, 2]);
    // Too short for the batch: an error, not a panic.
    let c = TextCorpus::from_text("abc").unwrap();
    let cfg = TextConfig { batch: 8, steps: 1, sample_every: 0, ..Default::default() };
    assert!(text::train_text(&common::ctx(), &c, &cfg, |_| {}).is_err());
    // More distinct characters than the output layer takes: a clear error.
    let huge: String = (0x4E00u32..0x4E00 + 10_001).filter_map(char::from_u32).collect();
    let c = TextCorpus::from_text(&huge).unwrap();
    let e = text::train_text(&common::ctx(), &c, &TextConfig { sample_every: 0, ..Default::default() }, |_| {});
    let e = e.err().unwrap().to_string();
    assert!(e.contains("10001 distinct characters"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn temperature_zero_is_argmax() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    assert_eq!(text::sample_logits(&[0.1, 3.0, -1.0], 0.0, &mut rng), 1);
    // A cold temperature almost always picks the best; a hot one spreads out.
    let picks = |t: f32, rng: &mut rand::rngs::StdRng| (0..1000).filter(|_| text::sample_logits(&[0.0, 1.0], t, rng) == 1).count();
    assert!(picks(0.05, &mut rng) > 990);
    let hot = picks(100.0, &mut rng);
    assert!((400..600).contains(&hot), "{hot}");
}

// Built-in corpus (3.5 KB, 40-odd characters): its unigram entropy is about
// 2.9 nats/char and ln(vocab) about 3.8. A one-layer LSTM of 128 learns
// words within 150 steps (0.86 measured, seed 1); the loss over the
// whole corpus must fall below 1.5 nats/char.
const TEXT_LOSS_THRESHOLD: f32 = 1.5;

#[test]
fn char_lstm_learns_the_builtin_corpus_and_its_checkpoint_samples_alike() {
    let ctx = common::ctx();
    let corpus = TextCorpus::builtin();
    let dir = temp_dir("train");
    let ckpt = dir.join("char.safetensors");
    let cfg = TextConfig {
        shape: CharShape { cell: CellKind::Lstm, embed: 16, hidden: 128, layers: 1 },
        seq_len: 32,
        batch: 16,
        steps: 150,
        lr: 0.01,
        sample_every: 0,
        checkpoint: Some(ckpt.clone()),
        checkpoint_every: 0,
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let run = text::train_text(&ctx, &corpus, &cfg, |_| {}).unwrap();
    let (unigram, uniform) = (corpus.unigram_entropy(), (corpus.vocab.len() as f32).ln());
    eprintln!(
        "char LSTM: corpus loss {:.3} nats/char after {} steps ({:?}); unigram entropy {unigram:.3}, ln(vocab) {uniform:.3}; first step {:.3}",
        run.final_loss,
        cfg.steps,
        t0.elapsed(),
        run.losses[0]
    );
    eprintln!("{:?}", run.losses.iter().step_by(10).collect::<Vec<_>>());
    assert!(run.losses[0] > unigram, "an untrained model does worse than letter frequencies");
    assert!(run.final_loss < TEXT_LOSS_THRESHOLD, "loss {} nats/char", run.final_loss);
    assert!(TEXT_LOSS_THRESHOLD < unigram - 1.0 && unigram < uniform);

    // The checkpoint rebuilds the model from the file alone: same samples.
    assert!(ckpt.exists() && kairo::io::atomic::temporary_files(&ckpt).is_empty());
    let loaded = CharModel::load(&ctx, &ckpt).unwrap();
    assert_eq!(loaded.vocab, corpus.vocab);
    assert_eq!(loaded.shape, cfg.shape);
    let draw = |m: &CharModel| text::sample(&ctx, m, "The ", 60, 0.5, &mut rand::rngs::StdRng::seed_from_u64(4)).unwrap();
    let (a, b) = (draw(&run.model), draw(&loaded));
    eprintln!("sample: The {a}");
    assert_eq!(a, b);
    assert_eq!(a.chars().count(), 60);
    assert!(text::sample(&ctx, &loaded, "", 5, 0.5, &mut rand::rngs::StdRng::seed_from_u64(4)).is_err());
    assert!(text::sample(&ctx, &loaded, "The \u{1F600}", 5, 0.5, &mut rand::rngs::StdRng::seed_from_u64(4)).is_err());
    // A checkpoint of something else is refused clearly.
    let other = dir.join("other.safetensors");
    kairo::io::safetensors::save(&other, &[], &[("x", "y")]).unwrap();
    let e = CharModel::load(&ctx, &other).err().unwrap().to_string();
    assert!(e.contains("not a character-model checkpoint"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn command_line_trains_saves_and_samples() {
    let dir = temp_dir("cli");
    let data = dir.join("tiny.txt");
    std::fs::write(&data, "abcabcabcabd ".repeat(8)).unwrap();
    let ckpt = dir.join("tiny.safetensors");
    let kairo = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_kairo")).args(args).output().unwrap();
    let text = |o: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let (d, c) = (data.to_str().unwrap(), ckpt.to_str().unwrap());
    let o = kairo(&[
        "train", "seq", "--task", "text", "--data", d, "--cell", "gru", "--layers", "1", "--hidden", "16", "--embed", "8",
        "--batch", "4", "--seq-len", "8", "--steps", "4", "--sample-every", "2", "--sample-len", "5", "--prompt", "ab",
        "--checkpoint", c,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("vocabulary of 5") && out.contains("--- step 2") && out.contains("nats/char"), "{out}");
    let o = kairo(&["sample", "seq", "--checkpoint", c, "--prompt", "abc", "--len", "7", "--temperature", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string();
    assert!(first.starts_with("abc") && first.chars().count() == 10, "{first:?}");
    let o = kairo(&["train", "seq", "--task", "text", "--data", dir.join("missing.txt").to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("missing.txt"), "{}", text(&o));
    let o = kairo(&[
        "train", "seq", "--task", "copy", "--length", "2", "--symbols", "2", "--alphabet", "3", "--steps", "2",
        "--hidden", "8", "--batch", "4", "--eval-every", "1",
    ]);
    let out = text(&o);
    assert!(o.status.success() && out.contains("guessing 1.099") && out.contains("accuracy"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_resumes_from_its_checkpoint() {
    let ctx = common::ctx();
    let corpus = TextCorpus::from_text(&"the cat sat on the mat. ".repeat(20)).unwrap();
    let dir = temp_dir("resume");
    let ckpt = dir.join("r.safetensors");
    let cfg = TextConfig {
        shape: CharShape { cell: CellKind::Gru, embed: 8, hidden: 32, layers: 1 },
        seq_len: 16,
        batch: 4,
        steps: 40,
        lr: 0.02,
        sample_every: 0,
        checkpoint: Some(ckpt.clone()),
        checkpoint_every: 0,
        resume: true,
        ..Default::default()
    };
    let first = text::train_text(&ctx, &corpus, &cfg, |_| {}).unwrap();
    assert_eq!((first.resumed_at, first.losses.len()), (0, 40));
    let more = TextConfig { steps: 50, ..cfg.clone() };
    let mut steps_seen = Vec::new();
    let second = text::train_text(&ctx, &corpus, &more, |p| steps_seen.push(p.step)).unwrap();
    assert_eq!(second.resumed_at, 40);
    assert_eq!(steps_seen, (40..50).collect::<Vec<_>>());
    // It continued from the trained weights, not from a fresh start.
    eprintln!("first step {:.3}, step 40 {:.3}, resumed step 41 {:.3}", first.losses[0], first.losses[39], second.losses[0]);
    assert!(second.losses[0] < first.losses[0] - 0.5, "{} vs {}", second.losses[0], first.losses[0]);
    // Another text (another vocabulary) cannot resume from it.
    let other = TextCorpus::from_text(&"xyz ".repeat(40)).unwrap();
    assert!(text::train_text(&ctx, &other, &more, |_| {}).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every tensor of two safetensors files, by name, as raw bits.
fn tensors_bits(ctx: &kairo::Context, path: &std::path::Path) -> Vec<(String, Vec<u32>)> {
    let ckpt = kairo::io::safetensors::load(ctx, path).unwrap();
    let mut out: Vec<(String, Vec<u32>)> = ckpt
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn resumed_training_is_bit_identical_to_the_uninterrupted_run() {
    let ctx = common::ctx();
    let corpus = TextCorpus::from_text(&"the cat sat on the mat. a dog ran. ".repeat(8)).unwrap();
    let dir = temp_dir("exact");
    // Two layers with dropout between them (the mask counter must carry
    // over), streams that wrap (18 steps of 8 over a span of 35), samples.
    let cfg = |ckpt: &str, steps: usize| TextConfig {
        shape: CharShape { cell: CellKind::Lstm, embed: 8, hidden: 16, layers: 2 },
        dropout: 0.3,
        seq_len: 8,
        batch: 8,
        steps,
        lr: 0.01,
        sample_every: 3,
        sample_len: 12,
        prompt: "the ".into(),
        checkpoint: Some(dir.join(ckpt)),
        checkpoint_every: 0,
        resume: true,
        ..Default::default()
    };
    let mut whole_samples = Vec::new();
    let whole = text::train_text(&ctx, &corpus, &cfg("whole.safetensors", 18), |p| {
        whole_samples.extend(p.sample.map(|s| (p.step, s)))
    })
    .unwrap();
    text::train_text(&ctx, &corpus, &cfg("split.safetensors", 9), |_| {}).unwrap();
    let mut split_samples = Vec::new();
    let split = text::train_text(&ctx, &corpus, &cfg("split.safetensors", 18), |p| {
        split_samples.extend(p.sample.map(|s| (p.step, s)))
    })
    .unwrap();
    assert_eq!(split.resumed_at, 9);
    let tail: Vec<u32> = whole.losses[9..].iter().map(|v| v.to_bits()).collect();
    assert_eq!(tail, split.losses.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "losses after the resume");
    let (a, b) = (tensors_bits(&ctx, &dir.join("whole.safetensors")), tensors_bits(&ctx, &dir.join("split.safetensors")));
    assert_eq!(a.iter().map(|t| &t.0).collect::<Vec<_>>(), b.iter().map(|t| &t.0).collect::<Vec<_>>());
    assert!(a.iter().any(|t| t.0 == "carry.h") && a.iter().any(|t| t.0 == "carry.c"));
    let differ: Vec<&str> = a.iter().zip(&b).filter(|(x, y)| x.1 != y.1).map(|(x, _)| x.0.as_str()).collect();
    assert!(differ.is_empty(), "{} of {} tensors differ: {differ:?}", differ.len(), a.len());
    let late: Vec<_> = whole_samples.into_iter().filter(|(s, _)| *s >= 9).collect();
    assert_eq!(late, split_samples);
    // The checkpoint still loads as a model for sampling.
    CharModel::load(&ctx, &dir.join("split.safetensors")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
