//! A mode as the kernel's DRM core holds it while it builds a connector's list: the full
//! timing, sync polarity and interlace flags, the CTA picture aspect ratio, and the type bit
//! that marks it preferred. Two modes are the same mode when all but the type are equal.

use serde::Serialize;

/// `DRM_MODE_FLAG_PHSYNC`: positive horizontal sync.
pub const PHSYNC: u32 = 1 << 0;
/// Negative horizontal sync.
pub const NHSYNC: u32 = 1 << 1;
/// Positive vertical sync.
pub const PVSYNC: u32 = 1 << 2;
/// Negative vertical sync.
pub const NVSYNC: u32 = 1 << 3;
/// Interlaced.
pub const INTERLACE: u32 = 1 << 4;
/// Each line scanned twice.
pub const DBLSCAN: u32 = 1 << 5;
/// Each pixel sent twice (CTA's pixel-repeated formats; the width is half the transmitted).
pub const DBLCLK: u32 = 1 << 12;

/// The picture aspect ratio CTA-861 gives a VIC; DMT and EDID timings have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Aspect {
    /// No aspect ratio (every mode that is not a CTA or HDMI VIC).
    None,
    /// 4:3.
    R4x3,
    /// 16:9.
    R16x9,
    /// 64:27.
    R64x27,
    /// 256:135.
    R256x135,
}

impl Aspect {
    /// "16:9", or None.
    pub fn text(self) -> Option<&'static str> {
        match self {
            Aspect::None => None,
            Aspect::R4x3 => Some("4:3"),
            Aspect::R16x9 => Some("16:9"),
            Aspect::R64x27 => Some("64:27"),
            Aspect::R256x135 => Some("256:135"),
        }
    }
}

/// A mode with its full timing, as `struct drm_display_mode` has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KMode {
    /// Pixel clock, kHz.
    pub clock: u32,
    /// Display, sync start, sync end and total, pixels.
    pub h: [u32; 4],
    /// Display, sync start, sync end and total, lines (frame lines for interlaced modes).
    pub v: [u32; 4],
    /// `DRM_MODE_FLAG_*` bits.
    pub flags: u32,
    /// The CTA picture aspect ratio.
    pub aspect: Aspect,
    /// The type's preferred bit.
    pub preferred: bool,
}

impl KMode {
    pub(super) const fn new(
        clock: u32,
        h: [u32; 4],
        v: [u32; 4],
        flags: u32,
        aspect: Aspect,
    ) -> Self {
        KMode {
            clock,
            h,
            v,
            flags,
            aspect,
            preferred: false,
        }
    }

    /// Interlaced.
    pub fn interlaced(&self) -> bool {
        self.flags & INTERLACE != 0
    }

    /// `drm_mode_vrefresh`: whole hertz, rounded, fields for interlaced modes.
    pub fn vrefresh(&self) -> u32 {
        self.rate(1000)
    }

    /// The same rate in millihertz, for printing (59.940 beside 60.000).
    pub fn refresh_mhz(&self) -> u32 {
        self.rate(1_000_000)
    }

    /// Frames (fields, when interlaced) per `1000 / per_khz` seconds, rounded to the nearest.
    fn rate(&self, per_khz: u64) -> u32 {
        let scans = if self.flags & DBLSCAN != 0 { 2 } else { 1 };
        let den = u64::from(self.h[3]) * u64::from(self.v[3]) * scans;
        if den == 0 {
            return 0;
        }
        let num = u64::from(self.clock) * if self.interlaced() { 2 } else { 1 } * per_khz;
        u32::try_from((num + den / 2) / den).unwrap_or(u32::MAX)
    }

    /// `drm_mode_hsync`: the line rate in kHz, rounded.
    pub fn hsync_khz(&self) -> u32 {
        if self.h[3] == 0 {
            return 0;
        }
        (self.clock + self.h[3] / 2) / self.h[3]
    }

    /// `drm_mode_validate_basic` (drm_modes.c), which every driver's probe applies to every
    /// mode before its own checks: a pixel clock, and display <= sync start <= sync end <= total
    /// on both axes. The kernel's status names the failure: "CLOCK_LOW", "H_ILLEGAL" or
    /// "V_ILLEGAL". (Its checks of the type and flag bits cannot fail for a mode built here.)
    pub fn validate_basic(&self) -> Result<(), &'static str> {
        let ordered = |t: [u32; 4]| t[0] != 0 && t[1] >= t[0] && t[2] >= t[1] && t[3] >= t[2];
        if self.clock == 0 {
            return Err("CLOCK_LOW");
        }
        if !ordered(self.h) {
            return Err("H_ILLEGAL");
        }
        if !ordered(self.v) {
            return Err("V_ILLEGAL");
        }
        Ok(())
    }

    /// `drm_mode_equal`: the same timing, clock, flags and aspect ratio (the type aside).
    pub fn same_mode(&self, other: &KMode) -> bool {
        self.clock == other.clock
            && self.h == other.h
            && self.v == other.v
            && self.flags == other.flags
            && self.aspect == other.aspect
    }

    /// `drm_mode_match` with timings and flags, and the aspect ratio when this one has one:
    /// how the kernel tells whether a mode is a CTA VIC.
    pub fn matches_table_mode(&self, table: &KMode) -> bool {
        self.h == table.h
            && self.v == table.v
            && self.flags == table.flags
            && (self.aspect == Aspect::None || self.aspect == table.aspect)
    }

    /// `mode_is_rb`: CVT reduced blanking's fixed blanking.
    pub fn is_reduced_blanking(&self) -> bool {
        self.h[3].wrapping_sub(self.h[0]) == 160
            && self.h[2].wrapping_sub(self.h[0]) == 80
            && self.h[2].wrapping_sub(self.h[1]) == 32
            && self.v[1].wrapping_sub(self.v[0]) == 3
    }
}
