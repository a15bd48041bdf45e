//! The EDID decoder: total over any input (it never panics and never indexes past the data),
//! with every block's checksum verified. Problems that leave the rest readable are listed in
//! `problems`; only a blob without a base block is an error.

use super::cta::{self, CtaBlock};
use super::cvt::{cvt_reduced_blanking, cvt_standard};
use super::descriptor::{
    DESCRIPTOR_LEN, DetailedTiming, RangeLimits, TAG_CVT_CODES, TAG_DUMMY, TAG_ESTABLISHED_III,
    TAG_NAME, TAG_RANGE_LIMITS, TAG_SERIAL, TAG_TEXT, decode_text,
};
use super::displayid::{self, DisplayIdBlock};
use super::dmt::{self, decode_standard};
use super::linux::{self, KMode};
use super::mode::Mode;
use super::{BLOCK, EdidError, HEADER, checksum_ok};
use serde::Serialize;

/// One 18-byte descriptor of the base block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Descriptor {
    /// A detailed timing.
    DetailedTiming(DetailedTiming),
    /// The monitor name.
    Name {
        /// The name.
        text: String,
    },
    /// The serial number text.
    Serial {
        /// The serial.
        text: String,
    },
    /// Unspecified text.
    Text {
        /// The text.
        text: String,
    },
    /// The monitor's range limits.
    RangeLimits(RangeLimits),
    /// Established timings III: VESA DMT modes named by bit.
    EstablishedTimingsIii {
        /// The modes, each at its DMT timing's exact rate.
        modes: Vec<Mode>,
    },
    /// CVT 3-byte timing codes, read as the standard lays them out (from byte 6). Linux reads
    /// them from byte 5 instead, so a guest's modes differ; `Decoded::linux_modes` follows it.
    CvtCodes {
        /// Every rate each code supports, at the CVT formula's exact rate.
        modes: Vec<CvtMode>,
    },
    /// A dummy (unused) descriptor.
    Dummy,
    /// A descriptor this decoder does not know.
    Other {
        /// Its tag.
        tag: u8,
    },
}

/// One mode of the list a Linux guest builds (`Decoded::linux_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListedMode {
    /// Size and refresh (the field rate for interlaced modes), from the exact timing.
    pub mode: Mode,
    /// Interlaced.
    pub interlaced: bool,
    /// Linux marks it preferred.
    pub preferred: bool,
    /// Where Linux takes it from: "detailed", "cvt", "standard", "established", "cta",
    /// "hdmi", "ycbcr420", "cta-alternate", "displayid" or "range".
    pub source: &'static str,
    /// The full timing.
    pub timing: ModeTiming,
    /// The CTA picture aspect ratio ("16:9"), for CTA and HDMI modes.
    pub aspect: Option<&'static str>,
}

/// A mode the Linux probe builds and drops (`Decoded::dropped_linux_modes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedMode {
    /// The mode as it was built.
    #[serde(flatten)]
    pub mode: ListedMode,
    /// The kernel's `drm_mode_status` name for why it is dropped.
    pub status: &'static str,
}

/// A quirk of drm_edid's table of known monitors that a Linux guest applies to this EDID
/// (`Decoded::linux_quirks`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinuxQuirk {
    /// The kernel's name for it, without `EDID_QUIRK_` ("PREFER_LARGE_60").
    pub name: &'static str,
    /// What the guest does for it.
    pub effect: &'static str,
}

/// A mode's full timing, as the kernel holds it (frame lines for interlaced modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModeTiming {
    /// Pixel clock, kHz.
    pub clock_khz: u32,
    /// Active pixels, sync start, sync end, total.
    pub horizontal: [u32; 4],
    /// Active lines, sync start, sync end, total.
    pub vertical: [u32; 4],
    /// Positive horizontal sync.
    pub hsync_positive: bool,
    /// Positive vertical sync.
    pub vsync_positive: bool,
}

