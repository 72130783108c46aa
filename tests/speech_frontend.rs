//! The speech front end: WAV formats, resampling, log-mel features,
//! manifests, the synthetic digits, and the time-striding unfold kernel
//! (shaders/unfold_time.wgsl) against its CPU reference and finite differences.

mod common;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use common::{assert_close, ctx, gradcheck, random};
use kairo::reference::unfold_time::{unfold_time as unfold_time_reference, unfold_time_backward as unfold_time_backward_reference};
use kairo::speech::conv::{out_len, unfold_time};
use kairo::speech::features::{dft_power_reference, frame_count, LogMel, HOP, N_FFT, WINDOW};
use kairo::speech::manifest::{load_examples, read_manifest, write_manifest};
use kairo::speech::wav::{load_16k, read_wav, resample, write_wav_16};
use kairo::speech::{synth, text};
use kairo::{Tensor, Var};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-speech-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sine(freq: f64, rate: u32, seconds: f64, amp: f64) -> Vec<f64> {
    (0..(rate as f64 * seconds) as usize).map(|n| amp * (2.0 * PI * freq * n as f64 / rate as f64).sin()).collect()
}

/// Writes `channels` copies of `x` (channel c scaled by 1/(c+1)) in the given format.
fn write_wav(path: &Path, x: &[f64], rate: u32, channels: u16, bits: u16, float: bool) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        for c in 0..channels {
            let v = v / (c as f64 + 1.0);
            if float {
                w.write_sample(v as f32).unwrap();
            } else {
                let full = ((1i64 << (bits - 1)) - 1) as f64;
                let q = (v * full).round() as i32;
                match bits {
                    8 => w.write_sample(q as i8).unwrap(),
                    16 => w.write_sample(q as i16).unwrap(),
                    _ => w.write_sample(q).unwrap(),
                }
            }
        }
    }
    w.finalize().unwrap();
}

/// Frequency of the strongest DFT bin of x (f64 DFT over bins near `guess`).
fn peak_frequency(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let n = x.len();
    let mut best = (0.0, 0.0);
    let mut f = lo;
    while f <= hi {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let a = 2.0 * PI * f * i as f64 / rate as f64;
            re += v as f64 * a.cos();
            im += v as f64 * a.sin();
        }
        let p = (re * re + im * im) / n as f64;
        if p > best.1 {
            best = (f, p);
        }
        f += 1.0;
    }
    best.0
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn every_common_wav_layout_reads_back_as_mono_in_unit_range() {
    let dir = temp_dir("formats");
    let x = sine(440.0, 8000, 0.05, 0.5);
    // (bits, float, channels, rate, tolerance: half a quantisation step plus a margin)
    for (bits, float, channels, rate, tol) in [
        (8u16, false, 1u16, 8000u32, 1.0 / 127.0),
        (16, false, 1, 44_100, 1e-4),
        (24, false, 1, 22_050, 1e-6),
        (32, false, 1, 16_000, 1e-6),
        (32, true, 1, 48_000, 1e-7),
        (16, false, 2, 8000, 1e-4),
    ] {
        let path = dir.join(format!("t{bits}{float}{channels}.wav"));
        write_wav(&path, &x, rate, channels, bits, float);
        let a = read_wav(&path).unwrap();
        assert_eq!(a.rate, rate);
        assert_eq!(a.samples.len(), x.len(), "{bits}-bit {channels} ch");
        // Stereo mixes down: channel 1 is half of channel 0, the mean 3/4 of x.
        let scale = if channels == 2 { 0.75 } else { 1.0 };
        let worst = a.samples.iter().zip(&x).map(|(&g, &w)| (g as f64 - w * scale).abs()).fold(0.0, f64::max);
        assert!(worst <= tol * 1.01 + 1e-7, "{bits}-bit float={float} {channels} ch: worst error {worst} > {tol}");
    }
}

