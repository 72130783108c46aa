//! The speech manifest parser, from a file (any bytes) and from text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("kairo-fuzz-{}.csv", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let _ = kairo::speech::manifest::read_manifest(&path);
    let _ = kairo::speech::manifest::parse_manifest(&String::from_utf8_lossy(data), &path);
});
