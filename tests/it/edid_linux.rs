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

/// The corpus EDIDs whose check fails against the guest kernel's record `record`.
fn failing(record: &str) -> Vec<String> {
    edid_corpus::check(|tag| section(record, tag))
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(name, _, _)| name)
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
    assert!(failing(text).is_empty());
    let clock = text.replacen(
        " 148352 1920 2008 2052 2200 1080",
        " 148351 1920 2008 2052 2200 1080",
        1,
    );
    assert_ne!(clock, text);
    assert_eq!(failing(&clock).len(), 1);
    let list: Vec<String> = section(text, "CORPUS-slot3-preferred")
        .into_iter()
        .map(String::from)
        .collect();
    let missing = with_section(text, "CORPUS-slot3-preferred", &list[1..]);
    assert_eq!(failing(&missing), ["slot3-preferred"]);
    let mut unpreferred = list.clone();
    unpreferred[0] = unpreferred[0].replace(" 0x48", " 0x40");
    assert_ne!(unpreferred, list);
    let unpreferred = with_section(text, "CORPUS-slot3-preferred", &unpreferred);
    assert_eq!(failing(&unpreferred), ["slot3-preferred"]);
}

/// `text` with the lines of section `tag` replaced by `lines`.
fn with_section(text: &str, tag: &str, lines: &[String]) -> String {
    let (begin, end) = (format!("{tag}-BEGIN\n"), format!("{tag}-END\n"));
    let start = text.find(&begin).expect("the section is in the record") + begin.len();
    let stop = start + text[start..].find(&end).expect("the section ends");
    let mut body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    body.insert_str(0, &text[..start]);
    body + &text[stop..]
}

/// The damaged files the firmware loader is given: the kernel refused exactly those
/// `linux_read(.., Firmware)` refuses and read the EDID window instead, kept the CTA block whose
/// only fault is its checksum, and built each list in one probe. The check fails an EDID, and
/// only that one, when the record says otherwise.
#[test]
fn the_firmware_loaders_refusals_and_one_probe_are_checked() {
    let text = include_str!("../snapshots/edid-corpus-linux.txt");
    assert!(failing(text).is_empty());
    for (name, refused) in [
        ("fw-base-checksum", true),
        ("fw-header-7of8", true),
        ("fw-cta-truncated", true),
        ("fw-cta-checksum", false),
    ] {
        let read = edid::linux_read(&edid_corpus::by_name(name), edid::ReadPath::Firmware);
        assert_eq!(read.is_err(), refused, "{name}: {read:?}");
        let log = section(text, &format!("LOG-{name}"));
        assert_eq!(
            log.iter().any(|l| l.starts_with("Invalid firmware EDID")),
            refused,
            "{name}: {log:?}"
        );
        assert_eq!(edid_corpus::probes(&log), 1, "{name}: {log:?}");
    }
    let window = edid_corpus::unhex(&section(text, "EDID")).unwrap();
    assert_eq!(
        edid_corpus::unhex(&section(text, "EDID-fw-base-checksum")),
        Some(window),
        "a refused file leaves the kernel the window's EDID"
    );

    // The refused file recorded as the EDID the kernel kept.
    let hex: Vec<String> = edid_corpus::by_name("fw-base-checksum")
        .chunks(16)
        .map(|row| row.iter().map(|b| format!(" {b:02x}")).collect())
        .collect();
    let kept_file = with_section(text, "EDID-fw-base-checksum", &hex);
    assert_eq!(failing(&kept_file), ["fw-base-checksum"]);
    // A refusal the kernel did not log, and one it logged for a file linux_read keeps.
    let keep_lines = |name: &str, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        section(text, &format!("LOG-{name}"))
            .into_iter()
            .filter(|l| keep(l))
            .map(String::from)
            .collect()
    };
    let silent = with_section(
        text,
        "LOG-fw-header-7of8",
        &keep_lines("fw-header-7of8", &|l| !l.starts_with("Invalid")),
    );
    assert_eq!(failing(&silent), ["fw-header-7of8"]);
    let mut refusal = keep_lines("fw-cta-checksum", &|_| true);
    refusal.insert(
        0,
        "Invalid firmware EDID \"edid/fw-cta-checksum.bin\"".to_string(),
    );
    let refused_kept = with_section(text, "LOG-fw-cta-checksum", &refusal);
    assert_eq!(failing(&refused_kept), ["fw-cta-checksum"]);
    // A second probe of the connector.
    let mut twice = keep_lines("tv-1080i", &|_| true);
    let probe = twice
        .iter()
        .find(|l| l.starts_with("[CONNECTOR:"))
        .cloned()
        .unwrap();
    twice.push(probe);
    let probed_twice = with_section(text, "LOG-tv-1080i", &twice);
    assert_eq!(failing(&probed_twice), ["tv-1080i"]);
}

