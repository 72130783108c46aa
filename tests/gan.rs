//! DCGAN: the shapes data set, the image-folder loader, model shapes and
//! names, checkpoint round-trip, the non-finite guard, and a seeded
//! training run judged by the shape classifier.

mod common;

use std::path::{Path, PathBuf};

use kairo::data::images::{load_image, ImageFolder};
use kairo::data::shapes::{Shapes, NUM_CLASSES};
use kairo::nn::dcgan::{DcganConfig, Discriminator, Generator};
use kairo::nn::Module;
use kairo::jobs::gan::{checkpoint as gan_ckpt, judge as gan_eval, report as gan_report};
use kairo::jobs::gan::{GanConfig, GanData, GanTrainer};
use kairo::{Tensor, Var};
use rand::SeedableRng;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kairo-gan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- data ------------------------------------------------------------------

#[test]
fn shapes_are_deterministic_labelled_and_varied() {
    let a = Shapes::new(32, 3, 7).unwrap();
    let b = Shapes::new(32, 3, 7).unwrap();
    let other = Shapes::new(32, 3, 8).unwrap();
    for i in 0..20u64 {
        let (x, l) = a.image(i);
        assert_eq!(x.len(), 3 * 32 * 32);
        assert_eq!(l, i as usize % NUM_CLASSES);
        assert_eq!(b.image(i), (x.clone(), l), "same seed, same image");
        assert_ne!(other.image(i).0, x, "another seed, another image");
        assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
        // The shape covers a real part of the picture, not all of it.
        let corner = [x[0], x[1024], x[2048]];
        let differs = (0..1024)
            .filter(|&p| (0..3).any(|c| (x[c * 1024 + p] - corner[c]).abs() > 0.2))
            .count();
        assert!(
            (40..700).contains(&differs),
            "image {i}: {differs} pixels differ from the corner"
        );
    }
    let (batch, labels) = a.batch(100, 10);
    assert_eq!(batch.len(), 10 * 3 * 32 * 32);
    assert_eq!(
        labels,
        (0..10).map(|i| (100 + i) % NUM_CLASSES).collect::<Vec<_>>()
    );
    // Neighbouring images of one class differ (position, size, colour).
    assert_ne!(a.image(0).0, a.image(5).0);
    let grey = Shapes::new(64, 1, 7).unwrap();
    assert_eq!(grey.image(3).0.len(), 64 * 64);
    assert!(Shapes::new(32, 2, 0).is_err());
    assert!(Shapes::new(4, 3, 0).is_err());
}

fn write_rgb(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    img.save(path).unwrap();
}

#[test]
fn image_folder_crops_resizes_and_scales() {
    let dir = temp_dir("crop");
    // 40×20: red | green (the centre 20×20) | blue. The centre crop is all green.
    write_rgb(&dir.join("wide.png"), 40, 20, |x, _| {
        if x < 10 {
            [255, 0, 0]
        } else if x < 30 {
            [0, 255, 0]
        } else {
            [0, 0, 255]
        }
    });
    let v = load_image(&dir.join("wide.png"), 8, 3).unwrap();
    assert_eq!(v.len(), 3 * 64);
    for i in 0..64 {
        assert!(
            v[i] < -0.99 && v[64 + i] > 0.99 && v[128 + i] < -0.99,
            "pixel {i}: not pure green"
        );
    }
    // A tall JPEG (nested folder): a grey square after crop, one channel.
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    write_rgb(&dir.join("sub/deeper/tall.jpg"), 24, 48, |_, y| {
        if (12..36).contains(&y) {
            [128, 128, 128]
        } else {
            [0, 0, 0]
        }
    });
    let g = load_image(&dir.join("sub/deeper/tall.jpg"), 16, 1).unwrap();
    assert_eq!(g.len(), 16 * 16);
    for (i, &p) in g.iter().enumerate() {
        assert!((p - 0.004).abs() < 0.06, "pixel {i}: {p} is not mid grey");
    }
    let mut folder = ImageFolder::open(&dir, 16, 3).unwrap();
    assert_eq!(folder.len(), 2, "found recursively");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    assert_eq!(folder.random_batch(5, &mut rng).unwrap().len(), 5 * 3 * 256);
    assert_eq!(folder.unreadable(), 0);
}

