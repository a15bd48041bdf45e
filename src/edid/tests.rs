//! Generator and decoder together: what is generated decodes to what was asked for.

use super::*;

fn modes_grid() -> Vec<Mode> {
    let sizes = [
        (640, 480),
        (641, 481),
        (800, 600),
        (1023, 767),
        (1024, 768),
        (1280, 720),
        (1366, 768),
        (1920, 1080),
        (2560, 1440),
        (3840, 2160),
        (4095, 2305),
        (4096, 2160),
        (5120, 2880),
        (7679, 4319),
        (7680, 4320),
    ];
    let mut out = Vec::new();
    for (w, h) in sizes {
        for hz in [30, 60, 120] {
            out.push(Mode::new(w, h, hz));
        }
    }
    out
}

#[test]
fn every_grid_mode_round_trips_clean() {
    for mode in modes_grid() {
        let blob = generate(&EdidSpec::new(mode)).unwrap();
        let d = decode(&blob).unwrap();
        assert!(d.problems.is_empty(), "{mode}: {:?}", d.problems);
        let got = d.preferred_mode().unwrap();
        assert!(got.same_size(&mode), "{mode}: preferred {got}");
        // CVT rounds the clock down to 0.25 MHz: a little under the asked rate, never over.
        assert!(
            got.refresh_mhz <= mode.refresh_mhz && got.refresh_mhz * 100 >= mode.refresh_mhz * 98,
            "{mode}: {got}"
        );
        assert_eq!(preferred_mode(&blob), Ok(got));
        let limits = d.range_limits().unwrap();
        for (t, _) in d.detailed_timings() {
            if t.pixel_clock_khz > 2_550_000 || t.h_freq_hz() > 510_000.0 {
                // Beyond what a range-limits descriptor can state: the limits are at maximum.
                assert_eq!((limits.max_pixel_clock_mhz, limits.max_h_khz), (2550, 510));
                continue;
            }
            let v = f64::from(t.refresh_mhz()) / 1000.0;
            assert!(
                limits.contains(v, t.h_freq_hz(), t.pixel_clock_khz),
                "{mode}: {t:?} outside {limits:?}"
            );
        }
        // Base-only when the preferred mode fits a DTD, else one DisplayID block.
        let fits = mode.width <= 4095 && blob.len() == 128 || blob.len() == 256;
        assert!(fits, "{mode}: {} bytes", blob.len());
    }
}

#[test]
fn identity_round_trips() {
    let mut spec = EdidSpec::new(Mode::new(1920, 1080, 60));
    spec.identity = Identity {
        vendor: *b"ABC",
        product: 0x1234,
        serial: 99,
        week: 12,
        year: 2031,
        name: "Test Panel".into(),
        serial_text: "SN-42".into(),
    };
    let d = decode(&generate(&spec).unwrap()).unwrap();
    assert_eq!(d.vendor, "ABC");
    assert_eq!(d.product, 0x1234);
    assert_eq!(d.serial_number, 99);
    assert_eq!((d.week, d.year), (Some(12), 2031));
    assert_eq!(d.name(), Some("Test Panel"));
    assert_eq!(d.serial_text(), Some("SN-42"));
    assert_eq!(d.version, "1.4");
}

#[test]
fn smaller_classic_modes_are_listed_below_the_preferred_one() {
    let d = decode(&generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap()).unwrap();
    assert_eq!(
        d.established
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["640x480@59.940", "800x600@60.317", "1024x768@60.004"]
    );
    // Standard timings carry their DMT timing's exact rate.
    assert!(d.standard.contains(&Mode::new(1280, 720, 60)));
    assert!(
        d.standard
            .iter()
            .any(|m| m.to_string() == "1680x1050@59.954")
    );
    assert!(!d.standard.iter().any(|m| m.width > 1920 || m.height > 1080));
    assert!(
        !d.standard.contains(&Mode::new(1920, 1080, 60)),
        "no duplicate"
    );
    let small = decode(&generate(&EdidSpec::new(Mode::new(640, 480, 60))).unwrap()).unwrap();
    assert!(small.established.is_empty() && small.standard.is_empty());
}

