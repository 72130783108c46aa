//! Speech data sets as speech toolkits lay them out: a CSV manifest
//! `wav_filename,wav_filesize,transcript` with a header line, WAV paths
//! relative to the manifest's folder (or absolute).
//!
//! A manifest naming files that do not exist is an error listing them.
//! Files that exist but cannot be decoded, or hold no samples, are skipped
//! and reported (with a count) in [`LoadReport`].

use std::path::{Path, PathBuf};

use super::features::{Features, LogMel};
use super::wav;
use crate::error::{Error, Result};

/// One line of a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    /// The WAV file, resolved against the manifest's folder.
    pub path: PathBuf,
    /// The size the manifest states (informational; not checked).
    pub size: u64,
    /// The transcript, trimmed and lower-cased.
    pub transcript: String,
}

/// One utterance ready for training: normalised log-mel features and text.
#[derive(Clone, Debug)]
pub struct Example {
    pub features: Features,
    pub transcript: String,
    /// Audio length in seconds (at 16 kHz).
    pub seconds: f32,
}

/// What loading skipped.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Utterances loaded.
    pub loaded: usize,
    /// (file, why) for every skipped file: undecodable or empty audio.
    pub skipped: Vec<(PathBuf, String)>,
}

fn manifest_error(path: &Path, msg: String) -> Error {
    Error::data(path, msg)
}

/// Parses a manifest. Errors name the manifest and line; every listed WAV
/// file that does not exist is named in one error.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    parse_manifest(&text, path)
}

/// Parses manifest text; `path` locates relative WAV names and names errors.
pub fn parse_manifest(text: &str, path: &Path) -> Result<Vec<ManifestEntry>> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.trim().trim_start_matches('\u{feff}').replace(' ', "") == "wav_filename,wav_filesize,transcript" => {}
        Some((_, h)) => {
            return Err(manifest_error(path, format!("first line must be the header `wav_filename,wav_filesize,transcript`, got {h:?}")))
        }
        None => return Err(manifest_error(path, "empty manifest (no header line)".into())),
    }
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for (i, line) in lines {
        // The transcript is the rest of the line: it may hold commas.
        let fields: Vec<&str> = line.splitn(3, ',').collect();
        if fields.len() != 3 {
            return Err(manifest_error(path, format!("line {}: expected 3 fields `wav_filename,wav_filesize,transcript`, got {line:?}", i + 1)));
        }
        let size = fields[1]
            .trim()
            .parse::<u64>()
            .map_err(|_| manifest_error(path, format!("line {}: wav_filesize {:?} is not a number", i + 1, fields[1])))?;
        let wav = base.join(fields[0].trim());
        if !wav.is_file() {
            missing.push(wav.display().to_string());
        }
        entries.push(ManifestEntry { path: wav, size, transcript: fields[2].trim().to_lowercase() });
    }
    if !missing.is_empty() {
        return Err(manifest_error(
            path,
            format!("{} listed WAV file(s) do not exist: {}", missing.len(), missing.join(", ")),
        ));
    }
    if entries.is_empty() {
        return Err(manifest_error(path, "the manifest lists no utterances".into()));
    }
    Ok(entries)
}

/// Decodes, resamples and featurises every entry (on all cores). Files that
/// fail to decode or are empty are skipped and listed in the report.
pub fn load_examples(entries: &[ManifestEntry], mel: &LogMel) -> (Vec<Example>, LoadReport) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(entries.len().max(1));
    let chunk = entries.len().div_ceil(threads).max(1);
    let results: Vec<Vec<std::result::Result<Example, (PathBuf, String)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|e| match wav::load_16k(&e.path) {
                            Ok(samples) => Ok(Example {
                                seconds: samples.len() as f32 / wav::SAMPLE_RATE as f32,
                                features: mel.features(&samples),
                                transcript: e.transcript.clone(),
                            }),
                            Err(err) => Err((e.path.clone(), err.to_string())),
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("feature thread")).collect()
    });
    let mut report = LoadReport::default();
    let mut out = Vec::new();
    for r in results.into_iter().flatten() {
        match r {
            Ok(e) => out.push(e),
            Err(skip) => report.skipped.push(skip),
        }
    }
    report.loaded = out.len();
    (out, report)
}

/// Writes a manifest for (relative WAV name, size, transcript) rows.
pub fn write_manifest(path: &Path, rows: &[(String, u64, String)]) -> Result<()> {
    let mut text = String::from("wav_filename,wav_filesize,transcript\n");
    for (name, size, t) in rows {
        text.push_str(&format!("{name},{size},{t}\n"));
    }
    crate::io::atomic::write_atomic(path, text.as_bytes())
}
