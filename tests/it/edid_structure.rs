//! EDID structure the decoder checks as edid-decode does: extension tags nothing defines (and
//! manufacturer-specific blocks), block maps that disagree with the blocks, a DisplayID
//! extension count that disagrees with the DisplayID blocks, data blocks past their block, and
//! padding that is not zero. Each defect is built by hand from a good EDID; for each, our
//! `edid decode` and `edid-decode --check` give the same verdict, and ours names the block and
//! the byte. libdisplay-info's `di-edid-decode` (0.2) is asserted beside them: it checks less
//! (no block maps, no manufacturer-specific blocks, no DisplayID extension count), and where it
//! passes a defect the case says so. Real monitors' EDIDs that break one rule each (reserved
//! bits and values, descriptor layout, range limits, DisplayID section headers, CTA data block
//! lengths; `common::edid::real_structural`) fail here with the rule named, as edid-decode
//! fails them; text descriptors end where edid-decode ends them.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{path_str, run, tmp};
use crate::common::edid::{fix_checksum, with_extensions};
use std::process::Command;
use vfio_display::edid::{self, EdidSpec, Mode};

/// A CTA-861 block with a video data block (VICs 16, 4, 1), a video capability data block
/// (edid-decode fails a CTA block without one) and, when `dtd` is given, one detailed timing.
fn cta_with(dtd: Option<&[u8]>) -> Vec<u8> {
    let mut block = vec![0u8; 128];
    block[..4].copy_from_slice(&[0x02, 3, 0, 0]);
    let data = [0x43, 16, 4, 1, 0xe2, 0x00, 0x40];
    block[4..4 + data.len()].copy_from_slice(&data);
    block[2] = 4 + data.len() as u8;
    if let Some(dtd) = dtd {
        let at = usize::from(block[2]);
        block[at..at + 18].copy_from_slice(dtd);
    }
    fix_checksum(&mut block);
    block
}

/// The generated base block's first detailed timing.
fn base_dtd() -> Vec<u8> {
    let good = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
    good[54..72].to_vec()
}

/// A generated EDID with one DisplayID block (two more modes than its preferred one).
fn with_displayid() -> Vec<u8> {
    let mut spec = EdidSpec::new(Mode::new(1920, 1080, 60));
    spec.extra_modes = vec![Mode::new(1280, 720, 60), Mode::new(1024, 768, 60)];
    let blob = edid::generate(&spec).unwrap();
    assert_eq!((blob.len(), blob[128]), (256, 0x70), "one DisplayID block");
    blob
}

/// Block `index` of `blob` with `edit` applied and its checksum fixed.
fn edited(mut blob: Vec<u8>, index: usize, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let block = &mut blob[index * 128..(index + 1) * 128];
    edit(block);
    fix_checksum(block);
    blob
}

/// Recomputes the checksum of the DisplayID section in extension block `b`.
fn fix_section(b: &mut [u8]) {
    let end = 5 + usize::from(b[2]);
    let sum = b[1..end].iter().fold(0u8, |a, v| a.wrapping_add(*v));
    b[end] = 0u8.wrapping_sub(sum);
}

/// edid-decode's verdict: true when `--check` passes.
fn edid_decode_passes(path: &std::path::Path) -> bool {
    Command::new("edid-decode")
        .arg("--check")
        .arg(path)
        .output()
        .expect("edid-decode is installed (.ci/run installs it)")
        .status
        .success()
}

/// libdisplay-info's verdict: true when di-edid-decode finds no failure (it exits non-zero
/// for a failure, as edid-decode --check does).
fn di_edid_decode_passes(path: &std::path::Path) -> bool {
    Command::new("di-edid-decode")
        .arg(path)
        .output()
        .expect("di-edid-decode is installed (.ci/run installs libdisplay-info-bin)")
        .status
        .success()
}

/// What libdisplay-info 0.2 makes of a defect edid-decode fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Di {
    /// It fails it too.
    Fails,
    /// It does not check this rule and passes the EDID.
    Misses,
}

/// Asserts our verdict and edid-decode's on `blob`: both pass when `problem` is None (and so
/// does di-edid-decode); else both fail, and our only problem contains `problem`, in text and
/// in `--json`; di-edid-decode's verdict is `di`.
fn assert_verdict(name: &str, blob: &[u8], problem: Option<&str>) {
    assert_verdicts(name, blob, problem, Di::Fails)
}

