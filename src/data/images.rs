//! Training images from a folder: image files (PNG/JPEG, searched
//! recursively) or IDX files (MNIST / Fashion-MNIST, see [`crate::data::idx`]).
//! Each image is centre-cropped to a square on its shorter side, resized to
//! `size`×`size`, composited onto a background where it has an alpha
//! channel ([`Background`]), converted to 1 or 3 channels and scaled to
//! [-1, 1], laid out (C, H, W) like [`crate::data::shapes`].
//!
//! Labels: IDX images carry theirs (the labels file beside the images); in
//! a folder of image files whose every image lies in a subfolder, the
//! first-level subfolder is the class (torchvision's `ImageFolder`
//! convention: `root/cat/x.png` is class "cat"; classes sorted by name).
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

use super::idx::{self, IdxImages};
use crate::error::{Error, Result};

/// Decoded images are kept in memory when all of them fit in this many bytes.
pub const CACHE_BYTES: usize = 512 << 20;

/// File name endings taken as images (case-insensitive).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// What transparent pixels are composited onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Background(pub [u8; 3]);

impl Default for Background {
    /// Black: a transparent pixel is 0 in every channel (what dropping
    /// alpha from premultiplied or cleared pixels gives).
    fn default() -> Self {
        Background([0, 0, 0])
    }
}

impl std::str::FromStr for Background {
    type Err = Error;
    /// `white`, `black` or `R,G,B` (0 to 255 each).
    fn from_str(s: &str) -> Result<Background> {
        let bad = || Error::InvalidArgument(format!("--background {s:?}: expected white, black or R,G,B with 0..=255 each"));
        match s.trim().to_ascii_lowercase().as_str() {
            "white" => Ok(Background([255; 3])),
            "black" => Ok(Background([0; 3])),
            rgb => {
                let v: Vec<u8> = rgb.split(',').map(|c| c.trim().parse::<u8>()).collect::<std::result::Result<_, _>>().map_err(|_| bad())?;
                <[u8; 3]>::try_from(v).map(Background).map_err(|_| bad())
            }
        }
    }
}

/// An image folder read on demand.
pub struct ImageFolder {
    root: PathBuf,
    paths: Vec<PathBuf>,
    /// IDX images instead of files (then `paths` is empty); boxed, so the
    /// folder stays small beside the other data sources.
    idx: Option<Box<IdxImages>>,
    /// Per image its class (empty: unlabelled), and the class names.
    labels: Vec<u32>,
    classes: Vec<String>,
    size: usize,
    channels: usize,
    background: Background,
    /// Per image: decoded pixels (when cached), or known unreadable.
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
/// (C, H, W) values in [-1, 1] (transparent pixels onto black).
pub fn load_image(path: &Path, size: usize, channels: usize) -> Result<Vec<f32>> {
    load_image_on(path, size, channels, Background::default())
}

/// [`load_image`] with transparent pixels composited onto `background`
/// (before resizing: colour under full transparency never shows).
pub fn load_image_on(path: &Path, size: usize, channels: usize, background: Background) -> Result<Vec<f32>> {
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
    let img = match img.color().has_alpha() {
        true => image::DynamicImage::ImageRgb8(composite(&img.to_rgba8(), background)),
        false => img,
    };
    let side = w.min(h);
    let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let s = size as u32;
    let resized = if side == s { square } else { square.resize_exact(s, s, FilterType::Triangle) };
    Ok(to_chw(&resized.to_rgb8(), channels))
}

/// Each pixel over `background`: a·colour + (1 − a)·background.
fn composite(rgba: &image::RgbaImage, background: Background) -> image::RgbImage {
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = p[3] as u32;
        image::Rgb([0, 1, 2].map(|k| ((p[k] as u32 * a + background.0[k] as u32 * (255 - a) + 127) / 255) as u8))
    })
}

/// (C, H, W) values in [-1, 1] of an RGB image; grey is the luma.
fn to_chw(rgb: &image::RgbImage, channels: usize) -> Vec<f32> {
    let n = (rgb.width() * rgb.height()) as usize;
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
    out
}

/// An IDX image (grey bytes, `rows`×`cols`) as [`load_image`] gives a
/// file: centre square, resized to `size`, 1 or 3 (equal) channels.
fn idx_image(pixels: Vec<u8>, rows: usize, cols: usize, size: usize, channels: usize) -> Vec<f32> {
    let grey = image::GrayImage::from_raw(cols as u32, rows as u32, pixels).expect("rows × cols bytes");
    let img = image::DynamicImage::ImageLuma8(grey);
    let side = rows.min(cols) as u32;
    let square = img.crop_imm((cols as u32 - side) / 2, (rows as u32 - side) / 2, side, side);
    let s = size as u32;
    let resized = if side == s { square } else { square.resize_exact(s, s, FilterType::Triangle) };
    let luma = resized.to_luma8();
    let one: Vec<f32> = luma.pixels().map(|p| p.0[0] as f32 / 255.0 * 2.0 - 1.0).collect();
    one.repeat(channels)
}

/// Per file its class and the sorted class names, when every file lies in
/// a first-level subfolder of `root`; otherwise no labels.
fn folder_labels(root: &Path, paths: &[PathBuf]) -> (Vec<u32>, Vec<String>) {
    let class_of = |p: &PathBuf| {
        let rel = p.strip_prefix(root).ok()?;
        let mut parts = rel.components();
        let first = parts.next()?;
        parts.next().map(|_| first.as_os_str().to_string_lossy().to_string())
    };
    let Some(names) = paths.iter().map(class_of).collect::<Option<Vec<String>>>() else { return (Vec::new(), Vec::new()) };
    let mut classes = names.clone();
    classes.sort();
    classes.dedup();
    let labels = names.iter().map(|n| classes.binary_search(n).expect("listed") as u32).collect();
    (labels, classes)
}

