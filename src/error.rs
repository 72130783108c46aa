//! The one error type every public function returns.

use std::fmt;

/// Everything that can go wrong at a boundary a user touches.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter at all on the selected backends.
    #[error("no GPU adapter found on backends {backends}. {hint}")]
    NoAdapter { backends: String, hint: String },

    /// `KAIRO_ADAPTER` named an adapter that does not exist.
    #[error("no adapter matches KAIRO_ADAPTER={wanted:?}; available: {available}")]
    AdapterNotFound { wanted: String, available: String },

    /// `KAIRO_BACKEND` holds something unknown.
    #[error("unknown backend {0:?}: use one of vulkan, metal, dx12, gl")]
    UnknownBackend(String),

    /// The adapter refused the device request.
    #[error("could not open a device on adapter {adapter}: {reason}")]
    RequestDevice { adapter: String, reason: String },

    /// Shapes that do not fit together; names both.
    #[error("{op}: shape mismatch: {left} vs {right}")]
    Shape { op: String, left: Shape, right: Shape },

    /// A shape that is wrong on its own (rank, zero size, axis out of range).
    #[error("{op}: {msg}")]
    InvalidShape { op: String, msg: String },

    /// Tensor dtype does not fit the operation.
    #[error("{op}: expected dtype {expected:?}, got {got:?}")]
    DType { op: String, expected: crate::DType, got: crate::DType },

    /// A size over one of the device's limits; names the limit.
    #[error("{what} needs {needed} but the device limit {limit_name} is {limit}")]
    OverLimit { what: String, needed: u64, limit_name: &'static str, limit: u64 },

    /// An argument that makes no sense (a negative length, an empty list, ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// wgpu reported a validation or out-of-memory error.
    #[error("GPU error in {context}: {message}")]
    Gpu { context: String, message: String },

    /// Reading a buffer back failed (device lost, map error).
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),

    /// A file could not be read or written; names the file.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },

    /// A checkpoint file that is malformed or does not fit its targets;
    /// names the file and lists every problem found.
    #[error("checkpoint {path}: {}", problems.join("; "))]
    Checkpoint { path: String, problems: Vec<String> },

    /// A data file or manifest that cannot be used as it is (bad encoding,
    /// malformed line, unreadable image); names the file.
    #[error("{path}: {reason}")]
    Data { path: String, reason: String },

    /// Training stopped because a value read back after optimiser step
    /// `step` (counted from 1) was not finite: the loss, the gradient norm
    /// or the parameters' sum of squares. Nothing was saved after that step.
    #[error("training diverged at iteration {step}: a value read back is {value} (not finite); nothing was saved after it")]
    Diverged { step: u64, value: f32 },

    /// Data-parallel training (`kairo::dist`) stopped: another rank failed,
    /// or a collective did; says which step and why.
    #[error("distributed run: {0}")]
    Distributed(String),

    /// A kernel name or entry point that the registry does not hold.
    #[error("unknown kernel {0}")]
    UnknownKernel(String),

    /// An output path another run holds the lock on; names the path and the holder.
    #[error("{path} is in use by another kairo run ({holder})")]
    InUse { path: String, holder: String },
}

/// Result with kairo's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A shape printed like `[2, 3, 4]` in error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Error {
    /// A checkpoint problem of one line.
    pub fn checkpoint(path: &std::path::Path, problem: impl Into<String>) -> Self {
        Error::Checkpoint { path: path.display().to_string(), problems: vec![problem.into()] }
    }

    /// A data file that cannot be used, and why.
    pub fn data(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::Data { path: path.display().to_string(), reason: reason.into() }
    }

    /// A shape mismatch between two shapes.
    pub fn shape(op: &str, left: &[usize], right: &[usize]) -> Self {
        Error::Shape { op: op.to_string(), left: Shape(left.to_vec()), right: Shape(right.to_vec()) }
    }

    /// A shape that is wrong on its own.
    pub fn invalid_shape(op: &str, msg: impl Into<String>) -> Self {
        Error::InvalidShape { op: op.to_string(), msg: msg.into() }
    }
}
