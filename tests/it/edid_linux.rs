//! `edid decode --modes` against Linux: the corpus of tests/it/common/edid_corpus.rs, one EDID per
//! rule of drm_edid, compared timing for timing with the mode lists a Linux 6.12 guest built
//! for it (tests/snapshots/edid-corpus-linux.txt, as the VM suite's nested guest printed them:
//! each list the driver kept, in the kernel's order, and the modes it rejected). The VM suite
//! runs the same comparison against the live guest kernel; this keeps it in every `cargo test`.

use crate::common::edid_corpus;
use vfio_display::edid;

fn section<'t>(text: &'t str, tag: &str) -> Vec<&'t str> {
    let (begin, end) = (format!("{tag}-BEGIN"), format!("{tag}-END"));
    text.lines()
        .skip_while(|l| *l != begin)
        .skip(1)
        .take_while(|l| *l != end)
        .collect()
}

#[test]
fn every_corpus_mode_list_equals_the_one_linux_built() {
    let text = include_str!("../snapshots/edid-corpus-linux.txt");
    let results = edid_corpus::check(|tag| section(text, tag));
    assert_eq!(results.len(), edid_corpus::corpus().len());
    let failed: Vec<String> = results
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(name, _, why)| format!("{name}:\n{why}"))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The comparison can fail: one pixel clock off, one mode missing, or one preferred mark
/// moved in the kernel's record fails the EDID it belongs to, and only that one.
#[test]
fn a_list_that_differs_by_one_detail_fails() {
    let text = include_str!("../snapshots/edid-corpus-linux.txt");
    let failing = |changed: &str| -> Vec<String> {
        edid_corpus::check(|tag| section(changed, tag))
            .into_iter()
            .filter(|(_, ok, _)| !ok)
            .map(|(name, _, _)| name)
            .collect()
    };
    assert!(failing(text).is_empty());
    let clock = text.replacen(
        " 148352 1920 2008 2052 2200 1080",
        " 148351 1920 2008 2052 2200 1080",
        1,
    );
    assert_ne!(clock, text);
    assert_eq!(failing(&clock).len(), 1);
    let first_line = |tag: &str| section(text, tag)[0];
    let missing = text.replacen(
        &format!("{}\n", first_line("CORPUS-slot3-preferred")),
        "",
        1,
    );
    assert_eq!(failing(&missing), ["slot3-preferred"]);
    let preferred = first_line("CORPUS-slot3-preferred");
    let unpreferred = text.replacen(preferred, &preferred.replace(" 0x48", " 0x40"), 1);
    assert_eq!(failing(&unpreferred), ["slot3-preferred"]);
}

/// The comparison catches a mode the kernel rejects as an illegal timing: our list as it was
/// before it applied drm_mode_validate_basic (with the GTF 256x160 mode) fails against the
/// guest kernel's record, where the comparison that took every rejection for the driver's
/// passed it; today's list passes.
#[test]
fn the_comparison_catches_a_mode_the_kernel_finds_illegal() {
    let text = include_str!("../snapshots/edid-corpus-linux.txt");
    let rejected = section(text, "REJECTED-gtf-illegal");
    assert!(
        rejected.iter().any(|l| l.ends_with("(H_ILLEGAL)")),
        "the kernel rejected the GTF mode as illegal: {rejected:?}"
    );
    let blob = edid_corpus::corpus()
        .into_iter()
        .find(|(name, _)| *name == "gtf-illegal")
        .unwrap()
        .1;
    let decoded = edid::decode(&blob).unwrap();
    let today = decoded.linux_modes();
    let kernel = section(text, "CORPUS-gtf-illegal");
    assert!(edid_corpus::compare(&today, &kernel, &rejected).0);
    let mut before = today.clone();
    before.extend(decoded.dropped_linux_modes().into_iter().map(|d| d.mode));
    assert!(before.len() > today.len());
    let (ok, why) = edid_corpus::compare(&before, &kernel, &rejected);
    assert!(!ok, "{why}");
    assert!(why.contains("256x160"), "{why}");
    // The comparison as it was: every rejected line the driver's. It passed the wrong list.
    let as_driver: Vec<String> = rejected
        .iter()
        .map(|l| l.replace("(H_ILLEGAL)", "(MEM)"))
        .collect();
    let as_driver: Vec<&str> = as_driver.iter().map(String::as_str).collect();
    assert!(edid_corpus::compare(&before, &kernel, &as_driver).0);
}

