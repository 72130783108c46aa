//! An image folder (PNG/JPEG, searched recursively) as training images:
//! each file is centre-cropped to a square on its shorter side, resized to
//! `size`×`size`, converted to 1 or 3 channels and scaled to [-1, 1],
//! laid out (C, H, W) like [`crate::data::shapes`].
//!
//! Only the list of paths is held; images are decoded when a batch asks for
//! them. A folder whose decoded images fit in [`CACHE_BYTES`] keeps them
//! after the first decode, so small sets are not decoded every epoch, while
//! a folder of any size still streams. A file that cannot be decoded is
//! reported once (`log::warn`), counted, and skipped; an empty folder, or
//! one in which no image can be read, is an error.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rand::Rng;

use crate::error::{Error, Result};

/// Decoded images are kept in memory when all of them fit in this many bytes.
pub const CACHE_BYTES: usize = 512 << 20;

/// File name endings taken as images (case-insensitive).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// An image folder read on demand.
pub struct ImageFolder {
    root: PathBuf,
    paths: Vec<PathBuf>,
    size: usize,
    channels: usize,
    /// Per path: decoded pixels (when cached), or known unreadable.
    slots: Vec<Slot>,
    cache: bool,
    unreadable: usize,
}

#[derive(Clone)]
enum Slot {
    Unknown,
    Bad,
    Cached(Vec<f32>),
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Every image file under `dir`, sorted, so an index means the same file
/// on every run.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io_error(&d, e))? {
            let entry = entry.map_err(|e| io_error(&d, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io_error(&path, e))?;
            if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Decodes `path`, crops the centre square, resizes to `size` and returns
/// (C, H, W) values in [-1, 1].
pub fn load_image(path: &Path, size: usize, channels: usize) -> Result<Vec<f32>> {
    let bad = |m: String| Error::data(path, m);
    let img = image::ImageReader::open(path)
        .map_err(|e| io_error(path, e))?
        .with_guessed_format()
        .map_err(|e| io_error(path, e))?
        .decode()
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return Err(bad("empty image".into()));
    }
    let side = w.min(h);
    let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let s = size as u32;
    let resized = if side == s {
        square
    } else {
        square.resize_exact(s, s, FilterType::Triangle)
    };
    let rgb = resized.to_rgb8();
    let n = size * size;
    let mut out = vec![0f32; channels * n];
    for (i, p) in rgb.pixels().enumerate() {
        let [r, g, b] = p.0.map(|v| v as f32 / 255.0);
        if channels == 1 {
            out[i] = (0.299 * r + 0.587 * g + 0.114 * b) * 2.0 - 1.0;
        } else {
            out[i] = r * 2.0 - 1.0;
            out[n + i] = g * 2.0 - 1.0;
            out[2 * n + i] = b * 2.0 - 1.0;
        }
    }
    Ok(out)
}

impl ImageFolder {
    /// Lists the images under `dir` (recursively) and decodes files until
    /// one succeeds, so a folder without a single readable image fails here.
    pub fn open(dir: &Path, size: usize, channels: usize) -> Result<ImageFolder> {
        if !(8..=1024).contains(&size) {
            return Err(Error::InvalidArgument(format!(
                "image folder: size must be 8..=1024, got {size}"
            )));
        }
        if channels != 1 && channels != 3 {
            return Err(Error::InvalidArgument(format!(
                "image folder: channels must be 1 or 3, got {channels}"
            )));
        }
        let paths = list_images(dir)?;
        if paths.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: no image files (png, jpg, jpeg) in this folder or below it",
                dir.display()
            )));
        }
        let cache = paths.len().saturating_mul(channels * size * size * 4) <= CACHE_BYTES;
        let slots = vec![Slot::Unknown; paths.len()];
        let mut folder = ImageFolder {
            root: dir.to_path_buf(),
            paths,
            size,
            channels,
            slots,
            cache,
            unreadable: 0,
        };
        let mut found = false;
        for i in 0..folder.paths.len() {
            if folder.get(i).is_some() {
                found = true;
                break;
            }
        }
        if !found {
            return Err(Error::InvalidArgument(format!(
                "{}: none of its {} image files could be read",
                dir.display(),
                folder.paths.len()
            )));
        }
        Ok(folder)
    }

    /// Image files found (readable or not).
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no image file was found (never true for an opened folder).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Files found unreadable so far (each counted once).
    pub fn unreadable(&self) -> usize {
        self.unreadable
    }

    /// Whether decoded images are kept in memory.
    pub fn is_cached(&self) -> bool {
        self.cache
    }

    /// Image side length.
    pub fn size(&self) -> usize {
        self.size
    }

    /// 1 or 3.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Image `i`, or None when its file cannot be read (warned and
    /// counted the first time).
    pub fn get(&mut self, i: usize) -> Option<Vec<f32>> {
        match &self.slots[i] {
            Slot::Bad => return None,
            Slot::Cached(v) => return Some(v.clone()),
            Slot::Unknown => {}
        }
        match load_image(&self.paths[i], self.size, self.channels) {
            Ok(v) => {
                if self.cache {
                    self.slots[i] = Slot::Cached(v.clone());
                }
                Some(v)
            }
            Err(e) => {
                log::warn!("skipping unreadable image: {e}");
                self.unreadable += 1;
                self.slots[i] = Slot::Bad;
                None
            }
        }
    }

    /// `n` images drawn uniformly at random (readable ones only), as one
    /// (n, C, H, W) block.
    pub fn random_batch(&mut self, n: usize, rng: &mut impl Rng) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(n * self.channels * self.size * self.size);
        let mut got = 0;
        // Every file is tried at most a few times over before giving up, so
        // a folder that turned unreadable (all files deleted) is an error,
        // not a hang.
        let mut tries = 0usize;
        let max_tries = n * 4 + self.paths.len() * 4;
        while got < n {
            if tries >= max_tries {
                return Err(Error::InvalidArgument(format!(
                    "{}: too few readable images ({} unreadable of {})",
                    self.root.display(),
                    self.unreadable,
                    self.paths.len()
                )));
            }
            tries += 1;
            let i = rng.random_range(0..self.paths.len());
            if let Some(img) = self.get(i) {
                out.extend_from_slice(&img);
                got += 1;
            }
        }
        Ok(out)
    }
}
