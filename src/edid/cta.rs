//! CTA-861 extension blocks (tag 0x02), as TVs and most monitors ship them: the decoder reads
//! the data block collection (video, audio, vendor blocks) and the detailed timings after it.

use super::BLOCK;
use super::descriptor::{DESCRIPTOR_LEN, DetailedTiming};
use super::linux::{self, KMode};
use super::mode::Mode;
use serde::Serialize;

pub const EXTENSION_TAG: u8 = 0x02;

/// A short video descriptor: a VIC and whether the sink calls it native.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vic {
    /// The Video Identification Code.
    pub vic: u8,
    /// The sink marks it native.
    pub native: bool,
    /// The mode, for the VICs this decoder knows.
    pub mode: Option<Mode>,
    /// The VIC's mode is interlaced.
    pub interlaced: bool,
    /// The picture aspect ratio the standard gives the VIC ("16:9").
    pub aspect: &'static str,
}

/// What a CTA-861 extension block holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CtaBlock {
    /// The CTA extension's revision.
    pub revision: u8,
    /// The sink underscans IT formats by default.
    pub underscan: bool,
    /// The sink takes basic audio.
    pub basic_audio: bool,
    /// YCbCr 4:4:4 is supported.
    pub ycbcr444: bool,
    /// YCbCr 4:2:2 is supported.
    pub ycbcr422: bool,
    /// How many of the detailed timings are native.
    pub native_dtds: u8,
    /// The short video descriptors.
    pub vics: Vec<Vic>,
    /// The HDMI vendor-specific data block's HDMI VICs (the 4K formats HDMI 1.4 names).
    pub hdmi_vics: Vec<Vic>,
    /// The YCbCr 4:2:0 video data block's VICs: formats the sink takes in 4:2:0 only.
    pub ycbcr420_vics: Vec<Vic>,
    /// Other data blocks, by name.
    pub data_blocks: Vec<String>,
    /// The block's detailed timings.
    pub detailed_timings: Vec<DetailedTiming>,
}

/// A VIC of the kernel's table (`edid::linux`, the CTA-861-H timings) as a decoder's VIC: the
/// width the standard transmits (pixel-repeated formats count their repeated pixels, as
/// edid-decode prints them), the exact rate (the field rate for interlaced formats), and the
/// picture aspect ratio.
fn table_vic(vic: u8, native: bool, mode: Option<KMode>) -> Vic {
    let Some(m) = mode else {
        return Vic {
            vic,
            native,
            mode: None,
            interlaced: false,
            aspect: "",
        };
    };
    Vic {
        vic,
        native,
        mode: Some(Mode {
            width: m.h[0] * if m.flags & linux::DBLCLK != 0 { 2 } else { 1 },
            height: m.v[0],
            refresh_mhz: m.refresh_mhz(),
        }),
        interlaced: m.interlaced(),
        aspect: m.aspect.text().unwrap_or(""),
    }
}

/// The VIC a short video descriptor byte names, or None for the reserved codes (0, 128 and
/// 220-255; 193-219 came with CTA-861-G and carry no native flag).
fn vic(byte: u8) -> Option<Vic> {
    // Codes 129..=192 carry the native flag in bit 7; above 192 all 8 bits are the VIC.
    let (vic, native) = if (129..=192).contains(&byte) {
        (byte & 0x7f, true)
    } else {
        (byte, false)
    };
    let mode = linux::cta_mode(vic)?;
    Some(table_vic(vic, native, Some(mode)))
}

/// The HDMI VICs of an HDMI vendor-specific data block (payload from the OUI): present when
/// byte 7's HDMI_Video_present bit is set, after the latency fields that bits 7 and 6 of the
/// same byte announce, then the 3D byte and a byte whose top three bits count the VICs.
fn hdmi_vics(body: &[u8]) -> Vec<Vic> {
    let Some(&flags) = body.get(7) else {
        return Vec::new();
    };
    if flags & 0x20 == 0 {
        return Vec::new();
    }
    let latency = match (flags & 0x80 != 0, flags & 0x40 != 0) {
        (true, true) => 4,
        (true, false) => 2,
        _ => 0,
    };
    let at = 8 + latency + 1;
    let Some(&lengths) = body.get(at) else {
        return Vec::new();
    };
    let count = usize::from(lengths >> 5);
    body.iter()
        .skip(at + 1)
        .take(count)
        .map(|&code| table_vic(code, false, linux::hdmi_mode(code)))
        .collect()
}

