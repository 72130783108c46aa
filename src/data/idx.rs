//! IDX files, the format of MNIST and Fashion-MNIST: a magic number
//! (two zero bytes, the element type, the number of dimensions), the
//! dimensions as big-endian u32, then the elements row-major. Only unsigned
//! bytes (type 0x08) are read, which is what those sets hold: images
//! `(n, rows, cols)` in `*-images-idx3-ubyte` and labels `(n,)` in
//! `*-labels-idx1-ubyte`, plain or gzip-compressed (told by the gzip magic
//! bytes, not by the name).
//!
//! A plain file is streamed: its header is read and its length checked on
//! opening, and each image is read from the file when asked for. A gzip
//! file cannot be read at an offset, so it is decompressed once, in one
//! sequential pass, into its bytes (one byte per pixel: 47 MB for the
//! 60 000 training images). Every error names the file: a wrong magic
//! number, a type other than unsigned byte, a file shorter than its header
//! says (truncated), or a broken gzip stream.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The element type IDX calls "unsigned byte".
const UBYTE: u8 = 0x08;

/// Where an array's elements are.
enum Elements {
    /// Decompressed into memory.
    Bytes(Vec<u8>),
    /// In a plain file, from `offset`.
    File { file: Mutex<File>, offset: u64 },
}

/// One IDX array of unsigned bytes.
pub struct IdxArray {
    path: PathBuf,
    dims: Vec<usize>,
    elements: Elements,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

/// Reads the header of `r`: the dimensions.
fn read_header(path: &Path, r: &mut impl Read) -> Result<Vec<usize>> {
    let bad = |m: String| Error::data(path, format!("not an IDX file of unsigned bytes: {m}"));
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).map_err(|_| bad("shorter than the 4-byte magic number".into()))?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(bad(format!("magic number starts {:02x} {:02x}, not 00 00", magic[0], magic[1])));
    }
    if magic[2] != UBYTE {
        return Err(bad(format!("element type 0x{:02x}; only 0x08 (unsigned byte) is read", magic[2])));
    }
    if magic[3] == 0 || magic[3] > 4 {
        return Err(bad(format!("{} dimensions", magic[3])));
    }
    let mut dims = Vec::with_capacity(magic[3] as usize);
    for k in 0..magic[3] {
        let mut d = [0u8; 4];
        r.read_exact(&mut d).map_err(|_| bad(format!("the header ends before dimension {}", k + 1)))?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    Ok(dims)
}

fn is_gzip(path: &Path) -> Result<bool> {
    let mut head = [0u8; 2];
    let mut f = File::open(path).map_err(|e| io_error(path, e))?;
    let n = f.read(&mut head).map_err(|e| io_error(path, e))?;
    Ok(n == 2 && head == [0x1f, 0x8b])
}

impl IdxArray {
    /// Opens an IDX file (plain or gzip) and checks that it holds the
    /// elements its header announces.
    pub fn open(path: &Path) -> Result<IdxArray> {
        let truncated = |have: u64, want: u64| {
            Error::data(path, format!("truncated: the header announces {want} bytes of data, the file holds {have}"))
        };
        if is_gzip(path)? {
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let mut r = flate2::read::GzDecoder::new(BufReader::new(file));
            let dims = read_header(path, &mut r).map_err(|e| match e {
                Error::Data { reason, .. } => Error::data(path, format!("{reason} (after gunzip)")),
                other => other,
            })?;
            let want = checked_len(path, &dims)?;
            let mut bytes = Vec::with_capacity(want.min(64 << 20) as usize);
            r.by_ref()
                .take(want)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::data(path, format!("broken or truncated gzip stream: {e}")))?;
            if (bytes.len() as u64) < want {
                return Err(truncated(bytes.len() as u64, want));
            }
            return Ok(IdxArray { path: path.to_path_buf(), dims, elements: Elements::Bytes(bytes) });
        }
        let mut file = File::open(path).map_err(|e| io_error(path, e))?;
        let dims = read_header(path, &mut file)?;
        let offset = 4 + 4 * dims.len() as u64;
        let want = checked_len(path, &dims)?;
        let len = file.metadata().map_err(|e| io_error(path, e))?.len();
        if len < offset + want {
            return Err(truncated(len.saturating_sub(offset), want));
        }
        Ok(IdxArray { path: path.to_path_buf(), dims, elements: Elements::File { file: Mutex::new(file), offset } })
    }

    /// The dimensions (n first).
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Elements per item (the product of all dimensions but the first).
    pub fn item_len(&self) -> usize {
        self.dims[1..].iter().product()
    }

    /// Item `i` (along the first dimension): `item_len` bytes.
    pub fn item(&self, i: usize) -> Result<Vec<u8>> {
        let n = self.item_len();
        if i >= self.dims[0] {
            return Err(Error::InvalidArgument(format!("{}: item {i} of {}", self.path.display(), self.dims[0])));
        }
        match &self.elements {
            Elements::Bytes(b) => Ok(b[i * n..(i + 1) * n].to_vec()),
            Elements::File { file, offset } => {
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                let mut out = vec![0u8; n];
                f.seek(SeekFrom::Start(offset + (i * n) as u64)).map_err(|e| io_error(&self.path, e))?;
                f.read_exact(&mut out).map_err(|e| io_error(&self.path, e))?;
                Ok(out)
            }
        }
    }

    /// Every element (read from the file when it is plain).
    pub fn all(&self) -> Result<Vec<u8>> {
        match &self.elements {
            Elements::Bytes(b) => Ok(b.clone()),
            Elements::File { .. } => {
                let mut out = Vec::with_capacity(self.dims[0] * self.item_len());
                for i in 0..self.dims[0] {
                    out.extend(self.item(i)?);
                }
                Ok(out)
            }
        }
    }
}