impl ListedMode {
    fn from_kernel((m, source): (KMode, &'static str)) -> Self {
        ListedMode {
            mode: Mode {
                width: m.h[0],
                height: m.v[0],
                refresh_mhz: m.refresh_mhz(),
            },
            interlaced: m.interlaced(),
            preferred: m.preferred,
            source,
            timing: ModeTiming {
                clock_khz: m.clock,
                horizontal: m.h,
                vertical: m.v,
                hsync_positive: m.flags & linux::PHSYNC != 0,
                vsync_positive: m.flags & linux::PVSYNC != 0,
            },
            aspect: m.aspect.text(),
        }
    }
}

impl std::fmt::Display for ListedMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Mode {
            width,
            height,
            refresh_mhz,
        } = self.mode;
        write!(
            f,
            "{width}x{height}{}@{:.3}",
            if self.interlaced { "i" } else { "" },
            f64::from(refresh_mhz) / 1000.0
        )
    }
}

/// One rate of a CVT 3-byte code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CvtMode {
    /// Size and exact refresh.
    pub mode: Mode,
    /// CVT reduced blanking (the code's 60 Hz reduced-blanking bit).
    pub reduced_blanking: bool,
    /// The code's preferred rate.
    pub preferred: bool,
}

/// Established timings III (descriptor 0xf7): bytes 6-11, bit 7 first.
fn established_iii(d: &[u8; DESCRIPTOR_LEN]) -> Vec<Mode> {
    linux::established_iii_modes(&d[6..12])
        .into_iter()
        .map(|m| Mode {
            width: m.h[0],
            height: m.v[0],
            refresh_mhz: m.refresh_mhz(),
        })
        .collect()
}

/// CVT 3-byte codes (descriptor 0xf8): four codes from byte 6, each the vertical lines, the
/// aspect, the preferred rate and a bit per supported rate (50, 60, 75, 85 Hz and 60 Hz with
/// reduced blanking).
fn cvt_codes(d: &[u8; DESCRIPTOR_LEN]) -> Vec<CvtMode> {
    let mut out = Vec::new();
    for code in d[6..18].chunks_exact(3) {
        if code == [0, 0, 0] {
            continue;
        }
        let lines = (u32::from(code[0]) | u32::from(code[1] & 0xf0) << 4) + 1;
        let height = lines * 2;
        let (a, b) = match (code[1] >> 2) & 3 {
            0 => (4, 3),
            1 => (16, 9),
            2 => (16, 10),
            _ => (15, 9),
        };
        let width = height * a / b / 8 * 8;
        let preferred_hz = [50, 60, 75, 85][usize::from((code[2] >> 5) & 3)];
        for (bit, hz, rb) in [
            (4, 50, false),
            (3, 60, false),
            (2, 75, false),
            (1, 85, false),
            (0, 60, true),
        ] {
            if code[2] & (1 << bit) == 0 {
                continue;
            }
            let timing = if rb {
                cvt_reduced_blanking(width, height, hz * 1000)
            } else {
                cvt_standard(width, height, hz)
            };
            out.push(CvtMode {
                mode: Mode {
                    width: timing.h_active,
                    height,
                    refresh_mhz: timing.refresh_mhz(),
                },
                reduced_blanking: rb,
                preferred: !rb && hz == preferred_hz,
            });
        }
    }
    out
}

/// One extension block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Extension {
    /// A CTA-861 block.
    Cta(CtaBlock),
    /// A DisplayID block.
    DisplayId(DisplayIdBlock),
    /// A block map.
    BlockMap,
    /// A block this decoder does not know.
    Other {
        /// Its tag.
        tag: u8,
    },
    /// Declared by the base block, but the blob ends before it.
    Missing,
}

