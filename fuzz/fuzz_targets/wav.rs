//! The WAV reader and resampler: `load_16k` must return an error for any
//! file, never panic or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("kairo-fuzz-{}.wav", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let _ = kairo::speech::wav::load_16k(&path);
});
