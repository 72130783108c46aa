//! The class-conditional DCGAN (label embedding joined to G's noise,
//! projection discriminator) and its scores: the symmetric
//! eigen-decomposition and Fréchet distance against known cases; gradients
//! of the conditional D and G paths against finite differences of the same
//! forward; checkpoints that record the classes; and a short seeded
//! conditional run on the real Fashion-MNIST (Debian's
//! `dataset-fashion-mnist`) whose generated images the scoring classifier
//! assigns to their class well above chance and whose Fréchet distance
//! falls below the untrained generator's, with the real-vs-real distance
//! (two halves of the test set) below both.

mod common;

use std::path::{Path, PathBuf};

use kairo::data::images::ImageFolder;
use kairo::data::shapes::Shapes;
use kairo::jobs::gan::checkpoint as gan_ckpt;
use kairo::jobs::gan::conditional::{class_grid, resolve_class, sample_class};
use kairo::jobs::gan::quality::{frechet_distance, sqrt_psd, symmetric_eigen, train_classifier, Gaussian, Scorer};
use kairo::jobs::gan::{GanConfig, GanData, GanTrainer};
use kairo::nn::dcgan::{label_tensor, DcganConfig, Discriminator, Generator};
use kairo::nn::Module;
use kairo::ops::{BinaryOp, ReduceOp};
use kairo::{autograd, Tensor, Var};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-cgan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn jacobi_eigen_recovers_a_known_decomposition() {
    // A = Q diag(λ) Qᵀ with Q a product of Givens rotations: known eigenvalues.
    let n = 6;
    let lambda = [5.0, 3.0, 2.5, 1.0, 0.25, 0.0];
    let mut q = vec![0.0f64; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    for (k, (p, r)) in [(0, 1), (2, 4), (1, 5), (3, 4), (0, 3), (2, 5)].iter().enumerate() {
        let (c, s) = ((0.3 + k as f64).cos(), (0.3 + k as f64).sin());
        for i in 0..n {
            let (a, b) = (q[i * n + p], q[i * n + r]);
            q[i * n + p] = c * a - s * b;
            q[i * n + r] = s * a + c * b;
        }
    }
    let mut a = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q[i * n + k] * lambda[k] * q[j * n + k]).sum();
        }
    }
    let (mut vals, vecs) = symmetric_eigen(&a, n);
    // A v = λ v for every returned pair.
    for (k, &l) in vals.iter().enumerate() {
        for i in 0..n {
            let av: f64 = (0..n).map(|j| a[i * n + j] * vecs[j * n + k]).sum();
            assert!((av - l * vecs[i * n + k]).abs() < 1e-9, "A v != λ v for eigenvalue {l}");
        }
    }
    vals.sort_by(|x, y| y.total_cmp(x));
    for (got, want) in vals.iter().zip(lambda) {
        assert!((got - want).abs() < 1e-9, "eigenvalues {vals:?}, want {lambda:?}");
    }
    // √A · √A = A.
    let r = sqrt_psd(&a, n);
    for i in 0..n {
        for j in 0..n {
            let rr: f64 = (0..n).map(|k| r[i * n + k] * r[k * n + j]).sum();
            assert!((rr - a[i * n + j]).abs() < 1e-9, "sqrt(A)^2 differs from A at ({i},{j})");
        }
    }
}

#[test]
fn frechet_distance_of_known_gaussians() {
    let g = |mean: Vec<f64>, cov: Vec<f64>| Gaussian { dim: mean.len(), mean, cov };
    // Diagonal covariances: |μ₁−μ₂|² + Σ (√a − √b)².
    let a = g(vec![0.0, 1.0], vec![4.0, 0.0, 0.0, 1.0]);
    let b = g(vec![1.0, 1.0], vec![1.0, 0.0, 0.0, 9.0]);
    let want = 1.0 + (2.0f64 - 1.0).powi(2) + (1.0f64 - 3.0).powi(2);
    let got = frechet_distance(&a, &b).unwrap();
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    assert!(frechet_distance(&a, &a).unwrap() < 1e-9);
    // Fitted to samples: a set against itself is at 0, a shifted copy at the shift².
    let rows: Vec<f32> = common::random(400 * 3, 5);
    let shifted: Vec<f32> = rows.iter().map(|v| v + 0.5).collect();
    let (p, s) = (Gaussian::fit(&rows, 3).unwrap(), Gaussian::fit(&shifted, 3).unwrap());
    assert!(frechet_distance(&p, &p).unwrap() < 1e-6);
    let d = frechet_distance(&p, &s).unwrap();
    assert!((d - 0.75).abs() < 1e-4, "shift by 0.5 in 3 dims: {d}, want 0.75");
}