#[test]
fn extra_modes_go_to_displayid_blocks() {
    let mut spec = EdidSpec::new(Mode::new(1920, 1080, 60));
    spec.extra_modes = parse_mode_list("2560x1440,1366x768@75,1920x1080,3000x2000@30").unwrap();
    let blob = generate(&spec).unwrap();
    // The preferred mode leads the DisplayID list (DisplayID needs a preferred timing); the
    // first section also describes the product, so it holds three timings and the fourth
    // goes to a second block.
    assert_eq!(blob.len(), 384);
    let d = decode(&blob).unwrap();
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let timings: Vec<&DisplayIdTiming> = d
        .extensions
        .iter()
        .flat_map(|e| match e {
            Extension::DisplayId(block) => block.timings.iter().collect::<Vec<_>>(),
            other => panic!("expected DisplayID, got {other:?}"),
        })
        .collect();
    // The duplicate of the preferred mode is dropped; only the preferred mode is marked.
    assert_eq!(timings.len(), 4);
    assert!(timings[0].preferred && timings[0].timing.mode().same_size(&spec.preferred));
    assert!(timings[1..].iter().all(|t| !t.preferred));
    assert!(
        d.preferred_mode()
            .unwrap()
            .same_size(&Mode::new(1920, 1080, 60))
    );
    let sizes: Vec<(u32, u32)> = d.all_modes().iter().map(|m| (m.width, m.height)).collect();
    for size in [(2560, 1440), (1366, 768), (3000, 2000)] {
        assert!(sizes.contains(&size), "{size:?} in {sizes:?}");
    }
    // Twelve extras and the preferred mode need three DisplayID blocks (3 + 5 + 5).
    spec.extra_modes = (0..12).map(|i| Mode::new(800 + i * 16, 600, 60)).collect();
    assert_eq!(generate(&spec).unwrap().len(), 4 * 128);
    spec.max_size = 256;
    assert_eq!(
        generate(&spec),
        Err(EdidError::NoRoom {
            needed: 512,
            max: 256
        })
    );
}

#[test]
fn large_modes_keep_a_fitting_dtd_and_a_preferred_displayid_timing() {
    let d = decode(&generate(&EdidSpec::new(Mode::new(7680, 4320, 60))).unwrap()).unwrap();
    let Some(Descriptor::DetailedTiming(first)) = d.descriptors.first() else {
        panic!("first descriptor is not a timing: {:?}", d.descriptors);
    };
    assert_eq!((first.h_active, first.v_active), (3840, 2160));
    assert!(
        d.preferred_mode()
            .unwrap()
            .same_size(&Mode::new(7680, 4320, 60))
    );
    // Same size at a rate a DTD can clock.
    let d = decode(&generate(&EdidSpec::new(Mode::new(3840, 2160, 120))).unwrap()).unwrap();
    let Some(Descriptor::DetailedTiming(first)) = d.descriptors.first() else {
        panic!("first descriptor is not a timing");
    };
    assert_eq!((first.h_active, first.v_active), (3840, 2160));
    assert_eq!(first.mode().refresh_mhz / 1000, 59);
}

#[test]
fn base_only_devices_get_128_bytes_or_a_clear_refusal() {
    let mut spec = EdidSpec::new(Mode::new(1920, 1080, 60));
    spec.max_size = 128;
    assert_eq!(generate(&spec).unwrap().len(), 128);
    spec.preferred = Mode::new(4096, 2160, 60);
    assert_eq!(
        generate(&spec),
        Err(EdidError::NoRoom {
            needed: 256,
            max: 128
        })
    );
    spec.max_size = 100;
    assert!(matches!(generate(&spec), Err(EdidError::NoRoom { .. })));
}

