//! DisplayID extension blocks (EDID extension tag 0x70): the generator writes DisplayID 1.3
//! sections with Type I detailed timings, which reach sizes (up to 65536) and pixel clocks (up to
//! 167 GHz) that a base-block DTD cannot; the decoder also reads DisplayID 2.0's Type VII
//! timings, and its type VIII (timing codes) and IX (formula) timings.

use super::BLOCK;
use super::cta::CtaBlock;
use super::cvt::{cvt_reduced_blanking, cvt_standard};
use super::descriptor::DetailedTiming;
use super::linux;
use super::mode::Mode;
use serde::Serialize;

pub const EXTENSION_TAG: u8 = 0x70;
const VERSION_1_3: u8 = 0x13;
const TYPE_I_TIMING: u8 = 0x03;
const TYPE_VII_TIMING: u8 = 0x22;
const TIMING_LEN: usize = 20;
/// Section bytes available for data blocks: block minus the EDID tag, the 4-byte section
/// header, the section checksum and the EDID checksum.
const SECTION_CAPACITY: usize = BLOCK - 1 - 4 - 1 - 1;

/// A timing listed by a DisplayID section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DisplayIdTiming {
    /// The timing.
    pub timing: DetailedTiming,
    /// Marked preferred.
    pub preferred: bool,
    /// 0 1:1, 1 5:4, 2 4:3, 3 15:9, 4 16:9, 5 16:10, 6 64:27, 7 256:135, 8 undefined.
    pub aspect_code: u8,
}

/// DisplayID's aspect-ratio code for a size; 8 ("undefined") when none matches exactly.
pub fn aspect_code(width: u32, height: u32) -> u8 {
    let ratios = [
        (1, 1),
        (5, 4),
        (4, 3),
        (15, 9),
        (16, 9),
        (16, 10),
        (64, 27),
        (256, 135),
    ];
    ratios
        .iter()
        .position(|&(a, b)| u64::from(width) * b == u64::from(height) * a)
        .map_or(8, |i| i as u8)
}

fn put_minus_one(out: &mut [u8], value: u32, flag: bool) {
    let v = (value.saturating_sub(1) & 0x7fff) as u16 | if flag { 0x8000 } else { 0 };
    out.copy_from_slice(&v.to_le_bytes());
}

fn encode_timing(t: &DisplayIdTiming) -> [u8; TIMING_LEN] {
    let d = &t.timing;
    let mut out = [0u8; TIMING_LEN];
    let clock = (d.pixel_clock_khz / 10).saturating_sub(1);
    out[0..3].copy_from_slice(&clock.to_le_bytes()[..3]);
    out[3] = u8::from(t.preferred) << 7 | u8::from(d.interlaced) << 4 | (t.aspect_code & 0xf);
    put_minus_one(&mut out[4..6], d.h_active, false);
    put_minus_one(&mut out[6..8], d.h_blank, false);
    put_minus_one(&mut out[8..10], d.h_front, d.hsync_positive);
    put_minus_one(&mut out[10..12], d.h_sync, false);
    put_minus_one(&mut out[12..14], d.v_active, false);
    put_minus_one(&mut out[14..16], d.v_blank, false);
    put_minus_one(&mut out[16..18], d.v_front, d.vsync_positive);
    put_minus_one(&mut out[18..20], d.v_sync, false);
    out
}

/// True when the timing fits a Type I descriptor (16-bit sizes, 15-bit porches, 24-bit clock).
pub fn fits_type_i(d: &DetailedTiming) -> bool {
    let fits16 = |v: u32| (1..=0x10000).contains(&v);
    let fits15 = |v: u32| (1..=0x8000).contains(&v);
    d.pixel_clock_khz.is_multiple_of(10)
        && (1..=0x100_0000).contains(&(d.pixel_clock_khz / 10))
        && fits16(d.h_active)
        && fits16(d.h_blank)
        && fits16(d.v_active)
        && fits16(d.v_blank)
        && fits15(d.h_front)
        && fits16(d.h_sync)
        && fits15(d.v_front)
        && fits16(d.v_sync)
}

