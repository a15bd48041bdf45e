//! The 18-byte descriptors of the base block (and of CTA-861 extensions): detailed timings and
//! display descriptors (name, serial, text, range limits).

use super::cvt::Timing;
use super::mode::Mode;
use serde::Serialize;

pub const DESCRIPTOR_LEN: usize = 18;

pub const TAG_SERIAL: u8 = 0xff;
pub const TAG_TEXT: u8 = 0xfe;
pub const TAG_RANGE_LIMITS: u8 = 0xfd;
pub const TAG_NAME: u8 = 0xfc;
pub const TAG_DUMMY: u8 = 0x10;
pub const TAG_CVT_CODES: u8 = 0xf8;
pub const TAG_ESTABLISHED_III: u8 = 0xf7;

/// A detailed timing: what both the base block's DTDs and DisplayID's timings describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DetailedTiming {
    /// Pixel clock in kHz.
    pub pixel_clock_khz: u32,
    /// Visible pixels per line.
    pub h_active: u32,
    /// Horizontal blanking, pixels.
    pub h_blank: u32,
    /// Horizontal front porch, pixels.
    pub h_front: u32,
    /// Horizontal sync width, pixels.
    pub h_sync: u32,
    /// Visible lines.
    pub v_active: u32,
    /// Vertical blanking, lines.
    pub v_blank: u32,
    /// Vertical front porch, lines.
    pub v_front: u32,
    /// Vertical sync width, lines.
    pub v_sync: u32,
    /// Image width in mm.
    pub width_mm: u32,
    /// Image height in mm.
    pub height_mm: u32,
    /// Interlaced.
    pub interlaced: bool,
    /// Horizontal sync is positive.
    pub hsync_positive: bool,
    /// Vertical sync is positive.
    pub vsync_positive: bool,
}

impl DetailedTiming {
    /// A CVT reduced-blanking timing (positive hsync, negative vsync) on a panel of that size.
    pub fn from_cvt(t: &Timing, width_mm: u32, height_mm: u32) -> Self {
        DetailedTiming {
            pixel_clock_khz: t.pixel_clock_khz,
            h_active: t.h_active,
            h_blank: t.h_total - t.h_active,
            h_front: t.h_front,
            h_sync: t.h_sync,
            v_active: t.v_active,
            v_blank: t.v_total - t.v_active,
            v_front: t.v_front,
            v_sync: t.v_sync,
            width_mm,
            height_mm,
            interlaced: false,
            hsync_positive: true,
            vsync_positive: false,
        }
    }

    fn h_total(&self) -> u64 {
        u64::from(self.h_active) + u64::from(self.h_blank)
    }

    fn v_total(&self) -> u64 {
        u64::from(self.v_active) + u64::from(self.v_blank)
    }

    /// Line rate in hertz.
    pub fn h_freq_hz(&self) -> f64 {
        let total = self.h_total();
        if total == 0 {
            return 0.0;
        }
        f64::from(self.pixel_clock_khz) * 1000.0 / total as f64
    }

    /// Refresh rate in millihertz, rounded: frames per second for progressive timings, fields
    /// per second for interlaced ones (1080i is 60 Hz, as edid-decode and the kernel say).
    /// An interlaced timing's vertical fields are per field, and a frame of two fields has one
    /// more half line each: `2 * (v_active + v_blank) + 1` lines, the kernel's frame total.
    pub fn refresh_mhz(&self) -> u32 {
        let (lines, fields) = if self.interlaced {
            (2 * self.v_total() + 1, 2)
        } else {
            (self.v_total(), 1)
        };
        let total = self.h_total() * lines;
        if total == 0 {
            return 0;
        }
        let mhz = (u64::from(self.pixel_clock_khz) * 1_000_000 * fields + total / 2) / total;
        u32::try_from(mhz).unwrap_or(u32::MAX)
    }

    /// The mode this timing shows.
    pub fn mode(&self) -> Mode {
        Mode {
            width: self.h_active,
            height: if self.interlaced {
                self.v_active * 2
            } else {
                self.v_active
            },
            refresh_mhz: self.refresh_mhz(),
        }
    }

