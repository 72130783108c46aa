//! In-process fuzzing of every parser that reads files a user hands kairo:
//! the safetensors loader, the WAV reader, the speech manifest parser and
//! image loading. Each must return an error for bad input, never panic.
//!
//! The fuzzer is a seeded mutation loop (bit flips, byte sets, "interesting"
//! integers, inserts, deletes, duplicated and spliced ranges, truncation;
//! a third of them in the first 64 bytes, where headers live) over valid
//! seed files built here, with every call under `catch_unwind`. It has no
//! coverage feedback, so it is blinder than libFuzzer, but needs neither a
//! nightly toolchain nor an instrumented build of wgpu; fuzz/ holds the
//! same targets for `cargo fuzz`.
//!
//! `cargo test --test fuzz` runs each target briefly (a smoke pass) plus the
//! regression inputs of crashes found earlier. `.ci/fuzz.sh` runs the
//! ignored `fuzz_*` tests, each for `KAIRO_FUZZ_SECONDS` (default 30) from
//! seed `KAIRO_FUZZ_SEED`; a crashing input is written to
//! `KAIRO_FUZZ_OUT` (default `target/fuzz-crashes`) and fails the test.
//! With `KAIRO_FUZZ_CORPUS` set, each target's seeds are written under it
//! (`<dir>/<target>/seed-N`) for the libFuzzer targets in fuzz/.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Inputs larger than this are cut: keeps one iteration cheap.
const MAX_INPUT: usize = 64 * 1024;

/// How long and from which seed a run goes.
struct Budget {
    time: Duration,
    iterations: u64,
    seed: u64,
}

impl Budget {
    /// The short pass every `cargo test` makes.
    fn smoke() -> Budget {
        Budget { time: Duration::from_secs(3), iterations: 300, seed: 1 }
    }

    /// The bounded run `.ci/fuzz.sh` asks for.
    fn from_env() -> Budget {
        let num = |k: &str, d: u64| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
        Budget { time: Duration::from_secs(num("KAIRO_FUZZ_SECONDS", 30)), iterations: u64::MAX, seed: num("KAIRO_FUZZ_SEED", 0x006b_6169_726f) }
    }
}

/// A scratch folder for one target's inputs.
struct Scratch(PathBuf);

impl Scratch {
    fn new(target: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("kairo-fuzz-{}-{target}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One mutation of `data` in place.
fn mutate_once(data: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut StdRng) {
    if data.is_empty() {
        data.push(rng.random());
        return;
    }
    // A third of the mutations land in the first 64 bytes, where every
    // format keeps its header (sizes, counts, rates, offsets).
    let at = if rng.random_bool(1.0 / 3.0) { rng.random_range(0..data.len().min(64)) } else { rng.random_range(0..data.len()) };
    match rng.random_range(0..9) {
        0 => data[at] ^= 1 << rng.random_range(0..8),
        1 => data[at] = rng.random(),
        2 => {
            const INTERESTING: [u32; 10] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0xffff_ffff];
            let v = INTERESTING[rng.random_range(0..INTERESTING.len())].to_le_bytes();
            let width = [1, 2, 4][rng.random_range(0..3)];
            for (i, b) in v.iter().take(width).enumerate() {
                if let Some(d) = data.get_mut(at + i) {
                    *d = *b;
                }
            }
        }
        3 => {
            let n = rng.random_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(at..at, bytes);
        }
        4 => {
            let end = (at + rng.random_range(1..=64)).min(data.len());
            data.drain(at..end);
        }
        5 => {
            let end = (at + rng.random_range(1..=64)).min(data.len());
            let copy = data[at..end].to_vec();
            let to = rng.random_range(0..=data.len());
            data.splice(to..to, copy);
        }
        6 => data.truncate(at),
        7 => {
            let other = &seeds[rng.random_range(0..seeds.len())];
            if !other.is_empty() {
                let from = rng.random_range(0..other.len());
                let end = (from + rng.random_range(1..=256)).min(other.len());
                let len = (end - from).min(data.len() - at);
                data[at..at + len].copy_from_slice(&other[from..from + len]);
            }
        }
        _ => {
            // ASCII digits and JSON/CSV punctuation, for the text formats.
            const TOKENS: &[u8] = b"0123456789-+.eE,:\"{}[]\n \\";
            data[at] = TOKENS[rng.random_range(0..TOKENS.len())];
        }
    }
    data.truncate(MAX_INPUT);
}

/// A mutated copy of a random seed: 1 to 8 mutations.
fn mutant(seeds: &[Vec<u8>], rng: &mut StdRng) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=8) {
        mutate_once(&mut data, seeds, rng);
    }
    data
}