/// What the first DisplayID section says about the product: DisplayID 1.3 wants a product
/// identification, display parameters and a display interface block in the section that names a
/// display product type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// PNP id as three ASCII letters.
    pub vendor: [u8; 3],
    pub product: u16,
    pub serial: u32,
    pub week: u8,
    pub year: u16,
    /// Image size in millimetres, as the base block states it (whole centimetres).
    pub image_mm: (u32, u32),
    /// The native resolution: the preferred mode.
    pub native: (u32, u32),
}

const PRODUCT_ID: u8 = 0x00;
const DISPLAY_PARAMETERS: u8 = 0x01;
const DISPLAY_INTERFACE: u8 = 0x0f;
/// Product type 3: a standalone display (a monitor).
const STANDALONE_DISPLAY: u8 = 3;
const PRODUCT_ID_LEN: usize = 12;

fn product_id_block(p: &Product) -> Vec<u8> {
    let mut b = vec![PRODUCT_ID, 0, PRODUCT_ID_LEN as u8];
    b.extend_from_slice(&p.vendor);
    b.extend_from_slice(&p.product.to_le_bytes());
    b.extend_from_slice(&p.serial.to_le_bytes());
    b.push(p.week);
    // DisplayID counts years from 2000.
    b.push(p.year.saturating_sub(2000).min(255) as u8);
    // No product name string: the base block's name descriptor holds it.
    b.push(0);
    b
}

fn display_parameters_block(p: &Product) -> Vec<u8> {
    let mut b = vec![DISPLAY_PARAMETERS, 0, 12];
    // Image size in 0.1 mm steps.
    let tenth = |mm: u32| ((mm * 10).min(0xffff) as u16).to_le_bytes();
    b.extend_from_slice(&tenth(p.image_mm.0));
    b.extend_from_slice(&tenth(p.image_mm.1));
    let px = |v: u32| (v.min(0xffff) as u16).to_le_bytes();
    b.extend_from_slice(&px(p.native.0));
    b.extend_from_slice(&px(p.native.1));
    // Feature flags: a fixed pixel format (a panel, not a CRT).
    b.push(0x04);
    // Gamma 2.2, stored as gamma x 100 - 100.
    b.push(120);
    // Aspect ratio as width/height x 100 - 100 (0 for portrait panels, which cannot say it).
    let aspect = u64::from(p.native.0) * 100 / u64::from(p.native.1.max(1));
    b.push(aspect.saturating_sub(100).min(255) as u8);
    // 8 bits per colour, natively and overall (stored minus one).
    b.push(0x77);
    b
}

/// A DisplayPort interface, one link, 8 bits per colour RGB, no content protection.
fn display_interface_block() -> Vec<u8> {
    vec![
        DISPLAY_INTERFACE,
        0,
        10,
        0xa1,
        0x12,
        0x02,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]
}

fn timing_block(timings: &[DisplayIdTiming]) -> Vec<u8> {
    let mut b = vec![TYPE_I_TIMING, 0, (timings.len() * TIMING_LEN) as u8];
    for t in timings {
        b.extend_from_slice(&encode_timing(t));
    }
    b
}

/// Wraps data blocks in an EDID extension block holding one DisplayID 1.3 section. The section
/// fills the block, its data blocks followed by zeros (padding inside a section, as DisplayID
/// allows): libdisplay-info 0.2 reads a shorter section's checksum byte as padding and fails
/// the block, where edid-decode and the kernel accept either.
fn section(product_type: u8, extension_count: u8, data: &[u8]) -> [u8; BLOCK] {
    debug_assert!(data.len() <= SECTION_CAPACITY);
    let mut b = [0u8; BLOCK];
    b[0] = EXTENSION_TAG;
    b[1] = VERSION_1_3;
    b[2] = SECTION_CAPACITY as u8;
    b[3] = product_type;
    b[4] = extension_count;
    b[5..5 + data.len()].copy_from_slice(data);
    // The section checksum covers the section header through its last byte.
    let end = 5 + SECTION_CAPACITY;
    let sum = b[1..end].iter().fold(0u8, |a, v| a.wrapping_add(*v));
    b[end] = 0u8.wrapping_sub(sum);
    let sum = b[..127].iter().fold(0u8, |a, v| a.wrapping_add(*v));
    b[127] = 0u8.wrapping_sub(sum);
    b
}