    /// True when every field fits the base block's 18-byte DTD (12-bit sizes, 10/6-bit porches,
    /// a 16-bit clock in 10 kHz steps).
    pub fn fits_dtd(&self) -> bool {
        self.pixel_clock_khz.is_multiple_of(10)
            && self.pixel_clock_khz / 10 <= 0xffff
            && self.pixel_clock_khz > 0
            && self.h_active <= 0xfff
            && self.h_blank <= 0xfff
            && self.v_active <= 0xfff
            && self.v_blank <= 0xfff
            && self.h_front <= 0x3ff
            && self.h_sync <= 0x3ff
            && self.v_front <= 0x3f
            && self.v_sync <= 0x3f
            && self.width_mm <= 0xfff
            && self.height_mm <= 0xfff
    }

    /// The 18-byte DTD, or None when the timing is beyond a DTD's reach.
    pub fn encode_dtd(&self) -> Option<[u8; DESCRIPTOR_LEN]> {
        if !self.fits_dtd() {
            return None;
        }
        let mut d = [0u8; DESCRIPTOR_LEN];
        d[0..2].copy_from_slice(&((self.pixel_clock_khz / 10) as u16).to_le_bytes());
        d[2] = self.h_active as u8;
        d[3] = self.h_blank as u8;
        d[4] = (((self.h_active >> 8) & 0xf) << 4 | ((self.h_blank >> 8) & 0xf)) as u8;
        d[5] = self.v_active as u8;
        d[6] = self.v_blank as u8;
        d[7] = (((self.v_active >> 8) & 0xf) << 4 | ((self.v_blank >> 8) & 0xf)) as u8;
        d[8] = self.h_front as u8;
        d[9] = self.h_sync as u8;
        d[10] = ((self.v_front & 0xf) << 4 | (self.v_sync & 0xf)) as u8;
        d[11] = (((self.h_front >> 8) & 3) << 6
            | ((self.h_sync >> 8) & 3) << 4
            | ((self.v_front >> 4) & 3) << 2
            | ((self.v_sync >> 4) & 3)) as u8;
        d[12] = self.width_mm as u8;
        d[13] = self.height_mm as u8;
        d[14] = (((self.width_mm >> 8) & 0xf) << 4 | ((self.height_mm >> 8) & 0xf)) as u8;
        // Digital separate sync with the polarities in bits 2 (vsync) and 1 (hsync).
        d[17] = 0x18
            | (u8::from(self.interlaced) << 7)
            | (u8::from(self.vsync_positive) << 2)
            | (u8::from(self.hsync_positive) << 1);
        Some(d)
    }

    /// Whether Linux's drm_edid makes a mode of this timing: it skips timings smaller than
    /// 64x64 and those without sync pulses.
    pub fn linux_accepts(&self) -> bool {
        self.h_active >= 64 && self.v_active >= 64 && self.h_sync > 0 && self.v_sync > 0
    }

    /// Reads a DTD; None when the clock is zero (then the bytes are a display descriptor).
    pub fn decode_dtd(d: &[u8; DESCRIPTOR_LEN]) -> Option<Self> {
        let clock = u32::from(u16::from_le_bytes([d[0], d[1]]));
        if clock == 0 {
            return None;
        }
        let hi = |byte: u8, shift: u32| u32::from(byte >> shift) & 0xf;
        let digital_separate = d[17] & 0x18 == 0x18;
        Some(DetailedTiming {
            pixel_clock_khz: clock * 10,
            h_active: u32::from(d[2]) | hi(d[4], 4) << 8,
            h_blank: u32::from(d[3]) | hi(d[4], 0) << 8,
            v_active: u32::from(d[5]) | hi(d[7], 4) << 8,
            v_blank: u32::from(d[6]) | hi(d[7], 0) << 8,
            h_front: u32::from(d[8]) | (u32::from(d[11] >> 6) & 3) << 8,
            h_sync: u32::from(d[9]) | (u32::from(d[11] >> 4) & 3) << 8,
            v_front: u32::from(d[10] >> 4) | (u32::from(d[11] >> 2) & 3) << 4,
            v_sync: u32::from(d[10] & 0xf) | (u32::from(d[11]) & 3) << 4,
            width_mm: u32::from(d[12]) | hi(d[14], 4) << 8,
            height_mm: u32::from(d[13]) | hi(d[14], 0) << 8,
            interlaced: d[17] & 0x80 != 0,
            hsync_positive: d[17] & 0x02 != 0,
            vsync_positive: digital_separate && d[17] & 0x04 != 0,
        })
    }
}

