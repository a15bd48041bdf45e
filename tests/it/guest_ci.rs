//! Guest CI on the simulator and a real QEMU: needles cut from the simulator's own pictures are
//! waited for and clicked, keys and text reach QEMU's input layer (its trace is the oracle) in
//! os-autoinst's order, a failed wait leaves the picture and the candidates, and a script runs
//! its steps with the same definitions as the commands.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, assert_ok, bin, path_str, stdout, tmp};
use crate::common::qemu::{Qemu, positions, presses};
use crate::common::{assert_same_image, read_png};
use std::path::{Path, PathBuf};
use std::process::Output;
use vfio_display::input::abs_coordinate;

/// Where the simulator's orange window's title bar is in frame 5 (it drifts left about 1.4
/// pixels a frame).
const TITLE_BAR: (u32, u32, u32, u32) = (351, 258, 380, 21);

/// The simulator's frozen frame `frame` as a PNG in `dir`.
fn sim_png(dir: &Path, frame: u64) -> PathBuf {
    let path = dir.join(format!("frame{frame}.png"));
    let out = bin()
        .args([
            "screenshot",
            "--sim",
            "--sim-frame",
            &frame.to_string(),
            "-o",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_ok(&out);
    path
}

/// Writes needle `name` (its JSON and PNG) into `dir` with `areas` as JSON objects.
fn needle(dir: &Path, name: &str, png: &Path, tags: &[&str], areas: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(png, dir.join(format!("{name}.png"))).unwrap();
    let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    std::fs::write(
        dir.join(format!("{name}.json")),
        format!(
            "{{\"area\": [{areas}], \"tags\": [{}], \"properties\": []}}",
            tags.join(", ")
        ),
    )
    .unwrap();
}

fn title_bar_area(extra: &str) -> String {
    let (x, y, w, h) = TITLE_BAR;
    format!(
        "{{\"xpos\": {x}, \"ypos\": {y}, \"width\": {w}, \"height\": {h}, \"type\": \"match\"{extra}}}"
    )
}

/// The needle most tests use: frame 5's orange title bar, tagged `orange`, written into
/// `needles` (below `dir`); returns frame 5's picture too.
fn orange_title_needle(dir: &Path, needles: &Path) -> PathBuf {
    let frame5 = sim_png(dir, 5);
    needle(
        needles,
        "orange-title",
        &frame5,
        &["orange"],
        &title_bar_area(""),
    );
    frame5
}

fn ci(dir: &Path, needles: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .arg("--needles")
        .arg(needles)
        .output()
        .unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn wait_matches_a_needle_where_the_window_moved_to() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    needle(
        &needles.join("desktop"),
        "orange-title",
        &sim_png(dir.path(), 5),
        &["orange"],
        &title_bar_area(""),
    );
    // Frame 5 itself, and frame 30, where the window drifted 36 pixels left (inside the
    // default margin of 50).
    for (frame, x) in [(5, 351), (30, 315)] {
        let out = ci(
            dir.path(),
            &needles,
            &[
                "wait",
                "orange",
                "--sim",
                "--sim-frame",
                &frame.to_string(),
                "--json",
                "--timeout",
                "5",
            ],
        );
        assert_ok(&out);
        let report = &json_lines(&out)[0];
        assert_eq!(report["result"], "ok");
        assert_eq!(report["matched"]["needle"], "orange-title");
        assert_eq!(
            report["matched"]["area"][0]["x"], x,
            "frame {frame}: {report}"
        );
        assert_eq!(report["matched"]["area"][0]["y"], TITLE_BAR.1);
        assert!(report["matched"]["area"][0]["similarity"].as_f64().unwrap() > 0.99);
    }
}

#[test]
fn a_failed_wait_leaves_the_last_picture_and_every_candidate() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    orange_title_needle(dir.path(), &needles);
    // Frame 60: the window drifted 78 pixels, beyond the margin.
    let evidence = dir.path().join("evidence");
    let out = ci(
        dir.path(),
        &needles,
        &[
            "wait",
            "orange",
            "--sim",
            "--sim-frame",
            "60",
            "--timeout",
            "1",
            "--evidence",
            path_str(&evidence),
        ],
    );
    assert_clean_failure(&out, 1, "step 1 of 1 failed");
    let text = stdout(&out);
    assert!(
        text.contains("fail") && text.contains("closest: orange-title"),
        "{text}"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(json["tags"][0], "orange");
    assert_eq!(json["candidates"][0]["needle"], "orange-title");
    assert_eq!(json["candidates"][0]["ok"], false);
    assert_eq!(json["candidates"][0]["area"][0]["result"], "fail");
    assert!(
        json["candidates"][0]["area"][0]["similarity"]
            .as_f64()
            .unwrap()
            < 0.96
    );
    assert_eq!(
        json["frame"],
        files[1].file_name().unwrap().to_str().unwrap()
    );
    // The picture is the screen the wait last saw: frame 60, pixel for pixel.
    assert_same_image(
        &read_png(&files[1]),
        &read_png(&sim_png(dir.path(), 60)),
        "evidence",
    );
}

#[test]
fn bad_needles_and_tags_are_refused_before_the_device_opens() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    let frame5 = sim_png(dir.path(), 5);
    needle(&needles, "good", &frame5, &["orange"], &title_bar_area(""));
    let out = ci(dir.path(), &needles, &["wait", "purple", "--sim"]);
    assert_clean_failure(&out, 2, "no usable needle");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("orange"),
        "the known tags are listed"
    );
    // --exclude-tag takes a tag's needles away.
    let out = ci(
        dir.path(),
        &needles,
        &["wait", "orange", "--exclude-tag", "orange", "--sim"],
    );
    assert_clean_failure(&out, 2, "--exclude-tag leaves out");
    // A needle whose area leaves its picture is skipped with a warning naming the file and
    // the field; a step whose tag only it has cannot run.
    needle(
        &needles,
        "broken",
        &frame5,
        &["blue"],
        "{\"xpos\": 1000, \"ypos\": 0, \"width\": 100, \"height\": 10, \"type\": \"match\"}",
    );
    let out = ci(dir.path(), &needles, &["wait", "blue", "--sim"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needle skipped") && err.contains("broken.json"),
        "{err}"
    );
    assert!(
        err.contains("no usable needle") && err.contains("\"blue\""),
        "{err}"
    );
    // An ocr area is refused when it would be matched, never passed.
    needle(
        &needles,
        "reads-text",
        &frame5,
        &["text"],
        &format!(
            "{}, {{\"xpos\": 0, \"ypos\": 0, \"width\": 50, \"height\": 20, \"type\": \"ocr\"}}",
            title_bar_area("")
        ),
    );
    let out = ci(
        dir.path(),
        &needles,
        &["wait", "text", "--sim", "--sim-frame", "5"],
    );
    assert_clean_failure(&out, 2, "every needle with it was skipped");
    assert!(String::from_utf8_lossy(&out.stderr).contains("reads-text.json: an ocr area"));
    // Beside a usable needle of the same tag, the ocr one is skipped and the wait goes on.
    needle(
        &needles,
        "reads-orange",
        &frame5,
        &["orange"],
        "{\"xpos\": 0, \"ypos\": 0, \"width\": 50, \"height\": 20, \"type\": \"ocr\"}",
    );
    let out = ci(
        dir.path(),
        &needles,
        &["wait", "orange", "--sim", "--sim-frame", "5"],
    );
    assert_ok(&out);
}

/// Writes `image` as an RGBA PNG.
fn write_png(path: &Path, image: &vfio_display::image::RgbaImage) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&image.data)
        .unwrap();
}

