//! Checks of the command line made before any work starts: options that
//! do not apply to the chosen task, sizes of zero, and output paths (their
//! folder is created if missing and must be writable; images must be
//! named .png or .jpg).

use std::path::Path;

use clap::parser::ValueSource;
use clap::ArgMatches;
use kairo::jobs::limits::at_least;
use kairo::{Error, Result};

/// Whether the user gave `id` on the command line (not a default).
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(m.try_get_raw(id), Ok(Some(_))) && m.value_source(id) == Some(ValueSource::CommandLine)
}

/// The `train seq` options of each task only.
const TEXT_ONLY: &[&str] = &[
    "data", "layers", "embed", "seq_len", "dropout", "clip", "sample_every", "sample_len", "temperature", "prompt", "checkpoint",
    "checkpoint_every", "resume",
];
const COPY_ONLY: &[&str] = &["symbols", "alphabet"];
const ADDING_ONLY: &[&str] = &["plot"];
const NOT_TEXT: &[&str] = &["length", "eval_every"];

fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// Rejects `train seq` options that do not apply to `task` ("adding", "copy" or "text").
pub fn seq_options(task: &str, m: &ArgMatches) -> Result<()> {
    let foreign: Vec<(&str, &str)> = match task {
        "adding" => TEXT_ONLY.iter().map(|o| (*o, "text")).chain(COPY_ONLY.iter().map(|o| (*o, "copy"))).collect(),
        "copy" => TEXT_ONLY.iter().map(|o| (*o, "text")).chain(ADDING_ONLY.iter().map(|o| (*o, "adding"))).collect(),
        _ => COPY_ONLY
            .iter()
            .map(|o| (*o, "copy"))
            .chain(ADDING_ONLY.iter().map(|o| (*o, "adding")))
            .chain(NOT_TEXT.iter().map(|o| (*o, "adding and copy")))
            .collect(),
    };
    for (id, owner) in foreign {
        if given(m, id) {
            return Err(Error::InvalidArgument(format!(
                "{} does not apply to --task {task} (it is an option of --task {owner})",
                flag(id)
            )));
        }
    }
    Ok(())
}

/// Every named size must be at least 1.
pub fn sizes(values: &[(&str, usize)]) -> Result<()> {
    values.iter().try_for_each(|(option, v)| at_least(option, *v, 1))
}

fn writable_dir(option: &str, dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| Error::InvalidArgument(format!("{option} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!("{option} {}: not a folder", dir.display())));
    }
    let probe = dir.join(format!(".kairo-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| Error::InvalidArgument(format!("{option} {}: folder not writable: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// An output file: its folder exists (created if missing) and is writable.
pub fn output_file(option: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::InvalidArgument(format!("{option} {}: is a folder, not a file", path.display())));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    writable_dir(option, parent)
}

/// An output folder: exists (created if missing) and is writable.
pub fn output_dir(option: &str, dir: &Path) -> Result<()> {
    writable_dir(option, dir)
}

/// An image file to write: named .png or .jpg/.jpeg, in a writable folder.
pub fn image_file(option: &str, path: &Path) -> Result<()> {
    kairo::io::atomic::image_format(path).map_err(|e| Error::InvalidArgument(format!("{option}: {e}")))?;
    output_file(option, path)
}
