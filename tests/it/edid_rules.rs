//! The EDID decoder against Linux's and edid-decode's rules: the full CTA-861-H VIC table
//! (every VIC's size, interlace, rate and aspect as edid-decode prints them), reserved VIC
//! codes, and the preferred mode as drm_edid picks it (the first detailed timing it accepts, in
//! any descriptor slot; EDID 1.3 only with the feature bit).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_ok, path_str, run, tmp};
use crate::common::edid::{cta_block, edid_decode_text, fix_checksum, with_extensions};
use vfio_display::edid::{self, DetailedTiming, EdidSpec, Mode};

/// edid-decode's VIC lines: (vic, width, height, interlaced, refresh in mHz, aspect).
fn edid_decode_vics(blob: &[u8]) -> Vec<(u8, u32, u32, bool, u32, String)> {
    let text = edid_decode_text(blob);
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("VIC")?;
            let (vic, rest) = rest.split_once(':')?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (size, interlaced) = match words[0].strip_suffix('i') {
                Some(s) => (s, true),
                None => (words[0], false),
            };
            let (w, h) = size.split_once('x')?;
            let hz: f64 = words[1].parse().ok()?;
            Some((
                vic.trim().parse().ok()?,
                w.parse().ok()?,
                h.parse().ok()?,
                interlaced,
                (hz * 1000.0).round() as u32,
                words[3].to_string(),
            ))
        })
        .collect()
}

