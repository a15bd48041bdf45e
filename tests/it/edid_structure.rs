//! EDID structure the decoder checks as edid-decode does: extension tags nothing defines (and
//! manufacturer-specific blocks), block maps that disagree with the blocks, a DisplayID
//! extension count that disagrees with the DisplayID blocks, data blocks past their block, and
//! padding that is not zero. Each defect is built by hand from a good EDID; for each, our
//! `edid decode` and `edid-decode --check` give the same verdict, and ours names the block and
//! the byte. libdisplay-info's `di-edid-decode` (0.2) is asserted beside them: it checks less
//! (no block maps, no manufacturer-specific blocks, no DisplayID extension count), and where it
//! passes a defect the case says so.
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
