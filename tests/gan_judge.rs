//! The GAN's quality judge: samples unlike the data are "not judged",
//! real shapes are judged with high coverage, and the judge is trained once
//! per data configuration and then loaded from the cache folder.

mod common;

use std::path::PathBuf;

use kairo::data::shapes::{Shapes, NUM_CLASSES};
use kairo::jobs::gan::judge::{self, ClassifierKind, JudgeSettings};
use kairo::jobs::gan::{GanConfig, GanData, GanTrainer};
use kairo::nn::dcgan::DcganConfig;
use rand::{Rng, SeedableRng};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kairo-judge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn judge_is_cached_and_does_not_judge_samples_unlike_the_data() {
    let ctx = common::ctx();
    let dir = temp_dir("cache");
    let settings = JudgeSettings { kind: ClassifierKind::Mlp, steps: 200, seed: 0 };
    let cache = judge::cache_file(&dir, 32, 1, settings);
    let start = std::time::Instant::now();
    let (trained, acc) = judge::classifier_for(&ctx, 32, 1, settings, &cache).unwrap();
    let acc = acc.expect("the first call trains");
    eprintln!("judge: accuracy {acc:.3}, {:.1} s, threshold {:?}", start.elapsed().as_secs_f64(), trained.features.as_ref().map(|f| f.threshold));
    assert!(cache.exists() && acc >= 0.8, "accuracy {acc}");
    // Another data configuration has another file; the same one the same.
    assert_ne!(cache, judge::cache_file(&dir, 32, 3, settings));
    assert_ne!(cache, judge::cache_file(&dir, 32, 1, JudgeSettings { steps: 201, ..settings }));
    assert_eq!(cache, judge::cache_file(&dir, 32, 1, settings));

    // The second run loads it: no training, the same verdicts.
    let start = std::time::Instant::now();
    let (loaded, again) = judge::classifier_for(&ctx, 32, 1, settings, &cache).unwrap();
    assert!(again.is_none(), "trained again instead of loading the cache");
    eprintln!("loaded in {:.2} s", start.elapsed().as_secs_f64());

    // Real shapes (not the judge's own): judged, most classes covered.
    let real = Shapes::new(32, 1, 77).unwrap().batch(0, 200).0;
    for c in [&trained, &loaded] {
        let j = judge::judge(&ctx, c, &real).unwrap();
        eprintln!("real shapes: {j}");
        assert!(j.judged && j.in_distribution >= 0.9, "{j}");
        assert!(j.classes_covered >= NUM_CLASSES - 1, "{j}");
    }
    assert_eq!(judge::judge(&ctx, &trained, &real).unwrap(), judge::judge(&ctx, &loaded, &real).unwrap());

    // Pure noise, and an untrained generator's output: not judged.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let noise: Vec<f32> = (0..200 * 32 * 32).map(|_| rng.random_range(-1.0..1.0)).collect();
    let j = judge::judge(&ctx, &loaded, &noise).unwrap();
    eprintln!("uniform noise: {j} (mean confidence {:.3}, classes covered {})", j.mean_confidence, j.classes_covered);
    assert!(!j.judged && j.to_string().starts_with("not judged"), "{j}");
    let cfg = GanConfig {
        model: DcganConfig { image_size: 32, channels: 1, nz: 100, ngf: 16, ndf: 16 },
        out: dir.join("gan"),
        ..Default::default()
    };
    let t = GanTrainer::new(&ctx, cfg, GanData::Shapes(Shapes::new(32, 1, 1).unwrap())).unwrap();
    let noise = kairo::Tensor::from_slice(&ctx, &kairo::jobs::gan::uniform_noise(200, 100, &mut rng), &[200, 100]).unwrap();
    let j = judge::judge(&ctx, &loaded, &t.generate(&noise).unwrap()).unwrap();
    eprintln!("untrained generator: {j} (mean confidence {:.3}, classes covered {})", j.mean_confidence, j.classes_covered);
    assert!(!j.judged, "{j}");

    // The cache folder: KAIRO_CACHE_DIR first, then XDG_CACHE_HOME/kairo.
    std::env::set_var("KAIRO_CACHE_DIR", &dir);
    assert_eq!(judge::cache_dir(), Some(dir.clone()));
    std::env::remove_var("KAIRO_CACHE_DIR");
    std::env::set_var("XDG_CACHE_HOME", &dir);
    assert_eq!(judge::cache_dir(), Some(dir.join("kairo")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_judge_trains_no_classifier() {
    let dir = temp_dir("cli");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kairo"))
        .args(["train", "gan", "--iters", "2", "--every", "2", "--batch", "4", "--no-judge", "--out"])
        .arg(dir.join("out"))
        .env("KAIRO_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("quality judge") && !out.contains("classes covered"), "{out}");
    // The cache folder may hold autotune choices, but no judge.
    let judges: Vec<_> = std::fs::read_dir(dir.join("cache"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("judge-"))
        .collect();
    assert!(judges.is_empty() && !dir.join("out/quality.csv").exists(), "{judges:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
