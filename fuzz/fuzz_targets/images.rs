//! Image loading (PNG, JPEG; crop, resize, channel conversion).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("kairo-fuzz-{}.png", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let size = [1, 4, 8, 16][data.first().map_or(0, |b| (b & 3) as usize)];
    let channels = if data.len() % 2 == 0 { 3 } else { 1 };
    let _ = kairo::data::images::load_image(&path, size, channels);
});
