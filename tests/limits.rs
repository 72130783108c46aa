//! Sizes and settings checked before anything is allocated or trained:
//! the memory and device-limit estimates of every job, zero sizes, the
//! beam bound, `--resume` found first, windowed transcription of long
//! audio, and image files that follow their extension.

mod common;

use std::path::PathBuf;

use kairo::data::shapes::Shapes;
use kairo::data::text::TextCorpus;
use kairo::jobs::gan::{self, GanConfig, GanData, GanTrainer};
use kairo::jobs::limits::{fits, fits_all, Budget, Need};
use kairo::jobs::{adding, copy, speech, text};
use kairo::nn::dcgan::DcganConfig;
use kairo::speech::model::{SpeechConfig, SpeechModel};
use kairo::speech::window::{self, Windowing};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn err<T>(r: kairo::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn fits_names_the_option_and_the_largest_value() {
    let budget = Budget { host: 1000, device: 400 };
    let need = |v: usize| Need { host: 10 * v as u64, device: 4 * v as u64 };
    assert!(fits(&budget, "--batch", 100, need).is_ok());
    let e = err(fits(&budget, "--batch", 1_000_000, need));
    assert!(e.contains("--batch 1000000") && e.contains("largest --batch that fits is 100"), "{e}");
    // Host memory binds first here.
    let e = err(fits(&budget, "--batch", 150, |v| Need { host: 10 * v as u64, device: 0 }));
    assert!(e.contains("host memory") && e.contains("is 100"), "{e}");
    // The option that cannot help is passed over for one that can.
    let fixed = |_: usize| Need { host: 2000, device: 0 };
    let shrinks = |v: usize| Need { host: 100 * v as u64, device: 0 };
    let e = err(fits_all(&budget, &[("--batch", 64, &fixed), ("--length", 20, &shrinks)]));
    assert!(e.contains("--length 20") && e.contains("largest --length that fits is 10"), "{e}");
}

#[test]
fn adding_and_copy_sizes_are_checked_before_allocation() {
    let c = common::ctx();
    // 100M sequences of 100 steps would take 80 GB on the host: refused, not attempted.
    let cfg = adding::SeqConfig { batch: 100_000_000, steps: 1, ..Default::default() };
    let e = err(adding::train_adding(&c, &cfg, |_| {}));
    assert!(e.contains("--batch 100000000") && e.contains("largest --batch that fits is"), "{e}");
    let cfg = adding::SeqConfig { length: 100_000_000, steps: 1, ..Default::default() };
    let e = err(adding::train_adding(&c, &cfg, |_| {}));
    assert!(e.contains("--length 100000000") && e.contains("largest --length"), "{e}");
    let cfg = adding::SeqConfig { hidden: 1_000_000, steps: 1, ..Default::default() };
    assert!(err(adding::train_adding(&c, &cfg, |_| {})).contains("--hidden 1000000"));
    let spec = copy::CopySpec { symbols: 10, alphabet: 8, delay: 0 };
    let cfg = adding::SeqConfig { length: 100_000_000, steps: 1, ..Default::default() };
    let e = err(copy::train_copy(&c, &cfg, &spec, |_| {}));
    assert!(e.contains("--length 100000000") && e.contains("largest --length"), "{e}");
    let cfg = adding::SeqConfig { batch: 100_000_000, steps: 1, ..Default::default() };
    assert!(err(copy::train_copy(&c, &cfg, &spec, |_| {})).contains("--batch 100000000"));
}

#[test]
fn text_sizes_are_checked_up_front() {
    let c = common::ctx();
    let corpus = TextCorpus::builtin();
    let n = corpus.ids.len();
    let base = text::TextConfig { steps: 1, sample_every: 0, checkpoint: None, ..Default::default() };
    // Zero is "at least 1", not a suggestion of the largest batch.
    let e = err(text::train_text(&c, &corpus, &text::TextConfig { batch: 0, ..base.clone() }, |_| {}));
    assert!(e.contains("--batch must be at least 1"), "{e}");
    assert!(!e.contains("at most"), "{e}");
    let e = err(text::train_text(&c, &corpus, &text::TextConfig { seq_len: 0, ..base.clone() }, |_| {}));
    assert!(e.contains("--seq-len must be at least 1"), "{e}");
    // Longer than the corpus: refused with the largest valid value.
    let e = err(text::train_text(&c, &corpus, &text::TextConfig { seq_len: 100_000_000, ..base.clone() }, |_| {}));
    assert!(e.contains("--seq-len 100000000") && e.contains(&format!("at most {}", n - 1)), "{e}");
    let mut huge = base.clone();
    huge.shape.hidden = 100_000_000;
    let e = err(text::train_text(&c, &corpus, &huge, |_| {}));
    assert!(e.contains("--hidden 100000000") && e.contains("largest --hidden that fits is"), "{e}");
    let mut layers = base.clone();
    layers.shape.layers = 0;
    assert!(err(text::train_text(&c, &corpus, &layers, |_| {})).contains("--layers must be at least 1"));
}

fn gan_config(out: PathBuf) -> GanConfig {
    let model = DcganConfig { image_size: 32, channels: 1, nz: 8, ngf: 4, ndf: 4 };
    GanConfig { model, batch: 4, iters: 2, every: 1, grid: 4, out, ..Default::default() }
}

#[test]
fn gan_sizes_and_resume_are_checked_first() {
    let c = common::ctx();
    let out = temp_dir("gan");
    let cfg = gan_config(out.clone());
    let e = err(gan::validate(&c, &GanConfig { batch: 100_000_000, ..cfg.clone() }));
    assert!(e.contains("--batch 100000000") && e.contains("largest --batch"), "{e}");
    let mut wide = cfg.clone();
    wide.model.ngf = 100_000;
    let e = err(gan::validate(&c, &wide));
    assert!(e.contains("--ngf 100000") && e.contains("largest --ngf"), "{e}");
    assert!(err(gan::validate(&c, &GanConfig { iters: 0, ..cfg.clone() })).contains("--iters must be at least 1"));
    let data = GanData::Shapes(Shapes::new(32, 1, 1).unwrap());
    assert!(GanTrainer::new(&c, GanConfig { iters: 0, ..cfg.clone() }, data).is_err());
    // --resume: no checkpoint, then one for another model.
    let path = out.join("checkpoint.safetensors");
    let e = err(gan::checkpoint::check_resume(&c, &path, &cfg.model));
    assert!(e.contains("checkpoint.safetensors") && e.contains("--resume"), "{e}");
    let t = GanTrainer::new(&c, cfg.clone(), GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    gan::checkpoint::save(&t, &path).unwrap();
    assert_eq!(gan::checkpoint::check_resume(&c, &path, &cfg.model).unwrap(), 0);
    let other = DcganConfig { ngf: 8, ..cfg.model };
    assert!(err(gan::checkpoint::check_resume(&c, &path, &other)).contains("configured for"));
    std::fs::remove_dir_all(&out).unwrap();
}

fn tiny_speech() -> SpeechConfig {
    SpeechConfig { conv_channels: 16, hidden: 16, ..Default::default() }
}

#[test]
fn speech_batch_and_resume_are_checked_first() {
    let c = common::ctx();
    let cfg = speech::SpeechTrainConfig { batch: 100_000_000, synth_utterances: 4, model: tiny_speech(), ..Default::default() };
    let e = err(speech::validate(&c, &cfg, 1500));
    assert!(e.contains("--batch 100000000") && e.contains("largest --batch"), "{e}");
    let data = speech::load_data(&cfg).unwrap();
    assert!(err(speech::train_speech(&c, &cfg, &data, |_| {})).contains("--batch 100000000"));
    let out = temp_dir("speech");
    let resume = speech::SpeechTrainConfig { resume: true, out: Some(out.clone()), batch: 2, ..cfg.clone() };
    let e = err(speech::check_resume(&c, &resume));
    assert!(e.contains("speech.safetensors") && e.contains("--resume"), "{e}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn beam_width_is_bounded() {
    let frames = vec![0.0f32; 3 * 4];
    let e = err(kairo::decode::beam_search(&frames, 3, 0, 100_000));
    assert!(e.contains("at most 1024"), "{e}");
    assert!(kairo::decode::beam_search(&frames, 3, 0, kairo::decode::MAX_BEAM).is_ok());
    let c = common::ctx();
    let model = SpeechModel::new(&c, &tiny_speech(), &mut common::seeded_rng(1)).unwrap();
    // Refused before the file is even read.
    let e = err(speech::transcribe_file(&c, &model, std::path::Path::new("/nonexistent.wav"), 100_000));
    assert!(e.contains("--beam") && e.contains("at most 1024"), "{e}");
}

#[test]
fn windows_tile_the_output_frames() {
    for (total, stride) in [(1, 3), (2999, 3), (3000, 3), (3001, 3), (10_000, 3), (360_000, 2), (777, 1)] {
        let w = Windowing::default();
        let spans = window::plan(total, w, stride).unwrap();
        assert_eq!(spans[0].frames.start, 0);
        assert_eq!(spans[0].keep.start, 0);
        assert_eq!(spans.last().unwrap().frames.end, total);
        assert_eq!(spans.last().unwrap().keep.end, usize::MAX);
        for s in &spans {
            assert!(s.frames.len() <= w.window && s.frames.start % stride == 0, "{s:?}");
            // Kept frames lie inside the window, away from its cut edges.
            assert!(s.keep.start >= s.frames.start / stride, "{s:?}");
        }
        for p in spans.windows(2) {
            assert_eq!(p[0].keep.end, p[1].keep.start);
            assert!(p[0].frames.end > p[1].frames.start, "windows overlap: {p:?}");
            assert!(p[0].keep.end * stride < p[0].frames.end, "{p:?}");
        }
    }
    assert!(window::plan(100, Windowing { window: 10, overlap: 10 }, 1).is_err());
}

#[test]
fn long_audio_is_transcribed_in_windows() {
    let c = common::ctx();
    let model = SpeechModel::new(&c, &tiny_speech(), &mut common::seeded_rng(2)).unwrap();
    // A short clip: one window, exactly the one-shot transcript.
    let u = kairo::speech::synth::digit_set(1, 3, 3, 5).remove(0);
    let mel = kairo::speech::features::LogMel::new(model.config.n_mels).unwrap();
    let e = kairo::speech::manifest::Example { seconds: 1.0, features: mel.features(&u.samples), transcript: String::new() };
    let one_shot = speech::transcribe_examples(&c, &model, std::slice::from_ref(&e), 1, 0).unwrap().remove(0);
    assert_eq!(window::transcribe_samples(&c, &model, &u.samples, 0, Windowing::default()).unwrap(), one_shot);
    // Many small windows over the same clip still complete, greedy and beam.
    let small = Windowing { window: 60, overlap: 12 };
    window::transcribe_samples(&c, &model, &u.samples, 0, small).unwrap();
    window::transcribe_samples(&c, &model, &u.samples, 4, small).unwrap();
    // 75 s of speech and silence through the file path: three 30 s windows.
    let dir = temp_dir("long");
    let mut samples = Vec::new();
    while samples.len() < 75 * 16_000 {
        samples.extend_from_slice(&u.samples);
        samples.extend(std::iter::repeat_n(0.0f32, 16_000));
    }
    let wav = dir.join("long.wav");
    kairo::speech::wav::write_wav_16(&wav, &samples, 16_000).unwrap();
    let text = speech::transcribe_file(&c, &model, &wav, 0).unwrap();
    assert!(text.chars().all(|ch| ch == ' ' || ch == '\'' || ch.is_ascii_lowercase()), "{text:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn images_follow_their_extension() {
    let dir = temp_dir("images");
    let imgs = common::random(4 * 3 * 8 * 8, 3);
    let png = dir.join("g.png");
    let jpg = dir.join("g.JPG");
    gan::report::render_grid(&imgs, 3, 8, 2, &png).unwrap();
    gan::report::render_grid(&imgs, 3, 8, 2, &jpg).unwrap();
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    assert_eq!(&std::fs::read(&jpg).unwrap()[..3], b"\xFF\xD8\xFF");
    let e = err(gan::report::render_grid(&imgs, 3, 8, 2, &dir.join("g.gif")));
    assert!(e.contains("g.gif") && e.contains(".png"), "{e}");
    assert!(!dir.join("g.gif").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
