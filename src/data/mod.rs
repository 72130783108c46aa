//! Built-in data sets that need no files.

pub mod spirals;
pub mod text;