#[test]
fn load_16k_resamples_every_rate_to_16k() {
    let dir = temp_dir("rates");
    for rate in [8000u32, 16_000, 22_050, 44_100, 48_000] {
        let path = dir.join(format!("r{rate}.wav"));
        write_wav(&path, &sine(1000.0, rate, 0.25, 0.5), rate, 1, 16, false);
        let y = load_16k(&path).unwrap();
        assert_eq!(y.len(), 4000, "{rate} Hz: 0.25 s at 16 kHz");
        let f = peak_frequency(&y[500..3500], 16_000, 950.0, 1050.0);
        assert!((f - 1000.0).abs() <= 2.0, "{rate} Hz: tone at {f} Hz after resampling");
        // The band-limited kernel keeps a tone well inside the pass band at full level.
        let level = rms(&y[500..3500]) * 2f64.sqrt();
        assert!((level - 0.5).abs() < 0.01, "{rate} Hz: amplitude {level}, want 0.5");
    }
}

#[test]
fn resampling_keeps_frequency_and_removes_what_would_alias() {
    // 3 kHz at 44.1 kHz → 16 kHz stays 3 kHz.
    let x: Vec<f32> = sine(3000.0, 44_100, 0.2, 0.8).into_iter().map(|v| v as f32).collect();
    let y = resample(&x, 44_100, 16_000);
    assert_eq!(y.len(), 3200);
    let f = peak_frequency(&y[400..2800], 16_000, 2900.0, 3100.0);
    assert!((f - 3000.0).abs() <= 2.0, "tone moved to {f} Hz");
    // 12 kHz cannot exist at 16 kHz (it would fold to 4 kHz): it must vanish.
    let x: Vec<f32> = sine(12_000.0, 44_100, 0.2, 0.8).into_iter().map(|v| v as f32).collect();
    let y = resample(&x, 44_100, 16_000);
    let level = rms(&y[400..2800]) * 2f64.sqrt();
    assert!(level < 0.8 * 1e-3, "12 kHz leaked through at amplitude {level} (−60 dB is 8e-4)");
    // Upsampling 8 kHz → 16 kHz: a 1 kHz tone stays 1 kHz with no image at 7 kHz.
    let x: Vec<f32> = sine(1000.0, 8000, 0.2, 0.5).into_iter().map(|v| v as f32).collect();
    let y = resample(&x, 8000, 16_000);
    assert_eq!(y.len(), 3200);
    assert!((peak_frequency(&y[400..2800], 16_000, 900.0, 1100.0) - 1000.0).abs() <= 2.0);
}

#[test]
fn fft_power_spectrum_matches_a_direct_dft() {
    let mel = LogMel::new(40).unwrap();
    let x: Vec<f32> = random(2000, 5);
    let start = 3 * HOP;
    let got = mel.power_spectrum(&x, start);
    // The reference windows the same frame (periodic Hann) and zero-pads to N_FFT.
    let frame: Vec<f32> = (0..WINDOW)
        .map(|n| x[start + n] * (0.5 - 0.5 * (2.0 * PI * n as f64 / WINDOW as f64).cos()) as f32)
        .collect();
    let want = dft_power_reference(&frame, N_FFT);
    assert_eq!(got.len(), N_FFT / 2 + 1);
    // Powers reach ~1e4; f32 FFT rounding is ~1e-6 relative to the largest.
    let top = want.iter().cloned().fold(0.0, f64::max);
    for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!((g as f64 - w).abs() <= 1e-4 * top + 1e-4 * w, "bin {k}: fft {g} vs dft {w}");
    }
}

