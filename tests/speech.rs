//! The speech recogniser end to end: training on the built-in synthetic
//! digits, a checkpoint round trip through `transcribe`, and the real-audio
//! check on espeak-ng digits (spoken by .ci/espeak-digits.sh into the
//! target folder, or read from the manifest KAIRO_ESPEAK_MANIFEST names).

mod common;

use std::path::PathBuf;

use common::ctx;
use kairo::jobs::speech::{self, SpeechTrainConfig};

#[test]
fn synthetic_digits_train_below_stated_cer_and_checkpoint_transcribes() {
    let c = ctx();
    let out = std::env::temp_dir().join(format!("kairo-speech-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cfg = SpeechTrainConfig {
        synth_utterances: SYNTH_UTTERANCES,
        epochs: SYNTH_EPOCHS,
        batch: 8,
        out: Some(out.clone()),
        ..Default::default()
    };
    let data = speech::load_data(&cfg).unwrap();
    let run = speech::train_speech(&c, &cfg, &data, |e| {
        if let speech::SpeechEvent::Epoch(r) = e {
            eprintln!("epoch {}: loss {:.3} CER {:.3} WER {:.3} ({:.1} s audio/s)", r.epoch + 1, r.train_loss, r.cer, r.wer, r.audio_seconds_per_second);
        }
    })
    .unwrap();
    let first = &run.epochs[0];
    let last = run.epochs.last().unwrap();
    eprintln!("synthetic digits: loss {:.3} -> {:.3}, held-out CER {:.3}, WER {:.3}", first.train_loss, last.train_loss, last.cer, last.wer);
    assert!(last.train_loss < first.train_loss * 0.5, "training loss {} -> {}", first.train_loss, last.train_loss);
    assert!(last.cer <= SYNTH_MAX_CER, "held-out CER {} > {SYNTH_MAX_CER} after {SYNTH_EPOCHS} epochs", last.cer);

    // The checkpoint rebuilds the same model: identical transcripts.
    let model = speech::load_model(&c, &out.join(speech::CHECKPOINT)).unwrap();
    let again = speech::transcribe_examples(&c, &model, &data.test, 8, 0).unwrap();
    let before = speech::transcribe_examples(&c, &run.model, &data.test, 8, 0).unwrap();
    assert_eq!(again, before);
    // A WAV file through the whole front end.
    let wav = out.join("one.wav");
    let u = kairo::speech::synth::digit_set(1, 2, 2, 99).remove(0);
    kairo::speech::wav::write_wav_16(&wav, &u.samples, 16_000).unwrap();
    let text = speech::transcribe_file(&c, &model, &wav, 0).unwrap();
    assert!(text.chars().all(|ch| ch == ' ' || ch == '\'' || ch.is_ascii_lowercase()), "{text:?}");

    // Resuming with a different model shape is refused before anything is overwritten.
    let mut other = cfg.clone();
    other.resume = true;
    other.model.hidden = 64;
    assert!(speech::train_speech(&c, &other, &data, |_| {}).is_err());
}

/// The built-in set for the fast test, its epochs and the CER it must reach.
const SYNTH_UTTERANCES: usize = 200;
const SYNTH_EPOCHS: usize = 6;
const SYNTH_MAX_CER: f32 = 0.5;

#[test]
fn espeak_digits_reach_cer_at_most_15_percent() {
    let manifest = std::env::var("KAIRO_ESPEAK_MANIFEST").map(PathBuf::from).unwrap_or_else(|_| speak_digits());
    let c = ctx();
    let cfg = SpeechTrainConfig { manifest: Some(manifest), holdout: 0.15, epochs: ESPEAK_EPOCHS, ..Default::default() };
    let data = speech::load_data(&cfg).unwrap();
    let skipped = data.report.as_ref().map_or(0, |r| r.skipped.len());
    assert!(skipped == 0 && data.dropped.is_empty(), "{skipped} skipped, dropped {:?}", data.dropped);
    let start = std::time::Instant::now();
    let run = speech::train_speech(&c, &cfg, &data, |e| {
        if let speech::SpeechEvent::Epoch(r) = e {
            eprintln!("epoch {}: loss {:.3} CER {:.3} WER {:.3} ({:.1} s audio/s)", r.epoch + 1, r.train_loss, r.cer, r.wer, r.audio_seconds_per_second);
        }
    })
    .unwrap();
    let last = run.epochs.last().unwrap();
    eprintln!("espeak digits: {} train, {} held out, {:.0} s; held-out CER {:.3}", data.train.len(), data.test.len(), start.elapsed().as_secs_f32(), last.cer);
    for (r, h) in &last.samples {
        eprintln!("  ref {r:?}\n  hyp {h:?}");
    }
    assert!(last.cer <= 0.15, "greedy CER on the held-out espeak utterances is {:.3} > 0.15", last.cer);
}

const ESPEAK_EPOCHS: usize = 10;

/// Speaks 300 digit strings (seed 7) with .ci/espeak-digits.sh into the
/// target folder once and returns the manifest; fails, naming the package,
/// where espeak-ng is missing: the real-audio check is never skipped.
fn speak_digits() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("espeak-digits");
    let manifest = out.join("manifest.csv");
    if manifest.exists() {
        return manifest;
    }
    let status = std::process::Command::new("bash")
        .arg(root.join(".ci/espeak-digits.sh"))
        .args([out.as_os_str(), "300".as_ref(), "7".as_ref()])
        .status()
        .expect("running bash .ci/espeak-digits.sh");
    assert!(
        status.success() && manifest.exists(),
        "this test needs real speech from espeak-ng: install it (apt-get install -y espeak-ng) \
         or point KAIRO_ESPEAK_MANIFEST at a manifest of spoken digit strings"
    );
    manifest
}
