//! Built-in data sets that need no files, image folders and IDX files.

pub mod idx;
pub mod images;
pub mod shapes;
pub mod spirals;
pub mod text;