#[test]
fn image_folder_counts_unreadable_files_and_rejects_empty_folders() {
    let empty = temp_dir("empty");
    std::fs::write(empty.join("notes.txt"), "not an image").unwrap();
    let err = ImageFolder::open(&empty, 32, 3)
        .err()
        .expect("empty folder is an error")
        .to_string();
    assert!(err.contains("no image files"), "{err}");

    let bad_only = temp_dir("bad-only");
    std::fs::write(bad_only.join("broken.png"), b"not a png at all").unwrap();
    let err = ImageFolder::open(&bad_only, 32, 3)
        .err()
        .expect("no readable image is an error")
        .to_string();
    assert!(err.contains("could be read"), "{err}");

    let mixed = temp_dir("mixed");
    std::fs::write(mixed.join("a-broken.jpg"), b"\xff\xd8 garbage").unwrap();
    write_rgb(&mixed.join("b-good.png"), 10, 10, |_, _| [10, 20, 30]);
    std::fs::write(mixed.join("c-broken.png"), b"garbage").unwrap();
    let mut folder = ImageFolder::open(&mixed, 8, 3).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let batch = folder.random_batch(32, &mut rng).unwrap();
    assert_eq!(batch.len(), 32 * 3 * 64);
    assert_eq!(folder.unreadable(), 2, "each unreadable file counted once");
}

// ---- models ----------------------------------------------------------------

fn small(size: usize, channels: usize) -> DcganConfig {
    DcganConfig {
        image_size: size,
        channels,
        nz: 100,
        ngf: 8,
        ndf: 8,
    }
}

#[test]
fn dcgan_shapes_and_state_dict_names() {
    let ctx = common::ctx();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for (size, channels) in [(32, 3), (64, 1)] {
        let cfg = small(size, channels);
        let g = Generator::new(&ctx, cfg, &mut rng).unwrap();
        let d = Discriminator::new(&ctx, cfg, &mut rng).unwrap();
        let z = Var::constant(
            Tensor::from_slice(&ctx, &common::random(2 * 100, 1), &[2, 100]).unwrap(),
        );
        let x = g.forward(&z).unwrap();
        assert_eq!(x.shape(), [2, channels, size, size]);
        let xs = x.value().to_vec().unwrap();
        assert!(xs.iter().all(|v| v.abs() <= 1.0), "tanh output");
        assert_eq!(d.forward(&x).unwrap().shape(), [2]);
        let names: Vec<String> = g.parameters().into_iter().map(|(n, _)| n).collect();
        let bufs: Vec<String> = g.buffers().into_iter().map(|(n, _)| n).collect();
        let dnames: Vec<String> = d.parameters().into_iter().map(|(n, _)| n).collect();
        if size == 64 {
            // As PyTorch's DCGAN example: ConvT at 0,3,6,9,12 and BN at 1,4,7,10.
            assert_eq!(
                names,
                [
                    "main.0.weight",
                    "main.1.weight",
                    "main.1.bias",
                    "main.3.weight",
                    "main.4.weight",
                    "main.4.bias",
                    "main.6.weight",
                    "main.7.weight",
                    "main.7.bias",
                    "main.9.weight",
                    "main.10.weight",
                    "main.10.bias",
                    "main.12.weight"
                ]
            );
            assert!(
                bufs.contains(&"main.10.running_var".to_string()),
                "{bufs:?}"
            );
            assert_eq!(
                dnames,
                [
                    "main.0.weight",
                    "main.2.weight",
                    "main.3.weight",
                    "main.3.bias",
                    "main.5.weight",
                    "main.6.weight",
                    "main.6.bias",
                    "main.8.weight",
                    "main.9.weight",
                    "main.9.bias",
                    "main.11.weight"
                ]
            );
            assert_eq!(
                g.parameters()[0].1.shape(),
                [100, 64, 4, 4],
                "ConvTranspose weight (in, out, k, k)"
            );
            assert_eq!(
                d.parameters()[0].1.shape(),
                [8, 1, 4, 4],
                "Conv weight (out, in, k, k)"
            );
        }
        // DCGAN init: conv weights N(0, 0.02), BN weights N(1, 0.02).
        let w = g.parameters()[0].1.value().to_vec().unwrap();
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
        assert!(
            mean.abs() < 0.005 && (std - 0.02).abs() < 0.003,
            "conv init mean {mean} std {std}"
        );
        let bn = g.parameters()[1].1.value().to_vec().unwrap();
        assert!(
            bn.iter().all(|v| (v - 1.0).abs() < 0.1),
            "BN weight init near 1"
        );
        let bad = Var::constant(Tensor::zeros(&ctx, &[2, 7]).unwrap());
        assert!(g.forward(&bad).is_err());
    }
    assert!(Generator::new(&ctx, small(48, 3), &mut rng).is_err());
}