/// The display range limits descriptor: what a source may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RangeLimits {
    /// Lowest vertical rate, Hz.
    pub min_v_hz: u32,
    /// Highest vertical rate, Hz.
    pub max_v_hz: u32,
    /// Lowest line rate, kHz.
    pub min_h_khz: u32,
    /// Highest line rate, kHz.
    pub max_h_khz: u32,
    /// Highest pixel clock, MHz.
    pub max_pixel_clock_mhz: u32,
    /// Byte 10: 0 default GTF, 1 range limits only, 2 secondary GTF, 4 CVT.
    pub support: u8,
}

impl RangeLimits {
    /// Encodes the descriptor, using EDID 1.4's +255 offsets where a rate exceeds 255. Returns
    /// None when a value cannot be expressed (rates above 510, clocks above 2550 MHz).
    pub fn encode(&self) -> Option<[u8; DESCRIPTOR_LEN]> {
        let split = |min: u32, max: u32| -> Option<(u8, u8, u8)> {
            if max > 510 || min > max {
                return None;
            }
            // Bit 1 of the pair: max has the offset; bit 0: min has it too.
            let (max_flag, max) = if max > 255 { (2, max - 255) } else { (0, max) };
            let (min_flag, min) = if min > 255 { (1, min - 255) } else { (0, min) };
            Some((max_flag | min_flag, min as u8, max as u8))
        };
        let (v_flags, min_v, max_v) = split(self.min_v_hz, self.max_v_hz)?;
        let (h_flags, min_h, max_h) = split(self.min_h_khz, self.max_h_khz)?;
        if !self.max_pixel_clock_mhz.is_multiple_of(10) || self.max_pixel_clock_mhz > 2550 {
            return None;
        }
        let mut d = [0u8; DESCRIPTOR_LEN];
        d[3] = TAG_RANGE_LIMITS;
        d[4] = v_flags | h_flags << 2;
        d[5] = min_v;
        d[6] = max_v;
        d[7] = min_h;
        d[8] = max_h;
        d[9] = (self.max_pixel_clock_mhz / 10) as u8;
        d[10] = self.support;
        d[11] = 0x0a;
        d[12..].fill(0x20);
        Some(d)
    }

    /// Decodes a range limits descriptor.
    pub fn decode(d: &[u8; DESCRIPTOR_LEN]) -> Self {
        let offset = |flags: u8, value: u8, is_max: bool| {
            let applies = if is_max {
                flags & 2 != 0
            } else {
                flags & 3 == 3
            };
            u32::from(value) + if applies { 255 } else { 0 }
        };
        let v_flags = d[4] & 3;
        let h_flags = (d[4] >> 2) & 3;
        RangeLimits {
            min_v_hz: offset(v_flags, d[5], false),
            max_v_hz: offset(v_flags, d[6], true),
            min_h_khz: offset(h_flags, d[7], false),
            max_h_khz: offset(h_flags, d[8], true),
            max_pixel_clock_mhz: u32::from(d[9]) * 10,
            support: d[10],
        }
    }

    /// True when a timing with these rates lies inside the limits.
    pub fn contains(&self, v_hz: f64, h_hz: f64, clock_khz: u32) -> bool {
        v_hz >= f64::from(self.min_v_hz)
            && v_hz <= f64::from(self.max_v_hz)
            && h_hz >= f64::from(self.min_h_khz) * 1000.0
            && h_hz <= f64::from(self.max_h_khz) * 1000.0
            && clock_khz <= self.max_pixel_clock_mhz * 1000
    }
}

/// A text display descriptor (name, serial or free text): 13 bytes, a newline ends a shorter
/// text and spaces pad it.
pub fn encode_text(tag: u8, text: &str) -> [u8; DESCRIPTOR_LEN] {
    let mut d = [0u8; DESCRIPTOR_LEN];
    d[3] = tag;
    let bytes = text.as_bytes();
    let n = bytes.len().min(13);
    d[5..5 + n].copy_from_slice(&bytes[..n]);
    if n < 13 {
        d[5 + n] = 0x0a;
        d[6 + n..].fill(0x20);
    }
    d
}