/// A decoded EDID.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// "1.4".
    pub version: String,
    /// Three-letter PNP manufacturer id.
    pub vendor: String,
    /// Product code.
    pub product: u16,
    /// Numeric serial number (0: not given).
    pub serial_number: u32,
    /// Week of manufacture; None when the EDID does not say (week 0) or gives a model year.
    pub week: Option<u8>,
    /// Year of manufacture, or the model year when `model_year` is set.
    pub year: u16,
    /// The year is a model year (week byte 0xff), not a year of manufacture.
    pub model_year: bool,
    /// A digital input.
    pub digital: bool,
    /// Bits per colour (digital, EDID 1.4).
    pub bits_per_color: Option<u8>,
    /// Screen size in cm (0 when unknown or variable).
    pub screen_cm: (u8, u8),
    /// Display gamma.
    pub gamma: Option<f32>,
    /// sRGB is the default colour space.
    pub srgb_default: bool,
    /// The first detailed timing is the native mode.
    pub preferred_timing_native: bool,
    /// The display takes any timing within its range limits.
    pub continuous_frequency: bool,
    /// Established timings, each at its DMT timing's exact rate.
    pub established: Vec<Mode>,
    /// Standard timings.
    pub standard: Vec<Mode>,
    /// The base block's four descriptors.
    pub descriptors: Vec<Descriptor>,
    /// Extension blocks the base block declares.
    pub extension_count: u8,
    /// The extension blocks.
    pub extensions: Vec<Extension>,
    /// What is wrong with the blob, one line each.
    pub problems: Vec<String>,
    /// What Linux does with the EDID before building modes, on a DDC read and as firmware:
    /// "used as it is", its repairs, or why it refuses it (`edid::linux::read`).
    pub linux_read: String,
    /// The quirks Linux's table of known monitors gives this one (by its manufacturer and
    /// product codes); `linux_modes` applies those that change modes.
    pub linux_quirks: Vec<LinuxQuirk>,
    /// The blob, for the mode list Linux builds from it.
    #[serde(skip)]
    blob: Vec<u8>,
}

fn vendor_letters(code: u16) -> String {
    [(code >> 10) & 0x1f, (code >> 5) & 0x1f, code & 0x1f]
        .iter()
        .map(|&v| {
            if (1..=26).contains(&v) {
                char::from(b'A' + v as u8 - 1)
            } else {
                '?'
            }
        })
        .collect()
}

fn block(edid: &[u8], index: usize) -> Option<&[u8; BLOCK]> {
    let start = index.checked_mul(BLOCK)?;
    edid.get(start..start.checked_add(BLOCK)?)?.try_into().ok()
}

fn descriptor(base: &[u8; BLOCK], slot: usize) -> Descriptor {
    let at = 54 + slot * DESCRIPTOR_LEN;
    let mut d = [0u8; DESCRIPTOR_LEN];
    d.copy_from_slice(&base[at..at + DESCRIPTOR_LEN]);
    if let Some(timing) = DetailedTiming::decode_dtd(&d) {
        return Descriptor::DetailedTiming(timing);
    }
    match d[3] {
        TAG_NAME => Descriptor::Name {
            text: decode_text(&d),
        },
        TAG_SERIAL => Descriptor::Serial {
            text: decode_text(&d),
        },
        TAG_TEXT => Descriptor::Text {
            text: decode_text(&d),
        },
        TAG_RANGE_LIMITS => Descriptor::RangeLimits(RangeLimits::decode(&d)),
        TAG_DUMMY => Descriptor::Dummy,
        TAG_ESTABLISHED_III => Descriptor::EstablishedTimingsIii {
            modes: established_iii(&d),
        },
        TAG_CVT_CODES => Descriptor::CvtCodes {
            modes: cvt_codes(&d),
        },
        tag => Descriptor::Other { tag },
    }
}

