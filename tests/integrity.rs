//! Checkpoints carry a CRC-32 of their tensor data: a flipped byte is found
//! at load time, naming the file; files without the checksum still load.

mod common;

use std::path::PathBuf;

use kairo::io::safetensors::{load, load_into, save, CHECKSUM_KEY};
use kairo::Tensor;

fn temp_file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kairo-integrity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{test}.safetensors"))
}

/// Offset of the first data byte: 8-byte header length plus the header.
fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn a_flipped_data_byte_fails_the_load_naming_the_file() {
    let ctx = common::ctx();
    let path = temp_file("flip");
    let w = Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let b = Tensor::from_u32(&ctx, &[7, 8], &[2]).unwrap();
    save(&path, &[("w", &w), ("b", &b)], &[("epoch", "3")]).unwrap();

    // A clean file loads; the checksum is not part of the caller's metadata.
    let loaded = load(&ctx, &path).unwrap();
    assert_eq!(loaded.metadata.len(), 1);
    assert!(!loaded.metadata.contains_key(CHECKSUM_KEY));
    let raw = std::fs::read(&path).unwrap();
    let header = std::str::from_utf8(&raw[8..data_start(&raw)]).unwrap();
    assert!(header.contains(CHECKSUM_KEY), "{header}");

    let mut bytes = raw.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&ctx, &path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("corrupt"), "{err}");

    // The strict load checks it too, and writes no target.
    let target_w = Tensor::from_slice(&ctx, &[0.0; 4], &[2, 2]).unwrap();
    let target_b = Tensor::from_u32(&ctx, &[0, 0], &[2]).unwrap();
    let err = load_into(&path, &[("w", &target_w), ("b", &target_b)]).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("corrupt"), "{err}");
    assert_eq!(target_w.to_vec().unwrap(), vec![0.0; 4]);

    // Every data byte is covered, the first as well as the last.
    let mut bytes = raw;
    let first = data_start(&bytes);
    bytes[first] ^= 0x80;
    std::fs::write(&path, &bytes).unwrap();
    assert!(load(&ctx, &path).unwrap_err().to_string().contains("corrupt"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_file_without_the_checksum_loads() {
    let ctx = common::ctx();
    let path = temp_file("plain");
    // Written as PyTorch's safetensors writes it: no kairo metadata.
    let header = br#"{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1.5f32.to_le_bytes());
    bytes.extend_from_slice(&(-2.0f32).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let loaded = load(&ctx, &path).unwrap();
    assert_eq!(loaded.get("x").unwrap().to_vec().unwrap(), vec![1.5, -2.0]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_checksum_key_is_reserved() {
    let ctx = common::ctx();
    let path = temp_file("reserved");
    let w = Tensor::from_slice(&ctx, &[1.0], &[1]).unwrap();
    let err = save(&path, &[("w", &w)], &[(CHECKSUM_KEY, "00000000")]).unwrap_err().to_string();
    assert!(err.contains("reserved"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_malformed_checksum_is_an_error() {
    let ctx = common::ctx();
    let path = temp_file("malformed");
    let header = br#"{"__metadata__":{"kairo.crc32":"zz"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1.0f32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&ctx, &path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("not a hex CRC-32"), "{err}");
    let _ = std::fs::remove_file(&path);
}