/// Bytes of data the dimensions announce, refusing sizes no file holds.
fn checked_len(path: &Path, dims: &[usize]) -> Result<u64> {
    dims.iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .filter(|&n| n <= 1 << 40)
        .ok_or_else(|| Error::data(path, format!("IDX dimensions {dims:?} are too large")))
}

/// Labelled images from an images file `(n, rows, cols)` and, optionally,
/// a labels file `(n,)`.
pub struct IdxImages {
    pub images: IdxArray,
    /// One class per image.
    pub labels: Option<Vec<u8>>,
}

impl IdxImages {
    /// Opens `images` (3 dimensions) and `labels` (1 dimension, as many
    /// items); errors name the file at fault.
    pub fn open(images: &Path, labels: Option<&Path>) -> Result<IdxImages> {
        let images = IdxArray::open(images)?;
        if images.dims().len() != 3 || images.item_len() == 0 {
            return Err(Error::data(images.path(), format!("images must be (n, rows, cols), got dimensions {:?}", images.dims())));
        }
        let labels = match labels {
            None => None,
            Some(path) => {
                let l = IdxArray::open(path)?;
                if l.dims().len() != 1 || l.dims()[0] != images.dims()[0] {
                    return Err(Error::data(
                        path,
                        format!("labels must be ({},) to match {}, got dimensions {:?}", images.dims()[0], images.path().display(), l.dims()),
                    ));
                }
                Some(l.all()?)
            }
        };
        Ok(IdxImages { images, labels })
    }

    /// Images.
    pub fn len(&self) -> usize {
        self.images.dims()[0]
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.images.dims()[1], self.images.dims()[2])
    }

    /// Image `i`'s pixels, row-major, 0 (background) ..= 255 (ink).
    pub fn pixels(&self, i: usize) -> Result<Vec<u8>> {
        self.images.item(i)
    }

    /// Image `i`'s class, if the set has labels.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.as_ref().map(|l| l[i])
    }

    /// Images per class 0..=max label (empty without labels).
    pub fn histogram(&self) -> Vec<usize> {
        let Some(l) = &self.labels else { return Vec::new() };
        let mut h = vec![0; l.iter().copied().max().map_or(0, |m| m as usize + 1)];
        l.iter().for_each(|&c| h[c as usize] += 1);
        h
    }
}

/// The images and labels files of `split` ("train", "t10k", …) in `dir`:
/// `SPLIT-images-idx3-ubyte` or `SPLIT-images.idx3-ubyte`, optionally
/// `.gz`, and the matching `labels-idx1` file if present. None when the
/// folder holds no IDX images of that split.
pub fn find_split(dir: &Path, split: &str) -> Result<Option<(PathBuf, Option<PathBuf>)>> {
    let names = |kind: &str, rank: &str| -> Vec<PathBuf> {
        ["-", "."]
            .iter()
            .flat_map(|sep| ["", ".gz"].map(|gz| dir.join(format!("{split}-{kind}{sep}{rank}-ubyte{gz}"))))
            .collect()
    };
    let Some(images) = names("images", "idx3").into_iter().find(|p| p.is_file()) else { return Ok(None) };
    let labels = names("labels", "idx1").into_iter().find(|p| p.is_file());
    Ok(Some((images, labels)))
}

/// The class names of Fashion-MNIST, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