#[test]
fn a_wait_ends_at_its_timeout_however_many_needles_there_are() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    std::fs::create_dir_all(&needles).unwrap();
    // A title bar painted purple, searched for across a margin of 300 pixels: a costly
    // search that finds nothing, a hundred times over.
    let mut picture = read_png(&sim_png(dir.path(), 5));
    let (x, y, w, h) = TITLE_BAR;
    for row in y..y + h {
        for col in x..x + w {
            let i = ((row * picture.width + col) * 4) as usize;
            picture.data[i..i + 4].copy_from_slice(&[128, 0, 128, 255]);
        }
    }
    let first = needles.join("purple-000.png");
    write_png(&first, &picture);
    for n in 0..100 {
        let name = format!("purple-{n:03}");
        if n > 0 {
            std::fs::hard_link(&first, needles.join(format!("{name}.png"))).unwrap();
        }
        std::fs::write(
            needles.join(format!("{name}.json")),
            format!(
                "{{\"area\": [{}], \"tags\": [\"purple\"]}}",
                title_bar_area(", \"margin\": 300")
            ),
        )
        .unwrap();
    }
    let started = std::time::Instant::now();
    let out = ci(
        dir.path(),
        &needles,
        &[
            "wait",
            "purple",
            "--sim",
            "--sim-frame",
            "5",
            "--timeout",
            "1",
            "--evidence",
            path_str(dir.path()),
        ],
    );
    assert_clean_failure(&out, 1, "failed");
    assert!(
        started.elapsed().as_secs_f64() < 8.0,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn hostile_options_and_steps_are_refused_with_a_reason() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    orange_title_needle(dir.path(), &needles);
    let out = ci(
        dir.path(),
        &needles,
        &["wait-change", "--sim", "--similarity-level", "NaN"],
    );
    assert_clean_failure(&out, 2, "PSNR from 0 to 1000000");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = ci(
        dir.path(),
        &needles,
        &["wait", "orange", "--sim", "--evidence", path_str(&file)],
    );
    assert_clean_failure(&out, 2, "not a directory");
    let out = ci(
        dir.path(),
        &needles,
        &[
            "type",
            &"x".repeat(10_001),
            "--sim",
            "--qmp",
            "/nonexistent",
        ],
    );
    assert_clean_failure(&out, 2, "at most 10000");
    // No picture never counts as a still screen.
    let out = ci(
        dir.path(),
        &needles,
        &[
            "wait-still",
            "--sim",
            "--sim-fault",
            "plane-off",
            "--stilltime",
            "0.3",
            "--timeout",
            "1",
        ],
    );
    assert_clean_failure(&out, 1, "failed");
    assert!(
        stdout(&out).contains("no picture to hold still"),
        "{}",
        stdout(&out)
    );
    // A script that is not there, or not text, is a bad test (2), not a failed step.
    let out = ci(dir.path(), &needles, &["script", "missing.txt", "--sim"]);
    assert_clean_failure(&out, 2, "missing.txt");
    std::fs::write(dir.path().join("bin.txt"), b"wait orange\n\xff\xfe\n").unwrap();
    let out = ci(dir.path(), &needles, &["script", "bin.txt", "--sim"]);
    assert_clean_failure(&out, 2, "bin.txt:2: not UTF-8 text");
}

