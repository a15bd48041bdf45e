//! EDID end to end: generated EDIDs checked by edid-decode (the Debian package), the `edid`
//! commands on files, and hot-plugs on the simulated vGPU.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, assert_ok, path_str, run, stderr, stdout, tmp};
use std::path::Path;
use std::process::Command;
use vfio_display::edid::{self, DetailedTiming, EdidSpec, Mode};

/// Sizes from 640x480 to 7680x4320: common monitors, the DTD limit (4095) on both sides of it,
/// and odd sizes.
const GRID: &[(u32, u32)] = &[
    (640, 480),
    (641, 481),
    (800, 600),
    (1023, 767),
    (1024, 768),
    (1280, 720),
    (1280, 1024),
    (1365, 767),
    (1366, 768),
    (1440, 900),
    (1600, 900),
    (1680, 1050),
    (1920, 1080),
    (1920, 1200),
    (1921, 1081),
    (2048, 1152),
    (2560, 1080),
    (2560, 1440),
    (2561, 1439),
    (3440, 1440),
    (3839, 2161),
    (3840, 2160),
    (4095, 4095),
    (4096, 2160),
    (4097, 2161),
    (5120, 1440),
    (5120, 2880),
    (6016, 3384),
    (7679, 4319),
    (7680, 4320),
];

/// What `edid-decode --check` said: its exit status and its warning lines.
struct Check {
    passed: bool,
    warnings: Vec<String>,
    output: String,
}

