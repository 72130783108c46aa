//! `kairo train speech --resume` and `--lookahead N` on the built-in
//! synthetic digits, at tiny sizes: a run interrupted after k epochs and
//! resumed to N must be the uninterrupted N-epoch run (same per-step losses,
//! held-out reports, parameters and optimiser state, bit for bit), and a
//! unidirectional GRU with a look-ahead convolution must train, see exactly
//! τ output frames ahead, and reload from its checkpoint.

mod common;

use std::path::{Path, PathBuf};

use kairo::speech::manifest::Example;
use kairo::speech::model::{SpeechConfig, SpeechModel};
use kairo::jobs::speech::{self, SpeechData, SpeechEvent, SpeechRun, SpeechTrainConfig};
use kairo::{Context, Tensor, Var};

/// A model small enough that an epoch of the tiny set takes about a second
/// on lavapipe.
fn tiny_model() -> SpeechConfig {
    SpeechConfig {
        conv_channels: 32,
        hidden: 32,
        ..Default::default()
    }
}

/// A fresh, empty folder under the system temp dir for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kairo-speech-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// What a run reported: the epochs it started (0-based, in order) and every
/// step's loss.
struct Trace {
    run: SpeechRun,
    started: Vec<usize>,
    losses: Vec<f32>,
}

fn train(c: &Context, cfg: &SpeechTrainConfig, data: &SpeechData) -> Trace {
    let (mut started, mut losses) = (Vec::new(), Vec::new());
    let run = speech::train_speech(c, cfg, data, |e| match e {
        SpeechEvent::EpochStart { epoch, .. } => started.push(epoch),
        SpeechEvent::Step { loss } => losses.push(loss),
        SpeechEvent::Epoch(r) => eprintln!(
            "epoch {}: loss {:.4} CER {:.3} WER {:.3}",
            r.epoch + 1,
            r.train_loss,
            r.cer,
            r.wer
        ),
    })
    .unwrap();
    Trace {
        run,
        started,
        losses,
    }
}

/// f32 values as bits, so that equality is exact (and NaN-safe).
fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn parameter_bits(run: &SpeechRun) -> Vec<(String, Vec<u32>)> {
    use kairo::nn::Module;
    run.model
        .parameters()
        .iter()
        .map(|(n, v)| (n.clone(), bits(v.value())))
        .collect()
}

/// The model's logits for all of `examples` in one padded batch (zeros past
/// each end, as training pads), as bits. At these sizes the models sit on
/// CTC's all-blank plateau, so greedy transcripts are mostly empty and
/// compare equal too easily; the logits behind them do not.
fn logit_bits(c: &Context, model: &SpeechModel, examples: &[Example]) -> Vec<u32> {
    let (f, b) = (model.config.n_mels, examples.len());
    let t = examples.iter().map(|e| e.features.frames).max().unwrap();
    let mut x = vec![0.0f32; t * b * f];
    for (bi, e) in examples.iter().enumerate() {
        for ti in 0..e.features.frames {
            x[(ti * b + bi) * f..(ti * b + bi + 1) * f]
                .copy_from_slice(&e.features.data[ti * f..(ti + 1) * f]);
        }
    }
    let x = Var::constant(Tensor::from_slice(c, &x, &[t, b, f]).unwrap());
    bits(kairo::no_grad(|| model.forward(&x)).unwrap().value())
}

/// Every tensor (model and optimiser moments) and every metadata entry
/// (epoch, Adam's step count, config) of a checkpoint.
fn checkpoint_contents(
    c: &Context,
    path: &Path,
) -> (Vec<(String, Vec<u32>)>, Vec<(String, String)>) {
    let ckpt = kairo::io::safetensors::load(c, path).unwrap();
    let mut tensors: Vec<(String, Vec<u32>)> = ckpt
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), bits(t)))
        .collect();
    tensors.sort();
    let mut meta: Vec<(String, String)> = ckpt.metadata.into_iter().collect();
    meta.sort();
    (tensors, meta)
}