fn tiny() -> DcganConfig {
    DcganConfig { image_size: 32, channels: 1, nz: 4, ngf: 2, ndf: 2 }
}

/// Σ w ⊙ f over the parameter `p` (by its host values), for finite differences.
fn set_and_eval(p: &Var, values: &[f64], f: &dyn Fn() -> Vec<f32>) -> Vec<f64> {
    p.value().write(&values.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
    f().into_iter().map(|v| v as f64).collect()
}

/// The gradient the tape gives each of `params` for Σ w ⊙ out, against
/// f32 central differences of the same forward (ε 1e-2: D and G are
/// piecewise smooth, so a coarse step keeps f32 round-off small).
fn check(name: &str, params: &[(&str, Var)], forward: &dyn Fn() -> Var) {
    let c = common::ctx();
    let y = forward();
    let w = common::random(y.value().numel(), 7);
    y.backward_with(Tensor::from_slice(&c, &w, y.shape()).unwrap()).unwrap();
    let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    for (pname, p) in params {
        let got = p.grad().unwrap_or_else(|| panic!("{name}: no gradient reached {pname}")).to_vec().unwrap();
        let x0: Vec<f64> = p.value().to_vec().unwrap().iter().map(|&v| v as f64).collect();
        let eval = |xs: &[Vec<f64>]| set_and_eval(p, &xs[0], &|| kairo::no_grad(forward).value().to_vec().unwrap());
        let want = kairo::gradcheck::numeric_gradients(&eval, std::slice::from_ref(&x0), &w64, 1e-3);
        set_and_eval(p, &x0, &|| Vec::new());
        let scale = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs())) as f32;
        assert!(scale > 1e-4, "{name}: {pname}'s gradient is all zero");
        if let Err(m) = kairo::gradcheck::check_gradients(&format!("{name}, {pname}"), &[got], &want, 0.02 * scale, 0.05) {
            panic!("{}", m.report);
        }
    }
}

#[test]
fn conditional_discriminator_gradients_match_finite_differences() {
    let c = common::ctx();
    let mut rng = common::seeded_rng(3);
    let d = Discriminator::conditional(&c, tiny(), 3, &mut rng).unwrap();
    let names: Vec<String> = d.parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"label_embed.weight".to_string()), "{names:?}");
    assert!(names.contains(&"main.0.weight".to_string()));
    // The projection weights at a size where the term matters.
    let embed = d.parameters().into_iter().find(|(n, _)| n == "label_embed.weight").unwrap().1;
    embed.value().write(&common::random(embed.value().numel(), 11)).unwrap();
    let x = Var::parameter(Tensor::from_slice(&c, &common::random(4 * 32 * 32, 4), &[4, 1, 32, 32]).unwrap());
    let y = label_tensor(&c, &[0, 2, 1, 2], 3).unwrap();
    check("projection D", &[("label_embed.weight", embed.clone())], &|| d.forward_labelled(&x, Some(&y)).unwrap());
    // The labels change the logits (the projection is wired in).
    let other = label_tensor(&c, &[1, 0, 0, 1], 3).unwrap();
    let a = kairo::no_grad(|| d.forward_labelled(&x, Some(&y))).unwrap().value().to_vec().unwrap();
    let b = kairo::no_grad(|| d.forward_labelled(&x, Some(&other))).unwrap().value().to_vec().unwrap();
    assert!(a.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-4), "labels do not change D: {a:?} {b:?}");
    assert!(d.forward(&x).is_err(), "a conditional D without labels must be refused");
}