fn edid_decode_check(path: &Path) -> Check {
    let out = Command::new("edid-decode")
        .arg("--check")
        .arg(path)
        .output()
        .expect("edid-decode runs (install the Debian package edid-decode)");
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    let warnings = output
        .lines()
        .skip_while(|l| *l != "Warnings:")
        .skip(1)
        .take_while(|l| !l.starts_with("Failures:") && !l.starts_with("EDID conformity"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .map(String::from)
        .collect();
    Check {
        passed: out.status.success()
            && output.contains("EDID conformity: PASS")
            && !output.contains("\nFailures:"),
        warnings,
        output,
    }
}

/// The warnings edid-decode (2022) gives every conforming EDID of ours, and why they stay:
/// - it calls every PNP id in a DisplayID product identification block an unknown OUI, though
///   DisplayID 1.3 defines that field as a PNP id;
/// - a range-limits descriptor cannot state more than 510 kHz or 2550 MHz, so 8K above 60 Hz is
///   "out of range" of a descriptor already at its maximum (EDID 1.4 lets explicit timings
///   supersede the range).
fn unexplained_warnings(check: &Check, beyond_range_limits: bool) -> Vec<String> {
    check
        .warnings
        .iter()
        .filter(|w| !(w.contains("Unknown OUI") && w.contains("possible PNP")))
        .filter(|w| {
            !(beyond_range_limits
                && (w.contains("out of range of the Monitor Ranges")
                    || w.starts_with("Horizontal Freq")
                    || w.starts_with("Maximum Clock")))
        })
        .cloned()
        .collect()
}

fn beyond_range_limits(blob: &[u8]) -> bool {
    let d = edid::decode(blob).unwrap();
    d.detailed_timings()
        .iter()
        .any(|(t, _)| t.pixel_clock_khz > 2_550_000 || t.h_freq_hz() > 510_000.0)
}

/// An EDID with one byte range changed and its base block's checksum made right again.
fn altered(blob: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = blob.to_vec();
    out[at..at + bytes.len()].copy_from_slice(bytes);
    let sum = out[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    out[127] = 0u8.wrapping_sub(sum);
    out
}

#[test]
fn modes_the_generator_cannot_make_valid_are_refused_the_rest_pass_edid_decode() {
    let dir = tmp();
    // Under the 10 MHz a detailed timing can state: refused with the limit in the message.
    for mode in [
        "64x64@60",
        "100x100@60",
        "320x200@60",
        "640x480@10",
        "640x480@24",
        "4096x64@60",
    ] {
        let out = run(&[
            "edid",
            "generate",
            "--mode",
            mode,
            "-o",
            path_str(&dir.path().join("x.bin")),
        ]);
        assert_clean_failure(&out, 1, "10 ");
        assert!(stderr(&out).contains("MHz"), "{mode}: {}", stderr(&out));
    }
    // Larger than the 255 cm a base block can state: the panel size is scaled to fit.
    for mode in [
        "16384x16384@60",
        "16384x16384@30",
        "16384x2048@60",
        "640x480@30",
    ] {
        let path = dir.path().join(format!("{mode}.bin"));
        assert_ok(&run(&[
            "edid",
            "generate",
            "--mode",
            mode,
            "-o",
            path_str(&path),
        ]));
        let check = edid_decode_check(&path);
        assert!(check.passed, "{mode}:\n{}", check.output);
        assert_ok(&run(&["edid", "decode", path_str(&path)]));
    }
}

#[test]
fn our_decoder_fails_the_detailed_timings_edid_decode_fails() {
    let dir = tmp();
    let good = edid::generate(&EdidSpec::new(Mode::new(1024, 768, 60))).unwrap();
    // The first DTD starts at byte 54: its clock (10 kHz units, little endian), then its image
    // size at +12..+14 (mm, low bytes, then the high nibbles).
    let cases = [
        (
            "slow-clock",
            altered(&good, 54, &999u16.to_le_bytes()),
            "under 10 MHz",
        ),
        (
            "huge-image",
            altered(&good, 54 + 12, &[0xff, 0xff, 0xff]),
            "larger than the display size",
        ),
    ];
    for (name, blob, problem) in cases {
        let path = dir.path().join(format!("{name}.bin"));
        std::fs::write(&path, &blob).unwrap();
        assert!(
            !edid_decode_check(&path).passed,
            "edid-decode passes {name}"
        );
        let out = run(&["edid", "decode", path_str(&path)]);
        assert_clean_failure(&out, 1, problem);
    }
}

/// The line edid-decode prints for the first detailed timing ("DTD 1: ...").
fn edid_decode_dtd1(path: &Path) -> String {
    let out = Command::new("edid-decode").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("DTD 1:"))
        .unwrap_or_else(|| panic!("no DTD 1 in edid-decode's output"))
        .to_string()
}

#[test]
fn interlaced_timings_give_their_field_rate_as_edid_decode_does() {
    let dir = tmp();
    // CTA-861's 1080i60: 74.25 MHz, 2200 x 1125 lines per frame (two fields of 562.5).
    let i1080 = DetailedTiming {
        pixel_clock_khz: 74_250,
        h_active: 1920,
        h_blank: 280,
        h_front: 88,
        h_sync: 44,
        v_active: 540,
        v_blank: 22,
        v_front: 2,
        v_sync: 5,
        width_mm: 600,
        height_mm: 340,
        interlaced: true,
        hsync_positive: true,
        vsync_positive: true,
    };
    let good = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
    let blob = altered(&good[..128], 54, &i1080.encode_dtd().unwrap());
    let path = dir.path().join("1080i.bin");
    std::fs::write(&path, &blob).unwrap();
    let theirs = edid_decode_dtd1(&path);
    assert!(
        theirs.contains("1920x1080i") && theirs.contains(" 60.000000 Hz"),
        "{theirs}"
    );
    let ours = edid::decode(&blob).unwrap().preferred_mode().unwrap();
    assert_eq!(
        (ours.width, ours.height, ours.refresh_mhz),
        (1920, 1080, 60_000)
    );
}

#[test]
fn dates_and_manufacturer_ids_read_as_edid_decode_reads_them() {
    let dir = tmp();
    let good = edid::generate(&EdidSpec::new(Mode::new(1024, 768, 60))).unwrap();
    // Week 0: "not specified", no week at all.
    let d = edid::decode(&altered(&good, 16, &[0])).unwrap();
    assert_eq!((d.week, d.model_year, d.problems.len()), (None, false, 0));
    // Week 0xff: the year is a model year.
    let d = edid::decode(&altered(&good, 16, &[0xff, 30])).unwrap();
    assert_eq!((d.week, d.model_year, d.year), (None, true, 2020));
    let path = dir.path().join("model-year.bin");
    std::fs::write(&path, altered(&good, 16, &[0xff, 30])).unwrap();
    let out = run(&["edid", "decode", path_str(&path)]);
    assert!(stdout(&out).contains("model year 2020"), "{}", stdout(&out));
    // A manufacturer id with no letters in it: both decoders fail it.
    let path = dir.path().join("no-vendor.bin");
    std::fs::write(&path, altered(&good, 8, &[0, 0])).unwrap();
    assert!(!edid_decode_check(&path).passed);
    let out = run(&["edid", "decode", path_str(&path)]);
    assert_clean_failure(&out, 1, "manufacturer id 0x0000 is not three letters");
}

#[test]
fn every_generated_edid_in_the_grid_passes_edid_decode_check() {
    let dir = tmp();
    let mut checked = 0;
    for &(w, h) in GRID {
        for hz in [30, 60, 120] {
            let mode = Mode::new(w, h, hz);
            let mut specs = vec![("full", EdidSpec::new(mode))];
            let timing = edid::cvt_reduced_blanking(w, h, mode.refresh_mhz);
            if DetailedTiming::from_cvt(&timing, 0, 0).fits_dtd() {
                specs.push((
                    "base-only",
                    EdidSpec {
                        max_size: 128,
                        ..EdidSpec::new(mode)
                    },
                ));
            }
            specs.push((
                "extra-modes",
                EdidSpec {
                    extra_modes: vec![Mode::new(w / 2, h / 2, 60), Mode::new(1366, 768, 75)],
                    ..EdidSpec::new(mode)
                },
            ));
            for (kind, spec) in specs {
                let blob = edid::generate(&spec).unwrap_or_else(|e| panic!("{mode} {kind}: {e}"));
                if kind == "base-only" {
                    assert_eq!(blob.len(), 128, "{mode}");
                }
                let path = dir.path().join(format!("{w}x{h}@{hz}-{kind}.bin"));
                std::fs::write(&path, &blob).unwrap();
                let check = edid_decode_check(&path);
                assert!(check.passed, "{mode} {kind}:\n{}", check.output);
                let left = unexplained_warnings(&check, beyond_range_limits(&blob));
                assert!(left.is_empty(), "{mode} {kind}: {left:?}\n{}", check.output);
                checked += 1;
            }
        }
    }
    assert!(checked >= 200, "{checked}");
}

#[test]
fn generate_then_decode_gives_back_mode_name_and_serial() {
    let dir = tmp();
    let file = dir.path().join("panel.bin");
    let out = run(&[
        "edid",
        "generate",
        "--mode",
        "2560x1440@75",
        "--name",
        "Lab Panel 7",
        "--serial",
        "SN-0042",
        "--vendor",
        "abc",
        "-o",
        path_str(&file),
    ]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("preferred mode 2560x1440@74.9"),
        "{}",
        stdout(&out)
    );
    let out = run(&["edid", "decode", path_str(&file), "--json"]);
    assert_ok(&out);
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert_eq!(v["preferred_mode"]["width"], 2560);
    assert_eq!(v["preferred_mode"]["height"], 1440);
    let mhz = v["preferred_mode"]["refresh_mhz"].as_u64().unwrap();
    assert!((74_000..=75_000).contains(&mhz), "{mhz}");
    assert_eq!(v["vendor"], "ABC");
    assert_eq!(v["version"], "1.4");
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let names: Vec<&str> = v["descriptors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["text"].as_str())
        .collect();
    assert_eq!(names, ["Lab Panel 7", "SN-0042"]);
    // The text form says the same.
    let out = run(&["edid", "decode", path_str(&file)]);
    assert_ok(&out);
    let text = stdout(&out);
    for needle in [
        "Preferred mode: 2560x1440@74.9",
        "Monitor name: Lab Panel 7",
        "Serial number: SN-0042",
        "Range limits:",
        "Checksums and structure: correct",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn generate_to_stdout_and_hex_input_give_the_same_bytes() {
    let dir = tmp();
    let file = dir.path().join("a.bin");
    assert_ok(&run(&[
        "edid",
        "generate",
        "--mode",
        "5120x2880",
        "-o",
        path_str(&file),
    ]));
    let out = run(&["edid", "generate", "--mode", "5120x2880", "-o", "-"]);
    assert_ok(&out);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(out.stdout, bytes);
    assert_eq!(bytes.len(), 256);
    assert!(
        stderr(&out).contains("1 extension block"),
        "{}",
        stderr(&out)
    );
    // The same EDID as hex text, as edid-decode or a bug report shows it, decodes the same.
    let hex: Vec<String> = bytes
        .chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let hex_file = dir.path().join("a.hex");
    std::fs::write(&hex_file, hex.join("\n")).unwrap();
    let a = run(&["edid", "decode", path_str(&file), "--json"]);
    let b = run(&["edid", "decode", path_str(&hex_file), "--json"]);
    assert_ok(&b);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn corrupt_edid_files_get_one_clear_line() {
    let dir = tmp();
    let good = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let truncated = write("truncated.bin", &good[..100]);
    let out = run(&["edid", "decode", path_str(&truncated)]);
    assert_clean_failure(&out, 1, "a base block needs 128");
    let mut flipped = good.clone();
    flipped[60] ^= 0x55;
    let flipped = write("flipped.bin", &flipped);
    let out = run(&["edid", "decode", path_str(&flipped)]);
    assert_clean_failure(&out, 1, "checksum is wrong");
    // What can be decoded is still shown.
    assert!(stdout(&out).contains("Monitor name: vfio-display"));
    let garbage = write("garbage.bin", &[0x42; 256]);
    let out = run(&["edid", "decode", path_str(&garbage)]);
    assert_clean_failure(&out, 1, "header is wrong");
    let empty = write("empty.bin", &[]);
    assert_clean_failure(&run(&["edid", "decode", path_str(&empty)]), 1, "is empty");
    let missing = dir.path().join("missing.bin");
    assert_clean_failure(
        &run(&["edid", "decode", path_str(&missing)]),
        1,
        "cannot read",
    );
    // An extension block the base block declares but the file lacks.
    let mut short = edid::generate(&EdidSpec::new(Mode::new(4096, 2160, 60))).unwrap();
    short.truncate(200);
    let short = write("short.bin", &short);
    assert_clean_failure(
        &run(&["edid", "decode", path_str(&short)]),
        1,
        "declares 1 extensions",
    );
}

#[test]
fn impossible_generate_requests_are_refused() {
    let dir = tmp();
    let out_path = dir.path().join("x.bin");
    let o = path_str(&out_path);
    let out = run(&["edid", "generate", "--mode", "1920by1080", "-o", o]);
    assert_clean_failure(&out, 2, "WIDTHxHEIGHT");
    let out = run(&[
        "edid",
        "generate",
        "--mode",
        "4096x2160",
        "--max-size",
        "128",
        "-o",
        o,
    ]);
    assert_clean_failure(&out, 1, "needs 256 bytes but at most 128");
    let out = run(&[
        "edid",
        "generate",
        "--mode",
        "1024x768",
        "--name",
        "fourteen chars",
        "-o",
        o,
    ]);
    assert_clean_failure(&out, 1, "13 printable");
    let out = run(&["edid", "generate", "--mode", "20000x20000", "-o", o]);
    assert_clean_failure(&out, 1, "64 to 16384");
    let out = run(&[
        "edid", "generate", "--mode", "1024x768", "--vendor", "A1", "-o", o,
    ]);
    assert_clean_failure(&out, 2, "PNP vendor id");
    assert!(!out_path.exists(), "nothing written on failure");
}

#[test]
fn set_on_the_simulator_switches_the_guest_mode() {
    let out = run(&["edid", "set", "--sim", "--mode", "1920x1080", "--wait"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("preferred mode 1920x1080@59.934"), "{text}");
    assert!(text.contains("The guest shows 1920x1080 after"), "{text}");
    // A preferred mode only a DisplayID extension can carry (3840x2160 at 120 Hz).
    let out = run(&["edid", "set", "--sim", "--mode", "3840x2160@120", "--wait"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("256 bytes, 1 extension block"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("The guest shows 3840x2160"));
}

#[test]
fn set_respects_the_device_maximum_unless_forced() {
    let out = run(&["edid", "set", "--sim", "--mode", "7680x4320"]);
    assert_clean_failure(&out, 1, "exceeds the device's maximum 3840x2160");
    let out = run(&["edid", "set", "--sim", "--mode", "7680x4320", "--force"]);
    assert_ok(&out);
    // The simulated guest cannot show it (its video memory is too small): --wait says so.
    let out = run(&[
        "edid",
        "set",
        "--sim",
        "--mode",
        "7680x4320",
        "--force",
        "--wait",
        "--timeout",
        "0.3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("written because of --force"), "{err}");
    assert!(
        err.contains("did not switch to 7680x4320 within 0.3 s"),
        "{err}"
    );
}

#[test]
fn set_from_a_file_checks_the_file() {
    let dir = tmp();
    let good = dir.path().join("good.bin");
    assert_ok(&run(&[
        "edid",
        "generate",
        "--mode",
        "1280x720",
        "-o",
        path_str(&good),
    ]));
    let out = run(&["edid", "set", "--sim", "--file", path_str(&good), "--wait"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("The guest shows 1280x720"));
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[20] ^= 1;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let out = run(&["edid", "set", "--sim", "--file", path_str(&bad)]);
    assert_clean_failure(&out, 1, "checksum is wrong; --force writes it anyway");
    assert_ok(&run(&[
        "edid",
        "set",
        "--sim",
        "--file",
        path_str(&bad),
        "--force",
    ]));
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 2048]).unwrap();
    let out = run(&["edid", "set", "--sim", "--file", path_str(&big)]);
    assert_clean_failure(&out, 1, "takes at most 1024 (edid_max_size)");
    let out = run(&["edid", "set", "--sim"]);
    assert_clean_failure(&out, 2, "--mode");
}

#[test]
fn link_up_and_down() {
    let out = run(&["edid", "link", "--sim", "down"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("Link down"), "{}", stdout(&out));
    let out = run(&["edid", "link", "--sim", "up"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("Link up"));
    assert_clean_failure(
        &run(&["edid", "link", "--sim", "sideways"]),
        2,
        "neither up nor down",
    );
    assert_clean_failure(&run(&["edid", "link", "up"]), 2, "name exactly one device");
}

#[test]
fn hotswap_runs_100_swaps_on_the_simulator_without_a_failure() {
    let out = run(&[
        "edid",
        "hotswap",
        "--sim",
        "--modes",
        "1280x720,1024x768@75,1920x1080",
        "--repeat",
        "34",
        "--link-delay-ms",
        "5",
        "--json",
    ]);
    assert_ok(&out);
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert_eq!(v["total"], 102);
    assert_eq!(v["shown"], 102);
    assert_eq!(v["timed_out"], 0);
    let swaps = v["swaps"].as_array().unwrap();
    assert_eq!(swaps.len(), 102);
    // After the first, every swap changes the size, so every latency is a real one.
    for swap in &swaps[1..] {
        assert_eq!(swap["unchanged"], false, "{swap}");
        assert!(swap["latency_ms"].as_f64().unwrap() >= 5.0, "{swap}");
    }
    assert!(v["latency"]["max_ms"].as_f64().unwrap() < 10_000.0);
}

#[test]
fn hotswap_reports_timeouts_and_exits_non_zero() {
    let out = run(&[
        "edid",
        "hotswap",
        "--sim",
        "--modes",
        "1280x720,3840x2160",
        "--force",
        "--sim-mode",
        "640x480",
        "--timeout",
        "0.5",
        "--link-delay-ms",
        "0",
    ]);
    // 3840x2160 fits the simulator, so both swaps succeed; 7680x4320 below does not.
    assert_ok(&out);
    let out = run(&[
        "edid",
        "hotswap",
        "--sim",
        "--modes",
        "1280x720,7680x4320",
        "--force",
        "--timeout",
        "0.3",
        "--link-delay-ms",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1 of 2 swaps timed out"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("swap 2/2 7680x4320@60: TIMED OUT"), "{text}");
    assert!(
        text.contains("2 swaps on simulated vGPU: 1 shown, 1 timed out"),
        "{text}"
    );
}

#[test]
fn an_edid_max_size_below_any_edid_is_one_clear_line_each_way() {
    let dir = tmp();
    let file = dir.path().join("e.bin");
    assert_ok(&run(&[
        "edid",
        "generate",
        "--mode",
        "800x600",
        "-o",
        path_str(&file),
    ]));
    let fault = ["--sim", "--sim-fault", "edid-max-size-small"];
    let with_fault = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&fault);
        run(&all)
    };
    assert_clean_failure(
        &with_fault(&["edid", "set", "--mode", "800x600"]),
        1,
        "the EDID needs 128 bytes but at most 64 are allowed",
    );
    // Not even --force writes past what the device says it holds.
    for force in [&[][..], &["--force"][..]] {
        let mut args = vec!["edid", "set", "--file", path_str(&file)];
        args.extend_from_slice(force);
        assert_clean_failure(
            &with_fault(&args),
            1,
            "is 128 bytes but the device takes at most 64 (edid_max_size)",
        );
    }
    assert_clean_failure(
        &with_fault(&["edid", "show"]),
        1,
        "edid_size 128 exceeds edid_max_size 64",
    );
    // An unwritable output and a truncated input file.
    assert_clean_failure(
        &run(&[
            "edid",
            "generate",
            "--mode",
            "800x600",
            "-o",
            "/nonexistent-dir/e.bin",
        ]),
        1,
        "cannot write /nonexistent-dir/e.bin",
    );
    let truncated = dir.path().join("t.bin");
    std::fs::write(&truncated, &std::fs::read(&file).unwrap()[..100]).unwrap();
    assert_clean_failure(
        &run(&["edid", "set", "--sim", "--file", path_str(&truncated)]),
        1,
        "EDID is 100 bytes; a base block needs 128",
    );
    assert_clean_failure(
        &run(&["edid", "generate", "--mode", "800x", "-o", path_str(&file)]),
        2,
        "height is not a number",
    );
}