fn assert_verdicts(name: &str, blob: &[u8], problem: Option<&str>, di: Di) {
    let dir = tmp();
    let path = dir.path().join(format!("{name}.bin"));
    std::fs::write(&path, blob).unwrap();
    let theirs = edid_decode_passes(&path);
    let libdisplay_info = di_edid_decode_passes(&path);
    let di_passes = problem.is_none() || di == Di::Misses;
    assert_eq!(
        libdisplay_info, di_passes,
        "{name}: di-edid-decode's verdict (pass: {libdisplay_info}) is not the expected one"
    );
    let out = run(&["edid", "decode", "--json", path_str(&path)]);
    let report: serde_json::Value = crate::common::json::parse(&out.stdout);
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    match problem {
        None => {
            assert!(theirs, "{name}: edid-decode --check fails it");
            assert_eq!(out.status.code(), Some(0), "{name}: {problems:?}");
            assert!(problems.is_empty(), "{name}: {problems:?}");
        }
        Some(text) => {
            assert!(!theirs, "{name}: edid-decode --check passes it");
            assert_eq!(out.status.code(), Some(1), "{name}: {problems:?}");
            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert!(problems[0].contains(text), "{name}: {problems:?}");
            let text_out = run(&["edid", "decode", path_str(&path)]);
            assert_eq!(text_out.status.code(), Some(1));
            assert!(
                String::from_utf8_lossy(&text_out.stderr).contains(text),
                "{name}: {text_out:?}"
            );
        }
    }
}

#[test]
fn extension_tags_nothing_defines_are_problems() {
    let dtd = base_dtd();
    assert_verdict("cta", &with_extensions(&[cta_with(Some(&dtd))]), None);
    let mut undefined = vec![0u8; 128];
    undefined[0] = 0x33;
    fix_checksum(&mut undefined);
    assert_verdict(
        "undefined-tag",
        &with_extensions(&[undefined]),
        Some("block 1: extension tag 0x33 is not defined"),
    );
    let mut vendor = vec![0u8; 128];
    vendor[0] = 0xff;
    fix_checksum(&mut vendor);
    assert_verdicts(
        "manufacturer-specific",
        &with_extensions(&[vendor]),
        Some("block 1: a manufacturer-specific extension (tag 0xff)"),
        Di::Misses,
    );
}

#[test]
fn a_block_map_must_name_each_block_by_its_tag() {
    let map = |entries: &[u8]| {
        let mut block = vec![0u8; 128];
        block[0] = 0xf0;
        block[1..1 + entries.len()].copy_from_slice(entries);
        fix_checksum(&mut block);
        block
    };
    let cta = cta_with(None);
    assert_verdict("map", &with_extensions(&[map(&[0x02]), cta.clone()]), None);
    assert_verdicts(
        "map-wrong-tag",
        &with_extensions(&[map(&[0x70]), cta.clone()]),
        Some("block 1 (block map): byte 1 names tag 0x70 for block 2, which has tag 0x02"),
        Di::Misses,
    );
    assert_verdicts(
        "map-no-tag",
        &with_extensions(&[map(&[]), cta.clone()]),
        Some("block 1 (block map): byte 1 names tag 0x00 for block 2, which has tag 0x02"),
        Di::Misses,
    );
    assert_verdicts(
        "map-past-the-end",
        &with_extensions(&[map(&[0x02, 0x02]), cta]),
        Some(
            "block 1 (block map): byte 2 names tag 0x02 for block 3, but the EDID ends at block 2",
        ),
        Di::Misses,
    );
}