#[test]
fn conditional_generator_gradients_match_finite_differences() {
    let c = common::ctx();
    let mut rng = common::seeded_rng(4);
    let g = Generator::conditional(&c, tiny(), 3, &mut rng).unwrap();
    let d = Discriminator::conditional(&c, tiny(), 3, &mut rng).unwrap();
    let params = g.parameters();
    let get = |n: &str| params.iter().find(|(k, _)| k == n).unwrap_or_else(|| panic!("no {n}")).1.clone();
    assert_eq!(get("main.0.weight").shape()[0], 4 + 3, "main.0 takes nz + classes channels, as torch.cat([z, e], 1)");
    let z = Var::parameter(Tensor::from_slice(&c, &common::random(4 * 4, 8), &[4, 4]).unwrap());
    let y = label_tensor(&c, &[2, 0, 1, 1], 3).unwrap();
    // The label embedding and the noise reach the images through the join;
    // the whole G → D path as G's update sees it.
    let forward = || {
        let img = g.forward_labelled(&z, Some(&y)).unwrap();
        let logits = d.forward_labelled(&img, Some(&y)).unwrap();
        autograd::reduce(&autograd::binary(&logits, &logits, BinaryOp::Mul).unwrap(), 0, ReduceOp::Sum, true).unwrap()
    };
    check("G → projection D", &[("G label_embed.weight", get("label_embed.weight")), ("noise", z.clone())], &forward);
}

#[test]
fn conditional_checkpoints_record_the_classes_and_sample_by_class() {
    let c = common::ctx();
    let out = temp_dir("ckpt");
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 8, ngf: 4, ndf: 4 },
        batch: 4,
        iters: 2,
        every: 1,
        grid: 10,
        out: out.clone(),
        conditional: true,
        ..Default::default()
    };
    let mut t = GanTrainer::new(&c, cfg.clone(), GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    for _ in 0..2 {
        t.step().unwrap();
    }
    assert_eq!(t.class_names.len(), 5);
    assert_eq!(t.fixed_noise.shape()[0], 10, "two images a class, one row per class");
    let path = out.join("c.safetensors");
    gan_ckpt::save(&t, &path).unwrap();
    let (g, names) = gan_ckpt::load_labelled_generator(&c, &path).unwrap();
    assert_eq!(names, t.class_names);
    assert_eq!(g.classes(), 5);
    let want = t.generate_grid().unwrap();
    let got = kairo::jobs::gan::generate_labelled(&g, &t.fixed_noise, t.fixed_labels.as_ref()).unwrap();
    common::assert_close("class grid from the loaded generator", &got, &want, 1e-5, 1e-4);
    assert_eq!(resolve_class(&names, "Triangle").unwrap(), 2);
    assert_eq!(resolve_class(&names, "4").unwrap(), 4);
    assert!(resolve_class(&names, "hexagon").unwrap_err().to_string().contains("disc"));
    let mut rng = common::seeded_rng(1);
    assert_eq!(sample_class(&c, &g, 3, 1, &mut rng).unwrap().len(), 3 * 32 * 32);
    assert_eq!(class_grid(&c, &g, 2, &mut rng).unwrap().len(), 10 * 32 * 32);
    // What the page does with a picked file's bytes: plain sampling of a
    // conditional generator gives the classes in turn.
    let bytes = std::fs::read(&path).unwrap();
    let picked = gan_ckpt::generator_from_bytes(&c, &path, &bytes).unwrap();
    let cycled = kairo::jobs::gan::trainer::cycled_labels(&c, 10, 5).unwrap();
    let want = kairo::jobs::gan::generate_labelled(&g, &t.fixed_noise, Some(&cycled)).unwrap();
    let got = kairo::jobs::gan::generate(&picked, &t.fixed_noise).unwrap();
    common::assert_close("a conditional checkpoint sampled without labels", &got, &want, 1e-5, 1e-4);
    // Resume: the same run loads; an unconditional run refuses it, naming both.
    let mut again = GanTrainer::new(&c, cfg.clone(), GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    gan_ckpt::load(&mut again, &path).unwrap();
    assert_eq!(again.iteration, 2);
    let mut plain = GanTrainer::new(&c, GanConfig { conditional: false, ..cfg }, GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    let e = gan_ckpt::load(&mut plain, &path).unwrap_err().to_string();
    assert!(e.contains("conditional on 5 classes") && e.contains("unconditional"), "{e}");
    // An unconditional checkpoint still loads as one, without classes.
    plain.step().unwrap();
    let upath = out.join("u.safetensors");
    gan_ckpt::save(&plain, &upath).unwrap();
    let (ug, unames) = gan_ckpt::load_labelled_generator(&c, &upath).unwrap();
    assert!(unames.is_empty() && ug.classes() == 0);
    assert!(resolve_class(&unames, "1").unwrap_err().to_string().contains("unconditional"));
    let _ = std::fs::remove_dir_all(&out);
}

/// The folder holding the package's IDX files; fails naming the package when it is missing.
fn fashion_dir() -> PathBuf {
    let d = PathBuf::from("/usr/share/datasets/fashion-mnist");
    let listed = std::process::Command::new("dpkg").args(["-L", "dataset-fashion-mnist"]).output();
    let found = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.ends_with("train-images-idx3-ubyte.gz"))
            .map(|l| Path::new(l).parent().unwrap().to_path_buf()),
        _ => Some(d),
    };
    match found {
        Some(d) if d.join("train-images-idx3-ubyte.gz").is_file() && d.join("t10k-images-idx3-ubyte.gz").is_file() => d,
        _ => panic!("this test needs the real Fashion-MNIST files of the Debian package dataset-fashion-mnist: apt-get install -y dataset-fashion-mnist"),
    }
}

