//! The built-in data set: spoken-digit-like utterances made by a small
//! source-filter (formant) synthesizer, so `kairo train speech` needs no
//! downloads and no installed programs.
//!
//! Each digit word is a sequence of phones: vowels and glides (three
//! formant targets, voiced), nasals (low murmur), fricatives (band-pass
//! noise, voiced or not) and plosives (a closure, then a burst). The source
//! is a glottal pulse train at the speaker's pitch with a spectral tilt,
//! plus noise; the filter is a cascade of three two-pole resonators whose
//! frequencies glide between phone targets. Every utterance draws a
//! speaker: pitch, vocal-tract length (formant scale), speaking rate,
//! loudness and background noise.

use rand::{Rng, SeedableRng};

use super::wav::SAMPLE_RATE;

/// The ten words, "zero" .. "nine".
pub const DIGITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

#[derive(Clone, Copy, Debug)]
enum Phone {
    /// Formant targets (F1, F2, F3) at start and end, duration in ms.
    Vowel([f32; 3], [f32; 3], f32),
    /// Nasal murmur: low F1, weak upper formants.
    Nasal(f32),
    /// Noise centred at Hz with bandwidth, voiced?, duration ms.
    Fric(f32, f32, bool, f32),
    /// Closure ms, then a burst of noise centred at Hz.
    Stop(f32, f32),
}

use Phone::*;

const R: [f32; 3] = [450.0, 1250.0, 1650.0];

fn word_phones(d: usize) -> Vec<Phone> {
    match d {
        0 => vec![Fric(4500.0, 2500.0, true, 90.0), Vowel([420.0, 1950.0, 2600.0], [420.0, 1900.0, 2550.0], 80.0), Vowel(R, R, 60.0), Vowel([520.0, 950.0, 2400.0], [380.0, 800.0, 2350.0], 170.0)],
        1 => vec![Vowel([320.0, 700.0, 2200.0], [340.0, 750.0, 2250.0], 60.0), Vowel([650.0, 1200.0, 2500.0], [620.0, 1250.0, 2500.0], 150.0), Nasal(110.0)],
        2 => vec![Stop(60.0, 4000.0), Vowel([320.0, 1400.0, 2300.0], [300.0, 900.0, 2250.0], 220.0)],
        3 => vec![Fric(6500.0, 4000.0, false, 110.0), Vowel(R, R, 60.0), Vowel([300.0, 2200.0, 2950.0], [280.0, 2300.0, 3000.0], 200.0)],
        4 => vec![Fric(5500.0, 5000.0, false, 120.0), Vowel([560.0, 880.0, 2500.0], [520.0, 900.0, 2300.0], 170.0), Vowel(R, R, 90.0)],
        5 => vec![Fric(5500.0, 5000.0, false, 110.0), Vowel([750.0, 1250.0, 2500.0], [420.0, 2000.0, 2600.0], 220.0), Fric(4000.0, 3000.0, true, 80.0)],
        6 => vec![Fric(6000.0, 1800.0, false, 120.0), Vowel([420.0, 1950.0, 2600.0], [420.0, 1850.0, 2550.0], 110.0), Stop(50.0, 2000.0), Fric(6000.0, 1800.0, false, 110.0)],
        7 => vec![Fric(6000.0, 1800.0, false, 110.0), Vowel([560.0, 1800.0, 2500.0], [560.0, 1750.0, 2500.0], 110.0), Fric(4000.0, 3000.0, true, 60.0), Vowel([500.0, 1400.0, 2500.0], [480.0, 1400.0, 2500.0], 70.0), Nasal(90.0)],
        8 => vec![Vowel([520.0, 1800.0, 2500.0], [350.0, 2250.0, 2900.0], 230.0), Stop(60.0, 4000.0)],
        _ => vec![Nasal(80.0), Vowel([750.0, 1250.0, 2500.0], [420.0, 2000.0, 2600.0], 220.0), Nasal(100.0)],
    }
}

/// Per-sample control tracks.
struct Track {
    formants: Vec<[f32; 3]>,
    voice: Vec<f32>,
    noise: Vec<f32>,
    noise_centre: Vec<f32>,
    noise_bw: Vec<f32>,
}

impl Track {
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, n: usize, f: [f32; 3], f_end: [f32; 3], voice: f32, noise: f32, centre: f32, bw: f32) {
        for i in 0..n {
            let a = i as f32 / n.max(1) as f32;
            self.formants.push([0, 1, 2].map(|k| f[k] + (f_end[k] - f[k]) * a));
            self.voice.push(voice);
            self.noise.push(noise);
            self.noise_centre.push(centre);
            self.noise_bw.push(bw);
        }
    }
}