#[test]
fn impossible_specs_are_refused_with_the_reason() {
    let err = |spec: EdidSpec| generate(&spec).unwrap_err().to_string();
    assert!(err(EdidSpec::new(Mode::new(32, 480, 60))).contains("64 to 16384"));
    assert!(err(EdidSpec::new(Mode::new(640, 480, 1000))).contains("10 to 480 Hz"));
    let with = |f: fn(&mut Identity)| {
        let mut spec = EdidSpec::new(Mode::new(640, 480, 60));
        f(&mut spec.identity);
        err(spec)
    };
    assert!(with(|id| id.name = "a name that is far too long".into()).contains("13 printable"));
    assert!(with(|id| id.vendor = *b"ab1").contains("three letters"));
    assert!(with(|id| id.year = 1980).contains("1990"));
    assert!(with(|id| id.week = 60).contains("week"));
}

#[test]
fn generation_is_deterministic() {
    let spec = EdidSpec::new(Mode::new(1366, 768, 60));
    assert_eq!(generate(&spec), generate(&spec));
}

/// A small deterministic generator for the robustness tests (no dependency needed).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn the_decoder_survives_random_and_mutated_input() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<Vec<u8>> = [
        Mode::new(1920, 1080, 60),
        Mode::new(7680, 4320, 120),
        Mode::new(640, 480, 30),
    ]
    .iter()
    .map(|m| {
        let mut spec = EdidSpec::new(*m);
        spec.extra_modes = vec![Mode::new(1000, 700, 50)];
        generate(&spec).unwrap()
    })
    .collect();
    for round in 0..20_000 {
        let mut blob = if round % 4 == 0 {
            let len = (rng.next() % 700) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if b.len() >= 8 && round % 8 == 0 {
                b[..8].copy_from_slice(&HEADER);
            }
            b
        } else {
            seeds[round % seeds.len()].clone()
        };
        let flips = 1 + rng.next() % 8;
        for _ in 0..flips {
            if blob.is_empty() {
                break;
            }
            let at = (rng.next() as usize) % blob.len();
            blob[at] = rng.next() as u8;
        }
        if rng.next().is_multiple_of(5) {
            let keep = (rng.next() as usize) % (blob.len() + 1);
            blob.truncate(keep);
        }
        if let Ok(d) = decode(&blob) {
            // Everything derived from a decode must be computable too.
            let _ = d.preferred_mode();
            let _ = d.all_modes();
            let _ = serde_json::to_string(&d).unwrap();
        }
    }
}

#[test]
fn bytes_after_the_declared_blocks_are_a_problem() {
    let blob = generate(&EdidSpec::new(Mode::new(1024, 768, 60))).unwrap();
    assert!(decode(&blob).unwrap().problems.is_empty());
    let declared = blob.len();
    for extra in [1usize, 128, 129] {
        let mut padded = blob.clone();
        padded.resize(declared + extra, 0);
        let problems = decode(&padded).unwrap().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(&format!("{extra} byte")),
            "{problems:?}"
        );
        assert!(problems[0].contains("after the last declared block"));
    }
}

#[test]
fn names_padded_with_nuls_read_without_them() {
    let mut d = [0u8; super::descriptor::DESCRIPTOR_LEN];
    d[3] = 0xfc;
    d[5..9].copy_from_slice(b"LG 4");
    assert_eq!(super::descriptor::decode_text(&d), "LG 4");
    d[9] = 0x0a;
    d[10..].fill(b' ');
    assert_eq!(super::descriptor::decode_text(&d), "LG 4");
    assert_eq!(super::descriptor::text_problem(&d), None);
    // Any other byte that is not printable ends the text there, as edid-decode ends it, and
    // is named.
    d[6] = 0x07;
    assert_eq!(super::descriptor::decode_text(&d), "L");
    assert_eq!(
        super::descriptor::text_problem(&d).as_deref(),
        Some("byte 6 is 0x07, which is not printable ASCII (the text ends before it)")
    );
    d[6] = b'G';
    d[12] = 0;
    assert_eq!(super::descriptor::decode_text(&d), "LG 4");
    assert_eq!(
        super::descriptor::text_problem(&d).as_deref(),
        Some("byte 12 is 0x00, but only spaces may follow the 0x0a that ends the text")
    );
}
