//! drm_edid's sources of modes, in the order `_drm_edid_connector_add_modes` adds them: detailed
//! timings, CVT 3-byte codes, standard timings, established timings (I, II and III), the CTA
//! VICs (video data blocks, the HDMI VSDB's 4K VICs, 4:2:0-only VICs), the other clock of every
//! CTA mode that has a 59.94/60 pair, DisplayID type I and VII timings, and, for a display with
//! continuous frequencies, modes inferred from its range limits. Each function mirrors the
//! kernel function named in its comment, quirks of the kernel's included: where Linux reads an
//! EDID differently from the standard, a guest sees Linux's reading.

use super::formula::{self, GTF_DEFAULT, GtfCurve};
use super::mode::{Aspect, INTERLACE, KMode, NHSYNC, NVSYNC, PHSYNC, PVSYNC};
use super::quirks;
use super::tables::{
    CTA_1, CTA_193, DMT, DMT_IDS, DMT_NOMINAL_HZ, ESTABLISHED, ESTABLISHED_III, HDMI_4K,
    RANGE_PROBE,
};
use crate::edid::{BLOCK, HEADER};

const CTA_TAG: u8 = 0x02;
const VTB_TAG: u8 = 0x10;
const DISPLAYID_TAG: u8 = 0x70;
/// A DisplayID data block that holds a CTA-861 data block collection.
const DISPLAYID_CTA: u8 = 0x81;
const RANGE_LIMITS: u8 = 0xfd;
const STANDARD_TIMINGS: u8 = 0xfa;
const CVT_3BYTE: u8 = 0xf8;
const ESTABLISHED_TIMINGS_III: u8 = 0xf7;
/// Range-limits descriptor byte 10: which formula the display follows.
const DEFAULT_GTF: u8 = 0x00;
const SECONDARY_GTF: u8 = 0x02;
const CVT_SUPPORT: u8 = 0x04;

/// An EDID as drm_edid walks it: the base block and the extension blocks it declares and the
/// blob holds.
struct Edid<'a> {
    base: &'a [u8],
    extensions: Vec<&'a [u8]>,
    /// The quirks drm_edid's table gives this monitor (`edid_get_quirks`).
    quirks: u32,
}

type Descriptor<'a> = &'a [u8];

/// The extension count an HDMI Forum EDID Extension Override Data Block gives, where there is
/// one: `drm_edid_block_count` follows it over the base block's count (even when it is
/// smaller). Linux looks only at bytes 4 to 6 of the first extension, which must be a CTA
/// block of revision 3 or later with room for the data block there
/// (`edid_hfeeodb_extension_block_count`), and only when the blob holds two blocks or more.
pub(crate) fn hfeeodb_extension_count(blob: &[u8]) -> Option<u8> {
    let base = blob.get(..BLOCK)?;
    let cta = blob.get(BLOCK..2 * BLOCK)?;
    if base[126] == 0 || cta[0] != CTA_TAG || cta[1] < 3 {
        return None;
    }
    // `cea_db_collection_size`: the data blocks run from byte 4 to the DTD offset.
    let dtd_offset = cta[2];
    if !(4..=127).contains(&dtd_offset) || dtd_offset - 4 < 3 {
        return None;
    }
    // `cea_db_is_hdmi_forum_eeodb`: an extended-tag block (tag 7), a payload of two bytes or
    // more, extended tag 0x78; its next byte is the count.
    let db = &cta[4..7];
    (db[0] >> 5 == 7 && db[0] & 0x1f >= 2 && db[1] == 0x78).then_some(db[2])
}

impl<'a> Edid<'a> {
    fn new(blob: &'a [u8]) -> Option<Self> {
        let base = blob.get(..BLOCK)?;
        if base[..8] != HEADER {
            return None;
        }
        let held = blob.len() / BLOCK - 1;
        let count = hfeeodb_extension_count(blob).unwrap_or(base[126]).into();
        let count = held.min(count);
        let extensions = (1..=count)
            .filter_map(|i| blob.get(i * BLOCK..(i + 1) * BLOCK))
            .collect();
        Some(Edid {
            base,
            extensions,
            quirks: quirks::lookup(base),
        })
    }

    fn revision(&self) -> u8 {
        self.base[19]
    }

    fn features(&self) -> u8 {
        self.base[24]
    }