fn data_block_name(tag: u8, body: &[u8]) -> String {
    match tag {
        1 => format!("audio ({} descriptors)", body.len() / 3),
        2 => "video".into(),
        3 => match body.get(..3) {
            Some([0x03, 0x0c, 0x00]) => "vendor specific: HDMI".into(),
            Some([0xd8, 0x5d, 0xc4]) => "vendor specific: HDMI Forum".into(),
            Some([a, b, c]) => format!("vendor specific: OUI {c:02X}-{b:02X}-{a:02X}"),
            _ => "vendor specific (too short)".into(),
        },
        4 => "speaker allocation".into(),
        5 => "VESA display transfer characteristics".into(),
        7 => match body.first() {
            Some(0) => "video capability".into(),
            Some(1) => "vendor specific video".into(),
            Some(5) => "colorimetry".into(),
            Some(6) => "HDR static metadata".into(),
            Some(7) => "HDR dynamic metadata".into(),
            Some(13) => "video format preference".into(),
            Some(14) => "YCbCr 4:2:0 video".into(),
            Some(15) => "YCbCr 4:2:0 capability map".into(),
            Some(18) => "HDMI audio".into(),
            Some(19) => "room configuration".into(),
            Some(20) => "speaker location".into(),
            Some(32) => "InfoFrame".into(),
            Some(34) => "DisplayID type VII timing".into(),
            Some(35) => "DisplayID type VIII timing".into(),
            Some(42) => "DisplayID type X timing".into(),
            Some(120) => "HDMI Forum EDID extension override".into(),
            Some(121) => "HDMI Forum sink capability".into(),
            Some(other) => format!("extended tag {other}"),
            None => "extended (empty)".into(),
        },
        other => format!("reserved tag {other}"),
    }
}

/// Decodes a CTA-861 extension block; problems (overruns) go to `problems`.
pub fn decode_block(b: &[u8; BLOCK], index: usize, problems: &mut Vec<String>) -> CtaBlock {
    let mut out = CtaBlock {
        revision: b[1],
        underscan: b[3] & 0x80 != 0,
        basic_audio: b[3] & 0x40 != 0,
        ycbcr444: b[3] & 0x20 != 0,
        ycbcr422: b[3] & 0x10 != 0,
        native_dtds: b[3] & 0x0f,
        ..CtaBlock::empty()
    };
    if b[1] == 0 {
        problems.push(format!(
            "block {index} (CTA-861): byte 1 is revision 0, which is not defined"
        ));
    }
    let dtd_start = usize::from(b[2]);
    // 0: no data blocks and no DTDs; 4: DTDs but no data blocks.
    if dtd_start == 0 {
        padding_problem(b, 4, &format!("block {index} (CTA-861)"), problems);
        return out;
    }
    if !(4..=127).contains(&dtd_start) {
        problems.push(format!(
            "block {index} (CTA-861): DTD offset {dtd_start} is outside the block"
        ));
        return out;
    }
    decode_collection(
        &b[4..dtd_start],
        4,
        &format!("block {index} (CTA-861)"),
        &mut out,
        problems,
    );
    let mut at = dtd_start;
    while at + DESCRIPTOR_LEN < BLOCK {
        let Ok(bytes) = <&[u8; DESCRIPTOR_LEN]>::try_from(&b[at..at + DESCRIPTOR_LEN]) else {
            break;
        };
        match DetailedTiming::decode_dtd(bytes) {
            Some(t) => out.detailed_timings.push(t),
            None => break,
        }
        at += DESCRIPTOR_LEN;
    }
    padding_problem(b, at, &format!("block {index} (CTA-861)"), problems);
    out
}