/// What `edid-decode --check` fails in a base-block detailed timing: a pixel clock under
/// 10 MHz, and an image larger than the screen size the base block states (which is in whole
/// centimetres, so up to 9 mm more is rounding, not a mismatch).
fn dtd_problems(t: &DetailedTiming, slot: usize, screen_mm: (u32, u32), out: &mut Vec<String>) {
    let at = format!("block 0 (base), detailed timing descriptor {}", slot + 1);
    if t.pixel_clock_khz < super::build::MIN_DTD_CLOCK_KHZ {
        out.push(format!(
            "{at}: pixel clock {:.2} MHz is under 10 MHz",
            f64::from(t.pixel_clock_khz) / 1000.0
        ));
    }
    let stated = screen_mm != (0, 0);
    if stated && (t.width_mm > screen_mm.0 + 9 || t.height_mm > screen_mm.1 + 9) {
        out.push(format!(
            "{at}: image size {}x{} mm is larger than the display size {}x{} mm",
            t.width_mm, t.height_mm, screen_mm.0, screen_mm.1
        ));
    }
}

/// The tag of a block map extension.
const BLOCK_MAP_TAG: u8 = 0xf0;

/// Extension tags VESA defines besides CTA-861, DisplayID and the block map: VTB, DI, LS,
/// DPVL. This decoder lists them by tag only; an EDID that holds one is not malformed.
const DEFINED_TAGS: [u8; 4] = [0x10, 0x40, 0x50, 0x60];

/// A block map (block 1, and block 128 in an EDID of more than 128 blocks) names the tag of
/// each block after it, byte 1 for the next block; a zero names no block. Every block it
/// covers must have the tag it names, and it names none past the last block.
fn block_map_problems(edid: &[u8], extension_count: u8, problems: &mut Vec<String>) {
    let last = usize::from(extension_count);
    for map_index in [1, 128] {
        let Some(map) = block(edid, map_index) else {
            continue;
        };
        if map[0] != BLOCK_MAP_TAG || map_index > last {
            continue;
        }
        for (byte, &named) in map.iter().enumerate().take(BLOCK - 1).skip(1) {
            let target = map_index + byte;
            match block(edid, target).filter(|_| target <= last) {
                Some(b) if b[0] != named => problems.push(format!(
                    "block {map_index} (block map): byte {byte} names tag {named:#04x} for \
                     block {target}, which has tag {:#04x}",
                    b[0]
                )),
                None if named != 0 => problems.push(format!(
                    "block {map_index} (block map): byte {byte} names tag {named:#04x} for \
                     block {target}, but the EDID ends at block {last}"
                )),
                _ => {}
            }
        }
    }
}

