//! Real recordings through the speech pipeline: the WAV files of Debian's
//! `pocketsphinx-testdata` (five "cards" utterances and five LibriVox
//! sentences, 16 kHz 16-bit mono, with transcripts) decode, featurise and
//! transcribe without error with `kairo eval speech` (batched) and
//! `kairo transcribe` (windowed), and copies written at 8 and 44.1 kHz
//! resample back to 16 kHz on loading.
//!
//! The model is trained on kairo's synthetic spoken digits for four short
//! epochs: it knows no English words, so the transcripts are wrong and this
//! test checks the pipeline only (file handling, resampling, batching,
//! decoding, scoring), not recognition accuracy.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ctx;
use kairo::decode::tidy_spaces;
use kairo::jobs::speech::{self, SpeechTrainConfig};
use kairo::speech::wav;

/// The package's WAV files, found with `dpkg -L`; fails naming the package when it is missing.
fn package_wavs() -> Vec<PathBuf> {
    let listed = Command::new("dpkg").args(["-L", "pocketsphinx-testdata"]).output();
    let wavs: Vec<PathBuf> = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(".wav"))
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect(),
        _ => Vec::new(),
    };
    assert!(
        !wavs.is_empty(),
        "this test needs the real recordings of the Debian package pocketsphinx-testdata: apt-get install -y pocketsphinx-testdata"
    );
    wavs
}

/// Transcripts by utterance id from the package's `<s> words </s> (id)` files beside the WAVs.
fn transcripts(wavs: &[PathBuf]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let dirs: std::collections::BTreeSet<&Path> = wavs.iter().filter_map(|w| w.parent()).collect();
    for dir in dirs {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if !p.file_name().unwrap().to_string_lossy().contains("transcription") {
                continue;
            }
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let Some((words, id)) = line.rsplit_once('(') else { continue };
                let words = words.replace("<s>", "").replace("</s>", "");
                out.insert(id.trim().trim_end_matches(')').to_string(), tidy_spaces(&words).to_lowercase());
            }
        }
    }
    out
}

#[test]
fn pocketsphinx_recordings_decode_resample_and_transcribe() {
    let wavs = package_wavs();
    let refs = transcripts(&wavs);
    let dir = std::env::temp_dir().join(format!("kairo-pocketsphinx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // A manifest of every recording with a transcript, plus two resampled copies of the first.
    let mut rows = Vec::new();
    for w in &wavs {
        let id = w.file_stem().unwrap().to_string_lossy().to_string();
        let text = refs.get(&id).unwrap_or_else(|| panic!("no transcript for {} in the package", w.display()));
        rows.push((w.display().to_string(), std::fs::metadata(w).unwrap().len(), text.clone()));
    }
    let original = wav::read_wav(&wavs[0]).unwrap();
    assert_eq!(original.rate, wav::SAMPLE_RATE, "{} is documented as 16 kHz", wavs[0].display());
    for rate in [8_000u32, 44_100] {
        let copy = dir.join(format!("resampled-{rate}.wav"));
        wav::write_wav_16(&copy, &wav::resample(&original.samples, wav::SAMPLE_RATE, rate), rate).unwrap();
        assert_eq!(wav::read_wav(&copy).unwrap().rate, rate);
        let back = wav::load_16k(&copy).unwrap();
        let d = back.len() as i64 - original.samples.len() as i64;
        assert!(d.abs() <= 2, "{rate} Hz copy loads as {} samples at 16 kHz, the original has {}", back.len(), original.samples.len());
        rows.push((copy.display().to_string(), std::fs::metadata(&copy).unwrap().len(), rows[0].2.clone()));
    }
    let manifest = dir.join("manifest.csv");
    kairo::speech::manifest::write_manifest(&manifest, &rows).unwrap();

    // A digit model: four short epochs on the synthetic digits.
    let c = ctx();
    let out = dir.join("model");
    let cfg = SpeechTrainConfig { synth_utterances: 160, epochs: 4, batch: 8, out: Some(out.clone()), ..Default::default() };
    speech::train_speech(&c, &cfg, &speech::load_data(&cfg).unwrap(), |_| {}).unwrap();
    let ckpt = out.join(speech::CHECKPOINT);
    let model = speech::load_model(&c, &ckpt).unwrap();

    let eval = speech::evaluate_manifest(&c, &model, &manifest, speech::EVAL_BATCH, 0).unwrap();
    assert!(eval.skipped.is_empty(), "skipped {:?}", eval.skipped);
    assert_eq!(eval.utterances.len(), rows.len());
    for u in &eval.utterances {
        eprintln!("{}: ref {:?}\n    hyp {:?}", u.path.display(), u.reference, u.hypothesis);
        assert!(u.hypothesis.chars().all(|ch| ch == ' ' || ch == '\'' || ch.is_ascii_lowercase()), "{:?}", u.hypothesis);
        assert_eq!(u.hypothesis, tidy_spaces(&u.hypothesis));
        assert!(u.seconds > 0.5, "{} holds {} s", u.path.display(), u.seconds);
    }
    assert!(eval.cer().is_finite() && eval.chars.reference_len > 100);
    // The decoder ran on real frames: something was said for at least one recording.
    assert!(eval.utterances.iter().any(|u| !u.hypothesis.is_empty()), "every transcript is empty");
    eprintln!(
        "pocketsphinx-testdata, {} recordings ({:.0} s), digit model: CER {:.1}%, WER {:.1}% (wrong words expected: a digit model)",
        eval.utterances.len(),
        eval.seconds(),
        eval.cer() * 100.0,
        eval.wer() * 100.0
    );

    // The commands: eval over the manifest, transcribe of the longest recording.
    let kairo = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_kairo")).args(args).output().unwrap();
        assert!(o.status.success(), "kairo {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let ckpt_s = ckpt.display().to_string();
    let printed = kairo(&["eval", "speech", "--checkpoint", &ckpt_s, "--manifest", &manifest.display().to_string()]);
    assert!(printed.contains(&format!("{} utterances", rows.len())) && printed.contains("0 skipped"), "{printed}");
    let longest = eval.utterances.iter().max_by(|a, b| a.seconds.total_cmp(&b.seconds)).unwrap();
    let said = kairo(&["transcribe", "--checkpoint", &ckpt_s, &longest.path.display().to_string()]);
    let said = said.strip_suffix('\n').unwrap_or(&said);
    assert_eq!(said, tidy_spaces(said), "transcribe prints no stray spaces");
}
