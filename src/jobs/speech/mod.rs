//! The speech job (`kairo train speech`): the Deep Speech 2 style recogniser
//! (`crate::speech::model`) trained with the CTC loss, Adam and gradient
//! clipping, on a manifest or on the built-in synthetic spoken digits.
//!
//! A step, top to bottom: a batch of similar-length utterances padded to
//! the longest (zeros = the normalised mean past each end) → conv → GRU →
//! logits → CTC from logits with each utterance's own frame count → backward
//! → clip → Adam → one submit, one readback (loss and gradient norm), checked. Each epoch ends with
//! greedy decoding of the held-out set (CER, WER) and a kill-safe checkpoint.
//!
//! `trainer.rs` holds the data preparation and training loop (progress
//! through [`SpeechEvent`]s), `checkpoint.rs` saving and loading,
//! `report.rs` transcription; the model itself is [`crate::speech::model`].
//! It may import `crate::jobs::step`, `crate::io`, `crate::speech` and
//! the layers below; only the CLI, tests, benchmarks and embedding
//! applications import it.

pub mod checkpoint;
pub mod eval;
pub mod report;
pub mod trainer;
pub mod validate;

pub use checkpoint::load_model;
pub use eval::{evaluate, evaluate_manifest, transcribe_batched, Scored, SpeechEval, EVAL_BATCH};
pub use validate::{check_resume, validate};
pub use report::{transcribe_examples, transcribe_file};
pub use trainer::{
    load_data, synthetic_examples, train_speech, train_speech_on, BenchStep, EpochReport, SpeechData, SpeechEvent, SpeechRun, SpeechTrainConfig,
    CHECKPOINT,
};
