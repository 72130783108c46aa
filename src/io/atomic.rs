//! Kill-safe file writes: every file the engine writes (checkpoints,
//! pictures, benchmark JSON) goes to `path.tmp`, is flushed to disk, and is
//! renamed over `path`, so a kill at any moment leaves the old file or the
//! new one, never a torn one.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

/// `path` with ".tmp" appended: the name a write uses before renaming.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` + ".tmp", fsyncs, renames over `path`, fsyncs the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    if let Err(e) = write_synced(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_directory(path);
    Ok(())
}

/// Encodes `img` as PNG in memory and writes it with [`write_atomic`].
pub fn write_png(path: &Path, img: &image::RgbImage) -> Result<()> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
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
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
