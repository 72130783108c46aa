//! The one strict parameter loader every checkpoint reader uses, like
//! PyTorch's `load_state_dict(strict=True)`: the file's tensors under a
//! prefix and the targets must match one to one in name, shape and dtype
//! (the file's own dtype: an F64 tensor does not fill an F32 target).
//! Every problem — missing, unexpected, wrong shape, wrong dtype, a name
//! given twice — is listed together in one [`Error::Checkpoint`], and
//! nothing is written unless there are none.

use std::collections::HashSet;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Which of a file's tensors a load is about: those whose name starts
/// with `prefix`, except those that continue with one of `except`
/// (for instance the `optim.` state beside a model's parameters).
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    pub prefix: &'a str,
    pub except: &'a [&'a str],
}

impl<'a> Scope<'a> {
    /// Every tensor of the file.
    pub const ALL: Scope<'static> = Scope { prefix: "", except: &[] };

    /// The tensors under `prefix`.
    pub fn prefix(prefix: &'a str) -> Scope<'a> {
        Scope { prefix, except: &[] }
    }

    /// The part of `name` after the prefix, when `name` is in scope.
    fn strip<'n>(&self, name: &'n str) -> Option<&'n str> {
        let rest = name.strip_prefix(self.prefix)?;
        (!self.except.iter().any(|e| rest.starts_with(e))).then_some(rest)
    }
}

fn file_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::U32 => Dtype::U32,
        DType::I32 => Dtype::I32,
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })
}

fn parse<'b>(path: &Path, bytes: &'b [u8]) -> Result<SafeTensors<'b>> {
    SafeTensors::deserialize(bytes).map_err(|e| Error::checkpoint(path, format!("not a valid safetensors file: {e}")))
}

/// Every way the file and `targets` (names relative to the scope's prefix) disagree, one line each.
fn problems(file: &SafeTensors<'_>, scope: Scope<'_>, targets: &[(&str, &Tensor)]) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for (name, target) in targets {
        let full = format!("{}{name}", scope.prefix);
        if !seen.insert(*name) {
            found.push(format!("target `{full}` given twice"));
            continue;
        }
        let want = format!("{:?} {:?}", target.shape(), target.dtype());
        match file.tensor(&full) {
            Err(_) => found.push(format!("missing tensor `{full}`: target is {want}, the file has no such name")),
            Ok(v) if v.shape() != target.shape() || v.dtype() != file_dtype(target.dtype()) => {
                found.push(format!("tensor `{full}`: file has {:?} {:?}, target is {want}", v.shape(), v.dtype()))
            }
            Ok(_) => {}
        }
    }
    let mut names = file.names();
    names.sort();
    for full in names {
        if scope.strip(full).is_some_and(|rest| !seen.contains(rest)) {
            let got = file.tensor(full).map(|v| format!("{:?} {:?}", v.shape(), v.dtype())).unwrap_or_default();
            found.push(format!("unexpected tensor `{full}` ({got}) in the file: no target has that name"));
        }
    }
    found
}

/// Checks what [`load_parameters`] would load, writing nothing.
pub fn check_parameters(path: &Path, scope: Scope<'_>, targets: &[(&str, &Tensor)]) -> Result<()> {
    let bytes = read(path)?;
    let file = parse(path, &bytes)?;
    let found = problems(&file, scope, targets);
    if found.is_empty() {
        Ok(())
    } else {
        Err(Error::Checkpoint { path: path.display().to_string(), problems: found })
    }
}

/// Copies the file's tensors in `scope` into `targets` (names relative to
/// the scope's prefix), strictly (see the module doc): on any problem
/// no target changes.
pub fn load_parameters(path: &Path, scope: Scope<'_>, targets: &[(&str, &Tensor)]) -> Result<()> {
    load_parameters_from(path, &read(path)?, scope, targets)
}

/// [`load_parameters`] from a file's bytes already in memory (a browser's
/// file picker); `path` names them in errors.
pub fn load_parameters_from(path: &Path, bytes: &[u8], scope: Scope<'_>, targets: &[(&str, &Tensor)]) -> Result<()> {
    let file = parse(path, bytes)?;
    let found = problems(&file, scope, targets);
    if !found.is_empty() {
        return Err(Error::Checkpoint { path: path.display().to_string(), problems: found });
    }
    for (name, target) in targets {
        let view = file.tensor(&format!("{}{name}", scope.prefix)).expect("checked above");
        // Safetensors data is little-endian, as are the GPU buffers.
        target.write_bytes(view.data())?;
    }
    Ok(())
}