/// The corpus reaches every source of modes drm_edid has, so that the comparison above covers
/// each rule.
#[test]
fn the_corpus_covers_every_source_of_modes() {
    let mut sources: Vec<&str> = edid_corpus::corpus()
        .iter()
        .flat_map(|(_, blob)| edid::decode(blob).unwrap().linux_modes())
        .map(|m| m.source)
        .collect();
    sources.sort_unstable();
    sources.dedup();
    assert_eq!(
        sources,
        [
            "cta",
            "cta-alternate",
            "cvt",
            "detailed",
            "displayid",
            "established",
            "hdmi",
            "range",
            "standard",
            "ycbcr420"
        ]
    );
}

/// A monitor's standard timing whose GTF timing Linux builds and then drops
/// (`drm_mode_validate_basic`: MODE_H_ILLEGAL): absent from `--modes`, named with its status in
/// the JSON.
#[test]
fn a_standard_timing_linux_finds_illegal_is_dropped_and_said_so() {
    use crate::common::cli::{path_str, run, stdout, tmp};
    let mut blob = edid::generate(&edid::EdidSpec::new(edid::Mode::new(1024, 768, 60))).unwrap();
    // EDID 1.3 (standard timings outside DMT take GTF), first standard timing 256x160 at 70 Hz.
    // EDID 1.3 has no colour depth or interface in byte 20, and no "range limits only" class.
    blob[19] = 3;
    blob[20] = 0x80;
    assert_eq!(
        (blob[75], blob[82]),
        (0xfd, 1),
        "the range limits are descriptor 2"
    );
    blob[82] = 0;
    blob[38..40].copy_from_slice(&[0x01, 0x0a]);
    crate::common::edid::fix_checksum(&mut blob[..128]);
    let dir = tmp();
    let file = dir.path().join("gtf.bin");
    std::fs::write(&file, &blob).unwrap();
    let out = run(&["edid", "decode", "--modes", path_str(&file)]);
    // Linux reads a first byte of 1 as 256 pixels; edid-decode fails any code but 0x0101 there,
    // and so does `edid decode`, which still lists the modes.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        errors.contains("has 1 problem")
            && errors.contains("standard timing 1 (byte 38) is 0x01 0x0a"),
        "{errors}"
    );
    let text = stdout(&out);
    assert!(text.contains("1024x768"), "{text}");
    assert!(!text.contains("256x160"), "{text}");
    let out = run(&["edid", "decode", "--json", path_str(&file)]);
    let v = crate::common::json::parse(&out.stdout);
    let dropped = v["dropped_linux_modes"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{v}");
    assert_eq!(dropped[0]["status"], "H_ILLEGAL");
    assert_eq!(dropped[0]["mode"]["width"], 256);
    assert_eq!(dropped[0]["source"], "standard");
    assert!(
        v["linux_modes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["mode"]["width"] != 256)
    );
}

/// An HDMI 2.1 monitor whose base block declares one extension and whose first CTA block opens
/// with an HF-EEODB (e2 78 02) saying two: Linux reads the second CTA block too.
#[test]
fn an_hf_eeodb_raises_the_blocks_linux_reads() {
    use crate::common::edid::{cta_block, fix_checksum, with_extensions};
    // The first CTA block: the EEODB, then a video data block with VIC 1 (640x480).
    let mut first = vec![0u8; 128];
    first[0] = 0x02;
    first[1] = 3;
    first[4..7].copy_from_slice(&[0xe2, 0x78, 0x02]);
    first[7..9].copy_from_slice(&[0x41, 1]);
    first[2] = 9;
    fix_checksum(&mut first);
    // The second: VIC 4 (1280x720 at 60 Hz), a mode the base block does not list.
    let second = cta_block(&[4]);
    let mut blob = with_extensions(&[first, second]);
    blob[126] = 1;
    fix_checksum(&mut blob[..128]);
    let has_720p = |blob: &[u8]| {
        edid::decode(blob)
            .unwrap()
            .linux_modes()
            .iter()
            .any(|m| (m.mode.width, m.mode.height, m.source) == (1280, 720, "cta"))
    };
    assert!(has_720p(&blob), "the block the EEODB adds is read");
    // The decoder walks the same blocks as edid-decode and names the disagreement (which
    // edid-decode --check fails as "EDID specified 1 extension block(s), but found 2").
    let decoded = edid::decode(&blob).unwrap();
    assert_eq!(decoded.extensions.len(), 2);
    assert!(
        decoded
            .problems
            .iter()
            .any(|p| p.contains("HF-EEODB in block 1 declares 2")),
        "{:?}",
        decoded.problems
    );
    let theirs = crate::common::edid::edid_decode_text(&blob);
    assert!(
        theirs.contains("Block 2, CTA-861 Extension Block"),
        "{theirs}"
    );
    // The same without the EEODB (an empty extended-tag block of another kind): one block only.
    let mut plain = blob.clone();
    plain[128 + 5] = 0x77;
    fix_checksum(&mut plain[128..256]);
    assert!(
        !has_720p(&plain),
        "without the EEODB the base block's count holds"
    );
}

/// Damaged EDIDs as a Linux guest reads them from its display: a header with one byte wrong is
/// repaired, a bad base checksum means no modes, a CTA block with a bad checksum is kept.
#[test]
fn damaged_edids_are_read_as_a_linux_guest_reads_them() {
    use crate::common::cli::{path_str, run, stderr, stdout, tmp};
    use crate::common::edid::{cta_block, with_extensions};
    let dir = tmp();
    let decode = |name: &str, blob: &[u8], args: &[&str]| {
        let file = dir.path().join(name);
        std::fs::write(&file, blob).unwrap();
        let mut all = vec!["edid", "decode"];
        all.extend_from_slice(args);
        all.push(path_str(&file));
        run(&all)
    };
    // VIC 17, 720x576 at 50 Hz: a mode only the CTA block lists.
    let good = with_extensions(&[cta_block(&[17])]);
    // One header byte damaged on the way (the checksum was made over the right one).
    let mut header = good.clone();
    header[7] = 0x7f;
    let out = decode("header.bin", &header, &["--modes"]);
    assert_eq!(out.status.code(), Some(1), "a problem is reported");
    assert!(stdout(&out).contains("720x576"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("7 of 8 bytes right"),
        "{}",
        stderr(&out)
    );
    let out = decode("header.bin", &header, &[]);
    assert!(stdout(&out).contains("header repaired"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("firmware loader: refused"),
        "{}",
        stdout(&out)
    );
    // A bad base checksum: Linux refuses the EDID, so no mode.
    let mut checksum = good.clone();
    checksum[127] ^= 1;
    let out = decode("checksum.bin", &checksum, &["--modes"]);
    assert_eq!(stdout(&out), "", "no modes from an EDID Linux refuses");
    // A CTA block whose checksum is wrong: kept, its VIC listed.
    let mut cta = good.clone();
    cta[255] ^= 1;
    let out = decode("cta.bin", &cta, &["--modes"]);
    assert!(stdout(&out).contains("720x576"), "{}", stdout(&out));
    let out = decode("cta.bin", &cta, &["--json"]);
    let v = crate::common::json::parse(&out.stdout);
    let read = v["linux_read"].as_str().unwrap();
    assert!(
        read.contains("CTA block 1 kept although its checksum is wrong"),
        "{read}"
    );
    // The extension cut short: the base block's modes only.
    let out = decode("short.bin", &good[..200], &["--modes"]);
    assert!(!stdout(&out).contains("720x576"), "{}", stdout(&out));
    assert!(stdout(&out).contains("1920x1080"), "{}", stdout(&out));
}