/// The panic message of a caught panic.
fn message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// Repairs what a format checks first (a checksum, a derived field), so
/// mutants get past it to the code behind; applied to half the mutants.
type Fixup = fn(&mut [u8]);

/// Runs `target` on the seeds, then on mutants until the budget is spent.
/// Panics (after saving the input) if any input made `target` panic.
fn fuzz(name: &str, seeds: &[Vec<u8>], budget: Budget, fixup: Option<Fixup>, target: &mut dyn FnMut(&[u8])) {
    let mut rng = StdRng::seed_from_u64(budget.seed);
    let start = Instant::now();
    let mut runs = 0u64;
    let mut crashes = Vec::new();
    let mut run_one = |input: &[u8], crashes: &mut Vec<String>| {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| target(input))) {
            let out = std::env::var_os("KAIRO_FUZZ_OUT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/fuzz-crashes"));
            let _ = std::fs::create_dir_all(&out);
            let file = out.join(format!("{name}-{:08x}.bin", crc(input)));
            let _ = std::fs::write(&file, input);
            crashes.push(format!("{}: {}", file.display(), message(p.as_ref())));
        }
    };
    if let Some(dir) = std::env::var_os("KAIRO_FUZZ_CORPUS").map(|d| PathBuf::from(d).join(name)) {
        // Seed files for libFuzzer (fuzz/corpus/<target>), which cannot
        // guess a valid RIFF or safetensors header on its own.
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
        }
    }
    for s in seeds {
        run_one(s, &mut crashes);
    }
    while runs < budget.iterations && start.elapsed() < budget.time && crashes.len() < 5 {
        let mut input = mutant(seeds, &mut rng);
        if let Some(f) = fixup.filter(|_| rng.random_bool(0.5)) {
            f(&mut input);
        }
        run_one(&input, &mut crashes);
        runs += 1;
    }
    eprintln!("fuzz {name}: {runs} mutants in {:.1} s from seed {}, {} crash(es)", start.elapsed().as_secs_f64(), budget.seed, crashes.len());
    assert!(crashes.is_empty(), "fuzz {name}: inputs that panic:\n{}", crashes.join("\n"));
}

