//! WAV input: every common layout (8/16/24/32-bit integer PCM, 32-bit
//! float; any channel count, mixed down to mono; any sample rate) decoded
//! with `hound`, then resampled to [`SAMPLE_RATE`] by a band-limited
//! windowed-sinc resampler.

use std::path::Path;

use crate::error::{Error, Result};

/// The rate every feature is computed at.
pub const SAMPLE_RATE: u32 = 16_000;

fn bad_file(path: &Path, msg: impl Into<String>) -> Error {
    Error::data(path, msg)
}

/// The lowest and highest sample rates [`read_wav`] accepts.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 768_000;

/// Mono samples in [-1, 1] and their rate.
#[derive(Clone, Debug)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub rate: u32,
}

impl Audio {
    /// Length in seconds.
    pub fn seconds(&self) -> f32 {
        self.samples.len() as f32 / self.rate as f32
    }
}

/// Reads a WAV file as mono at its own rate (1 to 768 kHz). Integers are scaled by
/// 2^(bits−1) (8-bit WAV is unsigned on disk; hound re-centres it), floats
/// are taken as they are; channels are averaged.
pub fn read_wav(path: &Path) -> Result<Audio> {
    let reader = hound::WavReader::open(path).map_err(|e| bad_file(path, format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    let channels = spec.channels as usize;
    if channels == 0 || spec.sample_rate == 0 {
        return Err(bad_file(path, format!("WAV header has {} channels at {} Hz", spec.channels, spec.sample_rate)));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        // The resampler's kernel grows with the rate ratio, its output with
        // 16 kHz / rate: a corrupt header must not exhaust memory.
        return Err(bad_file(
            path,
            format!("WAV sample rate {} Hz is outside what kairo reads ({MIN_RATE}–{MAX_RATE} Hz)", spec.sample_rate),
        ));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(bad_file(path, format!("{}-bit float WAV is not supported (32-bit is)", spec.bits_per_sample)));
            }
            reader.into_samples::<f32>().collect::<std::result::Result<_, _>>()
        }
        hound::SampleFormat::Int => {
            if !matches!(spec.bits_per_sample, 8 | 16 | 24 | 32) {
                return Err(bad_file(path, format!("{}-bit integer WAV is not supported (8, 16, 24, 32 are)", spec.bits_per_sample)));
            }
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            reader.into_samples::<i32>().map(|s| s.map(|v| (v as f64 * scale) as f32)).collect::<std::result::Result<_, _>>()
        }
    }
    .map_err(|e| bad_file(path, format!("truncated or corrupt WAV data: {e}")))?;
    Ok(Audio { samples: mix_down(&interleaved, channels), rate: spec.sample_rate })
}

/// Averages interleaved channels into one.
pub fn mix_down(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect()
}

/// Reads a WAV file and resamples it to 16 kHz mono; an empty file is an error.
pub fn load_16k(path: &Path) -> Result<Vec<f32>> {
    let audio = read_wav(path)?;
    if audio.samples.is_empty() {
        return Err(bad_file(path, "the WAV file holds no samples"));
    }
    Ok(resample(&audio.samples, audio.rate, SAMPLE_RATE))
}

/// Half-width of the sinc kernel in zero crossings of the lower rate: a
/// transition band of about 1/`TAPS_PER_SIDE` of Nyquist, with a
/// Blackman window (stop band below −70 dB).
const TAPS_PER_SIDE: usize = 16;
/// The cut-off as a fraction of the lower Nyquist frequency: the
/// transition band lies below it, so nothing aliases.
const CUTOFF: f64 = 0.92;

/// Band-limited resampling by a windowed sinc evaluated at every output
/// instant (exact for any rate ratio, 44.1k → 16k included):
/// y[n] = Σ_k x[k]·c·sinc(c·(t − k))·w(t − k), t = n·from/to, c = cutoff·min(1, to/from).
/// Downsampling lowers the cut-off to the new Nyquist (anti-aliasing).
pub fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || x.is_empty() {
        return x.to_vec();
    }
    let ratio = from as f64 / to as f64;
    let c = CUTOFF * (1.0 / ratio).min(1.0);
    // The kernel spans TAPS_PER_SIDE zero crossings of sinc(c·u) on each side.
    let half = TAPS_PER_SIDE as f64 / c;
    // The kernel tabulated at 1/OVERSAMPLE steps of u and interpolated
    // linearly (error ~1e-6): no sin/cos per tap.
    let table: Vec<f64> = (0..=(half * OVERSAMPLE as f64).ceil() as usize + 1)
        .map(|i| kernel(i as f64 / OVERSAMPLE as f64, c, half))
        .collect();
    let lookup = |u: f64| {
        let p = u.abs() * OVERSAMPLE as f64;
        let i = p as usize;
        if i + 1 >= table.len() {
            return 0.0;
        }
        let f = p - i as f64;
        table[i] * (1.0 - f) + table[i + 1] * f
    };
    let n_out = ((x.len() as f64) / ratio).round().max(1.0) as usize;
    let mut y = Vec::with_capacity(n_out);
    for n in 0..n_out {
        let t = n as f64 * ratio;
        let lo = (t - half).ceil().max(0.0) as usize;
        let hi = ((t + half).floor() as usize).min(x.len() - 1);
        let mut s = 0.0f64;
        for (k, &xk) in x.iter().enumerate().take(hi + 1).skip(lo) {
            s += xk as f64 * lookup(t - k as f64);
        }
        y.push(s as f32);
    }
    y
}

/// Table points per unit of the kernel's argument.
const OVERSAMPLE: usize = 512;

/// The windowed sinc at u (zero outside ±half).
fn kernel(u: f64, c: f64, half: f64) -> f64 {
    if u.abs() >= half {
        return 0.0;
    }
    let a = std::f64::consts::PI * c * u;
    let sinc = if a.abs() < 1e-9 { 1.0 } else { a.sin() / a };
    // Blackman window over [−half, half].
    let p = std::f64::consts::PI * (u / half + 1.0);
    let w = 0.42 - 0.5 * p.cos() + 0.08 * (2.0 * p).cos();
    c * sinc * w
}

/// Writes 16-bit mono PCM (used by the synthetic data set's `--export`
/// and by tests); kill-safe like every file kairo writes.
pub fn write_wav_16(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut bytes, spec).map_err(|e| bad_file(path, e.to_string()))?;
        for &s in samples {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).map_err(|e| bad_file(path, e.to_string()))?;
        }
        w.finalize().map_err(|e| bad_file(path, e.to_string()))?;
    }
    crate::io::atomic::write_atomic(path, &bytes.into_inner())
}
