//! Log-mel spectrogram features: 25 ms Hann windows every 10 ms at 16 kHz,
//! a 512-point real FFT (`realfft`), the power spectrum through a
//! triangular mel filterbank (HTK mel scale), log, then per-utterance
//! normalisation of every band to zero mean and unit variance.
//!
//! Efficient: the FFT plan, window and filterbank are built once per
//! [`LogMel`]; each filter is stored as its non-zero bins only.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::wav::SAMPLE_RATE;
use crate::error::{Error, Result};

/// Samples per window: 25 ms at 16 kHz.
pub const WINDOW: usize = 400;
/// Samples between windows: 10 ms at 16 kHz.
pub const HOP: usize = 160;
/// FFT length (the window zero-padded to a power of two).
pub const N_FFT: usize = 512;
/// Added before the log so silence stays finite.
const LOG_FLOOR: f32 = 1e-6;

/// Hz → mel (HTK: 2595·log10(1 + f/700)).
pub fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

/// mel → Hz.
pub fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Frames (T, n_mels), row-major.
#[derive(Clone, Debug)]
pub struct Features {
    pub frames: usize,
    pub n_mels: usize,
    pub data: Vec<f32>,
}

/// A log-mel extractor with its FFT plan, window and filterbank.
pub struct LogMel {
    n_mels: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per mel band: first FFT bin and the weights from there on.
    filters: Vec<(usize, Vec<f32>)>,
}

/// Frames a signal of `samples` yields: 1 + ⌊(n − 400)/160⌋, and 1 for a
/// signal shorter than one window (zero-padded).
pub fn frame_count(samples: usize) -> usize {
    if samples <= WINDOW {
        1
    } else {
        1 + (samples - WINDOW) / HOP
    }
}

impl LogMel {
    /// `n_mels` bands between 0 Hz and 8 kHz (40 to 80 is usual; 1..=128 allowed).
    pub fn new(n_mels: usize) -> Result<LogMel> {
        if !(1..=128).contains(&n_mels) {
            return Err(Error::InvalidArgument(format!("log-mel: n_mels must be in 1..=128, got {n_mels}")));
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        // Periodic Hann, as torch.hann_window.
        let window = (0..WINDOW)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / WINDOW as f64).cos()) as f32)
            .collect();
        Ok(LogMel { n_mels, fft, window, filters: mel_filters(n_mels, N_FFT, SAMPLE_RATE) })
    }

    /// Bands per frame.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// |FFT|² of one windowed frame starting at `start` (zero past the end):
    /// N_FFT/2 + 1 bins.
    pub fn power_spectrum(&self, samples: &[f32], start: usize) -> Vec<f32> {
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        self.frame_power(samples, start, &mut input, &mut spectrum, &mut scratch)
    }

    fn frame_power(
        &self,
        samples: &[f32],
        start: usize,
        input: &mut [f32],
        spectrum: &mut [realfft::num_complex::Complex<f32>],
        scratch: &mut [realfft::num_complex::Complex<f32>],
    ) -> Vec<f32> {
        input.fill(0.0);
        for (n, w) in self.window.iter().enumerate() {
            input[n] = samples.get(start + n).copied().unwrap_or(0.0) * w;
        }
        self.fft.process_with_scratch(input, spectrum, scratch).expect("buffer sizes come from the plan");
        spectrum.iter().map(|c| c.norm_sqr()).collect()
    }

    /// Log-mel features of 16 kHz samples, not normalised.
    pub fn log_mel(&self, samples: &[f32]) -> Features {
        let frames = frame_count(samples.len());
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut data = Vec::with_capacity(frames * self.n_mels);
        for f in 0..frames {
            let power = self.frame_power(samples, f * HOP, &mut input, &mut spectrum, &mut scratch);
            for (first, weights) in &self.filters {
                let e: f32 = weights.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
                data.push((e + LOG_FLOOR).ln());
            }
        }
        Features { frames, n_mels: self.n_mels, data }
    }

    /// Log-mel features normalised per utterance (every band to zero
    /// mean, unit variance over the utterance's frames).
    pub fn features(&self, samples: &[f32]) -> Features {
        let mut f = self.log_mel(samples);
        normalize(&mut f);
        f
    }
}

/// Per band: subtract the mean over frames, divide by the standard
/// deviation (floored at 1e-3 so a constant band stays finite).
pub fn normalize(f: &mut Features) {
    let (t, m) = (f.frames, f.n_mels);
    for b in 0..m {
        let mean = (0..t).map(|i| f.data[i * m + b] as f64).sum::<f64>() / t as f64;
        let var = (0..t).map(|i| (f.data[i * m + b] as f64 - mean).powi(2)).sum::<f64>() / t as f64;
        let inv = 1.0 / var.sqrt().max(1e-3);
        for i in 0..t {
            let v = &mut f.data[i * m + b];
            *v = ((*v as f64 - mean) * inv) as f32;
        }
    }
}

/// Triangular filters with centres evenly spaced in mel between 0 and
/// rate/2, each rising from the previous centre to its own and falling to
/// the next (HTK / torchaudio `mel_scale="htk"`, no area normalisation),
/// as (first non-zero bin, weights).
pub fn mel_filters(n_mels: usize, n_fft: usize, rate: u32) -> Vec<(usize, Vec<f32>)> {
    let bins = n_fft / 2 + 1;
    let top = hz_to_mel(rate as f64 / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let bin_hz = rate as f64 / n_fft as f64;
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let weight = |k: usize| {
                let f = k as f64 * bin_hz;
                let up = (f - lo) / (mid - lo);
                let down = (hi - f) / (hi - mid);
                up.min(down).max(0.0) as f32
            };
            let first = (0..bins).find(|&k| weight(k) > 0.0).unwrap_or(0);
            let last = (0..bins).rev().find(|&k| weight(k) > 0.0).unwrap_or(first);
            (first, (first..=last).map(weight).collect())
        })
        .collect()
}

/// |DFT|² of one windowed frame by the O(N²) definition, in f64: the
/// reference the FFT path is tested against.
pub fn dft_power_reference(frame: &[f32], n_fft: usize) -> Vec<f64> {
    (0..=n_fft / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (n, &x) in frame.iter().enumerate().take(n_fft) {
                let a = -2.0 * std::f64::consts::PI * (k * n) as f64 / n_fft as f64;
                re += x as f64 * a.cos();
                im += x as f64 * a.sin();
            }
            re * re + im * im
        })
        .collect()
}