/// A two-pole resonator (Klatt): y = a·x + b·y₁ + c·y₂, unit gain at DC.
#[derive(Default)]
struct Resonator {
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn step(&mut self, x: f32, freq: f32, bw: f32) -> f32 {
        let t = 1.0 / SAMPLE_RATE as f32;
        let c = -(-2.0 * std::f32::consts::PI * bw * t).exp();
        let b = 2.0 * (-std::f32::consts::PI * bw * t).exp() * (2.0 * std::f32::consts::PI * freq * t).cos();
        let a = 1.0 - b - c;
        let y = a * x + b * self.y1 + c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// One synthetic utterance: 16 kHz samples and its transcript.
#[derive(Clone, Debug)]
pub struct Utterance {
    pub samples: Vec<f32>,
    pub transcript: String,
}

/// Speaks `digits` with a speaker drawn from `rng`.
pub fn speak(digits: &[usize], rng: &mut impl Rng) -> Utterance {
    let ms = |m: f32| (m * SAMPLE_RATE as f32 / 1000.0) as usize;
    let pitch = rng.random_range(85.0..240.0f32);
    let tract = rng.random_range(0.85..1.2f32);
    let mut speed = rng.random_range(0.8..1.25f32);
    let loud = rng.random_range(0.3..0.9f32);
    let hiss = rng.random_range(0.001..0.02f32);
    let mut tr = Track { formants: Vec::new(), voice: Vec::new(), noise: Vec::new(), noise_centre: Vec::new(), noise_bw: Vec::new() };
    let quiet = [500.0, 1500.0, 2500.0];
    let silence = |tr: &mut Track, n: usize| tr.push(n, quiet, quiet, 0.0, 0.0, 3000.0, 2000.0);
    silence(&mut tr, ms(rng.random_range(60.0..250.0)));
    for (w, &d) in digits.iter().enumerate() {
        if w > 0 {
            silence(&mut tr, ms(rng.random_range(30.0..160.0)));
        }
        speed *= rng.random_range(0.93..1.07f32);
        let jitter = |rng: &mut _, f: [f32; 3]| f.map(|v| v * tract * Rng::random_range(rng, 0.95..1.05f32));
        for p in word_phones(d) {
            match p {
                Vowel(a, b, dur) => {
                    let (a, b) = (jitter(rng, a), jitter(rng, b));
                    tr.push(ms(dur * speed), a, b, 1.0, 0.02, 3000.0, 2000.0);
                }
                Nasal(dur) => {
                    let f = jitter(rng, [260.0, 1700.0, 2500.0]);
                    tr.push(ms(dur * speed), f, f, 0.35, 0.0, 3000.0, 2000.0);
                }
                Fric(centre, bw, voiced, dur) => {
                    let f = jitter(rng, [400.0, 1600.0, 2600.0]);
                    let c = centre * rng.random_range(0.9..1.1f32);
                    tr.push(ms(dur * speed), f, f, if voiced { 0.3 } else { 0.0 }, 0.5, c.min(7500.0), bw);
                }
                Stop(closure, burst) => {
                    tr.push(ms(closure * speed), quiet, quiet, 0.0, 0.0, burst, 2000.0);
                    let f = jitter(rng, [400.0, 1700.0, 2600.0]);
                    tr.push(ms(25.0 * speed), f, f, 0.0, 0.8, burst, 2500.0);
                }
            }
        }
    }
    silence(&mut tr, ms(rng.random_range(60.0..250.0)));
    let samples = render(&tr, pitch, loud, hiss, rng);
    let transcript = digits.iter().map(|&d| DIGITS[d]).collect::<Vec<_>>().join(" ");
    Utterance { samples, transcript }
}

/// Runs source and filter over the control tracks, smoothing the tracks
/// with a ~10 ms one-pole so phones glide into each other.
fn render(tr: &Track, pitch: f32, loud: f32, hiss: f32, rng: &mut impl Rng) -> Vec<f32> {
    let n = tr.voice.len();
    let sr = SAMPLE_RATE as f32;
    let smooth = 1.0 - (-1.0 / (0.010 * sr)).exp();
    let mut f = tr.formants[0];
    let (mut v, mut nz, mut nc) = (0.0f32, 0.0f32, tr.noise_centre[0]);
    let mut phase = 0.0f32;
    let mut glottal = 0.0f32;
    let mut res = [Resonator::default(), Resonator::default(), Resonator::default()];
    let mut noise_res = Resonator::default();
    let mut out = Vec::with_capacity(n);
    let vibrato = rng.random_range(3.0..6.0f32);
    for i in 0..n {
        for (fk, target) in f.iter_mut().zip(tr.formants[i]) {
            *fk += (target - *fk) * smooth;
        }
        v += (tr.voice[i] - v) * smooth;
        nz += (tr.noise[i] - nz) * smooth * 3.0;
        nc += (tr.noise_centre[i] - nc) * smooth;
        // Pitch falls slightly over the utterance, with a little vibrato.
        let t = i as f32 / sr;
        let f0 = pitch * (1.0 - 0.15 * i as f32 / n as f32) * (1.0 + 0.02 * (2.0 * std::f32::consts::PI * vibrato * t).sin());
        phase += f0 / sr;
        let mut pulse = 0.0;
        if phase >= 1.0 {
            phase -= 1.0;
            pulse = 1.0;
        }
        // Spectral tilt: a leaky integrator turns the impulse train into a
        // decaying glottal flow derivative.
        glottal = 0.96 * glottal + pulse;
        let excitation = v * (glottal - (1.0 - 0.96f32).recip() * f0 / sr) + 0.03 * v * rng.random_range(-1.0..1.0f32);
        let mut y = excitation;
        for (k, r) in res.iter_mut().enumerate() {
            y = r.step(y, f[k], 60.0 + 40.0 * k as f32);
        }
        let white = rng.random_range(-1.0..1.0f32);
        let fric = noise_res.step(white, nc, tr.noise_bw[i]) * nz * 2.0;
        out.push(y * 0.08 + fric + hiss * rng.random_range(-1.0..1.0f32));
    }
    let peak = out.iter().fold(1e-6f32, |m, s| m.max(s.abs()));
    out.iter_mut().for_each(|s| *s *= loud / peak);
    out
}

/// `count` utterances of `min_words..=max_words` random digits, seeded.
pub fn digit_set(count: usize, min_words: usize, max_words: usize, seed: u64) -> Vec<Utterance> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let words = rng.random_range(min_words..=max_words.max(min_words));
            let digits: Vec<usize> = (0..words).map(|_| rng.random_range(0..10)).collect();
            speak(&digits, &mut rng)
        })
        .collect()
}
