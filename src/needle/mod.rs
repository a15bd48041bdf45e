//! openQA needles, read and matched as os-autoinst reads and matches them.
//!
//! A needle is a JSON file (tags, properties, areas) beside a PNG: `needle.pm`
//! (os-autoinst/os-autoinst) defines how the JSON reads, [`Needle::load`] follows it and names
//! the file and field of anything it refuses. [`NeedleSet::load_dir`] reads a needles
//! directory and [`NeedleSet::select`] picks needles by tag (`needle::tags`). [`search`]
//! matches one screen against several needles as `ppmclibs/tinycv.pm` `search` does, with
//! tinycv's own matcher (`ppmclibs/tinycv_impl.cc` `search_TEMPLATE`) reproduced on the same
//! OpenCV arithmetic: exclude areas painted green on the screen and on the needle, OpenCV's
//! fixed-point grayscale and 3x3 Gaussian blur, squared differences within each area's
//! margin, the nearest of the near-minima, `enhancedMSE` and its similarity
//! `.9 + (40 - mse) / 380`. The integration test `needle_tinycv` holds this to tinycv itself.
//!
//! `ocr` areas load (`needle.pm` accepts them, and a distribution's needles directory has
//! some) but matching such a needle is refused with [`NeedleError::OcrUnsupported`]: os-autoinst
//! checks them with tesseract, and passing them unchecked would report matches it would not.
//!
//! Pure data: the only I/O is reading needle files; screens come in as
//! [`RgbaImage`](crate::image::RgbaImage). Architecture: ARCHITECTURE.md, section 10b.

mod error;
mod file;
mod matcher;
mod search;
mod set;

pub use error::NeedleError;
pub use file::{
    Area, AreaKind, ClickPoint, MAX_JSON_BYTES, MAX_PNG_DECODED_BYTES, MAX_PNG_SIDE, Needle,
    Property,
};
pub use search::{
    AreaResult, Candidate, Search, cmp_candidates, match_needle, search, search_while,
    search_with_ratio,
};
pub use set::{DEFAULT_MAX_NEEDLES, NeedleSet};

#[cfg(test)]
mod tests;
