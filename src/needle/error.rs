//! The one error type of the needle module: every variant names the file it is about, and the
//! field where one is to blame, because needles are files people edit by hand.

use std::path::PathBuf;

/// Why a needle, a needles directory or a search was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NeedleError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The needle's JSON is not JSON.
    #[error("{}: malformed JSON: {source}", path.display())]
    Json {
        /// The needle's JSON file.
        path: PathBuf,
        /// Where the parser stopped.
        #[source]
        source: serde_json::Error,
    },
    /// A field of the needle's JSON has a value os-autoinst refuses (or would misread).
    #[error("{}: field `{field}`: {reason}", path.display())]
    Field {
        /// The needle's JSON file.
        path: PathBuf,
        /// The field, as a path into the JSON: `area[1].width`, `tags[0]`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The needle's PNG file does not exist (os-autoinst skips such a needle).
    #[error("{}: the needle's picture {} is missing", json.display(), png.display())]
    MissingPng {
        /// The needle's JSON file.
        json: PathBuf,
        /// The PNG it names (or implies).
        png: PathBuf,
    },
    /// The needle's PNG could not be decoded.
    #[error("{}: not a PNG os-autoinst could read: {source}", path.display())]
    Png {
        /// The PNG file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: png::DecodingError,
    },
    /// A file is larger than what a needle may be (needles are untrusted input).
    #[error("{}: {what} is {size}, more than the limit of {limit}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What was measured: "the JSON file's size in bytes", "the PNG's width".
        what: &'static str,
        /// The measured value.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A needles directory holds more needles than the limit.
    #[error("{}: more than {limit} needles", dir.display())]
    TooManyNeedles {
        /// The needles directory.
        dir: PathBuf,
        /// The limit that was reached.
        limit: usize,
    },
    /// The needle has an `ocr` area: os-autoinst runs tesseract on it, which this crate does
    /// not, so matching the needle is refused rather than passed without the OCR check.
    #[error("{}: needle `{needle}` has an ocr area, which this matcher does not support", path.display())]
    OcrUnsupported {
        /// The needle's name.
        needle: String,
        /// The needle's JSON file.
        path: PathBuf,
    },
    /// The screen has no pixels, or its buffer is not `width * height * 4` bytes.
    #[error("the screen is {width}x{height} with {len} bytes of pixels")]
    BadScreen {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// The buffer's length in bytes.
        len: usize,
    },
}
