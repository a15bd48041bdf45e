//! A display mode as users write it (`1920x1080`, `1920x1080@60`, `1920x1080@59.94`).

use super::build::{MAX_REFRESH_MHZ, MIN_REFRESH_MHZ};
use crate::geometry::Size;
use serde::Serialize;
use std::str::FromStr;

/// The refresh rates a mode may ask for, as the generator's bounds state them.
const RATE_RANGE: &str = "refresh rate must be 10 to 480 Hz";
const _: () = assert!(
    MIN_REFRESH_MHZ == 10_000 && MAX_REFRESH_MHZ == 480_000,
    "RATE_RANGE must state the generator's bounds"
);

/// A display mode: active size and refresh rate in millihertz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Mode {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Refresh rate in millihertz.
    pub refresh_mhz: u32,
}

impl Mode {
    /// A mode at a whole refresh rate.
    pub fn new(width: u32, height: u32, refresh_hz: u32) -> Self {
        Mode {
            width,
            height,
            refresh_mhz: refresh_hz * 1000,
        }
    }

    /// The refresh rate in Hz.
    pub fn refresh_hz(&self) -> f64 {
        f64::from(self.refresh_mhz) / 1000.0
    }

    /// Whether both modes have the same width and height.
    pub fn same_size(&self, other: &Mode) -> bool {
        (self.width, self.height) == (other.width, other.height)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)?;
        if self.refresh_mhz.is_multiple_of(1000) {
            write!(f, "@{}", self.refresh_mhz / 1000)
        } else {
            write!(f, "@{:.3}", self.refresh_hz())
        }
    }
}

/// A mode string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad mode {text:?}: {reason} (expected WIDTHxHEIGHT[@HZ], e.g. 1920x1080@60)")]
pub struct ModeParseError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for Mode {
    type Err = ModeParseError;

    /// Parses `WxH` (60 Hz) or `WxH@HZ`, where HZ may have decimals. Sizes are only checked for
    /// being numbers here (the generator decides which ones it can describe); a rate outside
    /// the generator's 10 to 480 Hz is refused here already, since every mode typed ends in an
    /// EDID and `@0` is more often a slip than a request.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| ModeParseError {
            text: text.to_string(),
            reason,
        };
        let (size, rate) = match text.trim().split_once('@') {
            Some((size, rate)) => (size, Some(rate)),
            None => (text.trim(), None),
        };
        let Size { width, height } = parse_size(size).map_err(|e| fail(e.reason))?;
        let refresh_mhz = match rate {
            None => 60_000,
            Some(rate) => {
                let rate = rate.trim().trim_end_matches("Hz").trim_end_matches("hz");
                let hz: f64 = rate
                    .parse()
                    .map_err(|_| fail("refresh rate is not a number"))?;
                let mhz = (hz * 1000.0).round();
                let range = f64::from(MIN_REFRESH_MHZ)..=f64::from(MAX_REFRESH_MHZ);
                if !range.contains(&mhz) {
                    return Err(fail(RATE_RANGE));
                }
                mhz as u32
            }
        };
        Ok(Mode {
            width,
            height,
            refresh_mhz,
        })
    }
}

/// Parses "WIDTHxHEIGHT" (also "W*H" or "WXH"): the one size parser of the program.
pub fn parse_size(text: &str) -> Result<Size, ModeParseError> {
    let fail = |reason| ModeParseError {
        text: text.to_string(),
        reason,
    };
    let (w, h) = text
        .trim()
        .split_once(['x', 'X', '*'])
        .ok_or_else(|| fail("no 'x' between width and height"))?;
    let width: u32 = w
        .trim()
        .parse()
        .map_err(|_| fail("width is not a number"))?;
    let height: u32 = h
        .trim()
        .parse()
        .map_err(|_| fail("height is not a number"))?;
    if width == 0 || height == 0 {
        return Err(fail("width and height must be positive"));
    }
    Ok(Size::new(width, height))
}

/// Parses a comma-separated list of modes (`1024x768,1920x1080@60`).
pub fn parse_mode_list(text: &str) -> Result<Vec<Mode>, ModeParseError> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_rates() {
        assert_eq!("1920x1080".parse(), Ok(Mode::new(1920, 1080, 60)));
        assert_eq!("640X480@75".parse(), Ok(Mode::new(640, 480, 75)));
        let m: Mode = "1920x1080@59.94".parse().unwrap();
        assert_eq!(m.refresh_mhz, 59_940);
        assert_eq!(m.to_string(), "1920x1080@59.940");
        assert_eq!("64x64@10".parse(), Ok(Mode::new(64, 64, 10)));
        assert_eq!("64x64@480".parse(), Ok(Mode::new(64, 64, 480)));
        assert_eq!(
            parse_mode_list("1024x768, 800x600@30").unwrap(),
            vec![Mode::new(1024, 768, 60), Mode::new(800, 600, 30)]
        );
    }

    #[test]
    fn refuses_malformed_modes_with_the_reason() {
        for (text, reason) in [
            ("1920", "no 'x'"),
            ("ax1080", "width"),
            ("1920x", "height"),
            ("0x1080", "positive"),
            ("1920x1080@fast", "refresh rate is not"),
            ("1920x1080@-5", "10 to 480 Hz"),
            ("1920x1080@nan", "10 to 480 Hz"),
            ("1920x1080@0", "10 to 480 Hz"),
            ("1920x1080@9.99", "10 to 480 Hz"),
            ("1920x1080@480.001", "10 to 480 Hz"),
        ] {
            let err = text.parse::<Mode>().unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains("WIDTHxHEIGHT"), "{err}");
        }
    }
}