/// A byte a text descriptor may hold: printable ASCII or a space.
fn printable(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' '
}

/// The text of a text descriptor (name, serial or free text) as edid-decode shows it: from
/// byte 5 up to the first byte that is not printable ASCII (the 0x0a the standard ends a
/// shorter text with, the NUL some monitors end or pad it with, or any other control or
/// non-ASCII byte, such as the 0x80 some laptop panels put between two part numbers), with
/// trailing spaces dropped. `text_problem` names a byte other than 0x0a that ends it.
pub fn decode_text(d: &[u8; DESCRIPTOR_LEN]) -> String {
    let body = &d[5..];
    let end = body
        .iter()
        .position(|&b| !printable(b))
        .unwrap_or(body.len());
    body[..end]
        .iter()
        .map(|&b| char::from(b))
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// What is malformed in a text descriptor, as `edid-decode --check` fails it: a byte that is
/// neither printable ASCII nor the 0x0a that ends a shorter text, or anything but the space
/// padding after that 0x0a.
pub fn text_problem(d: &[u8; DESCRIPTOR_LEN]) -> Option<String> {
    let body = &d[5..];
    let end = body.iter().position(|&b| !printable(b))?;
    if body[end] != 0x0a {
        return Some(format!(
            "byte {} is {:#04x}, which is not printable ASCII (the text ends before it)",
            5 + end,
            body[end]
        ));
    }
    let pad = body[end + 1..].iter().position(|&b| b != b' ')?;
    let at = end + 1 + pad;
    Some(format!(
        "byte {} is {:#04x}, but only spaces may follow the 0x0a that ends the text",
        5 + at,
        body[at]
    ))
}

/// True when `text` fits a text descriptor unchanged.
pub fn valid_text(text: &str) -> bool {
    text.len() <= 13 && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edid::cvt::cvt_reduced_blanking;

    #[test]
    fn dtd_round_trips() {
        let t = cvt_reduced_blanking(1920, 1080, 60_000);
        let dt = DetailedTiming::from_cvt(&t, 508, 286);
        let bytes = dt.encode_dtd().unwrap();
        assert_eq!(DetailedTiming::decode_dtd(&bytes), Some(dt));
        assert_eq!(dt.mode().to_string(), "1920x1080@59.934");
        assert!(
            (dt.h_freq_hz() - 66_586.5).abs() < 1.0,
            "{}",
            dt.h_freq_hz()
        );
    }

    #[test]
    fn dtd_reach_is_enforced() {
        let wide = DetailedTiming::from_cvt(&cvt_reduced_blanking(4096, 2160, 60_000), 0, 0);
        assert!(wide.encode_dtd().is_none());
        let fast = DetailedTiming::from_cvt(&cvt_reduced_blanking(3840, 2160, 120_000), 0, 0);
        assert!(fast.pixel_clock_khz > 655_350);
        assert!(fast.encode_dtd().is_none());
    }

    #[test]
    fn range_limits_use_offsets_above_255() {
        let r = RangeLimits {
            min_v_hz: 24,
            max_v_hz: 121,
            min_h_khz: 31,
            max_h_khz: 500,
            max_pixel_clock_mhz: 2550,
            support: 1,
        };
        let d = r.encode().unwrap();
        assert_eq!(d[4], 0b1000);
        assert_eq!(d[8], (500 - 255) as u8);
        assert_eq!(RangeLimits::decode(&d), r);
        assert!(
            RangeLimits {
                max_pixel_clock_mhz: 2560,
                ..r
            }
            .encode()
            .is_none()
        );
    }

    #[test]
    fn text_descriptors_pad_and_stop_at_newline() {
        let d = encode_text(TAG_NAME, "vfio-display");
        assert_eq!(&d[5..], b"vfio-display\n");
        let d = encode_text(TAG_NAME, "abc");
        assert_eq!(&d[5..], b"abc\n         ");
        assert_eq!(decode_text(&d), "abc");
        assert!(valid_text("thirteen char"));
        assert!(!valid_text("fourteen chars"));
        assert!(!valid_text("tab\there"));
    }
}