/// Decodes an EDID blob: a base block and the extension blocks it declares. Bytes after the
/// declared blocks are a problem (a file padded or cut at the wrong size; the EDID region's
/// `edid_size` says exactly how long the blob is), not an error: the blocks still decode.
pub fn decode(edid: &[u8]) -> Result<Decoded, EdidError> {
    let base = block(edid, 0).ok_or(EdidError::TooShort(edid.len()))?;
    if base[..8] != HEADER {
        // A header Linux repairs on a DDC read (6 or 7 of 8 bytes right, `edid_header_fix`)
        // is decoded as repaired, and said so; anything worse is not an EDID.
        let right = base.iter().zip(HEADER).filter(|(a, b)| **a == *b).count();
        if right < 6 {
            return Err(EdidError::BadHeader);
        }
        let mut repaired = edid.to_vec();
        repaired[..8].copy_from_slice(&HEADER);
        let mut decoded = decode(&repaired)?;
        decoded.problems.insert(
            0,
            format!(
                "block 0 (base): the header has {right} of 8 bytes right (a Linux guest repairs \
                 it on a DDC read; its firmware loader refuses the EDID)"
            ),
        );
        decoded.linux_read = linux::describe_read(edid);
        decoded.blob = edid.to_vec();
        return Ok(decoded);
    }
    let mut problems = Vec::new();
    if !checksum_ok(base) {
        problems.push("block 0 (base): checksum is wrong".to_string());
    }
    super::structure::base_problems(base, &mut problems);
    let minor = base[19];
    let digital = base[20] & 0x80 != 0;
    let bits_per_color = match (digital, (base[20] >> 4) & 7) {
        (true, depth @ 1..=6) => Some(4 + 2 * depth),
        _ => None,
    };
    let model_year = base[16] == 0xff;
    let mut established = Vec::new();
    for (byte, bit, dmt) in dmt::established() {
        if base[byte] & (1 << bit) != 0 {
            established.push(dmt.exact_mode());
        }
    }
    // A range-limits descriptor that says CVT makes CVT the formula of EDID 1.4's standard
    // timings that no DMT mode has.
    let cvt = (0..4).any(|slot| {
        let d = &base[54 + slot * DESCRIPTOR_LEN..72 + slot * DESCRIPTOR_LEN];
        d[..3] == [0, 0, 0] && d[3] == TAG_RANGE_LIMITS && d[10] == 0x04
    });
    let standard = base[38..54]
        .chunks_exact(2)
        .filter_map(|c| decode_standard([c[0], c[1]], minor, cvt))
        .collect();
    // An HDMI Forum EEODB in the first CTA block overrides the base block's count, for Linux
    // (drm_edid_block_count) and for edid-decode alike: the blocks it declares are decoded,
    // and a disagreement is a problem.
    let hf_eeodb = linux::hfeeodb_extension_count(edid);
    if let Some(count) = hf_eeodb.filter(|&c| c != base[126]) {
        problems.push(format!(
            "block 0 (base): it declares {} extension block{}, but the HF-EEODB in block 1 \
             declares {count} (a Linux guest reads {count})",
            base[126],
            if base[126] == 1 { "" } else { "s" }
        ));
    }
    let extension_count = hf_eeodb.unwrap_or(base[126]);
    let mut extensions = Vec::new();
    // The first DisplayID section states how many DisplayID extension blocks follow it.
    let mut displayid_blocks: Vec<(usize, [u8; 5])> = Vec::new();
    for index in 1..=usize::from(extension_count) {
        let Some(b) = block(edid, index) else {
            problems.push(format!(
                "block {index}: the base block declares {extension_count} extensions but the \
                 blob holds {} bytes",
                edid.len()
            ));
            extensions.push(Extension::Missing);
            continue;
        };
        if !checksum_ok(b) {
            problems.push(format!("block {index}: checksum is wrong"));
        }
        extensions.push(match b[0] {
            cta::EXTENSION_TAG => Extension::Cta(cta::decode_block(b, index, &mut problems)),
            displayid::EXTENSION_TAG => {
                displayid_blocks.push((index, [b[0], b[1], b[2], b[3], b[4]]));
                Extension::DisplayId(displayid::decode_block(b, index, &mut problems))
            }
            BLOCK_MAP_TAG => Extension::BlockMap,
            tag if DEFINED_TAGS.contains(&tag) => Extension::Other { tag },
            tag => {
                problems.push(match tag {
                    0xff => format!(
                        "block {index}: a manufacturer-specific extension (tag 0xff), which no \
                         sink or guest can decode"
                    ),
                    _ => format!("block {index}: extension tag {tag:#04x} is not defined"),
                });
                Extension::Other { tag }
            }
        });
    }
    displayid::section_header_problems(&displayid_blocks, &mut problems);
    block_map_problems(edid, extension_count, &mut problems);
    let screen_mm = (u32::from(base[21]) * 10, u32::from(base[22]) * 10);
    for slot in 0..4 {
        if let Descriptor::DetailedTiming(t) = descriptor(base, slot) {
            dtd_problems(&t, slot, screen_mm, &mut problems);
        }
    }
    let vendor_code = u16::from_be_bytes([base[8], base[9]]);
    if vendor_letters(vendor_code).contains('?') || vendor_code & 0x8000 != 0 {
        problems.push(format!(
            "block 0 (base): manufacturer id {vendor_code:#06x} is not three letters A-Z"
        ));
    }
    let declared = (1 + usize::from(extension_count)) * BLOCK;
    if edid.len() > declared {
        let extra = edid.len() - declared;
        problems.push(format!(
            "{extra} byte{} after the last declared block (block {extension_count}): the blob \
             is {} bytes but the base block declares {extension_count} extension{}, {declared} \
             bytes in all",
            if extra == 1 { "" } else { "s" },
            edid.len(),
            if extension_count == 1 { "" } else { "s" },
        ));
    }
    Ok(Decoded {
        version: format!("{}.{}", base[18], minor),
        vendor: vendor_letters(u16::from_be_bytes([base[8], base[9]])),
        product: u16::from_le_bytes([base[10], base[11]]),
        serial_number: u32::from_le_bytes([base[12], base[13], base[14], base[15]]),
        week: (!model_year && base[16] != 0).then_some(base[16]),
        year: 1990 + u16::from(base[17]),
        model_year,
        digital,
        bits_per_color,
        screen_cm: (base[21], base[22]),
        gamma: (base[23] != 0xff).then(|| (f32::from(base[23]) + 100.0) / 100.0),
        srgb_default: base[24] & 0x04 != 0,
        preferred_timing_native: base[24] & 0x02 != 0,
        continuous_frequency: base[24] & 0x01 != 0,
        established,
        standard,
        descriptors: (0..4).map(|slot| descriptor(base, slot)).collect(),
        extension_count,
        extensions,
        problems,
        linux_read: linux::describe_read(edid),
        linux_quirks: linux::describe_quirks(linux::quirks_of(base))
            .into_iter()
            .map(|(name, effect)| LinuxQuirk { name, effect })
            .collect(),
        blob: edid.to_vec(),
    })
}

