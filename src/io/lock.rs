//! One writer per output: an advisory lock on an output folder or a
//! checkpoint path, held for a run's lifetime.
//!
//! The lock is an exclusive `flock` (Unix) / `LockFileEx` (Windows) on a
//! small lock file: `<dir>/.kairo.lock` for an existing directory,
//! `<path>.lock` beside anything else (a checkpoint that may not exist
//! yet). The holder writes its process id into the file, so a second run
//! is told who holds it. The operating system releases the lock when the
//! holder exits or is killed, so a dead run never blocks the next one; the
//! lock file itself stays (removing it would let two runs lock different
//! files under one name).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[cfg(not(target_arch = "wasm32"))]
use fs4::{FileExt, TryLockError};

use crate::error::{Error, Result};

/// Name of the lock file inside a locked directory.
pub const DIR_LOCK_NAME: &str = ".kairo.lock";

/// An exclusive hold on an output path; released on drop (or process exit).
#[derive(Debug)]
pub struct OutputLock {
    file: File,
    target: PathBuf,
    lock_file: PathBuf,
}

/// The lock file guarding `path`.
pub fn lock_file_for(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(DIR_LOCK_NAME)
    } else {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

impl OutputLock {
    /// Takes the lock on `path` (an existing output directory, or a file
    /// path such as a checkpoint) without waiting. If another run (or
    /// another lock in this process) holds it, the error reads "<path> is
    /// in use by another kairo run (pid N)". A file path's directory must
    /// exist. An output folder that may not exist yet is locked with
    /// [`OutputLock::acquire_dir`]: locking it here before it exists would
    /// take `<path>.lock`, not the lock inside it that later runs take.
    pub fn acquire(path: &Path) -> Result<OutputLock> {
        let lock_file = lock_file_for(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(|e| io_error(&lock_file, e))?;
        if !try_lock(&file).map_err(|e| io_error(&lock_file, e))? {
            return Err(Error::InUse { path: path.display().to_string(), holder: holder(&mut file) });
        }
        write_pid(&mut file).map_err(|e| io_error(&lock_file, e))?;
        Ok(OutputLock { file, target: path.to_path_buf(), lock_file })
    }

    /// Creates the output directory `dir` (and its parents) if needed and
    /// takes the lock inside it, as [`OutputLock::acquire`] does.
    pub fn acquire_dir(dir: &Path) -> Result<OutputLock> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        Self::acquire(dir)
    }

    /// The path this lock guards, as given to [`OutputLock::acquire`].
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The lock file that carries the lock.
    pub fn lock_file(&self) -> &Path {
        &self.lock_file
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Clear the pid so a reader never names a run that has finished;
        // closing the file releases the lock.
        let _ = self.file.set_len(0);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = FileExt::unlock(&self.file);
    }
}

/// Takes the exclusive lock without waiting: false when another holds it.
/// Called through fs4's trait: std's inherent `File::try_lock` is newer
/// than the crate's minimum Rust version.
#[cfg(not(target_arch = "wasm32"))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match FileExt::try_lock(file) {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// A browser tab has no file system to share (opening the lock file
/// already fails there), so there is nothing to lock against.
#[cfg(target_arch = "wasm32")]
fn try_lock(_: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Replaces the lock file's contents with this process's id.
fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

/// "pid N" from the holder's lock file, or "pid unknown" if it has not
/// written it yet.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match text.trim().parse::<u32>() {
        Ok(pid) => format!("pid {pid}"),
        Err(_) => "pid unknown".to_string(),
    }
}