// Exact equality is the contract here: every kernel on the path (conv, GRU,
// CTC, clipping, Adam, matmul) is a fixed-order computation without atomics,
// the batch plan of epoch e depends only on (seed, e), and matmul variants
// are autotuned once per shape class and context, so the same inputs give
// the same bits on the same adapter (Vulkan lavapipe and GL llvmpipe both).
// The context is this test's own: on the shared one, a test running beside
// it could autotune the same shape class at the same moment and switch the
// cached variant mid-run. A tolerance would hide a resume that restarts
// Adam's bias correction or moments, whose effect after a few steps is small.
#[test]
fn resumed_run_continues_exactly_where_the_uninterrupted_run_is() {
    let c = common::fresh_ctx();
    const N: usize = 3;
    const K: usize = 1;
    let base = SpeechTrainConfig {
        synth_utterances: 40,
        holdout: 0.2,
        batch: 8,
        lr: 1e-2,
        show: 8,
        seed: 5,
        model: tiny_model(),
        ..Default::default()
    };
    let data = speech::load_data(&base).unwrap();
    assert_eq!(
        (data.train.len(), data.test.len()),
        (32, 8),
        "dropped {:?}",
        data.dropped
    );
    let steps_per_epoch = data.train.len().div_ceil(base.batch);

    let whole_dir = scratch("whole");
    let whole = train(
        &c,
        &SpeechTrainConfig {
            epochs: N,
            out: Some(whole_dir.clone()),
            ..base.clone()
        },
        &data,
    );
    assert_eq!(whole.started, (0..N).collect::<Vec<_>>());
    assert_eq!(whole.losses.len(), N * steps_per_epoch);

    let split_dir = scratch("split");
    let first = train(
        &c,
        &SpeechTrainConfig {
            epochs: K,
            out: Some(split_dir.clone()),
            ..base.clone()
        },
        &data,
    );
    assert_eq!(first.started, (0..K).collect::<Vec<_>>());
    // Two fresh runs agree step for step: the engine is deterministic here.
    assert_eq!(
        first.losses,
        whole.losses[..K * steps_per_epoch],
        "two identical runs differ before any resume"
    );

    // A copy of that checkpoint which forgets only Adam's step count
    // (moments kept, so only the bias correction restarts): resumed below,
    // it must diverge, or the comparisons here would have no teeth.
    let forgetful_dir = scratch("forgetful");
    std::fs::create_dir_all(&forgetful_dir).unwrap();
    {
        let ckpt = kairo::io::safetensors::load(&c, &split_dir.join(speech::CHECKPOINT)).unwrap();
        let tensors: Vec<(&str, &Tensor)> =
            ckpt.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut meta: Vec<(&str, &str)> = ckpt
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let steps = meta
            .iter_mut()
            .find(|(k, _)| k.ends_with("step_count"))
            .expect("a step count in the metadata");
        assert_eq!(steps.1, (K * steps_per_epoch).to_string());
        steps.1 = "0";
        kairo::io::safetensors::save(&forgetful_dir.join(speech::CHECKPOINT), &tensors, &meta)
            .unwrap();
    }

    let resumed = train(
        &c,
        &SpeechTrainConfig {
            epochs: N,
            out: Some(split_dir.clone()),
            resume: true,
            ..base.clone()
        },
        &data,
    );
    // Epochs K..N only, numbered as in the uninterrupted run.
    assert_eq!(
        resumed.started,
        (K..N).collect::<Vec<_>>(),
        "the resumed run restarted its epoch count"
    );
    assert_eq!(
        resumed
            .run
            .epochs
            .iter()
            .map(|r| r.epoch)
            .collect::<Vec<_>>(),
        (K..N).collect::<Vec<_>>()
    );
    // The same steps with the same losses: parameters, Adam's moments and
    // step count, and the batch order all carried over.
    assert_eq!(
        resumed.losses,
        whole.losses[K * steps_per_epoch..],
        "per-step losses after resuming"
    );
    for (r, w) in resumed.run.epochs.iter().zip(&whole.run.epochs[K..]) {
        assert_eq!(
            (
                r.train_loss.to_bits(),
                r.cer.to_bits(),
                r.wer.to_bits(),
                &r.samples
            ),
            (
                w.train_loss.to_bits(),
                w.cer.to_bits(),
                w.wer.to_bits(),
                &w.samples
            ),
            "epoch {} report",
            r.epoch
        );
    }
    assert_eq!(
        parameter_bits(&resumed.run),
        parameter_bits(&whole.run),
        "final parameters"
    );
    let hyps_whole = speech::transcribe_examples(&c, &whole.run.model, &data.test, 8, 0).unwrap();
    let hyps_resumed =
        speech::transcribe_examples(&c, &resumed.run.model, &data.test, 8, 0).unwrap();
    assert_eq!(hyps_resumed, hyps_whole, "held-out transcripts");
    assert!(
        logit_bits(&c, &resumed.run.model, &data.test)
            == logit_bits(&c, &whole.run.model, &data.test),
        "held-out logits"
    );
    // The checkpoints hold the same state, optimiser included.
    let (t_whole, m_whole) = checkpoint_contents(&c, &whole_dir.join(speech::CHECKPOINT));
    let (t_split, m_split) = checkpoint_contents(&c, &split_dir.join(speech::CHECKPOINT));
    assert!(
        t_whole.iter().any(|(n, _)| n.ends_with("exp_avg_sq")),
        "no Adam moments in the checkpoint"
    );
    assert_eq!(m_split, m_whole, "checkpoint metadata (epoch, step count)");
    let names: Vec<&String> = t_whole.iter().map(|(n, _)| n).collect();
    assert_eq!(t_split.iter().map(|(n, _)| n).collect::<Vec<_>>(), names);
    for ((name, a), (_, b)) in t_split.iter().zip(&t_whole) {
        assert!(a == b, "checkpoint tensor `{name}` differs");
    }

    let forgetful = train(
        &c,
        &SpeechTrainConfig {
            epochs: K + 1,
            out: Some(forgetful_dir.clone()),
            resume: true,
            ..base.clone()
        },
        &data,
    );
    assert_eq!(forgetful.started, vec![K]);
    assert_eq!(
        forgetful.losses[0],
        whole.losses[K * steps_per_epoch],
        "same parameters, same first loss"
    );
    assert_ne!(
        forgetful.losses[1],
        whole.losses[K * steps_per_epoch + 1],
        "a lost Adam step count went unnoticed"
    );

    // Resuming a finished run trains nothing and changes nothing.
    let again = train(
        &c,
        &SpeechTrainConfig {
            epochs: N,
            out: Some(whole_dir.clone()),
            resume: true,
            ..base.clone()
        },
        &data,
    );
    assert!(again.started.is_empty() && again.losses.is_empty());
    assert_eq!(parameter_bits(&again.run), parameter_bits(&whole.run));

    let _ = std::fs::remove_dir_all(&whole_dir);
    let _ = std::fs::remove_dir_all(&split_dir);
    let _ = std::fs::remove_dir_all(&forgetful_dir);
}

