//! The decoder's timing lists beside edid-decode's, mode for mode: established timings III,
//! CVT 3-byte codes (as the standard reads them), the HDMI VSDB's 4K VICs, the YCbCr 4:2:0
//! video data block's VICs, and DisplayID 2.0 type VIII (timing codes) and IX (formula)
//! timings. Rates are compared to the millihertz (edid-decode prints six decimals).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::edid::edid_decode_text;
use crate::common::edid_corpus;
use vfio_display::edid::{self, Descriptor, Extension, Mode};

/// The timing lines under each line that contains `heading`, each up to the next line that is
/// indented no deeper than its heading: (width, height, mHz, the rest of the line).
fn edid_decode_section(text: &str, heading: &str) -> Vec<(u32, u32, u32, String)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (at, head) in lines.iter().enumerate() {
        if !head.contains(heading) {
            continue;
        }
        out.extend(
            lines[at + 1..]
                .iter()
                .take_while(|l| indent(l) > indent(head))
                .filter_map(|l| {
                    let (_, rest) = l.split_once(':')?;
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    let (w, h) = words.first()?.split_once('x')?;
                    let hz: f64 = words.get(1)?.parse().ok()?;
                    Some((
                        w.parse().ok()?,
                        h.trim_end_matches('i').parse().ok()?,
                        (hz * 1000.0).round() as u32,
                        rest.to_string(),
                    ))
                }),
        );
    }
    out
}

fn sizes(modes: &[Mode]) -> Vec<(u32, u32, u32)> {
    modes
        .iter()
        .map(|m| (m.width, m.height, m.refresh_mhz))
        .collect()
}

fn theirs(section: &[(u32, u32, u32, String)]) -> Vec<(u32, u32, u32)> {
    section.iter().map(|(w, h, r, _)| (*w, *h, *r)).collect()
}

#[test]
fn established_timings_match_edid_decode_at_their_exact_rates() {
    // Every bit of established timings I and II, and the manufacturer's 1152x870.
    let mut blob = crate::common::edid::with_extensions(&[]);
    blob[35..38].copy_from_slice(&[0xff, 0xff, 0x80]);
    crate::common::edid::fix_checksum(&mut blob);
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    let their = edid_decode_section(&text, "Established Timings I & II");
    assert_eq!(decoded.established.len(), 17);
    let mut ours = sizes(&decoded.established);
    let mut theirs = theirs(&their);
    // edid-decode lists them by DMT ID, this decoder by bit; the modes are the same.
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{text}");
}

/// Standard timings at their exact rates: every code of the DMT sizes (and some others) at
/// every rate a DMT mode has, in EDID 1.3 and 1.4 (GTF for codes no DMT mode has, CVT when an
/// EDID 1.4's range limits say CVT).
#[test]
fn standard_timings_match_edid_decode_at_their_exact_rates() {
    let dimensions = [
        (640, 480),
        (800, 600),
        (1024, 768),
        (1152, 864),
        (1280, 720),
        (1280, 800),
        (1280, 960),
        (1280, 1024),
        (1400, 1050),
        (1440, 900),
        (1600, 900),
        (1600, 1200),
        (1680, 1050),
        (1792, 1344),
        (1856, 1392),
        (1920, 1080),
        (1920, 1200),
        (1920, 1440),
        (2048, 1152),
        (1600, 1000),
        (1152, 720),
    ];
    let mut codes = Vec::new();
    for (w, h) in dimensions {
        let aspect = match (w * 10 / h, w * 3 == h * 4) {
            (_, true) => 1u8,
            (16, _) => 0,
            (12, _) => 2,
            _ => 3,
        };
        for hz in [60u8, 65, 70, 72, 75, 85, 120] {
            codes.push([(w / 8 - 31) as u8, aspect << 6 | (hz - 60)]);
        }
    }
    let mut compared = 0;
    // The generator's base block (its range limits say GTF), as EDID 1.3 and 1.4, and a 1.4
    // base block whose range limits say CVT.
    let generated = crate::common::edid::with_extensions(&[]);
    let cvt_range = edid_corpus::by_name("cvt-range-14");
    let bases = [(3u8, &generated), (4, &generated), (4, &cvt_range)];
    for (minor, base) in bases {
        for chunk in codes.chunks(8) {
            let mut blob = base.clone();
            blob[19] = minor;
            for (slot, code) in chunk
                .iter()
                .chain(std::iter::repeat(&[1, 1]))
                .take(8)
                .enumerate()
            {
                blob[38 + 2 * slot..40 + 2 * slot].copy_from_slice(code);
            }
            crate::common::edid::fix_checksum(&mut blob);
            let text = edid_decode_text(&blob);
            let decoded = edid::decode(&blob).unwrap();
            let their: Vec<(u32, u32, u32, String)> =
                edid_decode_section(&text, "Standard Timings")
                    .into_iter()
                    .filter(|(_, _, _, rest)| !rest.contains("EDID 1.3 source"))
                    .collect();
            assert_eq!(
                sizes(&decoded.standard),
                theirs(&their),
                "EDID 1.{minor}:\n{text}"
            );
            compared += decoded.standard.len();
        }
    }
    assert_eq!(compared, 3 * codes.len());
}