/// A cheap hash naming a crash file.
fn crc(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

// ---- safetensors ------------------------------------------------------

/// A hand-written safetensors file: (name, dtype, shape, bytes) entries.
fn raw_safetensors(entries: &[(&str, &str, &[usize], Vec<u8>)], metadata: Option<&str>) -> Vec<u8> {
    let mut fields = Vec::new();
    if let Some(m) = metadata {
        fields.push(format!("\"__metadata__\":{m}"));
    }
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in entries {
        let (a, b) = (data.len(), data.len() + bytes.len());
        fields.push(format!("\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{a},{b}]}}"));
        data.extend_from_slice(bytes);
    }
    let header = format!("{{{}}}", fields.join(","));
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn safetensors_seeds(ctx: &kairo::Context, dir: &Path) -> Vec<Vec<u8>> {
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut seeds = vec![
        raw_safetensors(&[("w", "F32", &[2, 2], f32s(&[1.0, 2.0, 3.0, 4.0])), ("b", "I32", &[2], vec![1, 0, 0, 0, 255, 255, 255, 255])], Some(r#"{"format":"pt"}"#)),
        raw_safetensors(&[("x", "F64", &[1], 2.5f64.to_le_bytes().to_vec()), ("h", "F16", &[2], vec![0, 60, 0, 64])], None),
        raw_safetensors(&[("s", "U32", &[], vec![7, 0, 0, 0]), ("e", "F32", &[0, 3], vec![])], None),
        raw_safetensors(&[("w", "F32", &[1], f32s(&[1.0]))], Some(r#"{"kairo.crc32":"00000000"}"#)),
    ];
    let path = dir.join("seed.safetensors");
    let w = kairo::Tensor::from_slice(ctx, &[0.5, -1.0, 3.0], &[3]).unwrap();
    let l = kairo::Tensor::from_u32(ctx, &[1, 2], &[2]).unwrap();
    kairo::io::safetensors::save(&path, &[("w", &w), ("labels", &l)], &[("epoch", "3")]).unwrap();
    seeds.push(std::fs::read(&path).unwrap());
    if let Ok(pt) = std::fs::read("tests/data/pytorch_rnn.safetensors") {
        seeds.push(pt);
    }
    seeds
}

fn fuzz_safetensors_with(budget: Budget) {
    let ctx = common::ctx();
    let dir = Scratch::new("safetensors");
    let seeds = safetensors_seeds(&ctx, &dir.0);
    let path = dir.0.join("input.safetensors");
    let target_w = kairo::Tensor::from_slice(&ctx, &[0.0; 4], &[2, 2]).unwrap();
    fuzz("safetensors", &seeds, budget, None, &mut |input| {
        std::fs::write(&path, input).unwrap();
        let _ = kairo::io::safetensors::load(&ctx, &path);
        let _ = kairo::io::safetensors::load_into(&path, &[("w", &target_w)]);
    });
}

// ---- WAV ----------------------------------------------------------------

fn wav_bytes(spec: hound::WavSpec, frames: usize) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..frames * spec.channels as usize {
            let x = ((i as f32) * 0.05).sin() * 0.5;
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(x).unwrap(),
                (_, 8) => w.write_sample((x * 127.0) as i8).unwrap(),
                (_, 16) => w.write_sample((x * 32767.0) as i16).unwrap(),
                (_, bits) => w.write_sample((x * ((1i64 << (bits - 1)) - 1) as f32) as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
    }
    out.into_inner()
}

fn wav_seeds() -> Vec<Vec<u8>> {
    let spec = |channels, sample_rate, bits_per_sample, sample_format| hound::WavSpec { channels, sample_rate, bits_per_sample, sample_format };
    use hound::SampleFormat::{Float, Int};
    vec![
        wav_bytes(spec(1, 16_000, 16, Int), 200),
        wav_bytes(spec(2, 44_100, 16, Int), 300),
        wav_bytes(spec(1, 8_000, 8, Int), 100),
        wav_bytes(spec(1, 22_050, 24, Int), 100),
        wav_bytes(spec(3, 48_000, 32, Int), 100),
        wav_bytes(spec(1, 16_000, 32, Float), 100),
    ]
}

/// hound refuses a fmt chunk whose byte rate is not block_align × sample
/// rate: recompute it (canonical 44-byte header layout), so mutated rates
/// and channel counts reach the decoder and resampler.
fn wav_fixup(data: &mut [u8]) {
    if data.len() >= 36 && &data[12..16] == b"fmt " {
        let rate = u32::from_le_bytes(data[24..28].try_into().unwrap());
        let align = u16::from_le_bytes(data[32..34].try_into().unwrap()) as u32;
        data[28..32].copy_from_slice(&align.wrapping_mul(rate).to_le_bytes());
    }
}

fn fuzz_wav_with(budget: Budget) {
    let dir = Scratch::new("wav");
    let path = dir.0.join("input.wav");
    fuzz("wav", &wav_seeds(), budget, Some(wav_fixup), &mut |input| {
        std::fs::write(&path, input).unwrap();
        let _ = kairo::speech::wav::load_16k(&path);
    });
}

// ---- manifest -------------------------------------------------------------

fn manifest_seeds(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::write(dir.join("a.wav"), wav_bytes(hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int }, 50)).unwrap();
    [
        "wav_filename,wav_filesize,transcript\na.wav,1234,hello world\n",
        "\u{feff}wav_filename, wav_filesize, transcript\r\n a.wav , 7 , Commas, in, text \r\n\r\na.wav,0,\n",
        "wav_filename,wav_filesize,transcript\nmissing.wav,1,x\nsub/b.wav,2,y\n",
        "wav_filename,wav_filesize,transcript\n",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn fuzz_manifest_with(budget: Budget) {
    let dir = Scratch::new("manifest");
    let seeds = manifest_seeds(&dir.0);
    let path = dir.0.join("train.csv");
    fuzz("manifest", &seeds, budget, None, &mut |input| {
        std::fs::write(&path, input).unwrap();
        let _ = kairo::speech::manifest::read_manifest(&path);
        let _ = kairo::speech::manifest::parse_manifest(&String::from_utf8_lossy(input), &path);
    });
}

// ---- images ---------------------------------------------------------------

fn image_seeds() -> Vec<Vec<u8>> {
    let encode = |img: image::DynamicImage, format| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    let rgb = image::RgbImage::from_fn(12, 9, |x, y| image::Rgb([(x * 20) as u8, (y * 25) as u8, 128]));
    let gray = image::GrayImage::from_fn(5, 7, |x, y| image::Luma([(x * y * 7) as u8]));
    let rgba16 = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(4, 4, |x, y| image::Rgba([x as u16 * 9000, y as u16 * 9000, 0, 65535]));
    use image::ImageFormat::{Jpeg, Png};
    vec![
        encode(rgb.clone().into(), Png),
        encode(gray.clone().into(), Png),
        encode(rgba16.into(), Png),
        encode(rgb.into(), Jpeg),
        encode(gray.into(), Jpeg),
    ]
}

fn fuzz_images_with(budget: Budget) {
    let dir = Scratch::new("images");
    let path = dir.0.join("input.png");
    fuzz("images", &image_seeds(), budget, None, &mut |input| {
        std::fs::write(&path, input).unwrap();
        // Sizes and channel counts from the input, so odd ones are tried too.
        let size = [1, 4, 8, 16][input.first().map_or(0, |b| (b & 3) as usize)];
        let channels = if input.len() % 2 == 0 { 3 } else { 1 };
        let _ = kairo::data::images::load_image(&path, size, channels);
    });
}

// ---- the tests ------------------------------------------------------------

#[test]
fn smoke_safetensors() {
    fuzz_safetensors_with(Budget::smoke());
}

#[test]
fn smoke_wav() {
    fuzz_wav_with(Budget::smoke());
}

#[test]
fn smoke_manifest() {
    fuzz_manifest_with(Budget::smoke());
}

#[test]
fn smoke_images() {
    fuzz_images_with(Budget::smoke());
}

#[test]
#[ignore = "bounded fuzzing run: .ci/fuzz.sh"]
fn fuzz_safetensors() {
    fuzz_safetensors_with(Budget::from_env());
}

#[test]
#[ignore = "bounded fuzzing run: .ci/fuzz.sh"]
fn fuzz_wav() {
    fuzz_wav_with(Budget::from_env());
}

#[test]
#[ignore = "bounded fuzzing run: .ci/fuzz.sh"]
fn fuzz_manifest() {
    fuzz_manifest_with(Budget::from_env());
}

#[test]
#[ignore = "bounded fuzzing run: .ci/fuzz.sh"]
fn fuzz_images() {
    fuzz_images_with(Budget::from_env());
}

// ---- regressions: inputs that once crashed --------------------------------

/// A WAV header claiming 4294967295 Hz made the resampler tabulate a kernel
/// of ~2·10⁹ taps (an allocation abort), and 1 Hz made it produce 16000
/// outputs per input sample: sample rates outside 1–768 kHz are now an
/// error naming the file.
#[test]
fn regression_wav_with_an_absurd_sample_rate_is_an_error() {
    let dir = Scratch::new("wav-rate");
    for rate in [u32::MAX, 3_000_000, 1, 999] {
        let path = dir.0.join(format!("r{rate}.wav"));
        // hound will not write such a header: patch the sample rate and the
        // byte rate (equal for 8-bit mono) of the canonical 44-byte header.
        let spec = hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: 8, sample_format: hound::SampleFormat::Int };
        let mut bytes = wav_bytes(spec, 2000);
        bytes[24..28].copy_from_slice(&rate.to_le_bytes());
        bytes[28..32].copy_from_slice(&rate.to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        let err = kairo::speech::wav::load_16k(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("sample rate"), "{rate} Hz: {err}");
    }
    for rate in [1000, 768_000] {
        let path = dir.0.join(format!("ok{rate}.wav"));
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        std::fs::write(&path, wav_bytes(spec, 2000)).unwrap();
        let y = kairo::speech::wav::load_16k(&path).unwrap();
        assert_eq!(y.len(), (2000.0 * 16_000.0 / rate as f64).round() as usize);
    }
}
