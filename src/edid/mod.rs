//! Pure EDID building and parsing, no I/O.
//!
//! This holds what the device layers need today: a valid EDID 1.4 base block for one preferred
//! mode (CVT reduced-blanking timing), and reading the preferred mode back from a blob. The full
//! generator and decoder build on these.

mod cvt;

pub use cvt::{Timing, cvt_reduced_blanking};

/// The fixed 8-byte EDID header.
pub const HEADER: [u8; 8] = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
pub const BLOCK: usize = 128;

/// A display mode: active size and refresh rate in millihertz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub width: u32,
    pub height: u32,
    pub refresh_mhz: u32,
}

impl Mode {
    pub fn new(width: u32, height: u32, refresh_hz: u32) -> Self {
        Mode {
            width,
            height,
            refresh_mhz: refresh_hz * 1000,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)?;
        if self.refresh_mhz.is_multiple_of(1000) {
            write!(f, "@{}", self.refresh_mhz / 1000)
        } else {
            write!(f, "@{:.3}", f64::from(self.refresh_mhz) / 1000.0)
        }
    }
}

/// True when the 128-byte block's bytes sum to 0 mod 256.
pub fn checksum_ok(block: &[u8]) -> bool {
    block.len() == BLOCK && block.iter().fold(0u8, |acc, b| acc.wrapping_add(*b)) == 0
}

/// Sets byte 127 so that the block sums to zero.
pub fn fix_checksum(block: &mut [u8; BLOCK]) {
    let sum = block[..127].iter().fold(0u8, |acc, b| acc.wrapping_add(*b));
    block[127] = 0u8.wrapping_sub(sum);
}

/// Why a blob is not a usable EDID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdidError {
    #[error("EDID is {0} bytes; a base block needs 128")]
    TooShort(usize),
    #[error("EDID header is wrong (expected 00 ff ff ff ff ff ff 00)")]
    BadHeader,
    #[error("EDID base block checksum is wrong")]
    BadChecksum,
    #[error("EDID has no preferred detailed timing")]
    NoPreferredTiming,
    #[error("mode {0}x{1} cannot be described by a detailed timing (sizes up to 4095)")]
    ModeTooLarge(u32, u32),
}

/// The preferred mode of an EDID: its first detailed timing descriptor.
pub fn preferred_mode(edid: &[u8]) -> Result<Mode, EdidError> {
    let base = edid.get(..BLOCK).ok_or(EdidError::TooShort(edid.len()))?;
    if base[..8] != HEADER {
        return Err(EdidError::BadHeader);
    }
    if !checksum_ok(base) {
        return Err(EdidError::BadChecksum);
    }
    let dtd = &base[54..72];
    let clock_10khz = u32::from(u16::from_le_bytes([dtd[0], dtd[1]]));
    if clock_10khz == 0 {
        return Err(EdidError::NoPreferredTiming);
    }
    let h_active = u32::from(dtd[2]) | (u32::from(dtd[4] >> 4) << 8);
    let h_blank = u32::from(dtd[3]) | (u32::from(dtd[4] & 0xf) << 8);
    let v_active = u32::from(dtd[5]) | (u32::from(dtd[7] >> 4) << 8);
    let v_blank = u32::from(dtd[6]) | (u32::from(dtd[7] & 0xf) << 8);
    let total = u64::from(h_active + h_blank) * u64::from(v_active + v_blank);
    if h_active == 0 || v_active == 0 || total == 0 {
        return Err(EdidError::NoPreferredTiming);
    }
    let refresh_mhz = (u64::from(clock_10khz) * 10_000 * 1000 + total / 2) / total;
    Ok(Mode {
        width: h_active,
        height: v_active,
        refresh_mhz: refresh_mhz as u32,
    })
}

/// Identity fields of a generated EDID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Three uppercase letters (PNP id).
    pub vendor: [u8; 3],
    pub product: u16,
    pub serial: u32,
    pub week: u8,
    pub year: u16,
    pub name: String,
    pub serial_text: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            vendor: *b"VFD",
            product: 0x0001,
            serial: 1,
            week: 1,
            year: 2026,
            name: "vfio-display".into(),
            serial_text: "VFD0001".into(),
        }
    }
}

fn text_descriptor(tag: u8, text: &str) -> [u8; 18] {
    let mut d = [0u8; 18];
    d[3] = tag;
    let mut body = [0x20u8; 13];
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| b.is_ascii_graphic() || *b == b' ')
        .take(13)
        .collect();
    body[..bytes.len()].copy_from_slice(&bytes);
    if bytes.len() < 13 {
        body[bytes.len()] = 0x0a;
    }
    d[5..].copy_from_slice(&body);
    d
}