/// A kernel mode line (`modes.c`'s) with its flags changed by `flags`.
fn with_flags(line: &str, flags: impl Fn(u32) -> u32) -> String {
    let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
    let old = u32::from_str_radix(words[10].trim_start_matches("0x"), 16).unwrap();
    words[10] = format!("{:#x}", flags(old));
    words.join(" ")
}

/// A kernel mode line as drm's "Rejected mode" debug line gives it, with `status`.
fn as_rejected(line: &str, status: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    let flags = u32::from_str_radix(w[10].trim_start_matches("0x"), 16).unwrap() & !(0xf << 19);
    format!(
        "\"{}\": 60 {} {} {:#x} ({status})",
        w[0],
        w[1..10].join(" "),
        w[11],
        flags
    )
}

/// The driver's rejections and the kernel's stereo twins: an empty kernel list passes when the
/// driver rejected every mode of ours (its memory), and fails when it did not say so; a stereo
/// 3D twin of a mode is set aside, the same line without its 3D flags is a difference.
#[test]
fn the_comparison_sets_aside_the_drivers_rejections_and_stereo_twins() {
    let text = include_str!("../snapshots/edid-corpus-linux.txt");
    let blob = edid_corpus::by_name("slot3-preferred");
    let ours = edid::decode(&blob).unwrap().linux_modes();
    let kernel = section(text, "CORPUS-slot3-preferred");
    let rejected = section(text, "REJECTED-slot3-preferred");
    assert!(edid_corpus::compare(&ours, &kernel, &rejected).0);

    // Every mode rejected for the driver's memory: nothing listed, and that is right.
    let mut all_rejected: Vec<String> = kernel.iter().map(|l| as_rejected(l, "MEM")).collect();
    all_rejected.extend(rejected.iter().map(|l| l.to_string()));
    let all_rejected: Vec<&str> = all_rejected.iter().map(String::as_str).collect();
    let (ok, why) = edid_corpus::compare(&ours, &[], &all_rejected);
    assert!(ok, "{why}");
    let (ok, _) = edid_corpus::compare(&ours, &[], &rejected);
    assert!(!ok, "an empty list the driver did not explain");
    assert!(
        !edid_corpus::compare(&[], &[], &[]).0,
        "nothing heard at all"
    );

    // A frame-packing twin (DRM_MODE_FLAG_3D_FRAME_PACKING, bit 14) of the first mode.
    let twin = with_flags(kernel[0], |f| f | 1 << 14);
    let mut with_twin: Vec<&str> = kernel.clone();
    with_twin.insert(1, &twin);
    assert!(edid_corpus::compare(&ours, &with_twin, &rejected).0);
    let mut with_plain: Vec<&str> = kernel.clone();
    with_plain.insert(1, kernel[0]);
    assert!(!edid_corpus::compare(&ours, &with_plain, &rejected).0);
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
    let blob = edid_corpus::by_name("gtf-illegal");
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
        .filter_map(|(_, blob)| edid::decode(blob).ok())
        .flat_map(|decoded| decoded.linux_modes())
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

/// The corpus's HDMI 2.1 monitor with a DisplayID block inside its HF-EEODB's count: the
/// DisplayID timing (1920x1080 at 240 Hz) is on the Linux list only because the count is
/// followed.
#[test]
fn a_displayid_block_an_hf_eeodb_declares_is_read() {
    let blob = edid_corpus::by_name("hf-eeodb-displayid");
    assert_eq!((blob.len(), blob[126]), (512, 1));
    let fast = |blob: &[u8]| {
        edid::decode(blob)
            .unwrap()
            .linux_modes()
            .into_iter()
            .filter(|m| m.source == "displayid")
            .map(|m| (m.mode.width, m.mode.height, m.mode.refresh_mhz))
            .collect::<Vec<_>>()
    };
    assert_eq!(fast(&blob), [(1920, 1080, 240_000)]);
    // Without the EEODB (another extended tag), the base block's one extension is all.
    let mut plain = blob.clone();
    plain[128 + 5] = 0x77;
    crate::common::edid_corpus::fix_checksum(&mut plain[128..256]);
    assert_eq!(fast(&plain), []);
}

/// The detailed modes of a corpus EDID's Linux list: (width, height, clock kHz, positive
/// hsync, positive vsync, interlaced, preferred).
fn detailed(name: &str) -> Vec<(u32, u32, u32, bool, bool, bool, bool)> {
    edid::decode(&edid_corpus::by_name(name))
        .unwrap()
        .linux_modes()
        .into_iter()
        .filter(|m| m.source == "detailed")
        .map(|m| {
            (
                m.mode.width,
                m.mode.height,
                m.timing.clock_khz,
                m.timing.hsync_positive,
                m.timing.vsync_positive,
                m.interlaced,
                m.preferred,
            )
        })
        .collect()
}

/// `blob` with the corpus's own id (VFD, product 0x42), which no quirk names.
fn unquirked(blob: &[u8]) -> Vec<u8> {
    edid_corpus::with_id(blob, *b"VFD", 0x42)
}

/// Monitors in Linux's table of known broken EDIDs get the modes a guest gives them: the
/// preferred mark moved to the largest mode nearest 60 or 75 Hz, positive syncs, CVT reduced
/// blanking in place of each detailed timing, the kernel's 10.88 MHz clock. The same bytes
/// under another manufacturer's id get none of it.
#[test]
fn monitors_of_linuxs_quirk_table_get_the_modes_a_guest_gives_them() {
    let preferred = |blob: &[u8]| {
        let modes = edid::decode(blob).unwrap().linux_modes();
        let marked: Vec<(u32, u32, u32)> = modes
            .iter()
            .filter(|m| m.preferred)
            .map(|m| (m.mode.width, m.mode.height, m.mode.refresh_mhz / 1000))
            .collect();
        assert_eq!(marked.len(), 1, "one preferred mode: {modes:?}");
        assert!(modes[0].preferred, "the preferred mode is first");
        marked[0]
    };
    let sixty = edid_corpus::by_name("quirk-prefer-60");
    assert_eq!(preferred(&sixty), (1680, 1050, 59));
    assert_eq!(
        preferred(&edid_corpus::by_name("quirk-prefer-75")),
        (1680, 1050, 74)
    );
    assert_eq!(preferred(&unquirked(&sixty)), (1024, 768, 60));

    // DETAILED_SYNC_PP: both DTDs positive on both axes, their timings otherwise as given.
    let sync = detailed("quirk-sync-pp");
    assert_eq!(sync.len(), 2, "{sync:?}");
    assert!(sync.iter().all(|m| m.3 && m.4), "{sync:?}");
    assert_eq!((sync[0].2, sync[1].2), (154_000, 119_000));

    // FORCE_REDUCED_BLANKING: CVT-RB at 60 Hz for each DTD's size, the 1080i one progressive,
    // at the kernel's clocks (which it does not round to CVT's 250 kHz steps).
    let rb = detailed("quirk-reduced-blanking");
    assert_eq!(
        rb,
        [
            (1680, 1050, 119_217, true, false, false, true),
            (1920, 540, 69_305, true, false, false, false)
        ],
        "CVT-RB, +hsync -vsync"
    );
    let plain = edid::decode(&unquirked(&edid_corpus::by_name("quirk-reduced-blanking")))
        .unwrap()
        .linux_modes();
    assert!(
        plain
            .iter()
            .any(|m| m.source == "detailed" && m.timing.clock_khz == 146_250),
        "{plain:?}"
    );

    // 135_CLOCK_TOO_HIGH: 135 MHz read as 10.88 MHz.
    assert_eq!(
        detailed("quirk-135-clock"),
        [(1280, 1024, 10_880, true, true, false, true)]
    );
}

/// `edid decode` names the quirks a guest applies, in its text and in `--json`.
#[test]
fn edid_decode_names_the_quirks_a_guest_applies() {
    use crate::common::cli::{path_str, run, stdout, tmp};
    let dir = tmp();
    let path = dir.path().join("quirk.bin");
    std::fs::write(&path, edid_corpus::by_name("quirk-prefer-75")).unwrap();
    let path = path_str(&path);
    let out = run(&["edid", "decode", path]);
    assert!(
        stdout(&out).contains(
            "Linux quirks (its table of known monitors): PREFER_LARGE_75 (the largest mode \
             nearest 75 Hz is preferred)"
        ),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["edid", "decode", "--json", path]).stdout).unwrap();
    assert_eq!(json["linux_quirks"][0]["name"], "PREFER_LARGE_75");
    // An EDID no quirk names has no such line, and an empty list.
    std::fs::write(
        dir.path().join("plain.bin"),
        edid_corpus::by_name("tv-1080i"),
    )
    .unwrap();
    let plain = dir.path().join("plain.bin");
    let plain = path_str(&plain);
    assert!(!stdout(&run(&["edid", "decode", plain])).contains("Linux quirks"));
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["edid", "decode", "--json", plain]).stdout).unwrap();
    assert_eq!(json["linux_quirks"], serde_json::json!([]));
}
