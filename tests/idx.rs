//! The IDX loader on the real Fashion-MNIST files of Debian's
//! `dataset-fashion-mnist` (found with `dpkg -L`): counts, the label
//! histogram (exactly 6000 images of each of the 10 classes in train, 1000
//! in test), pixel range, plain and gzip files reading the same, errors
//! naming a corrupt or truncated file; and image folders with class
//! subfolders as labels and alpha composited onto the chosen background.
//! CPU only: no adapter needed.

use std::io::Write;
use std::path::{Path, PathBuf};

use kairo::data::idx::{self, IdxArray, IdxImages};
use kairo::data::images::{Background, ImageFolder};

/// The folder holding the package's IDX files; fails naming the package when it is missing.
fn fashion_dir() -> PathBuf {
    let listed = std::process::Command::new("dpkg").args(["-L", "dataset-fashion-mnist"]).output();
    let found = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.ends_with("train-images-idx3-ubyte.gz"))
            .map(|l| PathBuf::from(l).parent().unwrap().to_path_buf()),
        _ => None,
    };
    match found {
        Some(d) if d.join("train-images-idx3-ubyte.gz").is_file() => d,
        _ => panic!("this test needs the real Fashion-MNIST files of the Debian package dataset-fashion-mnist: apt-get install -y dataset-fashion-mnist"),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-idx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fashion_mnist_counts_histogram_and_pixels() {
    let dir = fashion_dir();
    for (split, n, per_class) in [("train", 60_000, 6_000), ("t10k", 10_000, 1_000)] {
        let (images, labels) = idx::find_split(&dir, split).unwrap().expect("the split's files");
        let set = IdxImages::open(&images, labels.as_deref()).unwrap();
        assert_eq!(set.len(), n, "{}", images.display());
        assert_eq!(set.shape(), (28, 28));
        assert_eq!(set.histogram(), vec![per_class; 10], "{split}: images per class");
        let (mut lo, mut hi, mut sum) = (255u8, 0u8, 0u64);
        for i in (0..n).step_by(97) {
            let p = set.pixels(i).unwrap();
            lo = lo.min(*p.iter().min().unwrap());
            hi = hi.max(*p.iter().max().unwrap());
            sum += p.iter().map(|&v| v as u64).sum::<u64>();
        }
        let mean = sum as f64 / ((n / 97 + 1) * 784) as f64;
        eprintln!("{split}: {n} images, pixels {lo}..={hi}, mean {mean:.1}");
        // Black background, full-range ink; Fashion-MNIST's mean pixel is about 73.
        assert_eq!((lo, hi), (0, 255));
        assert!((50.0..100.0).contains(&mean), "mean pixel {mean}");
    }
}

#[test]
fn gan_data_folder_reads_idx_with_labels() {
    let dir = fashion_dir();
    let mut f = ImageFolder::open(&dir, 32, 1).unwrap();
    assert_eq!(f.len(), 60_000);
    assert!(f.idx().is_some());
    assert_eq!(f.classes().len(), 10);
    assert_eq!(f.classes()[9], "Ankle boot");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let (images, labels) = f.random_labelled_batch(64, &mut rng).unwrap();
    assert_eq!(images.len(), 64 * 32 * 32);
    assert!(labels.iter().all(|&l| l < 10));
    let (lo, hi) = images.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo >= -1.0 && hi <= 1.0 && lo < -0.99 && hi > 0.5, "values {lo}..{hi}");
    // Three channels are the grey image three times.
    let mut rgb = ImageFolder::open(&dir, 28, 3).unwrap();
    let one = rgb.get(7).unwrap();
    assert_eq!(one[..784], one[784..1568]);
    let raw = f.idx().unwrap().pixels(7).unwrap();
    assert!(one[..784].iter().zip(&raw).all(|(&v, &p)| (v - (p as f32 / 255.0 * 2.0 - 1.0)).abs() < 1e-6));
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()), &mut out).unwrap();
    out
}