fn detailed_timing(t: &Timing, width_mm: u32, height_mm: u32) -> [u8; 18] {
    let mut d = [0u8; 18];
    let clock = t.pixel_clock_khz / 10;
    d[0..2].copy_from_slice(&(clock as u16).to_le_bytes());
    let h_blank = t.h_total - t.h_active;
    let v_blank = t.v_total - t.v_active;
    d[2] = t.h_active as u8;
    d[3] = h_blank as u8;
    d[4] = (((t.h_active >> 8) & 0xf) << 4 | ((h_blank >> 8) & 0xf)) as u8;
    d[5] = t.v_active as u8;
    d[6] = v_blank as u8;
    d[7] = (((t.v_active >> 8) & 0xf) << 4 | ((v_blank >> 8) & 0xf)) as u8;
    d[8] = t.h_front as u8;
    d[9] = t.h_sync as u8;
    d[10] = ((t.v_front & 0xf) << 4 | (t.v_sync & 0xf)) as u8;
    d[11] = (((t.h_front >> 8) & 3) << 6
        | ((t.h_sync >> 8) & 3) << 4
        | ((t.v_front >> 4) & 3) << 2
        | ((t.v_sync >> 4) & 3)) as u8;
    d[12] = width_mm as u8;
    d[13] = height_mm as u8;
    d[14] = (((width_mm >> 8) & 0xf) << 4 | ((height_mm >> 8) & 0xf)) as u8;
    // Digital separate sync; CVT reduced blanking uses +hsync, -vsync.
    d[17] = 0x18 | 0x02;
    d
}

/// Builds a 128-byte EDID 1.4 base block whose preferred mode is `mode`.
pub fn base_block(mode: Mode, id: &Identity) -> Result<[u8; BLOCK], EdidError> {
    if mode.width > 4095 || mode.height > 4095 || mode.width == 0 || mode.height == 0 {
        return Err(EdidError::ModeTooLarge(mode.width, mode.height));
    }
    let timing = cvt_reduced_blanking(mode.width, mode.height, mode.refresh_mhz);
    // A 96 DPI panel: the physical size follows the resolution.
    let width_mm = mode.width * 254 / 960;
    let height_mm = mode.height * 254 / 960;
    let mut e = [0u8; BLOCK];
    e[..8].copy_from_slice(&HEADER);
    let letter = |c: u8| u16::from(c.to_ascii_uppercase().saturating_sub(b'A') + 1) & 0x1f;
    let vendor = letter(id.vendor[0]) << 10 | letter(id.vendor[1]) << 5 | letter(id.vendor[2]);
    e[8..10].copy_from_slice(&vendor.to_be_bytes());
    e[10..12].copy_from_slice(&id.product.to_le_bytes());
    e[12..16].copy_from_slice(&id.serial.to_le_bytes());
    e[16] = id.week;
    e[17] = id.year.saturating_sub(1990).min(255) as u8;
    e[18] = 1;
    e[19] = 4;
    e[20] = 0xa0; // digital, 8 bits per colour
    e[21] = (width_mm / 10).min(255) as u8;
    e[22] = (height_mm / 10).min(255) as u8;
    e[23] = 120; // gamma 2.2
    e[24] = 0x06; // RGB 4:4:4, sRGB default, preferred timing is native
    e[25..35].copy_from_slice(&[0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54]);
    for slot in e[38..54].chunks_exact_mut(2) {
        slot.copy_from_slice(&[0x01, 0x01]); // unused standard timing
    }
    e[54..72].copy_from_slice(&detailed_timing(&timing, width_mm, height_mm));
    e[72..90].copy_from_slice(&text_descriptor(0xfc, &id.name));
    e[90..108].copy_from_slice(&text_descriptor(0xff, &id.serial_text));
    let mut dummy = [0u8; 18];
    dummy[3] = 0x10;
    e[108..126].copy_from_slice(&dummy);
    fix_checksum(&mut e);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_block_round_trips_the_preferred_mode() {
        for (w, h) in [
            (640, 480),
            (800, 600),
            (1024, 768),
            (1366, 768),
            (1920, 1080),
            (3840, 2160),
        ] {
            let block = base_block(Mode::new(w, h, 60), &Identity::default()).unwrap();
            assert!(checksum_ok(&block));
            assert_eq!(block[..8], HEADER);
            let mode = preferred_mode(&block).unwrap();
            assert_eq!((mode.width, mode.height), (w, h));
            // The 0.25 MHz clock step costs small modes up to about half a hertz.
            assert!((59_000..=60_500).contains(&mode.refresh_mhz), "{mode}");
        }
    }

    #[test]
    fn vendor_and_name_are_encoded() {
        let block = base_block(Mode::new(1024, 768, 60), &Identity::default()).unwrap();
        // "VFD" = 22, 6, 4 -> 0b0_10110_00110_00100 = 0x58c4, big-endian.
        assert_eq!(block[8..10], [0x58, 0xc4]);
        assert_eq!(&block[77..90], b"vfio-display\n");
    }

    #[test]
    fn corrupt_blobs_are_refused() {
        let good = base_block(Mode::new(800, 600, 60), &Identity::default()).unwrap();
        assert_eq!(preferred_mode(&good[..100]), Err(EdidError::TooShort(100)));
        let mut bad = good;
        bad[0] = 1;
        assert_eq!(preferred_mode(&bad), Err(EdidError::BadHeader));
        let mut bad = good;
        bad[60] ^= 0xff;
        assert_eq!(preferred_mode(&bad), Err(EdidError::BadChecksum));
        let mut bad = good;
        bad[54] = 0;
        bad[55] = 0;
        fix_checksum(&mut bad);
        assert_eq!(preferred_mode(&bad), Err(EdidError::NoPreferredTiming));
        assert!(base_block(Mode::new(4096, 2160, 60), &Identity::default()).is_err());
    }
}