    /// `drm_for_each_detailed_block`: the base block's four descriptors, then every CTA
    /// extension's slots after its DTD offset, then a VTB extension's.
    fn descriptors(&self) -> Vec<Descriptor<'a>> {
        let mut out: Vec<Descriptor<'a>> = (0..4)
            .map(|i| &self.base[54 + 18 * i..72 + 18 * i])
            .collect();
        for ext in &self.extensions {
            match ext[0] {
                CTA_TAG => {
                    let d = usize::from(ext[2]);
                    if (4..=127).contains(&d) {
                        let n = (127 - d) / 18;
                        out.extend((0..n).map(|i| &ext[d + 18 * i..d + 18 * (i + 1)]));
                    }
                }
                VTB_TAG if ext[1] == 1 => {
                    let n = usize::from(ext[2]).min(6);
                    out.extend((0..n).map(|i| &ext[5 + 18 * i..5 + 18 * (i + 1)]));
                }
                _ => {}
            }
        }
        out
    }

    /// `is_display_descriptor`.
    fn display_descriptors(&self, tag: u8) -> Vec<Descriptor<'a>> {
        self.descriptors()
            .into_iter()
            .filter(|d| d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == tag)
            .collect()
    }

    /// `drm_monitor_supports_rb`: EDID 1.4 says so in a CVT range-limits descriptor; for
    /// earlier EDIDs Linux guesses from the input being digital.
    fn supports_rb(&self) -> bool {
        if self.revision() >= 4 {
            return self
                .display_descriptors(RANGE_LIMITS)
                .iter()
                .any(|t| t[10] == CVT_SUPPORT && t[15] & 0x10 != 0);
        }
        self.base[20] & 0x80 != 0
    }

    /// The secondary GTF curve of the last range-limits descriptor that states one.
    fn gtf2(&self) -> Option<(u32, GtfCurve)> {
        let t = self
            .display_descriptors(RANGE_LIMITS)
            .into_iter()
            .rfind(|t| t[10] == SECONDARY_GTF)?;
        Some((
            u32::from(t[12]) * 2,
            GtfCurve {
                m: u32::from(u16::from_le_bytes([t[14], t[15]])),
                c2: u32::from(t[13]),
                k: u32::from(t[16]),
                j2: u32::from(t[17]),
            },
        ))
    }

    /// The CTA data blocks Linux reads (`cea_db_iter`): those of every CTA extension of
    /// revision 3 or later, then those inside DisplayID CTA data blocks.
    fn cta_data_blocks(&self) -> Vec<&'a [u8]> {
        let mut collections: Vec<&'a [u8]> = Vec::new();
        for ext in &self.extensions {
            let d = usize::from(ext[2]);
            if ext[0] == CTA_TAG && ext[1] >= 3 && (4..=127).contains(&d) {
                collections.push(&ext[4..d]);
            }
        }
        collections.extend(
            self.displayid_blocks()
                .into_iter()
                .filter(|(tag, _)| *tag == DISPLAYID_CTA)
                .map(|(_, payload)| payload),
        );
        let mut out = Vec::new();
        for collection in collections {
            let mut at = 0;
            while at < collection.len() {
                let end = at + 1 + usize::from(collection[at] & 0x1f);
                if end > collection.len() {
                    break;
                }
                out.push(&collection[at..end]);
                at = end;
            }
        }
        out
    }

    /// `drm_edid_has_cta_extension`: a CTA extension, or a CTA block inside DisplayID.
    fn has_cta(&self) -> bool {
        self.extensions.iter().any(|e| e[0] == CTA_TAG)
            || self
                .displayid_blocks()
                .iter()
                .any(|(tag, _)| *tag == DISPLAYID_CTA)
    }

    /// `displayid_iter`: the data blocks of every DisplayID extension's section, as (tag,
    /// payload), while they fit the section. A section whose length or checksum is wrong ends
    /// the walk, there and for every DisplayID extension after it.
    fn displayid_blocks(&self) -> Vec<(u8, &'a [u8])> {
        let mut out = Vec::new();
        for ext in self.extensions.iter().filter(|e| e[0] == DISPLAYID_TAG) {
            let bytes = usize::from(ext[2]);
            let section = 4 + bytes + 1;
            if section > BLOCK - 2
                || ext[1..1 + section]
                    .iter()
                    .fold(0u8, |a, b| a.wrapping_add(*b))
                    != 0
            {
                break;
            }
            let end = 5 + bytes;
            let mut at = 5;
            while at + 3 <= end && at + 3 + usize::from(ext[at + 2]) <= end {
                let len = usize::from(ext[at + 2]);
                out.push((ext[at], &ext[at + 3..at + 3 + len]));
                at += 3 + len;
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Dmt,
    Gtf,
    Gtf2,
    Cvt,
}

/// `standard_timing_level`.
fn standard_timing_level(edid: &Edid) -> Level {
    if edid.revision() >= 4 {
        let mut level = Level::Cvt;
        for t in edid.display_descriptors(RANGE_LIMITS) {
            match t[10] {
                DEFAULT_GTF => level = Level::Gtf,
                SECONDARY_GTF => level = Level::Gtf2,
                CVT_SUPPORT => level = Level::Cvt,
                _ => {}
            }
        }
        level
    } else if edid.revision() >= 3 && edid.gtf2().is_some_and(|(hbreak, _)| hbreak != 0) {
        Level::Gtf2
    } else if edid.revision() >= 2 {
        Level::Gtf
    } else {
        Level::Dmt
    }
}

/// `drm_mode_find_dmt`.
fn find_dmt(w: u32, h: u32, refresh: u32, rb: bool) -> Option<KMode> {
    DMT.iter()
        .find(|m| {
            m.h[0] == w && m.v[0] == h && m.vrefresh() == refresh && m.is_reduced_blanking() == rb
        })
        .copied()
}

/// `drm_gtf2_mode`.
fn gtf2_mode(edid: &Edid, w: u32, h: u32, refresh: u32) -> Option<KMode> {
    let mode = formula::gtf(w, h, refresh, GTF_DEFAULT)?;
    match edid.gtf2() {
        Some((hbreak, curve)) if mode.hsync_khz() > hbreak => formula::gtf(w, h, refresh, curve),
        _ => Some(mode),
    }
}

/// The modes the kernel probes from an EDID, in the order it adds them, each with its source
/// ("detailed", "cvt", "standard", "established", "cta", "hdmi", "ycbcr420", "cta-alternate",
/// "displayid", "range"), before equal modes are merged. An EDID without a valid header gives
/// none, as Linux reads none from it.
pub fn probed_modes(blob: &[u8]) -> Vec<(KMode, &'static str)> {
    let Some(edid) = Edid::new(blob) else {
        return Vec::new();
    };
    let mut probed: Vec<(KMode, &'static str)> = Vec::new();
    add_detailed_modes(&edid, &mut probed);
    add_cvt_modes(&edid, &mut probed);
    add_standard_modes(&edid, &mut probed);
    add_established_modes(&edid, &mut probed);
    add_cea_modes(&edid, &mut probed);
    add_alternate_cea_modes(&edid, &mut probed);
    add_displayid_detailed_modes(&edid, &mut probed);
    if edid.features() & 0x01 != 0 {
        add_inferred_modes(&edid, &mut probed);
    }
    if edid.quirks & quirks::PREFER_LARGE_75 != 0 {
        fixup_preferred(&mut probed, 75);
    } else if edid.quirks & quirks::PREFER_LARGE_60 != 0 {
        fixup_preferred(&mut probed, 60);
    }
    probed
}

/// `edid_fixup_preferred`, for a monitor whose quirks say its EDID prefers the wrong mode:
/// every probed mode loses its preferred mark, and the largest (in pixels), of those the
/// nearest `target` hertz (whole hertz, as `drm_mode_vrefresh` gives them), gains it; the first
/// such in the probe's order wins. The kernel does this before the driver or the probe helper
/// drops any mode, so the mode it marks may not be listed in the end.
fn fixup_preferred(probed: &mut [(KMode, &'static str)], target: u32) {
    let size = |m: &KMode| u64::from(m.h[0]) * u64::from(m.v[0]);
    let mut best = 0;
    for (i, (mode, _)) in probed.iter().enumerate().skip(1) {
        let chosen = &probed[best].0;
        if size(mode) > size(chosen)
            || (size(mode) == size(chosen)
                && mode.vrefresh().abs_diff(target) < chosen.vrefresh().abs_diff(target))
        {
            best = i;
        }
    }
    for (i, (mode, _)) in probed.iter_mut().enumerate() {
        mode.preferred = i == best;
    }
}

/// `drm_mode_detailed`, with the quirks of drm_edid's table that change a detailed timing's
/// mode (`quirks`).
fn detailed_mode(d: Descriptor, quirks: u32) -> Option<KMode> {
    let hactive = u32::from(d[4] & 0xf0) << 4 | u32::from(d[2]);
    let vactive = u32::from(d[7] & 0xf0) << 4 | u32::from(d[5]);
    let hblank = u32::from(d[4] & 0x0f) << 8 | u32::from(d[3]);
    let vblank = u32::from(d[7] & 0x0f) << 8 | u32::from(d[6]);
    let hsync_offset = u32::from(d[11] & 0xc0) << 2 | u32::from(d[8]);
    let hsync_width = u32::from(d[11] & 0x30) << 4 | u32::from(d[9]);
    let vsync_offset = u32::from(d[11] & 0x0c) << 2 | u32::from(d[10] >> 4);
    let vsync_width = u32::from(d[11] & 0x03) << 4 | u32::from(d[10] & 0x0f);
    let misc = d[17];
    if hactive < 64 || vactive < 64 || misc & 0x20 != 0 || hsync_width == 0 || vsync_width == 0 {
        return None;
    }
    if quirks & quirks::FORCE_REDUCED_BLANKING != 0 {
        // The timing is replaced whole, its interlace and syncs included.
        return formula::cvt(hactive, vactive, 60, true, false);
    }
    // The kernel writes `1088 * 10` kHz for a clock it meant to be 108.8 MHz.
    let clock = if quirks & quirks::CLOCK_135_TOO_HIGH != 0 {
        10_880
    } else {
        u32::from(u16::from_le_bytes([d[0], d[1]])) * 10
    };
    let htotal = hactive + hblank;
    let vtotal = vactive + vblank;
    let mut h = [
        hactive,
        hactive + hsync_offset,
        hactive + hsync_offset + hsync_width,
        htotal,
    ];
    let mut v = [
        vactive,
        vactive + vsync_offset,
        vactive + vsync_offset + vsync_width,
        vtotal,
    ];
    h[2] = h[2].min(htotal);
    v[2] = v[2].min(vtotal);
    let mut flags = 0;
    if misc & 0x80 != 0 {
        // drm_mode_do_interlace_quirk: CTA's interlaced sizes are given per field.
        const CEA_INTERLACED: [(u32, u32); 7] = [
            (1920, 1080),
            (720, 480),
            (1440, 480),
            (2880, 480),
            (720, 576),
            (1440, 576),
            (2880, 576),
        ];
        if CEA_INTERLACED
            .iter()
            .any(|&(w, hh)| h[0] == w && v[0] == hh / 2)
        {
            v = [v[0] * 2, v[1] * 2, v[2] * 2, (v[3] * 2) | 1];
        }
        flags |= INTERLACE;
    }
    if quirks & quirks::DETAILED_SYNC_PP != 0 {
        flags |= PHSYNC | PVSYNC;
    } else {
        flags |= if misc & 0x02 != 0 { PHSYNC } else { NHSYNC };
        flags |= if misc & 0x04 != 0 { PVSYNC } else { NVSYNC };
    }
    Some(KMode::new(clock, h, v, flags, Aspect::None))
}

/// `add_detailed_modes`: the first detailed timing accepted is preferred for EDID 1.4, and
/// for earlier ones that set the "preferred timing" feature bit.
fn add_detailed_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    let mut preferred = edid.revision() >= 4 || edid.features() & 0x02 != 0;
    for d in edid.descriptors() {
        if u16::from_le_bytes([d[0], d[1]]) == 0 {
            continue;
        }
        let Some(mut mode) = detailed_mode(d, edid.quirks) else {
            continue;
        };
        mode.preferred = preferred;
        fixup_detailed_cea_mode_clock(&mut mode);
        probed.push((mode, "detailed"));
        preferred = false;
    }
}

/// `drm_cvt_modes`. Linux reads the four codes from byte 5 of the descriptor, where the
/// standard has the descriptor's version and starts the codes at byte 6, and it never adds a
/// code's 60 Hz reduced-blanking rate (bit 0). A guest sees what Linux reads, so this does too.
fn add_cvt_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    if edid.revision() < 3 {
        return;
    }
    const RATES: [u32; 5] = [60, 85, 75, 60, 50];
    for d in edid.display_descriptors(CVT_3BYTE) {
        for code in d[5..17].chunks_exact(3) {
            if code == [0, 0, 0] {
                continue;
            }
            let height = (u32::from(code[0]) + (u32::from(code[1] & 0xf0) << 4) + 1) * 2;
            let width = match code[1] & 0x0c {
                0x00 => height * 4 / 3,
                0x04 => height * 16 / 9,
                0x08 => height * 16 / 10,
                _ => height * 15 / 9,
            };
            for (bit, &rate) in RATES.iter().enumerate().skip(1) {
                if code[2] & (1 << bit) != 0
                    && let Some(mode) = formula::cvt(width, height, rate, false, false)
                {
                    probed.push((mode, "cvt"));
                }
            }
        }
    }
}

/// `drm_mode_std`.
fn standard_mode(edid: &Edid, probed: &[(KMode, &'static str)], code: [u8; 2]) -> Option<KMode> {
    if matches!(code, [0, 0] | [1, 1] | [0x20, 0x20]) {
        return None;
    }
    let mut hsize = u32::from(code[0]) * 8 + 248;
    let refresh = u32::from(code[1] & 0x3f) + 60;
    let mut vsize = match code[1] >> 6 {
        0 if edid.revision() < 3 => hsize,
        0 => hsize * 10 / 16,
        1 => hsize * 3 / 4,
        2 => hsize * 4 / 5,
        _ => hsize * 9 / 16,
    };
    if refresh == 60 && ((hsize == 1360 && vsize == 765) || (hsize == 1368 && vsize == 769)) {
        hsize = 1366;
        vsize = 768;
    }
    if probed
        .iter()
        .any(|(m, _)| m.h[0] == hsize && m.v[0] == vsize && m.vrefresh() == refresh)
    {
        return None;
    }
    if hsize == 1366 && vsize == 768 && refresh == 60 {
        let mut mode = formula::cvt(1366, 768, refresh, false, false)?;
        mode.h[0] = 1366;
        mode.h[1] -= 1;
        mode.h[2] -= 1;
        return Some(mode);
    }
    if edid.supports_rb()
        && let Some(mode) = find_dmt(hsize, vsize, refresh, true)
    {
        return Some(mode);
    }
    if let Some(mode) = find_dmt(hsize, vsize, refresh, false) {
        return Some(mode);
    }
    match standard_timing_level(edid) {
        Level::Dmt => None,
        Level::Gtf => formula::gtf(hsize, vsize, refresh, GTF_DEFAULT),
        Level::Gtf2 => gtf2_mode(edid, hsize, vsize, refresh),
        Level::Cvt => formula::cvt(hsize, vsize, refresh, false, false),
    }
}

/// `add_standard_modes`: the base block's eight codes, then standard-timing descriptors'.
fn add_standard_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    let mut codes: Vec<[u8; 2]> = edid.base[38..54]
        .chunks_exact(2)
        .map(|c| [c[0], c[1]])
        .collect();
    if edid.revision() >= 1 {
        for d in edid.display_descriptors(STANDARD_TIMINGS) {
            codes.extend(d[5..17].chunks_exact(2).map(|c| [c[0], c[1]]));
        }
    }
    for code in codes {
        if let Some(mode) = standard_mode(edid, probed, code) {
            probed.push((mode, "standard"));
        }
    }
}

/// `add_established_modes` and `drm_est3_modes`.
fn add_established_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    let b = edid.base;
    let bits = u32::from(b[35]) | u32::from(b[36]) << 8 | u32::from(b[37] & 0x80) << 9;
    for (bit, mode) in ESTABLISHED.iter().enumerate() {
        if bits & (1 << bit) != 0 {
            probed.push((*mode, "established"));
        }
    }
    if edid.revision() < 1 {
        return;
    }
    for d in edid.display_descriptors(ESTABLISHED_TIMINGS_III) {
        probed.extend(
            established_iii_modes(&d[6..12])
                .into_iter()
                .map(|m| (m, "established")),
        );
    }
}

/// `drm_est3_modes`: the DMT modes established timings III's six bytes name, bit 7 first.
pub fn established_iii_modes(bytes: &[u8]) -> Vec<KMode> {
    let mut out = Vec::new();
    for (byte, &bits) in bytes.iter().take(6).enumerate() {
        for bit in (0..8).rev() {
            let index = byte * 8 + 7 - bit;
            let Some(&(w, h, r, rb)) = ESTABLISHED_III.get(index) else {
                break;
            };
            if bits & (1 << bit) != 0
                && let Some(mode) = find_dmt(w, h, r, rb)
            {
                out.push(mode);
            }
        }
    }
    out
}

/// The established timing of bit `bit` of the kernel's 17-bit established word (bytes 35 and 36,
/// then bit 7 of byte 37 as bit 16), from the generated `edid_est_modes` table.
pub fn established_mode(bit: usize) -> Option<KMode> {
    ESTABLISHED.get(bit).copied()
}

/// Every DMT mode with its VESA DMT ID and the rate it is named by.
pub fn dmt_modes() -> impl Iterator<Item = (u8, u32, KMode)> {
    DMT_IDS
        .iter()
        .zip(DMT_NOMINAL_HZ.iter())
        .zip(DMT.iter())
        .map(|((&id, &hz), &m)| (id, u32::from(hz), m))
}

/// The DMT mode of a VESA DMT ID.
pub fn dmt_by_id(id: u8) -> Option<KMode> {
    DMT_IDS
        .iter()
        .position(|&i| i == id)
        .and_then(|at| DMT.get(at))
        .copied()
}

/// The HDMI VSDB's 4K formats, HDMI VICs 1-4.
pub fn hdmi_mode(vic: u8) -> Option<KMode> {
    usize::from(vic)
        .checked_sub(1)
        .and_then(|at| HDMI_4K.get(at))
        .copied()
}

/// The CTA VIC table, VICs 1-127 and 193-219.
pub fn cta_mode(vic: u8) -> Option<KMode> {
    match vic {
        1..=127 => CTA_1.get(usize::from(vic) - 1).copied(),
        193..=219 => CTA_193.get(usize::from(vic) - 193).copied(),
        _ => None,
    }
}

fn cta_vics() -> impl Iterator<Item = u8> {
    (1..=127).chain(193..=219)
}

/// `svd_to_vic`: bit 7 is the native flag only for VICs 1-64.
fn svd_to_vic(svd: u8) -> u8 {
    if (1..=64).contains(&svd) || (129..=192).contains(&svd) {
        svd & 0x7f
    } else {
        svd
    }
}

/// `cea_mode_alternate_clock`: 59.94 Hz beside 60 Hz (and 119.88, 239.76...). The table has
/// the 59.94 Hz variant of 240 and 480 line modes and the 60 Hz one of the others. The
/// kernel multiplies in 32 bits, which wraps for the 8K 120 Hz VICs (a clock of 5940 MHz):
/// their "alternate" clock is garbage in the kernel, and so it is here.
fn alternate_clock(mode: &KMode) -> u32 {
    if !mode.vrefresh().is_multiple_of(6) {
        return mode.clock;
    }
    if mode.v[0] == 240 || mode.v[0] == 480 {
        mode.clock.wrapping_mul(1001).wrapping_add(500) / 1000
    } else {
        mode.clock.wrapping_mul(1000).wrapping_add(500) / 1001
    }
}

/// `cea_mode_alternate_timings`: the VICs whose vertical front porch may be a line longer.
fn alternate_timing(vic: u8, mode: &mut KMode) -> bool {
    if (matches!(vic, 8 | 9 | 12 | 13) && mode.v[3] < 263)
        || (matches!(vic, 23 | 24 | 27 | 28) && mode.v[3] < 314)
    {
        mode.v[1] += 1;
        mode.v[2] += 1;
        mode.v[3] += 1;
        return true;
    }
    false
}

/// `KHZ2PICOS`: the kernel compares clocks as whole picoseconds a pixel.
fn picos(khz: u32) -> u32 {
    1_000_000_000 / khz.max(1)
}

fn clock_close(a: u32, b: u32, tolerance: Option<u32>) -> bool {
    match tolerance {
        Some(t) => a.abs_diff(b) <= t,
        None => picos(a) == picos(b),
    }
}

/// `drm_match_cea_mode` (exact clocks) and `drm_match_cea_mode_clock_tolerance`.
fn match_cta(mode: &KMode, tolerance: Option<u32>) -> Option<u8> {
    if mode.clock == 0 {
        return None;
    }
    cta_vics().find(|&vic| {
        let Some(mut table) = cta_mode(vic) else {
            return false;
        };
        let (clock1, clock2) = (table.clock, alternate_clock(&table));
        if !clock_close(mode.clock, clock1, tolerance)
            && !clock_close(mode.clock, clock2, tolerance)
        {
            return false;
        }
        loop {
            if mode.matches_table_mode(&table) {
                return true;
            }
            if !alternate_timing(vic, &mut table) {
                return false;
            }
        }
    })
}

/// `drm_match_hdmi_mode` and its tolerant variant: the HDMI VSDB's 4K VICs 1-4.
fn match_hdmi(mode: &KMode, tolerance: Option<u32>) -> Option<KMode> {
    if mode.clock == 0 {
        return None;
    }
    HDMI_4K
        .iter()
        .find(|table| {
            (clock_close(mode.clock, table.clock, tolerance)
                || clock_close(mode.clock, alternate_clock(table), tolerance))
                && mode.matches_table_mode(table)
        })
        .copied()
}

/// The CTA or HDMI table mode a mode is, by the kernel's matching.
fn table_mode_of(mode: &KMode, tolerance: Option<u32>) -> Option<KMode> {
    match match_cta(mode, tolerance) {
        Some(vic) => cta_mode(vic),
        None => match_hdmi(mode, tolerance),
    }
}

/// `fixup_detailed_cea_mode_clock`: a DTD's 10 kHz clock is set to the CTA mode's exact clock
/// (59.94 or 60 Hz, whichever is closer) when its timing is a CTA or HDMI mode's.
fn fixup_detailed_cea_mode_clock(mode: &mut KMode) {
    let Some(table) = table_mode_of(mode, Some(5)) else {
        return;
    };
    let (clock1, clock2) = (table.clock, alternate_clock(&table));
    mode.clock = if mode.clock.abs_diff(clock1) < mode.clock.abs_diff(clock2) {
        clock1
    } else {
        clock2
    };
}

/// `add_cea_modes`: the video data blocks' VICs, then each HDMI VSDB's 4K VICs and each
/// YCbCr 4:2:0 video data block's VICs. The HDMI VSDB's 3D modes are not listed.
fn add_cea_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    let blocks = edid.cta_data_blocks();
    for db in &blocks {
        if db[0] >> 5 == 2 {
            for &svd in &db[1..] {
                if let Some(mode) = cta_mode(svd_to_vic(svd)) {
                    probed.push((mode, "cta"));
                }
            }
        }
    }
    for db in &blocks {
        let (tag, payload) = (db[0] >> 5, &db[1..]);
        if tag == 3 && payload.len() >= 5 && payload[..3] == [0x03, 0x0c, 0x00] {
            hdmi_vsdb_modes(db, probed);
        } else if tag == 7 && payload.first() == Some(&14) {
            for &svd in &payload[1..] {
                if let Some(mode) = cta_mode(svd_to_vic(svd)) {
                    probed.push((mode, "ycbcr420"));
                }
            }
        }
    }
}

/// `do_hdmi_vsdb_modes`, its VIC list: `db` is the data block with its header byte.
fn hdmi_vsdb_modes(db: &[u8], probed: &mut Vec<(KMode, &'static str)>) {
    let len = db.len() - 1;
    let byte = |i: usize| db.get(i).copied().unwrap_or(0);
    if len < 8 || byte(8) & (1 << 5) == 0 {
        return;
    }
    let latency = if byte(8) & 0x80 != 0 {
        if byte(8) & 0x40 != 0 { 4 } else { 2 }
    } else {
        0
    };
    let offset = latency + 2;
    if len < 8 + latency + 2 {
        return;
    }
    let vic_len = usize::from(byte(8 + offset) >> 5);
    for i in 0..vic_len {
        if len < 9 + offset + i {
            break;
        }
        let vic = byte(9 + offset + i);
        if let Some(mode) = (1..=4)
            .contains(&vic)
            .then(|| HDMI_4K[usize::from(vic) - 1])
        {
            probed.push((mode, "hdmi"));
        }
    }
}

/// `add_alternate_cea_modes`: for every mode so far that is a CTA (or HDMI 4K) mode at one of
/// its two clocks, the same mode at the other clock, when the EDID has a CTA extension.
fn add_alternate_cea_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    if !edid.has_cta() {
        return;
    }
    let mut added = Vec::new();
    for (mode, _) in probed.iter() {
        let Some(table) = table_mode_of(mode, None) else {
            continue;
        };
        let (clock1, clock2) = (table.clock, alternate_clock(&table));
        if clock1 == clock2 || (mode.clock != clock1 && mode.clock != clock2) {
            continue;
        }
        let mut other = table;
        other.clock = if mode.clock != clock1 { clock1 } else { clock2 };
        added.push((other, "cta-alternate"));
    }
    probed.extend(added);
}

/// `drm_mode_displayid_detailed`: a type I (10 kHz clock) or VII (1 kHz) timing of 20 bytes.
/// Linux takes neither interlace nor the aspect from it.
fn displayid_mode(t: &[u8], type_vii: bool) -> KMode {
    let field = |at: usize| u32::from(u16::from_le_bytes([t[at], t[at + 1]]));
    let clock = (u32::from(t[0]) | u32::from(t[1]) << 8 | u32::from(t[2]) << 16) + 1;
    let (hactive, hblank) = (field(4) + 1, field(6) + 1);
    let (hsync, hsync_width) = ((field(8) & 0x7fff) + 1, field(10) + 1);
    let (vactive, vblank) = (field(12) + 1, field(14) + 1);
    let (vsync, vsync_width) = ((field(16) & 0x7fff) + 1, field(18) + 1);
    let flags = (if t[9] & 0x80 != 0 { PHSYNC } else { NHSYNC })
        | (if t[17] & 0x80 != 0 { PVSYNC } else { NVSYNC });
    let mut mode = KMode::new(
        if type_vii { clock } else { clock * 10 },
        [
            hactive,
            hactive + hsync,
            hactive + hsync + hsync_width,
            hactive + hblank,
        ],
        [
            vactive,
            vactive + vsync,
            vactive + vsync + vsync_width,
            vactive + vblank,
        ],
        flags,
        Aspect::None,
    );
    mode.preferred = t[3] & 0x80 != 0;
    mode
}

/// `add_displayid_detailed_modes`: type I and VII timings of every DisplayID extension, each
/// preferred when it says so; a timing block whose length is not a multiple of 20 is skipped.
fn add_displayid_detailed_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    for (tag, payload) in edid.displayid_blocks() {
        if (tag == 0x03 || tag == 0x22) && payload.len() % 20 == 0 {
            for t in payload.chunks_exact(20) {
                probed.push((displayid_mode(t, tag == 0x22), "displayid"));
            }
        }
    }
}

/// `mode_in_range`: within a range-limits descriptor's rates and clock.
fn in_range(edid: &Edid, mode: &KMode, t: Descriptor) -> bool {
    let v14 = edid.revision() >= 4;
    let extra = |bit: u8| if v14 && t[4] & bit != 0 { 255 } else { 0 };
    let (hmin, hmax) = (u32::from(t[7]) + extra(0x04), u32::from(t[8]) + extra(0x08));
    let (vmin, vmax) = (u32::from(t[5]) + extra(0x01), u32::from(t[6]) + extra(0x02));
    let hsync = mode.hsync_khz();
    let vsync = mode.vrefresh();
    if !(hmin..=hmax).contains(&hsync) || !(vmin..=vmax).contains(&vsync) {
        return false;
    }
    let max_clock = match t[9] {
        0 | 255 => 0,
        c if v14 && t[10] == CVT_SUPPORT => {
            (u32::from(c) * 10000).saturating_sub(u32::from(t[12] >> 2) * 250)
        }
        c => u32::from(c) * 10000 + 5001,
    };
    if max_clock != 0 && mode.clock > max_clock {
        return false;
    }
    if v14
        && t[10] == CVT_SUPPORT
        && t[13] != 0
        && mode.h[0] > 8 * (u32::from(t[13]) + 256 * u32::from(t[12] & 0x3))
    {
        return false;
    }
    !mode.is_reduced_blanking() || edid.supports_rb()
}

/// `valid_inferred_mode`: not a size and rate already listed, and no larger than one listed.
fn valid_inferred(probed: &[(KMode, &'static str)], mode: &KMode) -> bool {
    let mut ok = false;
    for (m, _) in probed {
        if mode.h[0] == m.h[0] && mode.v[0] == m.v[0] && mode.vrefresh() == m.vrefresh() {
            return false;
        }
        if mode.h[0] <= m.h[0] && mode.v[0] <= m.v[0] {
            ok = true;
        }
    }
    ok
}

/// `add_inferred_modes`: for each range-limits descriptor, the DMT modes within it, then the
/// probe list's modes by the display's formula (GTF, secondary GTF or, for EDID 1.4, CVT).
fn add_inferred_modes(edid: &Edid, probed: &mut Vec<(KMode, &'static str)>) {
    if edid.revision() < 1 {
        return;
    }
    for t in edid.display_descriptors(RANGE_LIMITS) {
        for mode in DMT.iter() {
            if in_range(edid, mode, t) && valid_inferred(probed, mode) {
                probed.push((*mode, "range"));
            }
        }
        if edid.revision() < 2 {
            continue;
        }
        let rb = edid.supports_rb();
        for &(w, h, r, _) in RANGE_PROBE.iter() {
            let made = match t[10] {
                SECONDARY_GTF => gtf2_mode(edid, w, h, r),
                DEFAULT_GTF => formula::gtf(w, h, r, GTF_DEFAULT),
                CVT_SUPPORT if edid.revision() >= 4 => formula::cvt(w, h, r, rb, false),
                _ => break,
            };
            let Some(mut mode) = made else {
                break;
            };
            // drm_mode_fixup_1366x768: CVT and GTF cannot make a width of 1366.
            if mode.h[0] == 1368 && mode.v[0] == 768 {
                mode.h[0] = 1366;
                mode.h[1] -= 1;
                mode.h[2] -= 1;
            }
            if in_range(edid, &mode, t) && valid_inferred(probed, &mode) {
                probed.push((mode, "range"));
            }
        }
    }
}
