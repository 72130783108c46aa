//! Built-in data sets that need no files, and image folders.

pub mod images;
pub mod shapes;
pub mod spirals;
pub mod text;
