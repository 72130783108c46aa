//! Speech recognition: WAV input and resampling ([`wav`]), log-mel
//! features ([`features`]), CSV manifests ([`manifest`]), the built-in
//! synthetic spoken-digit set ([`synth`]), the time-striding convolution
//! ([`conv`], shaders/unfold_time.wgsl) and the Deep Speech 2 style model
//! ([`model`]).

pub mod conv;
pub mod features;
pub mod manifest;
pub mod model;
pub mod synth;
pub mod text;
pub mod wav;
pub mod window;