#[test]
fn log_mel_has_the_stated_shape_and_puts_a_tone_in_its_band() {
    let mel = LogMel::new(40).unwrap();
    assert_eq!(frame_count(16_000), 1 + (16_000 - 400) / 160);
    assert_eq!(frame_count(100), 1);
    let x: Vec<f32> = sine(1000.0, 16_000, 1.0, 0.5).into_iter().map(|v| v as f32).collect();
    let f = mel.log_mel(&x);
    assert_eq!((f.frames, f.n_mels, f.data.len()), (98, 40, 98 * 40));
    // Band centres are evenly spaced in mel between 0 and 8 kHz; 1 kHz (1000 mel)
    // lies at band ⌊1000/2840·41⌋ − 1 ≈ 13.
    let frame = &f.data[40 * 50..40 * 51];
    let loudest = frame.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0;
    let centre = |m: usize| kairo::speech::features::mel_to_hz(kairo::speech::features::hz_to_mel(8000.0) * (m + 1) as f64 / 41.0);
    assert!((centre(loudest) - 1000.0).abs() < 60.0, "loudest band {loudest} centred at {} Hz", centre(loudest));
    // Normalised features: every band has mean 0 and unit variance over the utterance.
    let voice: Vec<f32> = synth::digit_set(1, 3, 3, 4).remove(0).samples;
    let g = mel.features(&voice);
    for b in 0..40 {
        let col: Vec<f64> = (0..g.frames).map(|t| g.data[t * 40 + b] as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "band {b}: mean {mean}, variance {var}");
    }
    assert!(LogMel::new(0).is_err());
}

#[test]
fn manifest_resolves_relative_paths_and_names_missing_files() {
    let dir = temp_dir("manifest");
    std::fs::create_dir_all(dir.join("clips")).unwrap();
    write_wav_16(&dir.join("clips/a.wav"), &vec![0.1; 8000], 16_000).unwrap();
    write_manifest(&dir.join("ok.csv"), &[("clips/a.wav".into(), 16044, "Three, One".into())]).unwrap();
    let entries = read_manifest(&dir.join("ok.csv")).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].path, dir.join("clips/a.wav"));
    assert_eq!(entries[0].transcript, "three, one");

    write_manifest(&dir.join("missing.csv"), &[("clips/a.wav".into(), 1, "one".into()), ("clips/gone.wav".into(), 1, "two".into()), ("nope.wav".into(), 1, "x".into())]).unwrap();
    let e = read_manifest(&dir.join("missing.csv")).unwrap_err().to_string();
    assert!(e.contains("missing.csv") && e.contains("gone.wav") && e.contains("nope.wav") && e.contains("2 listed"), "{e}");

    std::fs::write(dir.join("header.csv"), "file,size,text\nclips/a.wav,1,one\n").unwrap();
    let e = read_manifest(&dir.join("header.csv")).unwrap_err().to_string();
    assert!(e.contains("header.csv") && e.contains("wav_filename,wav_filesize,transcript"), "{e}");
    std::fs::write(dir.join("size.csv"), "wav_filename,wav_filesize,transcript\nclips/a.wav,big,one\n").unwrap();
    let e = read_manifest(&dir.join("size.csv")).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("big"), "{e}");
    std::fs::write(dir.join("fields.csv"), "wav_filename,wav_filesize,transcript\nclips/a.wav\n").unwrap();
    assert!(read_manifest(&dir.join("fields.csv")).unwrap_err().to_string().contains("3 fields"));
    assert!(read_manifest(&dir.join("absent.csv")).unwrap_err().to_string().contains("absent.csv"));
}

#[test]
fn unreadable_and_empty_audio_are_skipped_and_counted() {
    let dir = temp_dir("skip");
    write_wav_16(&dir.join("good.wav"), &vec![0.1; 8000], 16_000).unwrap();
    write_wav_16(&dir.join("empty.wav"), &[], 16_000).unwrap();
    std::fs::write(dir.join("junk.wav"), b"this is not a RIFF file at all").unwrap();
    write_manifest(
        &dir.join("m.csv"),
        &[("good.wav".into(), 1, "one".into()), ("empty.wav".into(), 1, "two".into()), ("junk.wav".into(), 1, "three".into())],
    )
    .unwrap();
    let entries = read_manifest(&dir.join("m.csv")).unwrap();
    let (examples, report) = load_examples(&entries, &LogMel::new(40).unwrap());
    assert_eq!((examples.len(), report.loaded, report.skipped.len()), (1, 1, 2));
    let why: Vec<String> = report.skipped.iter().map(|(p, w)| format!("{}: {w}", p.display())).collect();
    assert!(why.iter().any(|w| w.contains("empty.wav") && w.contains("no samples")), "{why:?}");
    assert!(why.iter().any(|w| w.contains("junk.wav") && w.contains("WAV")), "{why:?}");
    assert_eq!(examples[0].transcript, "one");
    assert!((examples[0].seconds - 0.5).abs() < 1e-6);
}

