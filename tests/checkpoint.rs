//! Safetensors checkpoints: round trips, files written by hand the way
//! PyTorch writes them, strict loading, corrupt files, kill safety.

mod common;

use std::path::{Path, PathBuf};

use kairo::io::atomic::temporary_files;
use kairo::io::safetensors::{load, load_into, save, temporary_path};
use kairo::{Error, Tensor};

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kairo-checkpoint-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One tensor entry of a hand-written file: name, dtype, shape, raw bytes.
struct Raw<'a> {
    name: &'a str,
    dtype: &'a str,
    shape: &'a [usize],
    data: Vec<u8>,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A safetensors file assembled byte by byte: 8-byte little-endian header
/// length, JSON header (with `__metadata__` when given), raw data.
fn raw_file(entries: &[Raw<'_>], metadata: Option<&str>) -> Vec<u8> {
    let mut fields = Vec::new();
    if let Some(m) = metadata {
        fields.push(format!("\"__metadata__\":{m}"));
    }
    let mut offset = 0;
    for e in entries {
        let end = offset + e.data.len();
        fields.push(format!(
            "\"{}\":{{\"dtype\":\"{}\",\"shape\":{:?},\"data_offsets\":[{offset},{end}]}}",
            e.name, e.dtype, e.shape
        ));
        offset = end;
    }
    let header = format!("{{{}}}", fields.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    for e in entries {
        bytes.extend_from_slice(&e.data);
    }
    bytes
}

/// The Checkpoint variant's message, or a panic naming what came instead.
#[track_caller]
fn checkpoint_problem(result: kairo::Result<impl std::fmt::Debug>, path: &Path) -> String {
    match result {
        Err(e @ Error::Checkpoint { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "error does not name the file: {msg}");
            msg
        }
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[test]
fn round_trip_every_dtype_with_metadata() {
    let ctx = common::ctx();
    let dir = TempDir::new("round_trip");
    let path = dir.file("model.safetensors");
    let w = common::random(12, 1);
    let b = common::random(4, 2);
    let weight = Tensor::from_slice(&ctx, &w, &[3, 4]).unwrap();
    let bias = Tensor::from_slice(&ctx, &b, &[4]).unwrap();
    let scalar = Tensor::from_slice(&ctx, &[2.5], &[]).unwrap();
    let labels = Tensor::from_u32(&ctx, &[0, 7, u32::MAX, 3, 1, 2], &[2, 3]).unwrap();
    let step = Tensor::from_u32(&ctx, &[41], &[1]).unwrap();
    let signed = Tensor::from_i32(&ctx, &[-1, i32::MIN, i32::MAX, 0], &[2, 1, 2]).unwrap();
    let ignore = Tensor::from_i32(&ctx, &[-100, 5], &[2]).unwrap();
    let tensors = [
        ("rnn.weight_ih_l0", &weight),
        ("rnn.bias_ih_l0", &bias),
        ("scale", &scalar),
        ("labels", &labels),
        ("step", &step),
        ("signed", &signed),
        ("ignore", &ignore),
    ];
    save(&path, &tensors, &[("format", "pt"), ("epoch", "3")]).unwrap();

    let loaded = load(&ctx, &path).unwrap();
    assert_eq!(loaded.tensors.len(), tensors.len());
    assert_eq!(loaded.metadata.get("format").map(String::as_str), Some("pt"));
    assert_eq!(loaded.metadata.get("epoch").map(String::as_str), Some("3"));
    assert_eq!(loaded.metadata.len(), 2);
    for (name, original) in tensors {
        let got = loaded.get(name).unwrap_or_else(|| panic!("{name} missing after load"));
        assert_eq!(got.shape(), original.shape(), "{name}");
        assert_eq!(got.dtype(), original.dtype(), "{name}");
    }
    assert_eq!(loaded.get("rnn.weight_ih_l0").unwrap().to_vec().unwrap(), w);
    assert_eq!(loaded.get("rnn.bias_ih_l0").unwrap().to_vec().unwrap(), b);
    assert_eq!(loaded.get("scale").unwrap().to_vec().unwrap(), vec![2.5]);
    assert_eq!(loaded.get("labels").unwrap().to_vec_u32().unwrap(), vec![0, 7, u32::MAX, 3, 1, 2]);
    assert_eq!(loaded.get("step").unwrap().to_vec_u32().unwrap(), vec![41]);
    assert_eq!(loaded.get("signed").unwrap().to_vec_i32().unwrap(), vec![-1, i32::MIN, i32::MAX, 0]);
    assert_eq!(loaded.get("ignore").unwrap().to_vec_i32().unwrap(), vec![-100, 5]);
    assert!(loaded.get("absent").is_none());
    assert!(temporary_files(&path).is_empty(), "a temporary file was left behind");
}

#[test]
fn pytorch_style_file_written_by_hand_loads() {
    let ctx = common::ctx();
    let dir = TempDir::new("by_hand");
    let path = dir.file("torch.safetensors");
    let entries = [
        Raw { name: "weight_ih_l0", dtype: "F32", shape: &[2, 3], data: f32_bytes(&[1.0, -2.0, 3.5, 0.25, -0.5, 6.0]) },
        Raw { name: "0.weight", dtype: "F32", shape: &[3], data: f32_bytes(&[7.0, 8.0, 9.0]) },
        Raw { name: "layer.0.bias", dtype: "F32", shape: &[1, 2], data: f32_bytes(&[-1.5, 1e-3]) },
    ];
    let bytes = raw_file(&entries, Some("{\"format\":\"pt\"}"));
    // The first 8 bytes are the header length, little-endian.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 8 + header_len + (6 + 3 + 2) * 4);
    std::fs::write(&path, &bytes).unwrap();

    let loaded = load(&ctx, &path).unwrap();
    let names: Vec<&str> = loaded.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["weight_ih_l0", "0.weight", "layer.0.bias"], "tensors come in file order");
    assert_eq!(loaded.metadata.get("format").map(String::as_str), Some("pt"));
    let w = loaded.get("weight_ih_l0").unwrap();
    assert_eq!(w.shape(), &[2, 3]);
    assert_eq!(w.to_vec().unwrap(), vec![1.0, -2.0, 3.5, 0.25, -0.5, 6.0]);
    assert_eq!(loaded.get("0.weight").unwrap().to_vec().unwrap(), vec![7.0, 8.0, 9.0]);
    let b = loaded.get("layer.0.bias").unwrap();
    assert_eq!(b.shape(), &[1, 2]);
    assert_eq!(b.to_vec().unwrap(), vec![-1.5, 1e-3]);
}

#[test]
fn f64_tensors_load_as_f32() {
    let ctx = common::ctx();
    let dir = TempDir::new("f64");
    let path = dir.file("double.safetensors");
    let data: Vec<u8> = [0.5f64, -3.25, 1e10].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, raw_file(&[Raw { name: "running_var", dtype: "F64", shape: &[3], data }], None)).unwrap();
    let loaded = load(&ctx, &path).unwrap();
    let t = loaded.get("running_var").unwrap();
    assert_eq!(t.dtype(), kairo::DType::F32);
    assert_eq!(t.to_vec().unwrap(), vec![0.5, -3.25, 1e10]);
    assert!(loaded.metadata.is_empty());
}

#[test]
fn load_into_fills_f32_targets() {
    let ctx = common::ctx();
    let dir = TempDir::new("load_into_ok");
    let path = dir.file("ok.safetensors");
    let w = Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let b = Tensor::from_slice(&ctx, &[5.0, 6.0], &[2]).unwrap();
    save(&path, &[("weight", &w), ("bias", &b)], &[]).unwrap();
    let w2 = Tensor::zeros(&ctx, &[2, 2]).unwrap();
    let b2 = Tensor::zeros(&ctx, &[2]).unwrap();
    load_into(&path, &[("bias", &b2), ("weight", &w2)]).unwrap();
    assert_eq!(w2.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(b2.to_vec().unwrap(), vec![5.0, 6.0]);
}

/// Saves `file` to a fresh path, tries a strict load into `targets` and
/// returns the error message after checking no target changed.
#[track_caller]
fn strict_failure(test: &str, file: &[(&str, &Tensor)], targets: &[(&str, &Tensor)]) -> String {
    let dir = TempDir::new(test);
    let path = dir.file("strict.safetensors");
    save(&path, file, &[]).unwrap();
    let before: Vec<Vec<f32>> = targets.iter().map(|(_, t)| t.to_vec().unwrap()).collect();
    let msg = checkpoint_problem(load_into(&path, targets), &path);
    for ((name, t), old) in targets.iter().zip(before) {
        assert_eq!(t.to_vec().unwrap(), old, "target {name} changed although the load failed");
    }
    msg
}

#[test]
fn load_into_missing_name_is_an_error() {
    let ctx = common::ctx();
    let a = Tensor::from_slice(&ctx, &[1.0, 2.0], &[2]).unwrap();
    let ta = Tensor::zeros(&ctx, &[2]).unwrap();
    let tb = Tensor::full(&ctx, &[3, 1], 9.0).unwrap();
    let msg = strict_failure("missing", &[("a", &a)], &[("a", &ta), ("bias_hh_l0", &tb)]);
    assert!(msg.contains("missing") && msg.contains("`bias_hh_l0`") && msg.contains("[3, 1] F32"), "{msg}");
}

#[test]
fn load_into_unexpected_name_is_an_error() {
    let ctx = common::ctx();
    let a = Tensor::from_slice(&ctx, &[1.0, 2.0], &[2]).unwrap();
    let extra = Tensor::from_u32(&ctx, &[1, 2, 3], &[3]).unwrap();
    let ta = Tensor::zeros(&ctx, &[2]).unwrap();
    let msg = strict_failure("unexpected", &[("a", &a), ("num_batches_tracked", &extra)], &[("a", &ta)]);
    assert!(msg.contains("unexpected") && msg.contains("`num_batches_tracked`") && msg.contains("[3] U32"), "{msg}");
}

#[test]
fn load_into_wrong_shape_is_an_error() {
    let ctx = common::ctx();
    let a = Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
    let ok = Tensor::from_slice(&ctx, &[7.0], &[1]).unwrap();
    let ta = Tensor::zeros(&ctx, &[2, 3]).unwrap();
    let tok = Tensor::zeros(&ctx, &[1]).unwrap();
    let msg = strict_failure("shape", &[("w", &a), ("ok", &ok)], &[("w", &ta), ("ok", &tok)]);
    assert!(msg.contains("`w`") && msg.contains("[3, 2] F32") && msg.contains("[2, 3] F32"), "{msg}");
}

#[test]
fn load_into_wrong_dtype_is_an_error() {
    let ctx = common::ctx();
    let a = Tensor::from_i32(&ctx, &[1, 2], &[2]).unwrap();
    let ta = Tensor::zeros(&ctx, &[2]).unwrap();
    let msg = strict_failure("dtype", &[("w", &a)], &[("w", &ta)]);
    assert!(msg.contains("`w`") && msg.contains("[2] I32") && msg.contains("[2] F32"), "{msg}");
}

#[test]
fn load_into_fills_integer_targets() {
    let ctx = common::ctx();
    let dir = TempDir::new("int_target");
    let path = dir.file("int.safetensors");
    let a = Tensor::from_u32(&ctx, &[1, u32::MAX], &[2]).unwrap();
    let b = Tensor::from_i32(&ctx, &[-7, i32::MIN], &[2]).unwrap();
    save(&path, &[("idx", &a), ("neg", &b)], &[]).unwrap();
    let ta = Tensor::from_u32(&ctx, &[0, 0], &[2]).unwrap();
    let tb = Tensor::from_i32(&ctx, &[0, 0], &[2]).unwrap();
    load_into(&path, &[("idx", &ta), ("neg", &tb)]).unwrap();
    assert_eq!(ta.to_vec_u32().unwrap(), vec![1, u32::MAX]);
    assert_eq!(tb.to_vec_i32().unwrap(), vec![-7, i32::MIN]);
}

#[test]
fn truncated_files_are_errors() {
    let ctx = common::ctx();
    let dir = TempDir::new("truncated");
    let full = dir.file("full.safetensors");
    let w = Tensor::from_slice(&ctx, &common::random(16, 3), &[4, 4]).unwrap();
    save(&full, &[("w", &w)], &[("k", "v")]).unwrap();
    let bytes = std::fs::read(&full).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let cuts = [0, 3, 7, 8, 9, header_end / 2, header_end - 1, header_end, header_end + 5, bytes.len() - 1];
    let cut_path = dir.file("cut.safetensors");
    for cut in cuts {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let msg = checkpoint_problem(load(&ctx, &cut_path), &cut_path);
        assert!(msg.contains("not a valid safetensors file"), "cut at {cut}: {msg}");
        checkpoint_problem(load_into(&cut_path, &[("w", &w)]), &cut_path);
    }
    // Extra bytes after the data are corrupt too.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4]);
    std::fs::write(&cut_path, &longer).unwrap();
    checkpoint_problem(load(&ctx, &cut_path), &cut_path);
}

#[test]
fn corrupt_headers_are_errors() {
    let ctx = common::ctx();
    let dir = TempDir::new("corrupt");
    let path = dir.file("bad.safetensors");
    let good = raw_file(&[Raw { name: "w", dtype: "F32", shape: &[2], data: f32_bytes(&[1.0, 2.0]) }], None);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut bad_json = good.clone();
    bad_json[8] = b'[';
    cases.push(("bad JSON", bad_json));
    let mut huge_len = good.clone();
    huge_len[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("huge header length", huge_len));
    cases.push(("offset out of range", raw_file(&[Raw { name: "w", dtype: "F32", shape: &[4], data: f32_bytes(&[1.0, 2.0]) }], None)));
    let mut overlap = b"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".to_vec();
    let mut file = (overlap.len() as u64).to_le_bytes().to_vec();
    file.append(&mut overlap);
    file.extend_from_slice(&f32_bytes(&[1.0, 2.0]));
    cases.push(("overlapping offsets", file));
    cases.push(("not UTF-8", {
        let mut b = good.clone();
        b[9] = 0xff;
        b
    }));
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let result = load(&ctx, &path);
        assert!(matches!(result, Err(Error::Checkpoint { .. })), "{what}: {result:?}");
    }
}

#[test]
fn unsupported_dtypes_are_errors() {
    let ctx = common::ctx();
    let dir = TempDir::new("dtype");
    let path = dir.file("half.safetensors");
    for (dtype, width) in [("F16", 2), ("BF16", 2), ("I64", 8), ("U8", 1)] {
        let entry = Raw { name: "half.weight", dtype, shape: &[2], data: vec![0; 2 * width] };
        std::fs::write(&path, raw_file(&[entry], None)).unwrap();
        let msg = checkpoint_problem(load(&ctx, &path), &path);
        assert!(msg.contains("`half.weight`") && msg.contains(dtype), "{dtype}: {msg}");
        let target = Tensor::zeros(&ctx, &[2]).unwrap();
        let msg = checkpoint_problem(load_into(&path, &[("half.weight", &target)]), &path);
        assert!(msg.contains(dtype), "{dtype}: {msg}");
    }
}

#[test]
fn a_kill_during_save_leaves_the_old_checkpoint() {
    let ctx = common::ctx();
    let dir = TempDir::new("kill");
    let path = dir.file("ckpt.safetensors");
    let a = Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0], &[3]).unwrap();
    save(&path, &[("w", &a)], &[("name", "A")]).unwrap();

    // A kill in the middle of the next save leaves a partial temporary file.
    std::fs::write(temporary_path(&path), b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":{\"dty").unwrap();
    let loaded = load(&ctx, &path).unwrap();
    assert_eq!(loaded.metadata.get("name").map(String::as_str), Some("A"));
    assert_eq!(loaded.get("w").unwrap().to_vec().unwrap(), vec![1.0, 2.0, 3.0]);

    let b = Tensor::from_slice(&ctx, &[4.0, 5.0], &[2]).unwrap();
    save(&path, &[("w", &b)], &[("name", "B")]).unwrap();
    let loaded = load(&ctx, &path).unwrap();
    assert_eq!(loaded.metadata.get("name").map(String::as_str), Some("B"));
    assert_eq!(loaded.get("w").unwrap().to_vec().unwrap(), vec![4.0, 5.0]);
    assert!(!temporary_path(&path).exists() && temporary_files(&path).is_empty());
}

#[test]
fn saving_into_a_missing_directory_is_an_io_error() {
    let ctx = common::ctx();
    let dir = TempDir::new("missing_dir");
    let path = dir.file("no/such/dir/ckpt.safetensors");
    let a = Tensor::from_slice(&ctx, &[1.0], &[1]).unwrap();
    match save(&path, &[("w", &a)], &[]) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("no/such/dir"), "{e}"),
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert!(!path.exists());
}

#[test]
fn duplicate_names_are_an_error() {
    let ctx = common::ctx();
    let dir = TempDir::new("duplicate");
    let path = dir.file("dup.safetensors");
    let a = Tensor::from_slice(&ctx, &[1.0], &[1]).unwrap();
    let msg = checkpoint_problem(save(&path, &[("w", &a), ("w", &a)], &[]), &path);
    assert!(msg.contains("`w`"), "{msg}");
    assert!(!path.exists());
}

#[test]
fn a_missing_file_is_an_io_error() {
    let ctx = common::ctx();
    let dir = TempDir::new("missing_file");
    let path = dir.file("absent.safetensors");
    assert!(matches!(load(&ctx, &path), Err(Error::Io { .. })));
}