// ---- trainer ---------------------------------------------------------------

fn tiny_trainer(out: &Path, seed: u64) -> GanTrainer {
    let cfg = GanConfig {
        model: small(32, 1),
        batch: 8,
        iters: 4,
        every: 2,
        seed,
        out: out.to_path_buf(),
        grid: 16,
        ..Default::default()
    };
    GanTrainer::new(
        &common::ctx(),
        cfg,
        GanData::Shapes(Shapes::new(32, 1, seed).unwrap()),
    )
    .unwrap()
}

#[test]
fn checkpoint_resume_continues_the_same_run() {
    let out = temp_dir("resume");
    let path = out.join("ck.safetensors");
    let mut a = tiny_trainer(&out, 5);
    a.step().unwrap();
    a.step().unwrap();
    gan_ckpt::save(&a, &path).unwrap();
    let a3 = a.step().unwrap();
    let a4 = a.step().unwrap();

    let mut b = tiny_trainer(&out, 5);
    // Make b differ from a's start, so only the load can make them agree.
    let w = &b.generator.parameters()[0].1;
    w.value()
        .write(&common::random(w.value().numel(), 9))
        .unwrap();
    gan_ckpt::load(&mut b, &path).unwrap();
    assert_eq!(b.iteration, 2);
    assert_eq!(b.history, a.history[..2]);
    assert_eq!(
        b.fixed_noise.to_vec().unwrap(),
        a.fixed_noise.to_vec().unwrap()
    );
    let b3 = b.step().unwrap();
    let b4 = b.step().unwrap();
    for (x, y) in [(a3, b3), (a4, b4)] {
        for (p, q) in [
            (x.loss_d, y.loss_d),
            (x.loss_g, y.loss_g),
            (x.d_x, y.d_x),
            (x.d_g_z, y.d_g_z),
        ] {
            assert!(
                (p - q).abs() <= 1e-4 * (1.0 + p.abs()),
                "resumed run differs: {x:?} vs {y:?}"
            );
        }
    }
    let wa = a.discriminator.parameters()[0].1.value().to_vec().unwrap();
    let wb = b.discriminator.parameters()[0].1.value().to_vec().unwrap();
    common::assert_close("D weight after resume", &wb, &wa, 1e-5, 1e-4);

    // A generator alone from the file samples what the trainer sampled.
    let g = gan_ckpt::load_generator(&common::ctx(), &path).unwrap();
    let mut c = tiny_trainer(&out, 5);
    gan_ckpt::load(&mut c, &path).unwrap();
    let want = c.generate(&c.fixed_noise).unwrap();
    let got = kairo::jobs::gan::generate(&g, &c.fixed_noise).unwrap();
    common::assert_close("samples from load_generator", &got, &want, 1e-5, 1e-4);
    // A checkpoint for other sizes is refused, naming both.
    let mut other = GanTrainer::new(
        &common::ctx(),
        GanConfig {
            model: DcganConfig {
                ngf: 16,
                ..small(32, 1)
            },
            batch: 8,
            out: out.clone(),
            grid: 16,
            ..Default::default()
        },
        GanData::Shapes(Shapes::new(32, 1, 5).unwrap()),
    )
    .unwrap();
    let err = gan_ckpt::load(&mut other, &path)
        .err()
        .expect("size mismatch")
        .to_string();
    assert!(err.contains("ngf: 8") && err.contains("ngf: 16"), "{err}");
}