/// EDID extension blocks listing `timings` as DisplayID Type I timings: the first section
/// describes the product (a standalone display), the following ones continue the list.
pub fn encode_blocks(timings: &[DisplayIdTiming], product: &Product) -> Vec<[u8; BLOCK]> {
    let mut sections: Vec<Vec<u8>> = Vec::new();
    let mut rest = timings;
    loop {
        let mut data = Vec::new();
        if sections.is_empty() {
            data.extend(product_id_block(product));
            data.extend(display_parameters_block(product));
            data.extend(display_interface_block());
        }
        let room = (SECTION_CAPACITY - data.len()).saturating_sub(3) / TIMING_LEN;
        let (now, later) = rest.split_at(room.min(rest.len()));
        if !now.is_empty() {
            data.extend(timing_block(now));
        }
        sections.push(data);
        rest = later;
        if rest.is_empty() {
            break;
        }
    }
    // The first section counts the sections after it; those have neither type nor count.
    let followers = (sections.len() - 1) as u8;
    sections
        .iter()
        .enumerate()
        .map(|(i, data)| {
            if i == 0 {
                section(STANDALONE_DISPLAY, followers, data)
            } else {
                section(0, 0, data)
            }
        })
        .collect()
}

const TYPE_VIII_CODES: u8 = 0x23;
const CTA_DATA_BLOCKS: u8 = 0x81;
const TYPE_IX_FORMULA: u8 = 0x24;

/// A timing a DisplayID 2.0 block names by code or by formula.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedTiming {
    /// "DMT", "VIC" or "HDMI VIC" (type VIII), "CVT" or "CVT RB" (type IX).
    pub kind: &'static str,
    /// The code (type VIII); 0 for formula timings.
    pub code: u16,
    /// The mode it names, at its exact rate; None for a code no table has.
    pub mode: Option<Mode>,
}

/// Type VIII: one-byte codes (the revision byte's bits 7-6 say which table: DMT IDs, CTA VICs
/// or HDMI VICs; bit 3 set means two-byte codes, which name DMT standard-timing codes and are
/// listed without a mode).
fn enumerated_timings(revision: u8, body: &[u8]) -> Vec<ListedTiming> {
    let kind = match revision >> 6 {
        0 => "DMT",
        1 => "VIC",
        2 => "HDMI VIC",
        _ => return Vec::new(),
    };
    if revision & 0x08 != 0 {
        return body
            .chunks_exact(2)
            .map(|c| ListedTiming {
                kind,
                code: u16::from_le_bytes([c[0], c[1]]),
                mode: None,
            })
            .collect();
    }
    body.iter()
        .map(|&code| ListedTiming {
            kind,
            code: u16::from(code),
            mode: match kind {
                "DMT" => linux::dmt_by_id(code),
                "VIC" => linux::cta_mode(code),
                _ => linux::hdmi_mode(code),
            }
            .map(|m| Mode {
                width: m.h[0],
                height: m.v[0],
                refresh_mhz: m.refresh_mhz(),
            }),
        })
        .collect()
}

/// Type IX: six bytes a timing, the formula in byte 0's low bits (0 CVT, 1 CVT reduced
/// blanking; others are not listed), width and height less one, the rate less one.
fn formula_timing(t: &[u8]) -> Option<ListedTiming> {
    let width = u32::from(u16::from_le_bytes([t[1], t[2]])) + 1;
    let height = u32::from(u16::from_le_bytes([t[3], t[4]])) + 1;
    let hz = u32::from(t[5]) + 1;
    let (kind, timing) = match t[0] & 7 {
        0 => ("CVT", cvt_standard(width, height, hz)),
        1 => ("CVT RB", cvt_reduced_blanking(width, height, hz * 1000)),
        _ => return None,
    };
    Some(ListedTiming {
        kind,
        code: 0,
        mode: Some(Mode {
            width: timing.h_active,
            height,
            refresh_mhz: timing.refresh_mhz(),
        }),
    })
}