#[test]
fn established_timings_iii_and_cvt_codes_match_edid_decode() {
    let blob = edid_corpus::by_name("cvt-range-14");
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    let est3 = decoded
        .descriptors
        .iter()
        .find_map(|d| match d {
            Descriptor::EstablishedTimingsIii { modes } => Some(modes.clone()),
            _ => None,
        })
        .unwrap();
    // The CVT codes' modes, with which rate each code prefers.
    let (cvt, preferred): (Vec<Mode>, Vec<bool>) = decoded
        .descriptors
        .iter()
        .find_map(|d| match d {
            Descriptor::CvtCodes { modes } => {
                Some(modes.iter().map(|c| (c.mode, c.preferred)).unzip())
            }
            _ => None,
        })
        .unwrap();
    let their_est3 = edid_decode_section(&text, "Established timings III");
    assert_eq!(est3.len(), 10);
    assert_eq!(sizes(&est3), theirs(&their_est3), "{text}");

    let their_cvt = edid_decode_section(&text, "CVT 3 Byte Timing Codes");
    assert_eq!(cvt.len(), 6);
    assert_eq!(sizes(&cvt), theirs(&their_cvt), "{text}");
    let their_preferred: Vec<bool> = their_cvt
        .iter()
        .map(|(_, _, _, rest)| rest.contains("preferred"))
        .collect();
    assert_eq!(preferred, their_preferred);
}

#[test]
fn hdmi_and_ycbcr420_vics_match_edid_decode() {
    let blob = edid_corpus::by_name("tv-1080i");
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    let Some(Extension::Cta(cta)) = decoded.extensions.first() else {
        panic!("no CTA block");
    };
    let hdmi: Vec<Mode> = cta.hdmi_vics.iter().filter_map(|v| v.mode).collect();
    let their_hdmi = edid_decode_section(&text, "HDMI VICs");
    assert_eq!(hdmi.len(), 2);
    assert_eq!(sizes(&hdmi), theirs(&their_hdmi), "{text}");
    let aspects: Vec<&str> = cta.hdmi_vics.iter().map(|v| v.aspect).collect();
    let their_aspects: Vec<String> = their_hdmi
        .iter()
        .map(|(_, _, _, rest)| rest.split_whitespace().nth(3).unwrap().to_string())
        .collect();
    assert_eq!(aspects, their_aspects);

    let y420: Vec<Mode> = cta.ycbcr420_vics.iter().filter_map(|v| v.mode).collect();
    let their_y420 = edid_decode_section(&text, "YCbCr 4:2:0 Video Data Block");
    assert_eq!(y420.len(), 1);
    assert_eq!(sizes(&y420), theirs(&their_y420), "{text}");
}

/// A base block from the generator followed by a DisplayID 2.0 block with a type VIII block
/// (DMT IDs 0x52 and 0x10, one CTA VIC block with VIC 16 and 97) and a type IX block (CVT
/// 2560x1440@60, CVT reduced blanking 1920x1200@60).
fn displayid_2_with_codes_and_formulas() -> Vec<u8> {
    let mut blob = crate::common::edid::with_extensions(&[vec![0; 128]]);
    let formula = |kind: u8, w: u16, h: u16, hz: u8| {
        let (w, h) = ((w - 1).to_le_bytes(), (h - 1).to_le_bytes());
        [kind, w[0], w[1], h[0], h[1], hz - 1]
    };
    let mut data = vec![0x23, 0x00, 2, 0x52, 0x10, 0x23, 0x40, 2, 16, 97];
    data.extend([0x24, 0x00, 12]);
    data.extend(formula(0, 2560, 1440, 60));
    data.extend(formula(1, 1920, 1200, 60));
    let mut section = vec![0x20, data.len() as u8, 0x03, 0];
    section.extend(data);
    let sum = section.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    section.push(0u8.wrapping_sub(sum));
    let ext = &mut blob[128..256];
    ext[0] = 0x70;
    ext[1..1 + section.len()].copy_from_slice(&section);
    crate::common::edid::fix_checksum(ext);
    blob
}