#[test]
fn synthetic_digits_are_seeded_and_sound_like_their_words() {
    let a = synth::digit_set(4, 1, 3, 9);
    let b = synth::digit_set(4, 1, 3, 9);
    for (u, v) in a.iter().zip(&b) {
        assert_eq!(u.transcript, v.transcript);
        assert_eq!(u.samples, v.samples);
        let words: Vec<&str> = u.transcript.split(' ').collect();
        assert!((1..=3).contains(&words.len()) && words.iter().all(|w| synth::DIGITS.contains(w)), "{}", u.transcript);
        // Roughly 0.3-0.8 s per word plus silences, never clipped.
        let secs = u.samples.len() as f32 / 16_000.0;
        assert!(secs > 0.3 * words.len() as f32 && secs < 1.0 * words.len() as f32 + 0.6, "{secs} s for {:?}", u.transcript);
        assert!(u.samples.iter().all(|s| s.abs() <= 1.0));
        assert!(text::encode(&u.transcript).is_ok());
    }
    assert_ne!(a[0].samples, synth::digit_set(1, 1, 3, 10)[0].samples);
}

#[test]
fn unfold_matches_reference_for_strides_paddings_and_short_inputs() {
    let c = ctx();
    // (T, B, F, K, S, P), including T < K with padding and S > K (skipped steps).
    for (t, b, f, k, s, p) in [(9, 2, 3, 3, 2, 1), (10, 3, 4, 5, 2, 2), (7, 1, 2, 1, 1, 0), (4, 2, 3, 5, 2, 2), (11, 2, 2, 2, 3, 0), (8, 2, 3, 4, 1, 3)] {
        let x = random(t * b * f, 60 + t as u64);
        let v = Var::constant(Tensor::from_slice(&c, &x, &[t, b, f]).unwrap());
        let y = unfold_time(&v, k, s, p).unwrap();
        let t_out = out_len(t, k, s, p);
        assert_eq!(y.shape(), &[t_out, b, k * f]);
        // A copy: exact.
        assert_close(&format!("unfold T={t} K={k} S={s} P={p}"), &y.value().to_vec().unwrap(), &unfold_time_reference(&x, t, b, f, k, s, p), 0.0, 0.0);
        let dy = random(y.value().numel(), 70);
        let v = Var::parameter(Tensor::from_slice(&c, &x, &[t, b, f]).unwrap());
        unfold_time(&v, k, s, p).unwrap().backward_with(Tensor::from_slice(&c, &dy, y.shape()).unwrap()).unwrap();
        // Sums of at most K terms of size ≤ 1.
        assert_close("unfold backward", &v.grad().unwrap().to_vec().unwrap(), &unfold_time_backward_reference(&dy, t, b, f, k, s, p), 1e-6, 1e-6);
    }
}

#[test]
fn unfold_gradient_matches_finite_differences() {
    let (t, b, f, k, s, p) = (7, 2, 3, 3, 2, 1);
    gradcheck("unfold_time", &[(random(t * b * f, 80), vec![t, b, f])], |v| unfold_time(&v[0], k, s, p), |x| unfold_time_reference(&x[0], t, b, f, k, s, p));
}

