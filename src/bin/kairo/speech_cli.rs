//! `kairo train speech` and `kairo transcribe`: printing and progress around `kairo::jobs::speech`.

use std::path::Path;

use kairo::jobs::speech;
use kairo::{Context, Error, Result};

use crate::dist_cli::{self, Ranks};

/// Prints unless `$quiet` (the ranks after 0 of a distributed run).
macro_rules! say {
    ($quiet:expr, $($t:tt)*) => {
        if !$quiet {
            println!($($t)*)
        }
    };
}

/// `kairo train speech`; with `distributed`, one rank of an `mpirun` job.
pub fn train_speech(cfg: &speech::SpeechTrainConfig, distributed: bool) -> Result<()> {
    let ranks = dist_cli::start(distributed)?;
    let result = train_speech_ranks(cfg, ranks.as_ref());
    dist_cli::finish(ranks, result)
}

fn train_speech_ranks(cfg: &speech::SpeechTrainConfig, ranks: Option<&Ranks>) -> Result<()> {
    let quiet = Ranks::quiet(ranks);
    let ctx = dist_cli::context(ranks)?;
    dist_cli::announce(ranks, &ctx);
    say!(quiet, "adapter: {}", ctx.describe());
    // --resume's checkpoint is found and checked before any data is prepared.
    speech::check_resume(&ctx, cfg)?;
    let t0 = std::time::Instant::now();
    let data = speech::load_data(cfg)?;
    match (&cfg.manifest, &data.report) {
        (Some(m), Some(r)) => {
            say!(quiet, "{}: {} utterances loaded, {} skipped", m.display(), r.loaded, r.skipped.len());
            for (path, why) in r.skipped.iter().take(10) {
                say!(quiet, "  skipped {}: {why}", path.display());
            }
        }
        _ => say!(quiet, "built-in synthetic spoken digits: {} utterances", cfg.synth_utterances),
    }
    if !data.dropped.is_empty() {
        say!(quiet, "{} utterances dropped (cannot be trained on), e.g. {}", data.dropped.len(), data.dropped[0]);
    }
    let audio: f32 = data.train.iter().map(|e| e.seconds).sum();
    let scored = match &cfg.valid_manifest {
        Some(v) => format!("{} in {} scored each epoch", data.test.len(), v.display()),
        None => format!("{} held out ({:.0}%)", data.test.len(), cfg.holdout * 100.0),
    };
    say!(quiet, "{} train ({:.0} s of audio), {scored}; features ready in {:.1} s", data.train.len(), audio, t0.elapsed().as_secs_f32());
    describe_model(cfg, quiet);
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} batches  loss {msg}  {per_sec}").expect("valid template"),
    );
    // The last checkpoint this run can vouch for: the resumed one, then each epoch's.
    let mut last_good = cfg.resume.then(|| "the one it resumed from".to_string());
    let result = speech::train_speech_on(&ctx, cfg, &data, Ranks::comm(ranks), |ev| match ev {
        speech::SpeechEvent::EpochStart { epoch, batches } => {
            bar.reset();
            bar.set_length(batches as u64);
            bar.set_prefix(format!("{}", epoch + 1));
        }
        speech::SpeechEvent::Step { loss } => {
            bar.set_message(format!("{loss:.3}"));
            bar.inc(1);
        }
        speech::SpeechEvent::Epoch(r) => bar.suspend(|| {
            if r.checkpoint.is_some() {
                last_good = Some(format!("the one written after epoch {}", r.epoch + 1));
            }
            say!(quiet, 
                "epoch {:>3}: train loss {:.3}  held-out CER {:.1}%  WER {:.1}%  ({:.1} s of audio per second)",
                r.epoch + 1,
                r.train_loss,
                r.cer * 100.0,
                r.wer * 100.0,
                r.audio_seconds_per_second
            );
            if let Some(ranks) = ranks {
                say!(
                    quiet,
                    "           {} ranks: {:.3} s per step, {:.2} MB of gradients all-reduced per step in {:.1} bucket(s)",
                    ranks.comm.size(),
                    r.seconds_per_step,
                    r.allreduce_bytes_per_step as f64 / 1e6,
                    r.allreduce_buckets_per_step
                );
            }
            for (reference, hypothesis) in &r.samples {
                say!(quiet, "    ref: {reference}\n    hyp: {hypothesis}");
            }
        }),
    });
    bar.finish_and_clear();
    if let Err(Error::Diverged { .. } | Error::Distributed(_)) = &result {
        match (&cfg.out, &last_good) {
            (Some(dir), Some(which)) => eprintln!("the last good checkpoint is {}, {which}", dir.join(speech::CHECKPOINT).display()),
            (Some(_), None) => eprintln!("no checkpoint was written before it diverged"),
            (None, _) => eprintln!("(no --out: this run writes no checkpoints)"),
        }
    }
    let run = result?;
    if let Some(last) = run.epochs.last() {
        say!(quiet, "final held-out CER {:.1}%, WER {:.1}% after {:.0} s", last.cer * 100.0, last.wer * 100.0, t0.elapsed().as_secs_f32());
    }
    if let Some(dir) = &cfg.out {
        say!(quiet, "checkpoint: {}", dir.join(speech::CHECKPOINT).display());
    }
    Ok(())
}

/// The model and optimiser line.
fn describe_model(cfg: &speech::SpeechTrainConfig, quiet: bool) {
    let m = &cfg.model;
    say!(quiet, 
        "model: conv {}x{} stride {} -> {} GRU {}x{} -> {} classes; Adam lr {}, clip {}, batch {}",
        m.conv_kernel,
        m.n_mels,
        m.conv_stride,
        if m.bidirectional { "bidirectional".to_string() } else { format!("unidirectional + look-ahead {}", m.lookahead) },
        m.layers,
        m.hidden,
        m.classes,
        cfg.lr,
        cfg.clip,
        cfg.batch
    );
}

pub fn transcribe(checkpoint: &Path, beam: usize, wav: &Path) -> Result<()> {
    let ctx = Context::new()?;
    let model = speech::load_model(&ctx, checkpoint)?;
    println!("{}", speech::transcribe_file(&ctx, &model, wav, beam)?);
    Ok(())
}


/// `kairo eval speech`: corpus CER/WER of a checkpoint on a manifest, with
/// each utterance's line when `verbose`.
pub fn eval(checkpoint: &Path, manifest: &Path, beam: usize, batch: usize, verbose: bool) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    let model = speech::load_model(&ctx, checkpoint)?;
    let t0 = std::time::Instant::now();
    let r = speech::evaluate_manifest(&ctx, &model, manifest, batch, beam)?;
    for (path, why) in r.skipped.iter().take(10) {
        println!("skipped {}: {why}", path.display());
    }
    if verbose {
        for u in &r.utterances {
            println!("{}  CER {:.1}%  WER {:.1}%\n    ref: {}\n    hyp: {}", u.path.display(), u.cer() * 100.0, u.wer() * 100.0, u.reference, u.hypothesis);
        }
    }
    let decoder = if beam > 1 { format!("beam {beam}") } else { "greedy".to_string() };
    println!(
        "{}: {} utterances ({:.0} s of audio, {} skipped), {decoder}, batch {batch}: CER {:.2}% ({} / {} characters)  WER {:.2}% ({} / {} words)  in {:.1} s",
        manifest.display(),
        r.utterances.len(),
        r.seconds(),
        r.skipped.len(),
        r.cer() * 100.0,
        r.chars.edits,
        r.chars.reference_len,
        r.wer() * 100.0,
        r.words.edits,
        r.words.reference_len,
        t0.elapsed().as_secs_f32()
    );
    Ok(())
}
