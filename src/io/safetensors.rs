//! Safetensors checkpoints with PyTorch parameter names.
//!
//! [`save`] reads tensors back from the GPU and writes them kill-safely
//! (temporary file, fsync, rename, fsync of the directory). [`load`] reads
//! every tensor of a file; [`load_into`] is a strict load into existing
//! tensors, like PyTorch's `load_state_dict(strict=True)`.
//!
//! Dtypes: F32, U32 and I32 map one to one; F64 is converted to f32 by
//! [`load`] only. Every other safetensors dtype is an error naming it.
//!
//! Integrity: [`save`] stores a CRC-32 of the tensor data under the
//! metadata key [`CHECKSUM_KEY`] (8 hex digits; the tensors' bytes in name
//! order). [`load`] and [`load_into`] verify it when present and refuse a
//! file whose data no longer matches, naming it; files without the key
//! (written by PyTorch or older kairo versions) load as before. CRC-32
//! finds what goes wrong with files by accident (flipped bits, torn or
//! mixed writes, truncation inside a tensor) at several GB/s, so loading
//! stays bound by the disk; it is no defence against deliberate tampering,
//! which a checkpoint format without signatures cannot offer anyway.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Metadata, TensorView};
use safetensors::{Dtype, SafeTensors, View};

pub use super::atomic::temporary_path;
use super::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::tensor::{DType, Tensor};

/// The metadata key holding the CRC-32 of the tensor data.
pub const CHECKSUM_KEY: &str = "kairo.crc32";

/// Every tensor and the string metadata of one checkpoint file.
#[derive(Debug)]
pub struct Checkpoint {
    /// Tensors in file order (increasing data offset). Files written by
    /// [`save`] hold their tensors sorted by name.
    pub tensors: Vec<(String, Tensor)>,
    /// The `__metadata__` strings of the header (empty when absent), less
    /// the checksum [`save`] adds.
    pub metadata: HashMap<String, String>,
}

impl Checkpoint {
    /// The tensor called `name`, if the file held one.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// A tensor read back to the host, in the form the safetensors crate writes.
struct HostTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &HostTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }

    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The path as text for error messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A format or fit problem with the checkpoint at `path`.
fn problem(path: &Path, problem: impl Into<String>) -> Error {
    Error::Checkpoint { path: shown(path), problems: vec![problem.into()] }
}

/// An IO error on `path`.
fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: shown(path), source }
}

/// The safetensors dtype a kairo dtype is stored as.
fn file_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::U32 => Dtype::U32,
        DType::I32 => Dtype::I32,
    }
}

/// The kairo dtype a safetensors dtype loads as exactly, if any.
fn kairo_dtype(dtype: Dtype) -> Option<DType> {
    match dtype {
        Dtype::F32 => Some(DType::F32),
        Dtype::U32 => Some(DType::U32),
        Dtype::I32 => Some(DType::I32),
        _ => None,
    }
}

/// The values as little-endian bytes.
/// Values decoded from little-endian bytes (length already validated).
fn from_le<T, const N: usize>(bytes: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            from(a)
        })
        .collect()
}

/// The tensors as the safetensors crate writes them, from raw bytes read
/// back (one readback for all of them).
fn host_tensors<'a>(tensors: &[(&'a str, &Tensor)], raw: Vec<Vec<u8>>) -> Vec<(&'a str, HostTensor)> {
    tensors
        .iter()
        .zip(raw)
        .map(|((n, t), data)| (*n, HostTensor { dtype: file_dtype(t.dtype()), shape: t.shape().to_vec(), data }))
        .collect()
}

/// Errors on the first name that appears twice.
fn check_unique<'a>(path: &Path, what: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(problem(path, format!("{what} `{name}` given twice")));
        }
    }
    Ok(())
}

/// Writes `tensors` (name, tensor) and string `metadata` to a safetensors
/// file at `path`, replacing it atomically: a kill at any moment leaves
/// either the old file or the new one. Duplicate names are an error.
pub fn save(path: &Path, tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<()> {
    check_names(path, tensors, metadata)?;
    let refs: Vec<&Tensor> = tensors.iter().map(|(_, t)| *t).collect();
    let host = host_tensors(tensors, Tensor::read_raw(&refs)?);
    write_atomic(path, &serialize(path, host, metadata)?)
}

/// The bytes [`save`] would write (a browser's download); `path` names
/// them in errors.
pub async fn to_bytes(path: &Path, tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    check_names(path, tensors, metadata)?;
    let refs: Vec<&Tensor> = tensors.iter().map(|(_, t)| *t).collect();
    let host = host_tensors(tensors, Tensor::read_raw_async(&refs).await?);
    serialize(path, host, metadata)
}

fn check_names(path: &Path, tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<()> {
    check_unique(path, "tensor name", tensors.iter().map(|(n, _)| *n))?;
    check_unique(path, "metadata key", metadata.iter().map(|(k, _)| *k))?;
    if metadata.iter().any(|(k, _)| *k == CHECKSUM_KEY) {
        return Err(problem(path, format!("metadata key `{CHECKSUM_KEY}` is reserved for the checksum kairo writes")));
    }
    Ok(())
}

/// The file: header with `metadata` and the checksum, then the data.
fn serialize(path: &Path, host: Vec<(&str, HostTensor)>, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut info: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut by_name: Vec<&(&str, HostTensor)> = host.iter().collect();
    by_name.sort_by_key(|(n, _)| *n);
    info.insert(CHECKSUM_KEY.to_string(), format!("{:08x}", checksum(by_name.iter().map(|(_, t)| t.data.as_slice()))));
    safetensors::serialize(host.iter().map(|(n, t)| (*n, t)), Some(info))
        .map_err(|e| problem(path, format!("could not serialise: {e}")))
}

/// CRC-32 of `parts` concatenated.
fn checksum<'a>(parts: impl Iterator<Item = &'a [u8]>) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

/// Checks the tensor data against the stored checksum, if the file has one.
fn verify(path: &Path, header: &Metadata, file: &SafeTensors<'_>) -> Result<()> {
    let Some(stored) = header.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) else { return Ok(()) };
    let want = u32::from_str_radix(stored, 16)
        .map_err(|_| problem(path, format!("metadata `{CHECKSUM_KEY}` is not a hex CRC-32: {stored:?}")))?;
    let mut names: Vec<String> = header.offset_keys();
    names.sort();
    let views = names.iter().map(|n| view(path, file, n)).collect::<Result<Vec<_>>>()?;
    let got = checksum(views.iter().map(|v| v.data()));
    if got != want {
        return Err(problem(
            path,
            format!("tensor data is corrupt: its CRC-32 is {got:08x}, the file's `{CHECKSUM_KEY}` says {want:08x}"),
        ));
    }
    Ok(())
}

