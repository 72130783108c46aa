//! Checks of the command line made before any work starts: options that
//! do not apply to the chosen task, sizes of zero, and output paths (their
//! folder is created if missing and must be writable; images must be
//! named .png or .jpg).

use std::path::Path;

use clap::parser::ValueSource;
use clap::ArgMatches;
use clap::ValueEnum;
use kairo::jobs::limits::{at_least, at_most};

use super::{Cli, Command, EvalJob, SampleJob, Task, TrainJob};
use kairo::{Error, Result};

/// Whether the user gave `id` on the command line (not a default).
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(m.try_get_raw(id), Ok(Some(_))) && m.value_source(id) == Some(ValueSource::CommandLine)
}

/// The `train seq` options of each task only.
const TEXT_ONLY: &[&str] = &[
    "data", "layers", "embed", "seq_len", "dropout", "clip", "sample_every", "sample_len", "temperature", "prompt", "checkpoint",
    "checkpoint_every", "resume",
];
const COPY_ONLY: &[&str] = &["symbols", "alphabet"];
const ADDING_ONLY: &[&str] = &["plot"];
const NOT_TEXT: &[&str] = &["length", "eval_every"];

fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// Rejects `train seq` options that do not apply to `task` ("adding", "copy" or "text").
pub fn seq_options(task: &str, m: &ArgMatches) -> Result<()> {
    let foreign: Vec<(&str, &str)> = match task {
        "adding" => TEXT_ONLY.iter().map(|o| (*o, "text")).chain(COPY_ONLY.iter().map(|o| (*o, "copy"))).collect(),
        "copy" => TEXT_ONLY.iter().map(|o| (*o, "text")).chain(ADDING_ONLY.iter().map(|o| (*o, "adding"))).collect(),
        _ => COPY_ONLY
            .iter()
            .map(|o| (*o, "copy"))
            .chain(ADDING_ONLY.iter().map(|o| (*o, "adding")))
            .chain(NOT_TEXT.iter().map(|o| (*o, "adding and copy")))
            .collect(),
    };
    for (id, owner) in foreign {
        if given(m, id) {
            return Err(Error::InvalidArgument(format!(
                "{} does not apply to --task {task} (it is an option of --task {owner})",
                flag(id)
            )));
        }
    }
    Ok(())
}

/// Every named size must be at least 1.
pub fn sizes(values: &[(&str, usize)]) -> Result<()> {
    values.iter().try_for_each(|(option, v)| at_least(option, *v, 1))
}

fn writable_dir(option: &str, dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| Error::InvalidArgument(format!("{option} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!("{option} {}: not a folder", dir.display())));
    }
    let probe = dir.join(format!(".kairo-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| Error::InvalidArgument(format!("{option} {}: folder not writable: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// An output file: its folder exists (created if missing) and is writable.
pub fn output_file(option: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::InvalidArgument(format!("{option} {}: is a folder, not a file", path.display())));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    writable_dir(option, parent)
}

/// An output folder: exists (created if missing) and is writable.
pub fn output_dir(option: &str, dir: &Path) -> Result<()> {
    writable_dir(option, dir)
}

/// An image file to write: named .png or .jpg/.jpeg, in a writable folder.
pub fn image_file(option: &str, path: &Path) -> Result<()> {
    kairo::io::atomic::image_format(path).map_err(|e| Error::InvalidArgument(format!("{option}: {e}")))?;
    output_file(option, path)
}

/// The checks of `cli` made before anything runs.
pub fn command(cli: &Cli, matches: &ArgMatches) -> Result<()> {
    let sub = |path: &[&str]| path.iter().try_fold(matches, |m, name| m.subcommand_matches(name));
    match &cli.command {
        Command::Bench { sizes: matmul, reps, json, .. } => {
            sizes(&[("--reps", *reps)])?;
            matmul.iter().flatten().try_for_each(|&n| sizes(&[("--sizes", n)]))?;
            json.as_deref().map_or(Ok(()), |p| output_file("--json", p))
        }
        Command::Train { job: TrainJob::Seq { task, length, steps, batch, hidden, symbols, alphabet, text, plot, .. } } => {
            let name = task.to_possible_value().expect("no skipped variants").get_name().to_string();
            if let Some(m) = sub(&["train", "seq"]) {
                seq_options(&name, m)?;
            }
            sizes(&[("--steps", *steps), ("--batch", *batch), ("--hidden", hidden.unwrap_or(1))])?;
            match task {
                Task::Adding => {
                    at_least("--length", *length, 2)?;
                    plot.as_deref().map_or(Ok(()), |p| image_file("--plot", p))
                }
                Task::Copy => {
                    sizes(&[("--symbols", *symbols)])?;
                    at_least("--alphabet", *alphabet, 2)
                }
                Task::Text => {
                    sizes(&[("--layers", text.layers), ("--embed", text.embed), ("--seq-len", text.seq_len)])?;
                    output_file("--checkpoint", &text.checkpoint)
                }
            }
        }
        Command::Train { job: TrainJob::Speech { epochs, batch, hidden, layers, out, holdout, valid_manifest, .. } } => {
            sizes(&[("--epochs", *epochs), ("--batch", *batch), ("--hidden", *hidden), ("--layers", *layers)])?;
            let split = kairo::jobs::speech::SpeechTrainConfig { holdout: *holdout, valid_manifest: valid_manifest.clone(), ..Default::default() };
            kairo::jobs::speech::eval::check_holdout(&split)?;
            out.as_deref().map_or(Ok(()), |d| output_dir("--out", d))
        }
        Command::Train { job: TrainJob::Gan(a) } => {
            at_least("--batch", a.batch, 2)?;
            let big = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
            sizes(&[("--iters", big(a.iters)), ("--every", big(a.every)), ("--d-steps", a.d_steps), ("--ngf", a.ngf), ("--ndf", a.ndf)])?;
            a.background.parse::<kairo::data::images::Background>()?;
            output_dir("--out", &a.out)
        }
        Command::Sample { job: SampleJob::Gan { out, n, .. } } => {
            at_least("--n", *n, 2)?;
            image_file("--out", out)
        }
        Command::Eval { job: EvalJob::Speech { beam, batch, .. } } => {
            sizes(&[("--batch", *batch), ("--beam", beam.unwrap_or(1))])?;
            at_most("--beam", beam.unwrap_or(1), kairo::decode::MAX_BEAM)
        }
        Command::Eval { job: EvalJob::Seq { batch, seq_len, .. } } => sizes(&[("--batch", *batch), ("--seq-len", *seq_len)]),
        Command::Transcribe { beam: Some(beam), .. } => {
            at_least("--beam", *beam, 1)?;
            at_most("--beam", *beam, kairo::decode::MAX_BEAM)
        }
        _ => Ok(()),
    }
}
