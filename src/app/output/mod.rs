//! Everything the command line writes: files (through one safe writer), PNG encoding, and
//! standard output that never panics.

#[macro_use]
pub mod stdio;
mod file;
mod picture;
mod walk;

pub use file::{OutputPath, WriteMode, numbered};
pub use picture::encode_png;