#[test]
fn displayid_type_viii_and_ix_timings_match_edid_decode() {
    let blob = displayid_2_with_codes_and_formulas();
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let Some(Extension::DisplayId(did)) = decoded.extensions.first() else {
        panic!("no DisplayID block");
    };
    let kinds: Vec<(&str, u16)> = did
        .listed_timings
        .iter()
        .map(|t| (t.kind, t.code))
        .collect();
    assert_eq!(
        kinds,
        [
            ("DMT", 0x52),
            ("DMT", 0x10),
            ("VIC", 16),
            ("VIC", 97),
            ("CVT", 0),
            ("CVT RB", 0)
        ]
    );
    let ours: Vec<Mode> = did.listed_timings.iter().map(|t| t.mode.unwrap()).collect();
    let mut their = edid_decode_section(&text, "Type 8");
    their.extend(edid_decode_section(&text, "Type 9"));
    assert_eq!(sizes(&ours), theirs(&their), "{text}");
    // Linux lists none of them: the mode list is the base block's.
    let linux = decoded.linux_modes();
    assert!(linux.iter().all(|m| m.source != "displayid"), "{linux:?}");
}

/// A DisplayID 2.0 5K panel's type VII timings, field by field as edid-decode prints them:
/// size, rate, pixel clock, porches, sync widths and polarities, and the preferred flag.
#[test]
fn displayid_2_type_vii_timings_match_edid_decode_field_by_field() {
    let blob = edid_corpus::by_name("displayid2-5k");
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    let Some(Extension::DisplayId(did)) = decoded.extensions.first() else {
        panic!("no DisplayID block");
    };
    assert_eq!(did.version, "2.0");
    let ours: Vec<String> = did
        .timings
        .iter()
        .map(|t| {
            let d = &t.timing;
            let back = |blank: u32, front: u32, sync: u32| blank - front - sync;
            format!(
                "{}x{} {:.3} Hz {:.3} MHz {}h {} {} {} {} v {} {} {} {}",
                d.h_active,
                d.v_active,
                f64::from(d.refresh_mhz()) / 1000.0,
                f64::from(d.pixel_clock_khz) / 1000.0,
                if t.preferred { "preferred " } else { "" },
                d.h_front,
                d.h_sync,
                back(d.h_blank, d.h_front, d.h_sync),
                if d.hsync_positive { 'P' } else { 'N' },
                d.v_front,
                d.v_sync,
                back(d.v_blank, d.v_front, d.v_sync),
                if d.vsync_positive { 'P' } else { 'N' },
            )
        })
        .collect();
    // edid-decode: "DTD:  WxH  HZ Hz  ASPECT  KHZ kHz  MHZ MHz (..., preferred)", then
    // "Hfront F Hsync S Hback B Hpol P" and the same for V.
    let lines: Vec<&str> = text.lines().collect();
    let mut theirs = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("DTD:") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let number = |w: &str| w.parse::<f64>().unwrap();
        let porch = |l: &str| -> Vec<String> {
            l.split_whitespace()
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        };
        let (h, v) = (porch(lines[at + 1]), porch(lines[at + 2]));
        theirs.push(format!(
            "{} {:.3} Hz {:.3} MHz {}h {} {} {} {} v {} {} {} {}",
            words[0],
            number(words[1]),
            number(words[6]),
            if rest.contains("preferred") {
                "preferred "
            } else {
                ""
            },
            h[0],
            h[1],
            h[2],
            h[3],
            v[0],
            v[1],
            v[2],
            v[3]
        ));
    }
    assert_eq!(ours.len(), 2);
    assert_eq!(ours, theirs, "{text}");
    // Linux prefers the 5K timing over the base block's DTD, being larger.
    assert_eq!(
        decoded.preferred_mode().unwrap().to_string(),
        "5120x2880@59.998"
    );
}

/// CTA data blocks inside a DisplayID 1.3 block: their VICs and HDMI VICs decode as
/// edid-decode's, as they would in a CTA extension.
#[test]
fn cta_data_blocks_inside_displayid_match_edid_decode() {
    let blob = edid_corpus::by_name("displayid-cta");
    let text = edid_decode_text(&blob);
    let decoded = edid::decode(&blob).unwrap();
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let Some(Extension::DisplayId(did)) = decoded.extensions.first() else {
        panic!("no DisplayID block");
    };
    let cta = &did.cta[0];
    let vics: Vec<Mode> = cta.vics.iter().filter_map(|v| v.mode).collect();
    assert_eq!(vics.len(), 6);
    assert_eq!(
        sizes(&vics),
        theirs(&edid_decode_section(&text, "Video Data Block")),
        "{text}"
    );
    let hdmi: Vec<Mode> = cta.hdmi_vics.iter().filter_map(|v| v.mode).collect();
    assert_eq!(hdmi.len(), 1);
    assert_eq!(
        sizes(&hdmi),
        theirs(&edid_decode_section(&text, "HDMI VICs")),
        "{text}"
    );
}