#[test]
fn time_conv_gradients_match_finite_differences() {
    use kairo::ops::Activation;
    use kairo::speech::conv::TimeConv;
    // conv = tanh(unfold(x) · Wᵀ + b): x, W and b all checked.
    let (t, b, f, c_out, k, s) = (6, 2, 3, 4, 3, 2);
    let kf = k * f;
    gradcheck(
        "TimeConv",
        &[(random(t * b * f, 90), vec![t, b, f]), (random(c_out * kf, 91), vec![c_out, kf]), (random(c_out, 92), vec![c_out])],
        |v| {
            let linear = kairo::nn::Linear { weight: v[1].clone(), bias: Some(v[2].clone()) };
            TimeConv { kernel: k, stride: s, padding: 1, activation: Activation::Tanh, linear }.forward(&v[0])
        },
        |x| {
            let cols = unfold_time_reference(&x[0], t, b, f, k, s, 1);
            let rows = cols.len() / kf;
            (0..rows)
                .flat_map(|r| (0..c_out).map(move |o| (r, o)))
                .map(|(r, o)| (x[2][o] + (0..kf).map(|j| cols[r * kf + j] * x[1][o * kf + j]).sum::<f64>()).tanh())
                .collect()
        },
    );
}

#[test]
fn unfold_rejects_bad_shapes_and_too_short_inputs() {
    let c = ctx();
    let v = Var::constant(Tensor::zeros(&c, &[3, 2, 4]).unwrap());
    let e = unfold_time(&v, 5, 2, 0).unwrap_err().to_string();
    assert!(e.contains("[3, 2, 4]") && e.contains("too short"), "{e}");
    assert!(unfold_time(&v, 0, 1, 0).is_err());
    assert!(unfold_time(&v, 2, 0, 0).is_err());
    let flat = Var::constant(Tensor::zeros(&c, &[6, 4]).unwrap());
    assert!(unfold_time(&flat, 2, 1, 0).unwrap_err().to_string().contains("[6, 4]"));
}

#[test]
fn model_shapes_names_and_gradients_for_both_recurrent_options() {
    use kairo::nn::ctc::{ctc_loss, CtcOptions, CtcTargets};
    use kairo::nn::Module;
    use kairo::speech::model::{SpeechConfig, SpeechModel};
    use rand::SeedableRng;
    let c = ctx();
    let small = SpeechConfig { n_mels: 8, conv_channels: 6, hidden: 5, ..Default::default() };
    let online = SpeechConfig { bidirectional: false, lookahead: 2, ..small.clone() };
    for cfg in [small, online] {
        let model = SpeechModel::new(&c, &cfg, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
        let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[..2], ["conv.weight", "conv.bias"]);
        assert!(names.contains(&"head.weight".to_string()));
        assert_eq!(names.contains(&"rnn.weight_ih_l0_reverse".to_string()), cfg.bidirectional);
        assert_eq!(names.contains(&"lookahead.weight".to_string()), !cfg.bidirectional);
        // 20 frames, stride 3, padding 3, kernel 7: ⌊(20 + 6 − 7)/3⌋ + 1 = 7 steps.
        let x = Var::constant(Tensor::from_slice(&c, &random(20 * 2 * 8, 3), &[20, 2, 8]).unwrap());
        let logits = model.forward(&x).unwrap();
        assert_eq!(logits.shape(), &[7, 2, 29]);
        assert_eq!(model.out_len(20), 7);
        let targets = CtcTargets::Concatenated(text::encode("one two").unwrap());
        let opts = CtcOptions { from_logits: true, zero_infinity: true, ..Default::default() };
        let loss = ctc_loss(&logits, &targets, &[7, 5], &[4, 3], opts).unwrap();
        loss.backward().unwrap();
        for (name, p) in model.parameters() {
            let g = p.grad().unwrap_or_else(|| panic!("{name} has no gradient")).to_vec().unwrap();
            assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0), "{name}: {g:?}");
        }
    }
    let bad = SpeechConfig { n_mels: 0, ..Default::default() };
    assert!(SpeechModel::new(&c, &bad, &mut rand::rngs::StdRng::seed_from_u64(1)).is_err());
}
