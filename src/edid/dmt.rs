//! The VESA DMT modes the base block names by bit (established timings) or by two-byte code
//! (standard timings), with the rates a range-limits descriptor must cover for them.

use super::cvt::{cvt_standard, gtf_default};
use super::linux::{self, KMode};
use super::mode::Mode;

/// A DMT mode: size, nominal refresh, and the exact timing's pixel clock and totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmtMode {
    pub width: u32,
    pub height: u32,
    pub refresh_hz: u32,
    pub pixel_clock_khz: u32,
    pub h_total: u32,
    pub v_total: u32,
}

impl DmtMode {
    const fn new(
        width: u32,
        height: u32,
        refresh_hz: u32,
        pixel_clock_khz: u32,
        h_total: u32,
        v_total: u32,
    ) -> Self {
        DmtMode {
            width,
            height,
            refresh_hz,
            pixel_clock_khz,
            h_total,
            v_total,
        }
    }

    /// The DMT mode of a kernel table mode: its size, its rate rounded to whole hertz (640x480
    /// at 72.8 Hz is 73 here, not the 72 it is named by), its clock and totals.
    fn from_kernel(mode: &KMode) -> Self {
        DmtMode::new(
            mode.h[0],
            mode.v[0],
            mode.vrefresh(),
            mode.clock,
            mode.h[3],
            mode.v[3],
        )
    }

    pub fn h_freq_hz(&self) -> f64 {
        f64::from(self.pixel_clock_khz) * 1000.0 / f64::from(self.h_total)
    }

    pub fn v_freq_hz(&self) -> f64 {
        self.h_freq_hz() / f64::from(self.v_total)
    }

    /// The mode at its timing's exact rate, as edid-decode and the kernel give it (640x480 at
    /// 59.940 Hz, not 60). The interlaced 1024x768 at 87 Hz is named by its field rate, twice
    /// the frame rate of its totals.
    pub fn exact_mode(&self) -> Mode {
        let total = u64::from(self.h_total) * u64::from(self.v_total);
        let fields = if self.refresh_hz == 87 { 2 } else { 1 };
        let refresh =
            (u64::from(self.pixel_clock_khz) * 1_000_000 * fields + total / 2) / total.max(1);
        Mode {
            width: self.width,
            height: self.height,
            refresh_mhz: u32::try_from(refresh).unwrap_or(u32::MAX),
        }
    }
}

/// The established timings I and II plus the manufacturer byte's one mode, as (byte, bit, mode),
/// in the order edid-decode lists them (byte 35 bit 7 first). Timings I and II come from the
/// kernel's generated `edid_est_modes` table, whose index is the bit of the 17-bit word
/// `byte 35 | byte 36 << 8 | (byte 37 & 0x80) << 9`; the manufacturer's bit is
/// `MANUFACTURER_MODE`. The interlaced 1024x768 at 87 Hz is named by its field rate.
pub fn established() -> impl Iterator<Item = (usize, u8, DmtMode)> {
    let slots = (35..=36).flat_map(|byte| (0..8u8).rev().map(move |bit| (byte, bit)));
    let timings = slots.filter_map(|(byte, bit)| {
        let mode = linux::established_mode((byte - 35) * 8 + usize::from(bit))?;
        Some((byte, bit, DmtMode::from_kernel(&mode)))
    });
    timings.chain([(37, 7, MANUFACTURER_MODE)])
}

/// The mode of bit 7 of byte 37: 1152x870 at 75 Hz (the Apple Macintosh II's), as the EDID
/// standard and edid-decode name it. It is not a DMT mode, and the kernel's table gives
/// 1152x864 at 75 Hz for this bit instead (what a Linux guest builds; `linux` keeps that), so
/// the decoded listing states this one timing itself.
const MANUFACTURER_MODE: DmtMode = DmtMode::new(1152, 870, 75, 100_000, 1456, 915);

/// The established timings the generator lists (the classic 60 Hz ones).
pub const GENERATED_ESTABLISHED: [(usize, u8); 3] = [(35, 5), (35, 0), (36, 3)];

/// Standard timings the generator may list, each a DMT mode whose standard-timing code maps to
/// exactly this DMT timing (so a sink and edid-decode agree on its rates).
pub const GENERATED_STANDARD: [DmtMode; 11] = [
    DmtMode::new(2048, 1152, 60, 162_000, 2250, 1200), // reduced blanking
    DmtMode::new(1920, 1200, 60, 193_250, 2592, 1245),
    DmtMode::new(1920, 1080, 60, 148_500, 2200, 1125),
    DmtMode::new(1680, 1050, 60, 146_250, 2240, 1089),
    DmtMode::new(1600, 1200, 60, 162_000, 2160, 1250),
    DmtMode::new(1600, 900, 60, 108_000, 1800, 1000), // reduced blanking
    DmtMode::new(1440, 900, 60, 106_500, 1904, 934),
    DmtMode::new(1280, 1024, 60, 108_000, 1688, 1066),
    DmtMode::new(1280, 960, 60, 108_000, 1800, 1000),
    DmtMode::new(1280, 800, 60, 83_500, 1680, 831),
    DmtMode::new(1280, 720, 60, 74_250, 1650, 750),
];