#[test]
fn wait_still_and_wait_change_end_on_the_pictures() {
    let dir = tmp();
    let none = dir.path().join("none");
    // A frozen guest holds still and never changes; an animated one changes at once.
    let out = ci(
        dir.path(),
        &none,
        &[
            "wait-still",
            "--sim",
            "--sim-frame",
            "3",
            "--stilltime",
            "0.5",
            "--timeout",
            "3",
            "--json",
        ],
    );
    assert_ok(&out);
    let report = &json_lines(&out)[0];
    assert!(report["seconds"].as_f64().unwrap() < 2.0, "{report}");
    let out = ci(
        dir.path(),
        &none,
        &[
            "wait-change",
            "--sim",
            "--sim-frame",
            "3",
            "--timeout",
            "0.5",
        ],
    );
    assert_clean_failure(&out, 1, "failed");
    let out = ci(
        dir.path(),
        &none,
        &["wait-change", "--sim", "--timeout", "5", "--json"],
    );
    assert_ok(&out);
    let report = &json_lines(&out)[0];
    assert!(report["psnr"].as_f64().unwrap() < 50.0, "{report}");
    let out = ci(
        dir.path(),
        &none,
        &[
            "wait-still",
            "--sim",
            "--stilltime",
            "0.5",
            "--timeout",
            "1.5",
        ],
    );
    assert_clean_failure(&out, 1, "failed");
}