#[test]
fn padding_must_be_zero_and_data_blocks_stay_in_their_block() {
    let dtd = base_dtd();
    let padded = edited(with_extensions(&[cta_with(Some(&dtd))]), 1, |b| {
        b[120] = 0x01
    });
    assert_verdict(
        "cta-padding",
        &padded,
        Some("block 1 (CTA-861): byte 120 is 0x01, but the padding from byte 29 must be zero"),
    );
    let padded = edited(with_extensions(&[cta_with(None)]), 1, |b| b[100] = 0x55);
    assert_verdict(
        "cta-padding-no-dtd",
        &padded,
        Some("block 1 (CTA-861): byte 100 is 0x55, but the padding from byte 11 must be zero"),
    );
    // The video data block says 15 VICs, running past the DTD offset at byte 11.
    let overrun = edited(with_extensions(&[cta_with(None)]), 1, |b| b[4] = 0x4f);
    assert_verdict(
        "cta-overrun",
        &overrun,
        Some("block 1 (CTA-861): data block at byte 4 overruns the data block collection"),
    );
    assert_verdict("displayid", &with_displayid(), None);
    // The generator's section fills the block: zero filler after its data blocks.
    let filler = edited(with_displayid(), 1, |b| {
        b[120] = 0x11;
        fix_section(b);
    });
    assert_verdict(
        "displayid-filler",
        &filler,
        Some("block 1 (DisplayID): byte 120 is 0x11, but the filler after the data blocks"),
    );
    // A shorter section (as other EDIDs have) is followed by padding up to the checksum.
    let padded = edited(with_displayid(), 1, |b| {
        b[2] = 106;
        b[126] = 0;
        fix_section(b);
        b[120] = 0x11;
    });
    assert_verdict(
        "displayid-padding",
        &padded,
        Some("block 1 (DisplayID): byte 120 is 0x11, but the padding from byte 112 must be zero"),
    );
}

#[test]
fn the_displayid_extension_count_must_match_the_blocks() {
    let counted = edited(with_displayid(), 1, |b| {
        b[4] = 1;
        fix_section(b);
    });
    assert_verdicts(
        "displayid-count",
        &counted,
        Some(
            "block 1 (DisplayID): byte 4 declares 1 DisplayID extension block after this one, \
             but the EDID has 0",
        ),
        Di::Misses,
    );
}

