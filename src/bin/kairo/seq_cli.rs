//! `train seq --task copy|text` and `sample seq`: printing and progress
//! bars around the library's training loops.
use std::path::Path;

use kairo::data::text::TextCorpus;
use kairo::jobs::copy::{self, CopySpec, SeqConfig};
use kairo::jobs::text::{self, CharModel, CharShape, TextConfig};
use kairo::{Context, Error, Result};
use rand::SeedableRng;

use super::TextArgs;

fn bar(steps: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  loss {msg}  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    bar
}

pub fn train_copy(cfg: &SeqConfig, spec: &CopySpec) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    println!(
        "copy task: {} symbols of {}, delay {}, go marker, then the answer ({} steps per sequence); {} cell, hidden {}, batch {}, {} Adam steps (lr {}, clip {}), seed {}",
        spec.symbols,
        spec.alphabet,
        spec.delay,
        spec.steps(),
        cfg.cell.name(),
        cfg.hidden,
        cfg.batch,
        cfg.steps,
        cfg.lr,
        cfg.clip,
        cfg.seed
    );
    println!(
        "baseline (guessing): loss {:.3} nats/symbol, accuracy {:.1}%",
        spec.baseline_loss(),
        100.0 * spec.baseline_accuracy()
    );
    let bar = bar(cfg.steps);
    let run = copy::train_copy(&ctx, cfg, spec, |p| {
        bar.set_message(format!("{:.4}", p.loss));
        bar.inc(1);
        if let Some(e) = p.eval {
            bar.suspend(|| {
                println!("step {:>6}: test loss {:.4}, accuracy {:.1}%", p.step + 1, e.loss, 100.0 * e.accuracy)
            });
        }
    })?;
    bar.finish();
    let e = run.eval;
    let verdict = if e.accuracy > 0.95 {
        "solved"
    } else if e.accuracy > 2.0 * spec.baseline_accuracy() {
        "partly learned"
    } else {
        "not learned (near guessing)"
    };
    println!(
        "final test loss {:.4} (guessing {:.3}), accuracy {:.1}% (guessing {:.1}%): {verdict}",
        e.loss,
        spec.baseline_loss(),
        100.0 * e.accuracy,
        100.0 * spec.baseline_accuracy()
    );
    Ok(())
}

pub fn train_text(cfg: &SeqConfig, a: &TextArgs) -> Result<()> {
    let corpus = match &a.data {
        Some(path) => TextCorpus::from_file(path)?,
        None => TextCorpus::builtin(),
    };
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    let source = a.data.as_ref().map_or("the built-in corpus".to_string(), |p| p.display().to_string());
    println!(
        "text: {source}: {} characters, vocabulary of {}; unigram entropy {:.3} nats/char, uniform ln(V) = {:.3}",
        corpus.ids.len(),
        corpus.vocab.len(),
        corpus.unigram_entropy(),
        (corpus.vocab.len() as f32).ln()
    );
    let tc = TextConfig {
        shape: CharShape { cell: cfg.cell, embed: a.embed, hidden: cfg.hidden, layers: a.layers },
        dropout: a.dropout,
        seq_len: a.seq_len,
        batch: cfg.batch,
        steps: cfg.steps,
        lr: cfg.lr,
        clip: a.clip,
        seed: cfg.seed,
        sample_every: a.sample_every,
        sample_len: a.sample_len,
        temperature: a.temperature,
        prompt: a.prompt.clone(),
        checkpoint: Some(a.checkpoint.clone()),
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
    };
    println!(
        "model: embedding {} -> {} x {} {} -> linear {}; truncated BPTT over {} chars x {} streams, {} Adam steps (lr {}, clip {}), seed {}",
        tc.shape.embed,
        tc.shape.layers,
        tc.shape.hidden,
        tc.shape.cell.name(),
        corpus.vocab.len(),
        tc.seq_len,
        tc.batch,
        tc.steps,
        tc.lr,
        tc.clip,
        tc.seed
    );
    let bar = bar(tc.steps);
    let mut recent = std::collections::VecDeque::new();
    // The last checkpoint this run can vouch for: the one it resumes from, then each it writes.
    let mut last_good = (a.resume && a.checkpoint.exists()).then(|| "the one it resumed from".to_string());
    let result = text::train_text(&ctx, &corpus, &tc, |p| {
        recent.push_back(p.loss);
        if recent.len() > 20 {
            recent.pop_front();
        }
        let avg = recent.iter().sum::<f32>() / recent.len() as f32;
        bar.set_message(format!("{avg:.3} nats/char"));
        bar.set_position(p.step as u64 + 1);
        if let Some(s) = &p.sample {
            bar.suspend(|| println!("--- step {} (T = {}):\n{}{}\n---", p.step + 1, tc.temperature, tc.prompt, s));
        }
        if p.saved.is_some() {
            last_good = Some(format!("the one written after step {}", p.step + 1));
        }
    });
    bar.finish();
    if let Err(Error::Diverged { .. }) = &result {
        let path = a.checkpoint.display();
        match &last_good {
            Some(which) => eprintln!("the last good checkpoint is {path}, {which}"),
            None if a.checkpoint.exists() => eprintln!("this run wrote no checkpoint before it diverged ({path} is older)"),
            None => eprintln!("no checkpoint was written before it diverged"),
        }
    }
    let run = result?;
    if run.resumed_at > 0 {
        println!("(resumed from {} at step {})", a.checkpoint.display(), run.resumed_at);
    }
    println!(
        "loss over the text (first {} characters at most): {:.3} nats/char ({:.3} bits/char; unigram entropy {:.3})",
        text::EVAL_CHARS,
        run.final_loss,
        run.final_loss / std::f32::consts::LN_2,
        corpus.unigram_entropy()
    );
    println!(
        "wrote {} (sample with: kairo sample seq --checkpoint {} --prompt \"...\")",
        a.checkpoint.display(),
        a.checkpoint.display()
    );
    Ok(())
}

pub fn sample_text(path: &Path, prompt: &str, len: usize, temperature: f32, seed: u64) -> Result<()> {
    let ctx = Context::new()?;
    let model = CharModel::load(&ctx, path)?;
    eprintln!(
        "{}: {} x {} {}, vocabulary of {}; temperature {temperature}, seed {seed}",
        path.display(),
        model.shape.layers,
        model.shape.hidden,
        model.shape.cell.name(),
        model.vocab.len()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let text = text::sample(&ctx, &model, prompt, len, temperature, &mut rng)?;
    println!("{prompt}{text}");
    Ok(())
}

/// `kairo eval seq`: bits per character of a character model on a file.
pub fn eval(checkpoint: &Path, data: &Path, batch: usize, seq_len: usize) -> Result<()> {
    let ctx = Context::new()?;
    println!("adapter: {}", ctx.describe());
    let model = CharModel::load(&ctx, checkpoint)?;
    let t0 = std::time::Instant::now();
    let r = text::bits_per_char_file(&ctx, &model, data, batch, seq_len)?;
    println!(
        "{}: {:.4} bits/char ({:.4} nats/char) over {} predicted characters ({batch} streams, {} forwards) in {:.1} s",
        data.display(),
        r.bits_per_char,
        r.nats_per_char(),
        r.predicted,
        r.forwards,
        t0.elapsed().as_secs_f32()
    );
    Ok(())
}