/// What a DisplayID extension block holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisplayIdBlock {
    /// "1.3" or "2.0".
    pub version: String,
    /// The product type code.
    pub product_type: u8,
    /// The timings listed.
    pub timings: Vec<DisplayIdTiming>,
    /// Timings named by code (type VIII: DMT IDs, CTA VICs, HDMI VICs) or by formula
    /// (type IX: CVT), with the mode each names. Linux lists none of them.
    pub listed_timings: Vec<ListedTiming>,
    /// CTA-861 data block collections carried in CTA DisplayID data blocks (tag 0x81): their
    /// VICs, HDMI VICs and 4:2:0 VICs, as a CTA extension's.
    pub cta: Vec<CtaBlock>,
    /// Data blocks other than timings, by name.
    pub other_blocks: Vec<String>,
}

fn block_name(tag: u8) -> String {
    match tag {
        0x00 => "product identification".into(),
        0x01 => "display parameters".into(),
        0x02 => "color characteristics".into(),
        0x04 => "type II timings".into(),
        0x05 => "type III timings".into(),
        0x06 => "type IV timings".into(),
        0x07 => "VESA timings".into(),
        0x08 => "CTA timings".into(),
        0x09 => "video timing range".into(),
        0x0a => "product serial number".into(),
        0x0b => "ASCII string".into(),
        0x0c => "display device data".into(),
        0x0d => "interface power sequencing".into(),
        0x0e => "transfer characteristics".into(),
        0x0f => "display interface".into(),
        0x10 => "stereo display interface".into(),
        0x11 => "type V timings".into(),
        0x12 => "tiled display topology".into(),
        0x13 => "type VI timings".into(),
        0x20 => "product identification (2.0)".into(),
        0x21 => "display parameters (2.0)".into(),
        0x23 => "type VIII timings".into(),
        0x24 => "type IX timings".into(),
        0x25 => "dynamic video timing range".into(),
        0x26 => "display interface features".into(),
        0x27 => "stereo display interface (2.0)".into(),
        0x28 => "tiled display topology (2.0)".into(),
        0x29 => "container ID".into(),
        0x2a => "type X timings".into(),
        0x7e => "vendor specific (2.0)".into(),
        0x7f => "vendor specific".into(),
        0x81 => "CTA DisplayID".into(),
        other => format!("unknown data block {other:#04x}"),
    }
}

fn read_minus_one(b: &[u8]) -> (u32, bool) {
    let v = u16::from_le_bytes([b[0], b[1]]);
    (u32::from(v & 0x7fff) + 1, v & 0x8000 != 0)
}

fn decode_timing(b: &[u8], clock_unit_khz: u32) -> DisplayIdTiming {
    let clock = (u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16) + 1;
    let full = |at: usize| u32::from(u16::from_le_bytes([b[at], b[at + 1]])) + 1;
    let (h_front, hsync_positive) = read_minus_one(&b[8..10]);
    let (v_front, vsync_positive) = read_minus_one(&b[16..18]);
    DisplayIdTiming {
        timing: DetailedTiming {
            pixel_clock_khz: clock.saturating_mul(clock_unit_khz),
            h_active: full(4),
            h_blank: full(6),
            h_front,
            h_sync: full(10),
            v_active: full(12),
            v_blank: full(14),
            v_front,
            v_sync: full(18),
            width_mm: 0,
            height_mm: 0,
            interlaced: b[3] & 0x10 != 0,
            hsync_positive,
            vsync_positive,
        },
        preferred: b[3] & 0x80 != 0,
        aspect_code: b[3] & 0xf,
    }
}