#[test]
fn plain_and_gzip_read_alike_and_bad_files_are_named() {
    let dir = fashion_dir();
    let tmp = temp_dir("bad");
    let gz = dir.join("t10k-labels-idx1-ubyte.gz");
    let bytes = gunzip(&gz);
    let plain = tmp.join("t10k-labels-idx1-ubyte");
    std::fs::write(&plain, &bytes).unwrap();
    let (a, b) = (IdxArray::open(&gz).unwrap(), IdxArray::open(&plain).unwrap());
    assert_eq!(a.dims(), [10_000]);
    assert_eq!(a.all().unwrap(), b.all().unwrap());
    let images = gunzip(&dir.join("t10k-images-idx3-ubyte.gz"));
    let plain_images = tmp.join("t10k-images-idx3-ubyte");
    std::fs::write(&plain_images, &images).unwrap();
    let set = IdxImages::open(&plain_images, Some(&plain)).unwrap();
    assert_eq!(set.pixels(9_999).unwrap(), images[images.len() - 784..], "the last image, read from the file");

    let check = |name: &str, contents: &[u8], why: &str| {
        let p = tmp.join(name);
        std::fs::write(&p, contents).unwrap();
        let err = IdxArray::open(&p).err().unwrap_or_else(|| panic!("{name} opened")).to_string();
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
    };
    check("short-plain-idx1-ubyte", &bytes[..bytes.len() - 10], "truncated");
    let gz_bytes = std::fs::read(&gz).unwrap();
    check("short-idx1-ubyte.gz", &gz_bytes[..gz_bytes.len() / 2], "gzip");
    check("header-idx1-ubyte", &bytes[..6], "header");
    let mut wrong = bytes.clone();
    wrong[2] = 0x0D;
    check("float-idx1-ubyte", &wrong, "element type");
    check("png-idx1-ubyte", b"\x89PNG\r\n\x1a\n", "magic");
    // Labels that do not match the images name the labels file.
    let err = IdxImages::open(&plain_images, Some(&dir.join("train-labels-idx1-ubyte.gz"))).err().unwrap().to_string();
    assert!(err.contains("train-labels-idx1-ubyte.gz"), "{err}");
    // A folder whose IDX images are corrupt is an error, not an empty image folder.
    let broken = temp_dir("broken");
    let mut f = std::fs::File::create(broken.join("train-images-idx3-ubyte.gz")).unwrap();
    f.write_all(&gz_bytes[..100]).unwrap();
    let err = ImageFolder::open(&broken, 32, 1).err().unwrap().to_string();
    assert!(err.contains("train-images-idx3-ubyte.gz"), "{err}");
}

#[test]
fn class_subfolders_are_labels_and_alpha_meets_the_background() {
    let root = temp_dir("folder");
    for (class, colour) in [("cat", [200u8, 0, 0, 255]), ("dog", [0, 0, 200, 0])] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..3 {
            image::RgbaImage::from_pixel(16, 16, image::Rgba(colour)).save(root.join(class).join(format!("{k}.png"))).unwrap();
        }
    }
    let mut f = ImageFolder::open_on(&root, 16, 3, "white".parse().unwrap()).unwrap();
    assert_eq!(f.classes(), ["cat", "dog"]);
    assert_eq!((0..6).map(|i| f.label(i).unwrap()).collect::<Vec<_>>(), [0, 0, 0, 1, 1, 1]);
    // "dog" is fully transparent blue: white on a white background, whatever its colour.
    let dog = f.get(3).unwrap();
    assert!(dog.iter().all(|&v| (v - 1.0).abs() < 1e-6), "{:?}", &dog[..4]);
    let cat = f.get(0).unwrap();
    assert!((cat[0] - (200.0 / 255.0 * 2.0 - 1.0)).abs() < 1e-6 && (cat[256] + 1.0).abs() < 1e-6);
    let mut black = ImageFolder::open_on(&root, 16, 3, Background([0, 0, 0])).unwrap();
    assert!(black.get(3).unwrap().iter().all(|&v| (v + 1.0).abs() < 1e-6));
    assert_eq!("10, 20,30".parse::<Background>().unwrap(), Background([10, 20, 30]));
    assert!("grey".parse::<Background>().is_err() && "1,2".parse::<Background>().is_err() && "1,2,300".parse::<Background>().is_err());
    // A file at the top level: no labels.
    image::RgbaImage::from_pixel(16, 16, image::Rgba([1, 2, 3, 255])).save(root.join("loose.png")).unwrap();
    let mut unlabelled = ImageFolder::open(&root, 16, 1).unwrap();
    assert!(unlabelled.classes().is_empty() && unlabelled.label(0).is_none());
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    assert!(unlabelled.random_labelled_batch(2, &mut rng).is_err());
}

/// Seeded byte mutations of small IDX files, plain and gzip: opening and
/// reading every item returns values or errors, never panics.
#[test]
fn mutated_idx_files_never_panic() {
    use rand::{Rng, SeedableRng};
    let tmp = temp_dir("mutate");
    let mut valid = vec![0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2];
    valid.extend(0..12u8);
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    for round in 0..600 {
        let mut bytes = valid.clone();
        for _ in 0..rng.random_range(1..4) {
            match rng.random_range(0..3) {
                0 => {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random();
                }
                1 => bytes.truncate(rng.random_range(0..bytes.len())),
                _ => bytes.extend((0..rng.random_range(1..8)).map(|_| rng.random::<u8>())),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let gz = round % 2 == 1;
        let path = tmp.join(if gz { "m-idx3-ubyte.gz" } else { "m-idx3-ubyte" });
        let contents = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            let mut z = e.finish().unwrap();
            if rng.random_bool(0.3) {
                z.truncate(rng.random_range(2..z.len()));
            }
            z
        } else {
            bytes
        };
        std::fs::write(&path, contents).unwrap();
        if let Ok(a) = IdxArray::open(&path) {
            for i in 0..a.dims()[0].min(64) {
                a.item(i).unwrap();
            }
        }
    }
}