#[test]
fn lookahead_model_trains_sees_tau_frames_ahead_and_reloads() {
    // A context of its own, as above: the exact comparisons below must not
    // see a matmul variant change between two forwards.
    let c = common::fresh_ctx();
    const TAU: usize = 2;
    let dir = scratch("lookahead");
    let cfg = SpeechTrainConfig {
        synth_utterances: 48,
        holdout: 0.25,
        batch: 8,
        lr: 1e-2,
        epochs: 4,
        seed: 3,
        out: Some(dir.clone()),
        model: SpeechConfig {
            bidirectional: false,
            lookahead: TAU,
            ..tiny_model()
        },
        ..Default::default()
    };
    let data = speech::load_data(&cfg).unwrap();
    let trace = train(&c, &cfg, &data);
    let (first, last) = (&trace.run.epochs[0], trace.run.epochs.last().unwrap());
    eprintln!(
        "look-ahead {TAU}: loss {:.4} -> {:.4}, CER {:.3}",
        first.train_loss, last.train_loss, last.cer
    );
    assert!(
        last.train_loss < 0.5 * first.train_loss,
        "training loss {} -> {}",
        first.train_loss,
        last.train_loss
    );

    // The model is a unidirectional GRU followed by a τ-step look-ahead.
    let model = &trace.run.model;
    assert_eq!(model.rnn.num_directions(), 1);
    let la = model.lookahead.as_ref().expect("a look-ahead layer");
    assert_eq!(la.context, TAU);
    assert_eq!(la.weight.shape(), &[TAU + 1, cfg.model.hidden]);

    // Causality: changing the input from some frame on leaves every output
    // frame that cannot see it (through the conv and τ look-ahead steps)
    // exactly unchanged, and changes the first one that can.
    let m = &cfg.model;
    let (frames, t0) = (90, 6);
    // Conv output frame u reads input frames u·stride − pad … u·stride − pad + kernel − 1;
    // output frame t0 reads conv frames ≤ t0 + τ.
    let first_unseen = (t0 + TAU) * m.conv_stride - m.conv_kernel / 2 + m.conv_kernel;
    let x = common::random(frames * m.n_mels, 17);
    let mut y = x.clone();
    for v in &mut y[first_unseen * m.n_mels..] {
        *v += 3.0;
    }
    let logits = |model: &SpeechModel, data: &[f32]| -> Vec<f32> {
        let v = Var::constant(Tensor::from_slice(&c, data, &[frames, 1, m.n_mels]).unwrap());
        kairo::no_grad(|| model.forward(&v))
            .unwrap()
            .value()
            .to_vec()
            .unwrap()
    };
    let (a, b) = (logits(model, &x), logits(model, &y));
    let k = m.classes;
    assert!(a.len() >= (t0 + 2) * k);
    assert_eq!(
        a[..(t0 + 1) * k],
        b[..(t0 + 1) * k],
        "output frames ≤ {t0} saw input frames ≥ {first_unseen}"
    );
    assert_ne!(
        a[(t0 + 1) * k..(t0 + 2) * k],
        b[(t0 + 1) * k..(t0 + 2) * k],
        "output frame {} does not look {TAU} frames ahead",
        t0 + 1
    );

    // The checkpoint rebuilds the same model: identical transcripts.
    let loaded = speech::load_model(&c, &dir.join(speech::CHECKPOINT)).unwrap();
    assert_eq!(loaded.config, cfg.model);
    assert!(
        loaded.lookahead.as_ref().is_some_and(|l| l.context == TAU)
            && loaded.rnn.num_directions() == 1
    );
    let before = speech::transcribe_examples(&c, model, &data.test, 8, 0).unwrap();
    let after = speech::transcribe_examples(&c, &loaded, &data.test, 8, 0).unwrap();
    assert_eq!(after, before);
    assert!(
        logit_bits(&c, &loaded, &data.test) == logit_bits(&c, model, &data.test),
        "held-out logits after reloading"
    );
    assert_eq!(logits(&loaded, &x), a, "reloaded model's logits");
    let _ = std::fs::remove_dir_all(&dir);
}