/// The section headers of an EDID's DisplayID blocks (each its block index and first five
/// bytes: tag, version, length, product type, extension count), as edid-decode checks them:
/// the first section names a product type and counts the DisplayID blocks after it; every
/// later one has the first one's version, product type 0 and an extension count of 0.
pub(crate) fn section_header_problems(blocks: &[(usize, [u8; 5])], problems: &mut Vec<String>) {
    let Some(&(first, [_, version, _, product_type, declared])) = blocks.first() else {
        return;
    };
    if product_type == 0 {
        problems.push(format!(
            "block {first} (DisplayID): byte 3 is product type 0, but the first DisplayID \
             section must name one"
        ));
    }
    let following = blocks.len() - 1;
    if usize::from(declared) != following {
        problems.push(format!(
            "block {first} (DisplayID): byte 4 declares {declared} DisplayID extension \
             block{} after this one, but the EDID has {following}",
            if declared == 1 { "" } else { "s" }
        ));
    }
    for &(index, [_, v, _, product, count]) in &blocks[1..] {
        let what = format!("block {index} (DisplayID, an extension section)");
        if product != 0 {
            problems.push(format!(
                "{what}: byte 3 is product type {product}, but must be 0"
            ));
        }
        if count != 0 {
            problems.push(format!(
                "{what}: byte 4 is extension count {count}, but must be 0"
            ));
        }
        if v != version {
            problems.push(format!(
                "{what}: byte 1 is version {v:#04x}, but the first section's is {version:#04x}"
            ));
        }
    }
}