#[test]
fn non_finite_loss_stops_training_and_keeps_the_last_checkpoint() {
    let out = temp_dir("nan");
    let mut t = tiny_trainer(&out, 6);
    t.config.iters = 2;
    gan_report::run(&mut t, None, |_, _| {}, |_| {}).unwrap();
    let files = gan_report::RunFiles::new(&out);
    let before = std::fs::read(&files.checkpoint).expect("checkpoint written at iteration 2");
    assert!(gan_report::RunFiles::grid(&out, 2).exists() && files.loss_curve.exists());
    // Poison D: its loss becomes NaN at the next iteration.
    let w = &t.discriminator.parameters()[0].1;
    w.value().write(&vec![f32::NAN; w.value().numel()]).unwrap();
    t.config.iters = 4;
    let err = gan_report::run(&mut t, None, |_, _| {}, |_| {})
        .err()
        .expect("NaN stops training")
        .to_string();
    assert!(
        err.contains("not finite") && err.contains("iteration 3"),
        "{err}"
    );
    assert_eq!(t.iteration, 2, "the failed iteration is not counted");
    assert_eq!(
        std::fs::read(&files.checkpoint).unwrap(),
        before,
        "last good checkpoint kept"
    );
}

#[test]
fn sample_grid_has_one_cell_per_image() {
    let out = temp_dir("grid");
    let p = out.join("g.png");
    let imgs = common::random(10 * 3 * 8 * 8, 4);
    gan_report::render_grid(&imgs, 3, 8, 2, &p).unwrap();
    let img = image::open(&p).unwrap();
    // 10 images → 4 columns, 3 rows of 16-pixel cells with 2-pixel borders.
    assert_eq!((img.width(), img.height()), (4 * 18 + 2, 3 * 18 + 2));
    assert!(gan_report::render_grid(&imgs[1..], 3, 8, 2, &p).is_err());
    let alike = vec![0.5f32; 6 * 64];
    assert_eq!(gan_eval::mean_pairwise_distance(&alike, 64), 0.0);
}


/// Iterations of the CI-sized run. The default `kairo train gan` run
/// (32×32 grey, ngf = ndf = 16, batch 32, lr 4e-4, seed 1) judged by a
/// conv classifier of 150 steps measured on lavapipe: iteration 50: 0/5
/// classes, confidence 0.55, diversity 0.06 (noise); 100: 1/5, 0.75, 0.27;
/// 150: 3/5, 0.73, 0.28; 250: 2–3/5, 0.75, 0.36. Matmul autotuning can pick
/// other kernels from run to run (other rounding), so the thresholds below
/// leave room for another trajectory while still failing for a generator
/// that has not learnt (noise: no class, ~0.55) or has collapsed
/// (diversity near 0).
const CI_ITERS: u64 = 150;

#[test]
fn seeded_training_run_is_judged_by_the_classifier() {
    let ctx = common::ctx();
    let start = std::time::Instant::now();
    let (judge_net, acc) =
        gan_eval::train_classifier(&ctx, gan_eval::ClassifierKind::Conv, 32, 1, 150, 0).unwrap();
    eprintln!("judge: held-out accuracy {acc:.3} ({:.0} s)", start.elapsed().as_secs_f64());
    assert!(acc >= 0.8, "the judge itself must work: accuracy {acc}");
    let out = temp_dir("ci-train");
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 100, ngf: 16, ndf: 16 },
        batch: 32,
        iters: CI_ITERS,
        every: CI_ITERS,
        lr: 4e-4,
        seed: 1,
        out,
        grid: 16,
        ..Default::default()
    };
    let mut t = GanTrainer::new(&ctx, cfg, GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    let untrained = gan_eval::judge(&ctx, &judge_net, &t.generate(&t.fixed_noise).unwrap()).unwrap();
    let mut judgements = Vec::new();
    gan_report::run(&mut t, Some(&judge_net), |_, _| {}, |s| judgements.push(s.judgement.clone().unwrap())).unwrap();
    let last = judgements.last().unwrap();
    eprintln!("untrained: {untrained}\nafter {CI_ITERS}: {last}\n{:.0} s in all", start.elapsed().as_secs_f64());
    assert_eq!(last.samples, gan_report::JUDGED_SAMPLES);
    assert!(last.classes_covered >= 2, "classes covered: {last}");
    assert!(last.mean_confidence >= 0.62, "mean confidence: {last}");
    assert!(last.diversity >= 0.15, "samples too alike: {last}");
    assert!(last.diversity > untrained.diversity * 1.5, "no more varied than at init: {untrained} vs {last}");
}
