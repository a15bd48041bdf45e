//! Pure EDID building and parsing, no I/O.
//!
//! - `generate` writes EDID 1.4 that passes `edid-decode --check` for any mode from 64x64 to
//!   16384x16384 at 10 to 480 Hz: the preferred mode as a CVT reduced-blanking detailed timing,
//!   DisplayID extension blocks where a base block cannot describe it, and a range-limits
//!   descriptor that covers every timing listed.
//! - `decode` reads any blob without panicking, verifies every checksum, and understands the
//!   blocks the generator writes and those common monitors ship (CTA-861, DisplayID 1.x/2.0).

mod build;
mod cta;
mod cta_rules;
mod cvt;
mod decode;
mod descriptor;
mod displayid;
mod dmt;
mod linux;
mod structure;

/// What a Linux guest makes of a damaged EDID on each path it reads one (`edid::linux::read`).
pub use linux::{LinuxRead, ReadPath, read as linux_read};
mod mode;

pub use build::{
    EdidSpec, MAX_EDID_SIZE, MAX_REFRESH_MHZ, MAX_SIDE, MIN_REFRESH_MHZ, MIN_SIDE, generate,
};
pub use cta::{CtaBlock, Vic};
pub use cvt::{Timing, cvt_reduced_blanking};
pub use decode::{
    CvtMode, Decoded, Descriptor, DroppedMode, Extension, LinuxQuirk, ListedMode, ModeTiming,
    decode, preferred_mode,
};
pub use descriptor::{DetailedTiming, RangeLimits};
pub use displayid::{DisplayIdBlock, DisplayIdTiming, ListedTiming};
pub use mode::{Mode, ModeParseError, parse_mode_list, parse_size};

/// The fixed 8-byte EDID header.
pub const HEADER: [u8; 8] = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
/// Bytes in an EDID block.
pub const BLOCK: usize = 128;

/// True when the 128-byte block's bytes sum to 0 mod 256.
pub fn checksum_ok(block: &[u8]) -> bool {
    block.len() == BLOCK && block.iter().fold(0u8, |acc, b| acc.wrapping_add(*b)) == 0
}

/// Sets byte 127 so that the block sums to zero.
pub fn fix_checksum(block: &mut [u8; BLOCK]) {
    let sum = block[..127].iter().fold(0u8, |acc, b| acc.wrapping_add(*b));
    block[127] = 0u8.wrapping_sub(sum);
}

/// Why a blob is not a usable EDID, or why a spec cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EdidError {
    #[error("EDID is {0} bytes; a base block needs 128")]
    /// Less than one block.
    TooShort(usize),
    #[error("EDID header is wrong (expected 00 ff ff ff ff ff ff 00)")]
    /// The 8-byte header is wrong.
    BadHeader,
    #[error("EDID base block checksum is wrong")]
    /// The base block's checksum is wrong.
    BadChecksum,
    #[error("EDID has no preferred detailed timing")]
    /// No detailed timing to prefer.
    NoPreferredTiming,
    #[error("mode {mode} cannot be generated: {reason}")]
    /// The generator cannot describe the mode.
    ModeOutOfRange {
        /// The mode.
        mode: Mode,
        /// Why.
        reason: String,
    },
    #[error("the EDID needs {needed} bytes but at most {max} are allowed")]
    /// The EDID does not fit the size allowed.
    NoRoom {
        /// Bytes needed.
        needed: usize,
        /// Bytes allowed.
        max: usize,
    },
    #[error(
        "the modes need range limits beyond what EDID can state ({}-{} Hz, {}-{} kHz, {} MHz)",
        .0.min_v_hz, .0.max_v_hz, .0.min_h_khz, .0.max_h_khz, .0.max_pixel_clock_mhz
    )]
    /// The modes need range limits EDID cannot state.
    BeyondRangeLimits(RangeLimits),
    #[error("bad identity: {0}")]
    /// The identity cannot be encoded.
    BadIdentity(String),
}

/// Identity fields of a generated EDID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Three uppercase letters (PNP id).
    pub vendor: [u8; 3],
    /// Product code.
    pub product: u16,
    /// Numeric serial number (0: none).
    pub serial: u32,
    /// Week of manufacture, 0 for unknown.
    pub week: u8,
    /// Year of manufacture.
    pub year: u16,
    /// Monitor name (up to 13 printable ASCII characters).
    pub name: String,
    /// Serial number text (up to 13 printable ASCII characters).
    pub serial_text: String,
}

impl Default for Identity {
    /// Fixed values, so that the same command writes the same bytes on any day.
    fn default() -> Self {
        Identity {
            vendor: *b"VFD",
            product: 0x0001,
            // The serial text says it; newer edid-decode warns when both are set.
            serial: 0,
            week: 1,
            year: 2026,
            name: "vfio-display".into(),
            serial_text: "VFD0001".into(),
        }
    }
}

#[cfg(test)]
mod tests;