/// Decodes a DisplayID extension block; problems (checksums, overruns) go to `problems`.
pub fn decode_block(b: &[u8; BLOCK], index: usize, problems: &mut Vec<String>) -> DisplayIdBlock {
    let version = b[1];
    let declared = usize::from(b[2]);
    let mut out = DisplayIdBlock {
        version: format!("{}.{}", version >> 4, version & 0xf),
        product_type: b[3],
        timings: Vec::new(),
        listed_timings: Vec::new(),
        cta: Vec::new(),
        other_blocks: Vec::new(),
    };
    // The section runs from byte 1: 4 header bytes, the data, and a checksum byte.
    let payload_end = 5 + declared;
    if payload_end >= 127 {
        problems.push(format!(
            "block {index} (DisplayID): section length {declared} overruns the block"
        ));
        return out;
    }
    let sum = b[1..=payload_end]
        .iter()
        .fold(0u8, |a, v| a.wrapping_add(*v));
    if sum != 0 {
        problems.push(format!(
            "block {index} (DisplayID): section checksum is wrong"
        ));
    }
    let mut at = 5;
    let mut overrun = false;
    while at + 3 <= payload_end {
        let (tag, len) = (b[at], usize::from(b[at + 2]));
        let body_end = at + 3 + len;
        if body_end > payload_end {
            problems.push(format!(
                "block {index} (DisplayID): data block {tag:#04x} at byte {at} overruns the section"
            ));
            overrun = true;
            break;
        }
        let body = &b[at + 3..body_end];
        match tag {
            TYPE_I_TIMING | TYPE_VII_TIMING => {
                if len % TIMING_LEN != 0 {
                    problems.push(format!(
                        "block {index} (DisplayID): timing block length {len} is not a multiple of 20"
                    ));
                }
                let unit = if tag == TYPE_I_TIMING { 10 } else { 1 };
                out.timings.extend(
                    body.chunks_exact(TIMING_LEN)
                        .map(|t| decode_timing(t, unit)),
                );
            }
            CTA_DATA_BLOCKS => {
                let mut cta = CtaBlock::empty();
                super::cta::decode_collection(
                    body,
                    at + 3,
                    &format!("block {index} (DisplayID CTA data block)"),
                    &mut cta,
                    problems,
                );
                out.cta.push(cta);
                out.other_blocks.push(block_name(tag));
            }
            TYPE_VIII_CODES => {
                out.listed_timings
                    .extend(enumerated_timings(b[at + 1], body));
                out.other_blocks.push(block_name(tag));
            }
            TYPE_IX_FORMULA => {
                out.listed_timings
                    .extend(body.chunks_exact(6).filter_map(formula_timing));
                out.other_blocks.push(block_name(tag));
            }
            // A zero tag with zero length is padding: the section ends here.
            0 if len == 0 && b[at + 1] == 0 => break,
            _ => out.other_blocks.push(block_name(tag)),
        }
        at = body_end;
    }
    // What follows the data blocks inside the section is filler, and must be zero too.
    if !overrun
        && let Some(offset) = b[at.min(payload_end)..payload_end]
            .iter()
            .position(|&v| v != 0)
    {
        let byte = at + offset;
        problems.push(format!(
            "block {index} (DisplayID): byte {byte} is {:#04x}, but the filler after the data \
             blocks from byte {at} must be zero",
            b[byte]
        ));
    }
    super::cta::padding_problem(
        b,
        payload_end + 1,
        &format!("block {index} (DisplayID)"),
        problems,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edid::checksum_ok;
    use crate::edid::cvt::cvt_reduced_blanking;

    #[test]
    fn type_i_timings_round_trip() {
        let timings: Vec<DisplayIdTiming> = [(7680, 4320, 60_000), (5120, 2880, 30_000)]
            .iter()
            .enumerate()
            .map(|(i, &(w, h, r))| DisplayIdTiming {
                timing: DetailedTiming::from_cvt(&cvt_reduced_blanking(w, h, r), 0, 0),
                preferred: i == 0,
                aspect_code: aspect_code(w, h),
            })
            .collect();
        let product = Product {
            vendor: *b"VFD",
            product: 1,
            serial: 0,
            week: 1,
            year: 2026,
            image_mm: (1630, 920),
            native: (7680, 4320),
        };
        let blocks = encode_blocks(&timings, &product);
        assert_eq!(blocks.len(), 1);
        let block = blocks[0];
        assert!(checksum_ok(&block));
        let mut problems = Vec::new();
        let decoded = decode_block(&block, 1, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(decoded.version, "1.3");
        assert_eq!(decoded.product_type, STANDALONE_DISPLAY);
        assert_eq!(
            decoded.other_blocks,
            [
                "product identification",
                "display parameters",
                "display interface"
            ]
        );
        assert_eq!(decoded.timings, timings);
        assert_eq!(decoded.timings[0].timing.mode().width, 7680);
    }

    #[test]
    fn section_headers_follow_the_first_section() {
        let check = |blocks: &[(usize, [u8; 5])]| {
            let mut out = Vec::new();
            section_header_problems(blocks, &mut out);
            out
        };
        let first = (1, [0x70, 0x13, 121, 3, 1]);
        assert!(check(&[first, (2, [0x70, 0x13, 121, 0, 0])]).is_empty());
        let p = check(&[(1, [0x70, 0x13, 121, 0, 0])]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("byte 3 is product type 0"), "{p:?}");
        let p = check(&[first, (2, [0x70, 0x20, 121, 3, 1])]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("block 2 (DisplayID, an extension section): byte 3"));
        assert!(p[1].contains("byte 4 is extension count 1, but must be 0"));
        assert!(p[2].contains("byte 1 is version 0x20, but the first section's is 0x13"));
    }

    #[test]
    fn aspect_codes() {
        assert_eq!(aspect_code(1920, 1080), 4);
        assert_eq!(aspect_code(1920, 1200), 5);
        assert_eq!(aspect_code(1366, 768), 8);
        assert_eq!(aspect_code(4096, 2160), 7);
    }

    #[test]
    fn overruns_are_problems_not_panics() {
        let mut b = [0u8; BLOCK];
        b[0] = EXTENSION_TAG;
        b[1] = 0x13;
        b[2] = 200;
        let mut problems = Vec::new();
        decode_block(&b, 1, &mut problems);
        assert!(problems[0].contains("overruns the block"), "{problems:?}");
        b[2] = 10;
        b[5] = TYPE_I_TIMING;
        b[7] = 60;
        let mut problems = Vec::new();
        decode_block(&b, 1, &mut problems);
        assert!(problems.iter().any(|p| p.contains("overruns the section")));
    }
}