impl Decoded {
    /// Every detailed timing, with whether the EDID marks it preferred: the base block's first
    /// DTD (EDID 1.4 makes it the preferred timing) and DisplayID timings with the preferred flag.
    pub fn detailed_timings(&self) -> Vec<(DetailedTiming, bool)> {
        let mut out: Vec<(DetailedTiming, bool)> = Vec::new();
        for d in &self.descriptors {
            if let Descriptor::DetailedTiming(t) = d {
                out.push((*t, false));
            }
        }
        for ext in &self.extensions {
            if let Extension::Cta(c) = ext {
                out.extend(c.detailed_timings.iter().map(|t| (*t, false)));
            }
        }
        // The first one Linux accepts, in that order, is preferred (see `preferred_mode`).
        if self.first_timing_is_preferred()
            && let Some(first) = out.iter_mut().find(|(t, _)| t.linux_accepts())
        {
            first.1 = true;
        }
        for ext in &self.extensions {
            if let Extension::DisplayId(d) = ext {
                out.extend(d.timings.iter().map(|t| (t.timing, t.preferred)));
            }
        }
        out
    }

    /// The base-block descriptor slot (0-3) whose detailed timing Linux prefers, if it is in
    /// the base block.
    pub fn preferred_slot(&self) -> Option<usize> {
        if !self.first_timing_is_preferred() {
            return None;
        }
        self.descriptors
            .iter()
            .position(|d| matches!(d, Descriptor::DetailedTiming(t) if t.linux_accepts()))
    }

    /// drm_edid marks the first detailed timing preferred for EDID 1.4 and later, and for
    /// earlier EDIDs that set the "preferred timing" feature bit.
    pub fn first_timing_is_preferred(&self) -> bool {
        let revision: u8 = self
            .version
            .split('.')
            .nth(1)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        revision >= 4 || self.preferred_timing_native
    }

    /// The mode a Linux guest picks: the first of its mode list when that one is preferred
    /// (drm_edid marks the first detailed timing it accepts, in any base-block descriptor slot
    /// and then in the CTA blocks, preferred when the EDID is 1.4 or later or sets the
    /// "preferred timing" feature bit, and so are DisplayID timings that say so).
    pub fn preferred_mode(&self) -> Option<Mode> {
        self.linux_modes()
            .into_iter()
            .next()
            .filter(|m| m.preferred && m.mode.refresh_mhz > 0)
            .map(|m| m.mode)
    }