/// The two-byte standard timing code for a size and rate, if one exists (EDID 1.3+ aspect
/// codes: 16:10, 4:3, 5:4, 16:9).
pub fn standard_code(width: u32, height: u32, refresh_hz: u32) -> Option<[u8; 2]> {
    if !(256..=2288).contains(&width) || !width.is_multiple_of(8) {
        return None;
    }
    if !(60..=123).contains(&refresh_hz) {
        return None;
    }
    let aspect = [(16, 10, 0u8), (4, 3, 1), (5, 4, 2), (16, 9, 3)]
        .into_iter()
        .find(|&(a, b, _)| width * b / a == height)?
        .2;
    Some([
        (width / 8 - 31) as u8,
        aspect << 6 | (refresh_hz - 60) as u8,
    ])
}

/// The VESA DMT mode whose two-byte standard timing code this is, as the DMT standard assigns
/// them: the code of its size and nominal rate for progressive modes with standard blanking,
/// and for the two reduced-blanking modes that have no other timing (1600x900 and 2048x1152 at
/// 60 Hz); none for the other reduced-blanking modes and for sizes no code can state; and, the
/// standard's one exception, 1024x768 at 70 Hz under the code of 72 Hz (61 4C).
fn dmt_of_standard_code(code: [u8; 2]) -> Option<linux::KMode> {
    if code == [0x61, 0x4c] {
        return linux::dmt_by_id(0x11);
    }
    linux::dmt_modes().find_map(|(id, hz, m)| {
        let rb_with_a_code = matches!(id, 0x53 | 0x54);
        if id == 0x11 || m.interlaced() || (m.is_reduced_blanking() && !rb_with_a_code) {
            return None;
        }
        (standard_code(m.h[0], m.v[0], hz) == Some(code)).then_some(m)
    })
}

/// Decodes a standard timing code; None for the unused markers (01 01, 00 00, 20 20). The rate
/// is exact: the DMT mode's when the DMT standard gives the code to one, else the formula's
/// the EDID names (CVT for an EDID 1.4 whose range limits say CVT, GTF otherwise), as
/// edid-decode computes them. Aspect code 0 is 16:10 from EDID 1.3 on and 1:1 before.
pub fn decode_standard(code: [u8; 2], edid_minor: u8, cvt: bool) -> Option<Mode> {
    if matches!(code, [0x01, 0x01] | [0x00, 0x00] | [0x20, 0x20]) {
        return None;
    }
    let width = (u32::from(code[0]) + 31) * 8;
    let (a, b) = match code[1] >> 6 {
        0 if edid_minor < 3 => (1, 1),
        0 => (16, 10),
        1 => (4, 3),
        2 => (5, 4),
        _ => (16, 9),
    };
    let height = width * b / a;
    let hz = u32::from(code[1] & 0x3f) + 60;
    let refresh_mhz = match dmt_of_standard_code(code) {
        Some(m) => m.refresh_mhz(),
        None if edid_minor >= 4 && cvt => cvt_standard(width, height, hz).refresh_mhz(),
        None => gtf_default(width, height, hz).refresh_mhz(),
    };
    Some(Mode {
        width,
        height,
        refresh_mhz,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_codes_round_trip() {
        for dmt in GENERATED_STANDARD {
            let code = standard_code(dmt.width, dmt.height, dmt.refresh_hz).unwrap();
            assert_eq!(
                decode_standard(code, 4, true),
                Some(dmt.exact_mode()),
                "{dmt:?}"
            );
        }
        assert_eq!(standard_code(1920, 1080, 60), Some([0xd1, 0xc0]));
        assert_eq!(standard_code(1366, 768, 60), None);
        assert_eq!(decode_standard([0x01, 0x01], 4, true), None);
    }

    #[test]
    fn dmt_rates_are_the_published_ones() {
        let vga = established().nth(2).unwrap().2;
        assert_eq!((vga.width, vga.height), (640, 480));
        assert!((vga.h_freq_hz() - 31_469.0).abs() < 1.0);
        assert!((vga.v_freq_hz() - 59.94).abs() < 0.01);
        let fhd = GENERATED_STANDARD[2];
        assert!((fhd.h_freq_hz() - 67_500.0).abs() < 0.5);
    }

    #[test]
    fn established_timings_are_the_generated_tables() {
        let modes: Vec<_> = established().collect();
        assert_eq!(modes.len(), 17);
        let pinned = |byte, bit| {
            modes
                .iter()
                .find(|&&(b, t, _)| (b, t) == (byte, bit))
                .map(|m| m.2)
        };
        assert_eq!(modes[0].2, DmtMode::new(720, 400, 70, 28_320, 900, 449));
        assert_eq!(
            pinned(35, 5),
            Some(DmtMode::new(640, 480, 60, 25_175, 800, 525))
        );
        let interlaced = pinned(36, 4).unwrap();
        assert_eq!(interlaced, DmtMode::new(1024, 768, 87, 44_900, 1264, 817));
        assert_eq!(interlaced.exact_mode().refresh_mhz, 86_958);
        assert_eq!(
            modes[16],
            (37, 7, DmtMode::new(1152, 870, 75, 100_000, 1456, 915))
        );
    }
}