/// The whole file's bytes.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Parses the header and checks every offset against the file length.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(Metadata, SafeTensors<'a>)> {
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| problem(path, format!("not a valid safetensors file: {e}")))?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| problem(path, format!("not a valid safetensors file: {e}")))?;
    Ok((metadata, file))
}

/// The view of `name`, which the parsed header says exists.
fn view<'a>(path: &Path, file: &SafeTensors<'a>, name: &str) -> Result<TensorView<'a>> {
    file.tensor(name).map_err(|e| problem(path, e.to_string()))
}

/// Uploads one tensor of the file; F64 is converted to f32.
fn upload(ctx: &Context, path: &Path, name: &str, v: &TensorView<'_>) -> Result<Tensor> {
    let (data, shape) = (v.data(), v.shape());
    match v.dtype() {
        Dtype::F32 => Tensor::from_slice(ctx, &from_le(data, f32::from_le_bytes), shape),
        Dtype::U32 => Tensor::from_u32(ctx, &from_le(data, u32::from_le_bytes), shape),
        Dtype::I32 => Tensor::from_i32(ctx, &from_le(data, i32::from_le_bytes), shape),
        Dtype::F64 => {
            let values: Vec<f32> = from_le(data, f64::from_le_bytes).into_iter().map(|x| x as f32).collect();
            Tensor::from_slice(ctx, &values, shape)
        }
        other => Err(problem(
            path,
            format!("tensor `{name}` has dtype {other:?}, which kairo does not load (supported: F32, U32, I32, F64 as f32)"),
        )),
    }
}

/// Reads every tensor and the metadata of the safetensors file at `path`
/// onto `ctx`. Tensors come in file order (increasing data offset).
pub fn load(ctx: &Context, path: &Path) -> Result<Checkpoint> {
    load_from(ctx, path, &read_file(path)?)
}

/// [`load`] from a file's bytes already in memory (a browser's file
/// picker); `path` names them in errors.
pub fn load_from(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
    let (header, file) = parse(path, bytes)?;
    verify(path, &header, &file)?;
    let mut tensors = Vec::with_capacity(file.len());
    for name in header.offset_keys() {
        let t = upload(ctx, path, &name, &view(path, &file, &name)?)?;
        tensors.push((name, t));
    }
    let mut metadata = header.metadata().clone().unwrap_or_default();
    metadata.remove(CHECKSUM_KEY);
    Ok(Checkpoint { tensors, metadata })
}

/// `[2, 3] F32` for messages.
fn describe(shape: &[usize], dtype: impl std::fmt::Debug) -> String {
    format!("{shape:?} {dtype:?}")
}

/// Every way `targets` and the file disagree, one line each.
fn mismatches(file: &SafeTensors<'_>, header: &Metadata, targets: &[(&str, &Tensor)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, target) in targets {
        let want = describe(target.shape(), target.dtype());
        match file.tensor(name) {
            Err(_) => found.push(format!("missing tensor `{name}`: target is {want}, the file has no such name")),
            Ok(v) => {
                let same = v.shape() == target.shape() && kairo_dtype(v.dtype()) == Some(target.dtype());
                if !same {
                    let got = describe(v.shape(), v.dtype());
                    found.push(format!("tensor `{name}`: file has {got}, target is {want}"));
                }
            }
        }
    }
    let wanted: HashSet<&str> = targets.iter().map(|(n, _)| *n).collect();
    for name in header.offset_keys() {
        if !wanted.contains(name.as_str()) {
            let got = file.tensor(&name).map(|v| describe(v.shape(), v.dtype())).unwrap_or_default();
            found.push(format!("unexpected tensor `{name}` ({got}) in the file: no target has that name"));
        }
    }
    found
}

/// Strict load into existing tensors, like PyTorch's
/// `load_state_dict(strict=True)`: every target must be in the file with
/// the same shape and dtype, and the file must hold nothing else. All
/// problems are checked (and reported together) before any target is
/// written, so on error no target changes.
pub fn load_into(path: &Path, targets: &[(&str, &Tensor)]) -> Result<()> {
    check_unique(path, "target name", targets.iter().map(|(n, _)| *n))?;
    let bytes = read_file(path)?;
    let (header, file) = parse(path, &bytes)?;
    verify(path, &header, &file)?;
    let found = mismatches(&file, &header, targets);
    if !found.is_empty() {
        return Err(problem(path, format!("does not match the targets: {}", found.join("; "))));
    }
    for (name, target) in targets {
        // Safetensors data is little-endian, as are the GPU buffers.
        target.write_bytes(view(path, &file, name)?.data())?;
    }
    Ok(())
}
