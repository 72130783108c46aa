//! The safetensors loader: `load` and the strict `load_into` must return an
//! error for any file, never panic.
#![no_main]

use std::sync::OnceLock;

use kairo::{Context, Tensor};
use libfuzzer_sys::fuzz_target;

fn state() -> &'static (Context, Tensor, std::path::PathBuf) {
    static STATE: OnceLock<(Context, Tensor, std::path::PathBuf)> = OnceLock::new();
    STATE.get_or_init(|| {
        let ctx = Context::new().expect("the safetensors target needs an adapter (lavapipe will do)");
        let target = Tensor::from_slice(&ctx, &[0.0; 4], &[2, 2]).unwrap();
        let path = std::env::temp_dir().join(format!("kairo-fuzz-{}.safetensors", std::process::id()));
        (ctx, target, path)
    })
}

fuzz_target!(|data: &[u8]| {
    let (ctx, target, path) = state();
    std::fs::write(path, data).unwrap();
    let _ = kairo::io::safetensors::load(ctx, path);
    let _ = kairo::io::safetensors::load_into(path, &[("w", target)]);
});