impl ImageFolder {
    /// [`ImageFolder::open_on`] with transparent pixels onto black.
    pub fn open(dir: &Path, size: usize, channels: usize) -> Result<ImageFolder> {
        ImageFolder::open_on(dir, size, channels, Background::default())
    }

    /// Opens `dir`: its IDX images when it holds `train-images-idx3-ubyte`
    /// (or `t10k-…`; plain or .gz, labels beside them), otherwise the image
    /// files under it (recursively), decoding files until one succeeds, so a
    /// folder without a single readable image fails here.
    pub fn open_on(dir: &Path, size: usize, channels: usize, background: Background) -> Result<ImageFolder> {
        if !(8..=1024).contains(&size) {
            return Err(Error::InvalidArgument(format!("image folder: size must be 8..=1024, got {size}")));
        }
        if channels != 1 && channels != 3 {
            return Err(Error::InvalidArgument(format!("image folder: channels must be 1 or 3, got {channels}")));
        }
        let mut folder = ImageFolder {
            root: dir.to_path_buf(),
            paths: Vec::new(),
            idx: None,
            labels: Vec::new(),
            classes: Vec::new(),
            size,
            channels,
            background,
            slots: Vec::new(),
            cache: false,
            unreadable: 0,
        };
        let split = match idx::find_split(dir, "train")? {
            Some(found) => Some(found),
            None => idx::find_split(dir, "t10k")?,
        };
        if let Some((images, labels)) = split {
            let set = IdxImages::open(&images, labels.as_deref())?;
            if set.is_empty() {
                return Err(Error::data(&images, "holds no images"));
            }
            if let Some(l) = &set.labels {
                folder.labels = l.iter().map(|&c| c as u32).collect();
                let n = set.histogram().len();
                let fashion = dir.to_string_lossy().to_ascii_lowercase().contains("fashion") && n <= 10;
                folder.classes = (0..n).map(|c| if fashion { idx::FASHION_MNIST_CLASSES[c].to_string() } else { c.to_string() }).collect();
            }
            folder.slots = vec![Slot::Unknown; set.len()];
            folder.idx = Some(Box::new(set));
            return Ok(folder);
        }
        folder.paths = list_images(dir)?;
        if folder.paths.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: no image files (png, jpg, jpeg) or IDX files (train-images-idx3-ubyte[.gz]) in this folder or below it",
                dir.display()
            )));
        }
        (folder.labels, folder.classes) = folder_labels(dir, &folder.paths);
        folder.cache = folder.paths.len().saturating_mul(channels * size * size * 4) <= CACHE_BYTES;
        folder.slots = vec![Slot::Unknown; folder.paths.len()];
        if !(0..folder.paths.len()).any(|i| folder.get(i).is_some()) {
            return Err(Error::InvalidArgument(format!("{}: none of its {} image files could be read", dir.display(), folder.paths.len())));
        }
        Ok(folder)
    }

    /// Images found (files, readable or not, or IDX images).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no image was found (never true for an opened folder).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether the images come from IDX files (then [`ImageFolder::idx`] has them).
    pub fn idx(&self) -> Option<&IdxImages> {
        self.idx.as_deref()
    }

    /// Class names in label order; empty when the images carry no labels.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Image `i`'s class, when labelled.
    pub fn label(&self, i: usize) -> Option<u32> {
        self.labels.get(i).copied()
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
        let loaded = match &self.idx {
            Some(set) => {
                let (rows, cols) = set.shape();
                set.pixels(i).map(|p| idx_image(p, rows, cols, self.size, self.channels))
            }
            None => load_image_on(&self.paths[i], self.size, self.channels, self.background),
        };
        match loaded {
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
        Ok(self.random_indexed(n, rng)?.0)
    }

    /// `n` labelled images drawn uniformly at random, as one (n, C, H, W)
    /// block and their classes; an error for a folder without labels.
    pub fn random_labelled_batch(&mut self, n: usize, rng: &mut impl Rng) -> Result<(Vec<f32>, Vec<u32>)> {
        if self.labels.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: its images carry no labels (IDX images need their labels file beside them; image files need one subfolder per class)",
                self.root.display()
            )));
        }
        let (images, picked) = self.random_indexed(n, rng)?;
        Ok((images, picked.iter().map(|&i| self.labels[i]).collect()))
    }

    fn random_indexed(&mut self, n: usize, rng: &mut impl Rng) -> Result<(Vec<f32>, Vec<usize>)> {
        let mut out = Vec::with_capacity(n * self.channels * self.size * self.size);
        let mut picked = Vec::with_capacity(n);
        // Every file is tried at most a few times over before giving up, so
        // a folder that turned unreadable (all files deleted) is an error,
        // not a hang.
        let mut tries = 0usize;
        let max_tries = n * 4 + self.len() * 4;
        while picked.len() < n {
            if tries >= max_tries {
                return Err(Error::InvalidArgument(format!(
                    "{}: too few readable images ({} unreadable of {})",
                    self.root.display(),
                    self.unreadable,
                    self.len()
                )));
            }
            tries += 1;
            let i = rng.random_range(0..self.len());
            if let Some(img) = self.get(i) {
                out.extend_from_slice(&img);
                picked.push(i);
            }
        }
        Ok((out, picked))
    }
}