/// Reads a CTA-861 data block collection (`bytes`, which start at byte `offset` of the block
/// `what` names) into `out`: the video data blocks' VICs, the 4:2:0 VICs, the HDMI VSDB's
/// VICs and the blocks' names. Reserved VIC codes and a block past the collection are problems.
pub(crate) fn decode_collection(
    bytes: &[u8],
    offset: usize,
    what: &str,
    out: &mut CtaBlock,
    problems: &mut Vec<String>,
) {
    let mut at = 0;
    // YCbCr 4:2:0 capability maps index the SVDs, which may come after them.
    let mut maps: Vec<(usize, &[u8])> = Vec::new();
    while at < bytes.len() {
        let tag = bytes[at] >> 5;
        let end = at + 1 + usize::from(bytes[at] & 0x1f);
        if end > bytes.len() {
            problems.push(format!(
                "{what}: data block at byte {} overruns the data block collection",
                offset + at
            ));
            break;
        }
        let body = &bytes[at + 1..end];
        super::cta_rules::data_block_problems(tag, body, offset + at, what, problems);
        if tag == 7 && body.first() == Some(&15) {
            maps.push((offset + at, &body[1..]));
        }
        let video = match (tag, body.first()) {
            (2, _) => Some((&mut out.vics, body, "video data block")),
            (7, Some(14)) => Some((
                &mut out.ycbcr420_vics,
                &body[1..],
                "YCbCr 4:2:0 video data block",
            )),
            _ => None,
        };
        if let Some((list, codes, kind)) = video {
            for &code in codes {
                match vic(code) {
                    Some(v) => list.push(v),
                    None => problems.push(format!("{what}: {kind} names reserved VIC code {code}")),
                }
            }
        }
        if tag == 3 && body.get(..3) == Some(&[0x03, 0x0c, 0x00]) {
            out.hdmi_vics = hdmi_vics(body);
        }
        out.data_blocks.push(data_block_name(tag, body));
        at = end;
    }
    for (at, map) in maps {
        super::cta_rules::ycbcr420_map_problems(map, at, out.vics.len(), what, problems);
    }
}

impl CtaBlock {
    /// A block with nothing in it yet (the header fields of a CTA data block collection that
    /// a DisplayID block carries are all zero).
    pub(crate) fn empty() -> Self {
        CtaBlock {
            revision: 0,
            underscan: false,
            basic_audio: false,
            ycbcr444: false,
            ycbcr422: false,
            native_dtds: 0,
            vics: Vec::new(),
            hdmi_vics: Vec::new(),
            ycbcr420_vics: Vec::new(),
            data_blocks: Vec::new(),
            detailed_timings: Vec::new(),
        }
    }
}

/// The bytes from `from` to the checksum must be zero (CTA-861 and DisplayID both say so, and
/// edid-decode fails a block whose padding is not): a problem naming the first that is not.
pub(crate) fn padding_problem(
    b: &[u8; BLOCK],
    from: usize,
    what: &str,
    problems: &mut Vec<String>,
) {
    if let Some(offset) = b[from.min(BLOCK - 1)..BLOCK - 1]
        .iter()
        .position(|&v| v != 0)
    {
        let at = from + offset;
        problems.push(format!(
            "{what}: byte {at} is {:#04x}, but the padding from byte {from} must be zero",
            b[at]
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_typical_tv_block() {
        let mut b = [0u8; BLOCK];
        b[0] = EXTENSION_TAG;
        b[1] = 3;
        b[3] = 0xf1;
        // Video: VIC 16 native, VIC 4, VIC 97; HDMI VSDB with a physical address.
        let blocks = [0x43, 0x90, 0x04, 0x61, 0x65, 0x03, 0x0c, 0x00, 0x10, 0x00];
        b[4..4 + blocks.len()].copy_from_slice(&blocks);
        b[2] = (4 + blocks.len()) as u8;
        let mut problems = Vec::new();
        let cta = decode_block(&b, 1, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(cta.vics.len(), 3);
        assert!(cta.vics[0].native);
        assert_eq!(cta.vics[0].mode, Some(Mode::new(1920, 1080, 60)));
        assert_eq!(cta.vics[2].mode, Some(Mode::new(3840, 2160, 60)));
        assert_eq!((cta.vics[0].aspect, cta.vics[1].aspect), ("16:9", "16:9"));
        assert_eq!(cta.data_blocks, ["video", "vendor specific: HDMI"]);
        assert!(cta.underscan && cta.basic_audio);
        assert_eq!(cta.native_dtds, 1);
    }

    #[test]
    fn overruns_are_problems_not_panics() {
        let mut b = [0u8; BLOCK];
        b[0] = EXTENSION_TAG;
        b[1] = 3;
        b[2] = 8;
        b[4] = 0x5f;
        let mut problems = Vec::new();
        decode_block(&b, 1, &mut problems);
        assert!(problems[0].contains("overruns"), "{problems:?}");
        b[2] = 200;
        let mut problems = Vec::new();
        decode_block(&b, 1, &mut problems);
        assert!(problems[0].contains("outside"), "{problems:?}");
    }
}