#[test]
fn a_script_runs_its_steps_in_order_and_stops_at_the_first_failure() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    let frame5 = orange_title_needle(dir.path(), &needles);
    let script = dir.path().join("test.txt");
    std::fs::write(
        &script,
        "# a guest test\n\
         wait orange --timeout 5\n\
         \n\
         wait-still --stilltime 0.3 --timeout 2   # the guest is frozen\n\
         screenshot shot.png\n\
         wait-change --timeout 0.5\n\
         wait orange\n",
    )
    .unwrap();
    let out = ci(
        dir.path(),
        &needles,
        &[
            "script",
            path_str(&script),
            "--sim",
            "--sim-frame",
            "5",
            "--json",
        ],
    );
    assert_clean_failure(
        &out,
        1,
        "step 4 of 5 failed (line 6 (wait-change --timeout 0.5))",
    );
    let reports = json_lines(&out);
    let results: Vec<(&str, &str, u64)> = reports
        .iter()
        .map(|r| {
            (
                r["verb"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
                r["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("wait", "ok", 2),
            ("wait-still", "ok", 4),
            ("screenshot", "ok", 5),
            ("wait-change", "fail", 6)
        ]
    );
    assert_same_image(
        &read_png(&dir.path().join("shot.png")),
        &read_png(&frame5),
        "screenshot step",
    );
    // Text progress: one line per step.
    let out = ci(
        dir.path(),
        &needles,
        &["script", path_str(&script), "--sim", "--sim-frame", "5"],
    );
    let text = stdout(&out);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("[1/5] wait orange --timeout 5: ok in "),
        "{text}"
    );
    // --check reads the script and the needles without a device.
    let out = ci(
        dir.path(),
        &needles,
        &["script", path_str(&script), "--check", "--sim"],
    );
    assert_ok(&out);
    assert!(stdout(&out).contains("5 steps"));
}

#[test]
fn bad_scripts_name_the_file_and_line() {
    let dir = tmp();
    let script = dir.path().join("bad.txt");
    for (text, says) in [
        ("wait-change\nfrobnicate now\n", "bad.txt:2: "),
        ("key ctrl-nokey\n", "bad.txt:1: no key is called \"nokey\""),
        (
            "type \"unclosed\n",
            "bad.txt:1: the quote at column 6 is not closed",
        ),
        ("# nothing\n\n", "no steps"),
    ] {
        std::fs::write(&script, text).unwrap();
        let out = ci(
            dir.path(),
            &dir.path().join("n"),
            &["script", path_str(&script), "--sim"],
        );
        assert_clean_failure(&out, 2, says);
    }
}

#[test]
fn click_key_and_type_reach_qemus_input_layer_as_openqa_sends_them() {
    let dir = tmp();
    let qemu = Qemu::start(dir.path());
    let needles = dir.path().join("needles");
    let frame5 = sim_png(dir.path(), 5);
    needle(
        &needles,
        "orange-title",
        &frame5,
        &["orange"],
        &title_bar_area(", \"click_point\": {\"xpos\": 10, \"ypos\": 5}"),
    );
    let qmp = path_str(&qemu.qmp).to_string();
    // At frame 30 the window is at x 315: the click lands at the matched area plus the click
    // point, not where the needle's area was.
    let out = ci(
        dir.path(),
        &needles,
        &[
            "click",
            "orange",
            "--sim",
            "--sim-frame",
            "30",
            "--qmp",
            &qmp,
            "--json",
        ],
    );
    assert_ok(&out);
    assert_eq!(json_lines(&out)[0]["click"], serde_json::json!([325, 263]));
    let events = qemu.wait_for(2);
    assert_eq!(presses(&events), ["left+", "left-"]);
    assert_eq!(
        positions(&events).last().copied(),
        Some((abs_coordinate(325, 1024), abs_coordinate(263, 768)))
    );
    let out = ci(
        dir.path(),
        &needles,
        &["key", "ctrl-alt-delete", "--sim", "--qmp", &qmp],
    );
    assert_ok(&out);
    let out = ci(
        dir.path(),
        &needles,
        &["type", "Hi!\n", "--sim", "--qmp", &qmp],
    );
    assert_ok(&out);
    let events = qemu.wait_for(2 + 6 + 12);
    assert_eq!(
        presses(&events)[2..],
        [
            "ctrl+", "alt+", "delete+", "delete-", "alt-", "ctrl-", //
            "shift+", "h+", "h-", "shift-", "i+", "i-", "shift+", "1+", "1-", "shift-", "ret+",
            "ret-"
        ]
    );
}

#[test]
fn a_script_records_the_pictures_it_saw() {
    let dir = tmp();
    let needles = dir.path().join("needles");
    let frame5 = orange_title_needle(dir.path(), &needles);
    let script = dir.path().join("test.txt");
    std::fs::write(
        &script,
        "wait orange\nwait-still --stilltime 0.5 --timeout 3\n",
    )
    .unwrap();
    // A frozen guest: one picture, shown for the whole run.
    let rec = dir.path().join("frozen.apng");
    let out = ci(
        dir.path(),
        &needles,
        &[
            "script",
            path_str(&script),
            "--sim",
            "--sim-frame",
            "5",
            "--record",
            path_str(&rec),
        ],
    );
    assert_ok(&out);
    let frames = crate::record::decode_apng(&rec);
    assert_eq!(frames.len(), 1);
    assert_same_image(&frames[0].image, &read_png(&frame5), "the recorded picture");
    assert!(frames[0].delay_ms >= 500.0, "{}", frames[0].delay_ms);
    // An animated guest: every picture the steps looked at, each one of the simulator's.
    let rec = dir.path().join("animated.apng");
    let out = ci(
        dir.path(),
        &needles,
        &["wait-change", "--sim", "--record", path_str(&rec)],
    );
    assert_ok(&out);
    let frames = crate::record::decode_apng(&rec);
    assert!(frames.len() >= 2, "{} frames", frames.len());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded"),
        "the recording's summary"
    );
}