    /// The modes a Linux guest builds from this EDID, in its order: drm_edid's sources and
    /// rules (see `edid::linux`), equal modes merged, sorted preferred first, then larger
    /// before smaller, then higher refresh first. A driver may drop some of them after (its
    /// memory, interlace support); those are its own rules, not the EDID's.
    pub fn linux_modes(&self) -> Vec<ListedMode> {
        linux::connector_modes(&self.blob)
            .into_iter()
            .map(ListedMode::from_kernel)
            .collect()
    }

    /// The modes the Linux probe builds from this EDID and then drops, because they fail
    /// `drm_mode_validate_basic` (a sync inside the display, as GTF gives some small standard
    /// timings), each with the kernel's status ("H_ILLEGAL", "V_ILLEGAL", "CLOCK_LOW").
    pub fn dropped_linux_modes(&self) -> Vec<DroppedMode> {
        linux::dropped_modes(&self.blob)
            .into_iter()
            .map(|(mode, source, status)| DroppedMode {
                mode: ListedMode::from_kernel((mode, source)),
                status,
            })
            .collect()
    }

    /// Every mode the EDID lists, without duplicates, largest first.
    pub fn all_modes(&self) -> Vec<Mode> {
        let mut modes: Vec<Mode> = self
            .detailed_timings()
            .into_iter()
            .map(|(t, _)| t.mode())
            .chain(self.established.iter().copied())
            .chain(self.standard.iter().copied())
            .chain(self.extensions.iter().flat_map(|e| match e {
                Extension::Cta(c) => c.vics.iter().filter_map(|v| v.mode).collect(),
                _ => Vec::new(),
            }))
            .collect();
        modes.sort_by_key(|m| {
            std::cmp::Reverse((u64::from(m.width) * u64::from(m.height), m.refresh_mhz))
        });
        modes.dedup();
        modes
    }

    /// The monitor name descriptor's text.
    pub fn name(&self) -> Option<&str> {
        self.descriptors.iter().find_map(|d| match d {
            Descriptor::Name { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The serial number descriptor's text.
    pub fn serial_text(&self) -> Option<&str> {
        self.descriptors.iter().find_map(|d| match d {
            Descriptor::Serial { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The range limits descriptor.
    pub fn range_limits(&self) -> Option<RangeLimits> {
        self.descriptors.iter().find_map(|d| match d {
            Descriptor::RangeLimits(r) => Some(*r),
            _ => None,
        })
    }
}

/// The preferred mode of an EDID, for a guest that follows hot-plugs: a base block with a
/// correct checksum is required (Linux refuses one without), problems in extensions are not.
pub fn preferred_mode(edid: &[u8]) -> Result<Mode, EdidError> {
    let decoded = decode(edid)?;
    if let Some(base) = edid.get(..BLOCK)
        && !checksum_ok(base)
    {
        return Err(EdidError::BadChecksum);
    }
    decoded.preferred_mode().ok_or(EdidError::NoPreferredTiming)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_letters_decode() {
        assert_eq!(vendor_letters(0x58c4), "VFD");
        assert_eq!(vendor_letters(0x10ac), "DEL");
        assert_eq!(vendor_letters(0), "???");
    }

    #[test]
    fn missing_extensions_are_reported() {
        let mut base = [0u8; BLOCK];
        base[..8].copy_from_slice(&HEADER);
        base[126] = 2;
        let d = decode(&base).unwrap();
        assert_eq!(d.extensions, [Extension::Missing, Extension::Missing]);
        assert!(d.problems.iter().any(|p| p.contains("checksum")));
        assert!(
            d.problems
                .iter()
                .any(|p| p.contains("declares 2 extensions"))
        );
    }
}
