//! Everything the command line writes: files (through one safe writer), PNG encoding, and
//! standard output that never panics.

#[macro_use]
pub mod stdio;
pub mod apng;
mod file;
mod picture;
mod stamp;
mod walk;

pub use file::{Landing, OutputPath, WriteMode, numbered, write_new};
pub use picture::encode_png;
pub use stamp::utc_stamp;
