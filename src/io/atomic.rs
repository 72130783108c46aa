//! Kill-safe file writes: every file the engine writes (checkpoints,
//! pictures, benchmark JSON) goes to a temporary file next to `path`, is
//! flushed to disk, and is renamed over `path`, so a kill at any moment
//! leaves the old file or the new one, never a torn one.
//!
//! Each write uses its own temporary name, `path.<pid>.<n>.tmp` (process id
//! and a per-process counter), so concurrent writes of one target never
//! rename each other's file away. After a successful write, temporaries of
//! the same target left by runs that died mid-write are removed: those of a
//! process that no longer exists, those of this process that no write is
//! using any more (a dead run whose pid was reused), and the bare
//! `path.tmp` older versions wrote.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

/// Counter that makes each write's temporary name unique within the process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Temporaries this process is writing right now; cleanup leaves them alone.
static IN_FLIGHT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn in_flight<R>(f: impl FnOnce(&mut HashSet<PathBuf>) -> R) -> R {
    let mut guard = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(HashSet::new))
}

/// `path` with `suffix` appended to its last component.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` with ".tmp" appended: the single temporary name older versions
/// used. Writes no longer use it, but a leftover one is removed by the next
/// successful write of `path`.
pub fn temporary_path(path: &Path) -> PathBuf {
    with_suffix(path, ".tmp")
}

/// A fresh temporary name for one write of `path`: `path.<pid>.<n>.tmp`.
pub fn unique_temporary_path(path: &Path) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    with_suffix(path, &format!(".{}.{n}.tmp", std::process::id()))
}

/// Every temporary file of `path` present on disk (any writer, live or dead).
pub fn temporary_files(path: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = temporaries_in_dir(path).into_iter().map(|(p, _)| p).collect();
    found.sort();
    found
}

/// The directory holding `path` ("." for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Temporaries of `path` in its directory, each with the pid that wrote it
/// (`None` for the legacy `path.tmp`).
fn temporaries_in_dir(path: &Path) -> Vec<(PathBuf, Option<u32>)> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(parent_dir(path)) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(name)) else { continue };
        if rest == ".tmp" {
            found.push((entry.path(), None));
        } else if let Some(pid) = parse_unique_suffix(rest) {
            found.push((entry.path(), Some(pid)));
        }
    }
    found
}

/// The pid in a `.<pid>.<n>.tmp` suffix.
fn parse_unique_suffix(rest: &str) -> Option<u32> {
    let middle = rest.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (pid, n) = middle.split_once('.')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` exists. Where that cannot be told, it is assumed
/// alive, so a live writer's temporary is never removed.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes temporaries of `path` that no live write owns.
fn remove_stale_temporaries(path: &Path) {
    let me = std::process::id();
    for (tmp, pid) in temporaries_in_dir(path) {
        let stale = match pid {
            None => true,
            Some(p) if p == me => !in_flight(|s| s.contains(&tmp)),
            Some(p) => !process_alive(p),
        };
        if stale {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Writes `bytes` to a fresh temporary next to `path`, fsyncs, renames over
/// `path`, fsyncs the directory, then removes stale temporaries of `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = unique_temporary_path(path);
    in_flight(|s| s.insert(tmp.clone()));
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io_error(path, e)));
    in_flight(|s| s.remove(&tmp));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_directory(path);
    remove_stale_temporaries(path);
    Ok(())
}

/// The image format a file name asks for: PNG for `.png`, JPEG for
/// `.jpg` / `.jpeg` (any case); any other name is an error naming it.
pub fn image_format(path: &Path) -> Result<image::ImageFormat> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(image::ImageFormat::Png),
        Some("jpg" | "jpeg") => Ok(image::ImageFormat::Jpeg),
        _ => Err(crate::Error::InvalidArgument(format!(
            "{}: images are written as .png or .jpg/.jpeg; give one of those extensions",
            path.display()
        ))),
    }
}

/// Encodes `img` in memory in the format its name asks for (see
/// [`image_format`]: PNG or JPEG) and writes it with [`write_atomic`].
pub fn write_png(path: &Path, img: &image::RgbImage) -> Result<()> {
    let format = image_format(path)?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(|e| io_error(path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, bytes.get_ref())
}

/// Creates `path`, writes `bytes` and flushes them to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| io_error(path, e))?;
    file.write_all(bytes).map_err(|e| io_error(path, e))?;
    file.flush().map_err(|e| io_error(path, e))?;
    file.sync_all().map_err(|e| io_error(path, e))
}

/// Best-effort fsync of the directory holding `path`, so the rename itself
/// is durable. Some platforms and filesystems refuse it; the rename has
/// already happened by then, so a refusal is not reported.
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    {
        if let Ok(d) = File::open(parent_dir(path)) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