#[test]
fn every_vic_decodes_as_edid_decode_decodes_it() {
    let codes: Vec<u8> = (1..=127).chain(193..=219).collect();
    let blob = with_extensions(&[cta_block(&codes[..115]), cta_block(&codes[115..])]);
    let theirs = edid_decode_vics(&blob);
    assert_eq!(theirs.len(), 154, "edid-decode lists every VIC");
    let decoded = edid::decode(&blob).unwrap();
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let ours: Vec<_> = decoded
        .extensions
        .iter()
        .flat_map(|e| match e {
            edid::Extension::Cta(c) => c.vics.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(ours.len(), 154);
    for (vic, theirs) in ours.iter().zip(&theirs) {
        let mode = vic.mode.unwrap();
        assert_eq!(vic.vic, theirs.0);
        assert_eq!(
            (mode.width, mode.height, vic.interlaced, vic.aspect),
            (theirs.1, theirs.2, theirs.3, theirs.5.as_str()),
            "VIC {}",
            vic.vic
        );
        // Both are the exact rate of the VIC's timing, rounded to the mHz here.
        assert!(
            mode.refresh_mhz == theirs.4,
            "VIC {}: {} mHz, edid-decode {} mHz",
            vic.vic,
            mode.refresh_mhz,
            theirs.4
        );
    }
}

#[test]
fn reserved_vic_codes_are_problems_not_modes() {
    // 0, 128 and 220 are reserved; 0x85 is VIC 5 marked native.
    let blob = with_extensions(&[cta_block(&[0, 0x85, 128, 220, 39])]);
    let decoded = edid::decode(&blob).unwrap();
    let vics: Vec<(u8, bool)> = decoded
        .extensions
        .iter()
        .flat_map(|e| match e {
            edid::Extension::Cta(c) => c.vics.iter().map(|v| (v.vic, v.native)).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(vics, [(5, true), (39, false)]);
    let reserved: Vec<&String> = decoded
        .problems
        .iter()
        .filter(|p| p.contains("reserved VIC code"))
        .collect();
    assert_eq!(reserved.len(), 3, "{:?}", decoded.problems);
    assert!(reserved[0].starts_with("block 1 (CTA-861)"), "{reserved:?}");
    // `edid decode` exits 1 for a problem and names it.
    let dir = tmp();
    let path = dir.path().join("reserved.bin");
    std::fs::write(&path, &blob).unwrap();
    let out = run(&["edid", "decode", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::cli::stderr(&out);
    assert!(err.contains("reserved VIC code 0"), "{err}");
}

fn dtd(width: u32, height: u32) -> [u8; 18] {
    let timing = edid::cvt_reduced_blanking(width, height, 60_000);
    DetailedTiming::from_cvt(&timing, 600, 340)
        .encode_dtd()
        .unwrap()
}

#[test]
fn the_first_accepted_detailed_timing_in_any_slot_is_preferred() {
    let good = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
    let base = &good[..128];
    // The DTD moved from slot 1 to slot 2, the name descriptor to slot 1: Linux still
    // prefers it (the first detailed timing it finds).
    let mut swapped = base.to_vec();
    swapped[54..72].copy_from_slice(&base[72..90]);
    swapped[72..90].copy_from_slice(&base[54..72]);
    fix_checksum(&mut swapped);
    let preferred = edid::decode(&swapped).unwrap().preferred_mode().unwrap();
    assert_eq!((preferred.width, preferred.height), (1920, 1080));
    // A first timing Linux rejects (narrower than 64 pixels) is skipped: the next is preferred.
    let mut tiny_first = base.to_vec();
    let mut tiny = dtd(1920, 1080);
    tiny[2] = 32; // 32 pixels wide
    tiny[4] &= 0x0f;
    tiny_first[54..72].copy_from_slice(&tiny);
    tiny_first[72..90].copy_from_slice(&dtd(1280, 720));
    fix_checksum(&mut tiny_first);
    let preferred = edid::decode(&tiny_first).unwrap().preferred_mode().unwrap();
    assert_eq!((preferred.width, preferred.height), (1280, 720));
    // EDID 1.3 prefers the first timing only with the feature bit (byte 24, bit 1).
    let mut v13 = base.to_vec();
    v13[19] = 3;
    v13[24] &= !0x02;
    fix_checksum(&mut v13);
    assert_eq!(edid::decode(&v13).unwrap().preferred_mode(), None);
    v13[24] |= 0x02;
    fix_checksum(&mut v13);
    let preferred = edid::decode(&v13).unwrap().preferred_mode().unwrap();
    assert_eq!((preferred.width, preferred.height), (1920, 1080));
}

#[test]
fn decode_json_carries_the_vic_aspect_and_the_rule_based_preferred_mode() {
    let blob = with_extensions(&[cta_block(&[0x90, 5, 219])]);
    let dir = tmp();
    let path = dir.path().join("tv.bin");
    std::fs::write(&path, &blob).unwrap();
    let out = run(&["edid", "decode", path_str(&path), "--json"]);
    assert_ok(&out);
    let v = crate::common::json::parse(&out.stdout);
    let vics = &v["extensions"][0]["vics"];
    assert_eq!(vics[0]["vic"], 16);
    assert_eq!(vics[0]["native"], true);
    assert_eq!(vics[1]["interlaced"], true);
    assert_eq!(vics[2]["aspect"], "256:135");
    assert_eq!(vics[2]["mode"]["width"], 4096);
    assert_eq!(v["preferred_mode"]["width"], 1920);
}

#[test]
fn modes_lists_what_the_edid_describes_in_linux_order() {
    // A TV-like EDID: the 1920x1080 detailed timing, the generator's standard and established
    // timings, and VICs 16 (1080p60), 5 (1080i60), 97 (2160p60) and 4 (720p60).
    let blob = with_extensions(&[cta_block(&[16, 5, 97, 4])]);
    let dir = tmp();
    let path = dir.path().join("tv.bin");
    std::fs::write(&path, &blob).unwrap();
    let out = run(&["edid", "decode", path_str(&path), "--modes"]);
    assert_ok(&out);
    let text = crate::common::cli::stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // Preferred first, although 3840x2160 is larger.
    assert!(
        lines[0].starts_with("1920x1080@59.934") && lines[0].ends_with("detailed, preferred"),
        "{text}"
    );
    assert!(lines[1].starts_with("3840x2160@60.000  cta"), "{text}");
    // The interlaced VIC keeps its i and its field rate; 1080p60 from the VIC is listed once
    // beside the detailed 59.934 Hz timing, which is another mode.
    assert!(lines.contains(&"1920x1080i@60.000  cta"), "{text}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("1920x1080@60.000"))
            .count(),
        1,
        "{text}"
    );
    // Larger before smaller, then faster before slower (in whole hertz, as the kernel sorts;
    // equal rates go by pixel clock, which the text does not show), for all that follow.
    let key = |l: &&str| -> (u64, u64) {
        let (size, rest) = l.split_once('@').unwrap();
        let (w, h) = size.trim_end_matches('i').split_once('x').unwrap();
        let hz: f64 = rest.split_whitespace().next().unwrap().parse().unwrap();
        (
            w.parse::<u64>().unwrap() * h.parse::<u64>().unwrap(),
            hz.round() as u64,
        )
    };
    let rest: Vec<(u64, u64)> = lines[1..].iter().map(key).collect();
    let mut sorted = rest.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(rest, sorted, "{text}");
    let json = run(&["edid", "decode", path_str(&path), "--json"]);
    let v = crate::common::json::parse(&json.stdout);
    assert_eq!(v["linux_modes"][0]["preferred"], true);
    assert_eq!(v["linux_modes"].as_array().unwrap().len(), lines.len());
}