#[test]
fn every_generated_edid_passes_both_checkers() {
    // The generator's own output, from a small panel to 8K with DisplayID modes: no rule above
    // may fire on what it writes.
    for (mode, extra) in [
        ("640x480@60", ""),
        ("1920x1080", "1280x720,1024x768"),
        ("3840x2160@30", "2560x1440,1920x1080@50"),
        ("7680x4320@60", ""),
    ] {
        let dir = tmp();
        let path = dir.path().join("gen.bin");
        let mut args = vec!["edid", "generate", "--mode", mode, "-o", path_str(&path)];
        if !extra.is_empty() {
            args.extend(["--extra-modes", extra]);
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{mode}: {out:?}");
        assert_verdict(mode, &std::fs::read(&path).unwrap(), None);
    }
}

/// edid-decode's `--check` output for the EDID at `path`: its verdict and its text.
fn edid_decode_check(path: &std::path::Path) -> (bool, String) {
    let out = Command::new("edid-decode")
        .arg("--check")
        .arg(path)
        .output()
        .expect("edid-decode is installed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn real_edids_edid_decode_fails_fail_here_with_the_rule_named() {
    // Each real EDID breaks one rule (it may break others edid-decode only warns about or that
    // are not structural): edid-decode fails it with that rule's message, and `edid decode`
    // exits 1 naming the same rule and byte.
    let cases = crate::common::edid::real_structural();
    assert!(cases.len() >= 15);
    for (name, blob, ours, theirs) in cases {
        assert_eq!(blob.len() % 128, 0, "{name}");
        let dir = tmp();
        let path = dir.path().join(format!("{name}.bin"));
        std::fs::write(&path, &blob).unwrap();
        let (passes, text) = edid_decode_check(&path);
        assert!(!passes, "{name}: edid-decode --check passes it");
        assert!(text.contains(theirs), "{name}: edid-decode says:\n{text}");
        let out = run(&["edid", "decode", "--json", path_str(&path)]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        let report: serde_json::Value = crate::common::json::parse(&out.stdout);
        let problems: Vec<&str> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(
            problems.iter().any(|p| p.contains(ours)),
            "{name}: {problems:?}"
        );
    }
}

/// A CTA-861 block holding `data` (data blocks) after a video data block (VICs 16, 4, 1) and a
/// video capability data block; the header says basic audio when `data` holds an audio block.
fn cta_holding(data: &[u8]) -> Vec<u8> {
    let mut block = vec![0u8; 128];
    let audio = data.first().is_some_and(|b| b >> 5 == 1);
    block[..4].copy_from_slice(&[0x02, 3, 0, if audio { 0x40 } else { 0 }]);
    let mut all = vec![0x43, 16, 4, 1, 0xe2, 0x00, 0x40];
    all.extend_from_slice(data);
    block[4..4 + all.len()].copy_from_slice(&all);
    block[2] = 4 + all.len() as u8;
    fix_checksum(&mut block);
    block
}

#[test]
fn cta_data_blocks_keep_their_reserved_bits_and_lengths() {
    // A colorimetry data block (BT.2020 and xvYCC) whose second byte sets reserved bit F41.
    assert_verdict(
        "colorimetry-reserved",
        &with_extensions(&[cta_holding(&[0xe3, 0x05, 0xc3, 0x02])]),
        Some("the colorimetry data block at byte 11 sets reserved bits 0x02 of byte 14"),
    );
    assert_verdict(
        "audio-length",
        &with_extensions(&[cta_holding(&[0x22, 0x09, 0x07])]),
        Some("the audio data block at byte 11 has 2 bytes, not whole 3-byte audio descriptors"),
    );
    assert_verdict(
        "audio-good",
        &with_extensions(&[cta_holding(&[0x23, 0x09, 0x07, 0x07])]),
        None,
    );
}

#[test]
fn colorimetry_md0_is_defined_here_though_this_edid_decode_fails_it() {
    // CTA-861.6 made bit 0 of the colorimetry block's second byte (MD0) HDMI's gamut boundary
    // metadata profile, and newer edid-decode checks only bits 1-3; the edid-decode Debian 12
    // ships still fails MD0 ("Reserved bits MD0-MD3"). 81 real EDIDs of the sample in
    // docs/edid.md set it and break no other structural rule; we pass them.
    let blob = with_extensions(&[cta_holding(&[0xe3, 0x05, 0xc3, 0x01])]);
    let dir = tmp();
    let path = dir.path().join("md0.bin");
    std::fs::write(&path, &blob).unwrap();
    let out = run(&["edid", "decode", "--json", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (passes, text) = edid_decode_check(&path);
    assert!(passes || text.contains("Reserved bits MD0-MD3"), "{text}");
}

/// The text edid-decode shows for each text descriptor of the EDID at `path`, in order.
fn edid_decode_texts(path: &std::path::Path) -> Vec<String> {
    let (_, text) = edid_decode_check(path);
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            [
                "Display Product Name: '",
                "Alphanumeric Data String: '",
                "Display Product Serial Number: '",
            ]
            .iter()
            .find_map(|p| l.strip_prefix(p))
            .and_then(|rest| rest.strip_suffix('\''))
            .map(|s| s.trim_end().to_string())
        })
        .collect()
}

/// Our text for each text descriptor of the EDID at `path`, in order (`--json`).
fn our_texts(path: &std::path::Path) -> Vec<String> {
    let out = run(&["edid", "decode", "--json", path_str(path)]);
    let report: serde_json::Value = crate::common::json::parse(&out.stdout);
    report["descriptors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn texts_end_where_edid_decode_ends_them() {
    // A laptop panel's string with 0x80 between two part numbers: edid-decode shows the part
    // before it, and so do we (it used to read "FNVDR?LQ156D1").
    let (_, sharp, _, _) = crate::common::edid::real_structural()
        .into_iter()
        .find(|(name, ..)| *name == "text-0x80-between-part-numbers")
        .unwrap();
    let dir = tmp();
    let path = dir.path().join("sharp.bin");
    std::fs::write(&path, &sharp).unwrap();
    assert_eq!(our_texts(&path), ["FNVDR"]);
    assert_eq!(edid_decode_texts(&path), our_texts(&path));
    // A name with a NUL, a control byte or a byte past ASCII in it ends there for both.
    for (i, stop) in [0x00u8, 0x01, 0xe9].into_iter().enumerate() {
        let mut blob = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
        let name = blob[54..126]
            .chunks(18)
            .position(|d| d[..4] == [0, 0, 0, 0xfc])
            .map(|slot| 54 + slot * 18 + 5)
            .unwrap();
        blob[name..name + 13].copy_from_slice(b"AB?CD\n       ");
        blob[name + 2] = stop;
        fix_checksum(&mut blob[..128]);
        let path = dir.path().join(format!("name{i}.bin"));
        std::fs::write(&path, &blob).unwrap();
        let ours = our_texts(&path);
        assert_eq!(ours[0], "AB", "{stop:#04x}");
        assert_eq!(edid_decode_texts(&path), ours, "{stop:#04x}");
        let out = run(&["edid", "decode", path_str(&path)]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{stop:#04x}: named as a problem"
        );
        assert!(
            // Byte 7 of the descriptor: its text starts at byte 5.
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "byte 7 is {stop:#04x}, which is not printable ASCII"
            )),
            "{out:?}"
        );
    }
}