/// The test split alone (its files linked into a folder of their own, so
/// ImageFolder opens t10k), as 32×32 grey images and labels.
fn test_split(dir: &Path, n: usize) -> (Vec<f32>, Vec<u32>) {
    let only = temp_dir("t10k");
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::os::unix::fs::symlink(dir.join(f), only.join(f)).unwrap();
    }
    let mut set = ImageFolder::open(&only, 32, 1).unwrap();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        images.extend(set.get(i).expect("test image reads"));
        labels.push(set.label(i).expect("test image labelled"));
    }
    let _ = std::fs::remove_dir_all(&only);
    (images, labels)
}

/// Iterations of the Fashion-MNIST run, and the per-class accuracy its
/// samples must reach (chance is 10%).
const ITERS: u64 = 400;
const MIN_ACCURACY: f32 = 0.4;

#[test]
fn conditional_fashion_mnist_beats_chance_and_the_untrained_generator() {
    let dir = fashion_dir();
    let c = common::ctx();
    let mut data = GanData::Folder(ImageFolder::open(&dir, 32, 1).unwrap());
    let classifier = train_classifier(&c, &mut data, 400, 1).unwrap();
    let (test, labels) = test_split(&dir, 2000);
    let per = 32 * 32;
    let acc = classifier.accuracy(&c, &test, &labels).unwrap();
    assert!(acc > 0.7, "the scoring classifier reaches only {acc} on the test set");
    let scorer = Scorer::new(&c, classifier, &test[..1000 * per], 1000).unwrap();
    let real_vs_real = scorer.distance(&c, &test[1000 * per..]).unwrap();
    let out = temp_dir("fashion");
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 100, ngf: 16, ndf: 16 },
        batch: 16,
        iters: ITERS,
        every: ITERS,
        lr: 4e-4,
        grid: 20,
        seed: 1,
        out: out.clone(),
        conditional: true,
        ..Default::default()
    };
    let mut t = GanTrainer::new(&c, cfg, data).unwrap();
    let untrained = scorer.score(&t, 9).unwrap();
    while t.iteration < ITERS {
        t.step().unwrap();
    }
    let trained = scorer.score(&t, 9).unwrap();
    eprintln!("real vs real {real_vs_real:.3}; untrained {untrained}; after {ITERS} iterations {trained}; per class {:?}", trained.class_accuracy);
    let a = trained.accuracy.unwrap();
    assert!(a >= MIN_ACCURACY, "after {ITERS} iterations only {a} of generated images are classified as their class (chance 0.1, threshold {MIN_ACCURACY})");
    assert!(trained.frechet < untrained.frechet, "Fréchet distance {} not below the untrained generator's {}", trained.frechet, untrained.frechet);
    assert!(real_vs_real < trained.frechet, "real vs real {real_vs_real} not below the trained generator's {}", trained.frechet);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn conditional_runs_need_labelled_data() {
    let c = common::ctx();
    let dir = temp_dir("unlabelled");
    for i in 0..3u8 {
        image::RgbImage::from_pixel(8, 8, image::Rgb([i * 80, 0, 0])).save(dir.join(format!("{i}.png"))).unwrap();
    }
    let data = GanData::Folder(ImageFolder::open(&dir, 32, 1).unwrap());
    assert!(data.classes().is_empty());
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 8, ngf: 4, ndf: 4 },
        batch: 4,
        grid: 4,
        out: dir.join("out"),
        conditional: true,
        ..Default::default()
    };
    let e = GanTrainer::new(&c, cfg, data).err().expect("an unlabelled folder is refused").to_string();
    assert!(e.contains("--conditional needs labelled data"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
