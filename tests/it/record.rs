//! `record`: the animated PNG holds exactly the simulator's pictures, with their timing, and is
//! finished whatever ends the recording.

#![allow(clippy::disallowed_macros)] // a test explains a skipped case in the log
use crate::common::cli::{
    assert_clean_failure, assert_ok, bin, path_str, run, stderr, stdout, tmp,
};
use crate::common::{assert_same_image, expected_frame, read_png};
use std::io::Cursor;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::fourcc;
use vfio_display::frame::RgbaImage;

/// One composed frame and how long it is shown, in milliseconds.
pub(crate) struct Frame {
    pub(crate) image: RgbaImage,
    pub(crate) delay_ms: f64,
}

/// The frames of an APNG, each composed over the ones before (the writer uses dispose NONE and
/// blend SOURCE only, which this checks).
pub(crate) fn decode_apng(path: &Path) -> Vec<Frame> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let (w, h) = (reader.info().width, reader.info().height);
    let count = reader
        .info()
        .animation_control
        .expect("an animated PNG")
        .num_frames;
    let mut canvas = RgbaImage::new(w, h);
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let mut frames = Vec::new();
    for _ in 0..count {
        let out = reader.next_frame(&mut buf).unwrap();
        assert_eq!(out.color_type, png::ColorType::Rgb);
        let fc = reader.info().frame_control.unwrap();
        assert_eq!(fc.dispose_op, png::DisposeOp::None);
        assert_eq!(fc.blend_op, png::BlendOp::Source);
        for y in 0..fc.height {
            for x in 0..fc.width {
                let s = ((y * fc.width + x) * 3) as usize;
                let d = (((fc.y_offset + y) * w + fc.x_offset + x) * 4) as usize;
                canvas.data[d..d + 3].copy_from_slice(&buf[s..s + 3]);
                canvas.data[d + 3] = 255;
            }
        }
        frames.push(Frame {
            image: canvas.clone(),
            delay_ms: f64::from(fc.delay_num) * 1000.0 / f64::from(fc.delay_den),
        });
    }
    frames
}

/// The seconds the summary line on stdout gives.
fn summary_seconds(out: &std::process::Output) -> f64 {
    let text = stdout(out);
    let line = text.lines().find(|l| l.starts_with("recorded ")).unwrap();
    let secs = line.rsplit(", ").next().unwrap();
    secs.trim_end_matches(" s").parse().unwrap()
}

fn xr24() -> &'static fourcc::Format {
    fourcc::parse("XR24").unwrap()
}

#[test]
fn the_animated_guest_is_recorded_frame_for_frame() {
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    let out = run(&[
        "record",
        "--sim",
        "--sim-mode",
        "320x240",
        "-o",
        path_str(&rec),
        "--duration",
        "1",
    ]);
    assert_ok(&out);
    let frames = decode_apng(&rec);
    assert!(
        frames.len() >= 10,
        "{} frames in 1 s of a 60 fps guest",
        frames.len()
    );
    // The simulator's frame number at a given time is not known, but it only goes up: each
    // composed frame must be one of its pictures, later than the one before.
    let mut n = 0u64;
    for (i, frame) in frames.iter().enumerate() {
        let start = n;
        loop {
            assert!(
                n < start + 120,
                "frame {i} is none of the guest's pictures {start}..{n}"
            );
            if expected_frame(320, 240, n, xr24()).data == frame.image.data {
                break;
            }
            n += 1;
        }
        n += 1;
    }
    assert!(frames.iter().all(|f| f.delay_ms > 0.0));
    let total: f64 = frames.iter().map(|f| f.delay_ms).sum();
    let said = summary_seconds(&out) * 1000.0;
    assert!(
        (total - said).abs() <= 1.0,
        "delays sum to {total} ms, the summary says {said}"
    );
    assert!(
        (total - 1000.0).abs() <= 50.0,
        "a 1 s recording lasts {total} ms"
    );
}

#[test]
fn a_still_guest_is_one_frame_lasting_the_whole_recording() {
    let dir = tmp();
    let rec = dir.path().join("still.apng");
    let out = run(&[
        "record",
        "--sim",
        "--sim-frame",
        "5",
        "-o",
        path_str(&rec),
        "--duration",
        "0.5",
    ]);
    assert_ok(&out);
    let frames = decode_apng(&rec);
    assert_eq!(frames.len(), 1);
    assert_same_image(
        &frames[0].image,
        &expected_frame(1024, 768, 5, xr24()),
        "the still",
    );
    assert!(
        (frames[0].delay_ms - 500.0).abs() <= 20.0,
        "{}",
        frames[0].delay_ms
    );
    assert!(stdout(&out).contains(": 1 frame, "), "{}", stdout(&out));
}

#[test]
fn frames_stops_after_that_many_changed_pictures() {
    let dir = tmp();
    let rec = dir.path().join("three.apng");
    let out = run(&[
        "record",
        "--sim",
        "--sim-mode",
        "320x240",
        "-o",
        path_str(&rec),
        "--frames",
        "3",
    ]);
    assert_ok(&out);
    assert_eq!(decode_apng(&rec).len(), 3);
}

#[test]
fn ffmpeg_decodes_the_same_last_frame() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("ffmpeg is not installed: skipped");
        return;
    }
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    assert_ok(&run(&[
        "record",
        "--sim",
        "--sim-mode",
        "320x240",
        "-o",
        path_str(&rec),
        "--duration",
        "0.5",
    ]));
    let ours = decode_apng(&rec);
    let pattern = dir.path().join("out%04d.png");
    let ff = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            path_str(&rec),
            "-vsync",
            "0",
            "-f",
            "image2",
        ])
        .arg(&pattern)
        .output()
        .unwrap();
    assert!(
        ff.status.success(),
        "{}",
        String::from_utf8_lossy(&ff.stderr)
    );
    let mut written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("out"))
        .collect();
    written.sort();
    assert_eq!(written.len(), ours.len(), "ffmpeg's frame count");
    let last = read_png(written.last().unwrap());
    assert_same_image(&last, &ours.last().unwrap().image, "ffmpeg's last frame");
    let first = read_png(&written[0]);
    assert_same_image(&first, &ours[0].image, "ffmpeg's first frame");
}

#[test]
fn ctrl_c_finishes_the_file_and_ends_by_the_signal() {
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    let child = bin()
        .args([
            "record",
            "--sim",
            "--sim-mode",
            "320x240",
            "-o",
            path_str(&rec),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the first pictures on a loaded machine; the guest starts drawing at once.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it ended at once"
    );
    assert_eq!(
        out.status.signal(),
        Some(nix::libc::SIGINT),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("SIGINT"), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("recorded "), "{}", stdout(&out));
    let frames = decode_apng(&rec);
    assert!(!frames.is_empty());
    assert!(frames.iter().all(|f| f.delay_ms > 0.0));
    // Nothing but the recording is left: no temporary.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_existing_file_is_replaced_whole_keeping_its_mode() {
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    std::fs::write(&rec, b"old").unwrap();
    std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_ok(&run(&[
        "record",
        "--sim",
        "--sim-frame",
        "2",
        "-o",
        path_str(&rec),
        "--frames",
        "1",
    ]));
    assert_eq!(decode_apng(&rec).len(), 1);
    let mode = std::fs::metadata(&rec).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn a_link_someone_else_planted_is_never_followed() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("needs root to give a link to another user; CI runs as root");
        return;
    }
    let dir = tmp();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("rec.apng");
    symlink(&victim, &link).unwrap();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let out = run(&["record", "--sim", "-o", path_str(&link), "--frames", "1"]);
    assert_clean_failure(&out, 1, "symbolic link owned by uid 65534");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_mode_change_goes_on_in_the_next_numbered_file() {
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    let out = run(&[
        "record",
        "--sim",
        "--sim-mode",
        "320x240",
        "--sim-mode-change",
        "400x300@0.3",
        "-o",
        path_str(&rec),
        "--duration",
        "1",
    ]);
    assert_ok(&out);
    let next = dir.path().join("rec-0002.apng");
    assert!(
        stderr(&out).contains("changed from 320x240 to 400x300"),
        "{}",
        stderr(&out)
    );
    let (a, b) = (decode_apng(&rec), decode_apng(&next));
    assert!(!a.is_empty() && !b.is_empty());
    assert_eq!((a[0].image.width, b[0].image.width), (320, 400));
    assert!(stdout(&out).contains("rec-0002.apng"), "{}", stdout(&out));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = run(&["record", "--sim", "-o", "x.apng", "--duration", "-1"]);
    assert_clean_failure(&out, 2, "--duration");
    let out = run(&["record", "--sim", "-o", "x.apng", "--duration", "0"]);
    assert_clean_failure(&out, 2, "positive");
    let out = run(&["record", "--sim"]);
    assert_clean_failure(&out, 2, "--output");
    let out = run(&["record", "--sim", "-o", "x.apng", "--frames", "0"]);
    assert_clean_failure(&out, 2, "--frames");
}

#[test]
fn standard_output_is_refused_in_one_line() {
    let out = run(&["record", "--sim", "-o", "-", "--frames", "1"]);
    assert_clean_failure(&out, 1, "regular file");
}

#[test]
fn a_screenshot_series_records_the_same_pictures() {
    let dir = tmp();
    let shot = dir.path().join("shot.png");
    let rec = dir.path().join("series.apng");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-mode",
        "320x240",
        "-o",
        path_str(&shot),
        "--count",
        "3",
        "--interval",
        "100",
        "--record",
        path_str(&rec),
    ]);
    assert_ok(&out);
    assert!(stdout(&out).contains("recorded "), "{}", stdout(&out));
    let frames = decode_apng(&rec);
    assert_eq!(
        frames.len(),
        3,
        "an animated guest changes between the pictures"
    );
    for (n, frame) in frames.iter().enumerate() {
        let png = read_png(&dir.path().join(format!("shot-{:04}.png", n + 1)));
        assert_same_image(&frame.image, &png, &format!("picture {}", n + 1));
    }
    assert!(
        (frames[2].delay_ms - 100.0).abs() <= 1.0,
        "{}",
        frames[2].delay_ms
    );
}

#[test]
fn a_display_that_stays_off_is_exit_3_and_writes_nothing() {
    let dir = tmp();
    let rec = dir.path().join("rec.apng");
    let out = run(&[
        "record",
        "--sim",
        "--sim-fault",
        "plane-off",
        "-o",
        path_str(&rec),
        "--duration",
        "0.3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no plane"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_lost_or_removed_device_ends_the_recording_and_keeps_it() {
    for (fault, code, says) in [
        ("device-lost", 1, "the device was lost"),
        ("removal-requested", 5, "asked for the device back"),
    ] {
        let dir = tmp();
        let rec = dir.path().join("rec.apng");
        let out = run(&[
            "record",
            "--sim",
            "--sim-mode",
            "320x240",
            "--sim-fault",
            fault,
            "-o",
            path_str(&rec),
            "--duration",
            "10",
        ]);
        assert_eq!(out.status.code(), Some(code), "{fault}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{fault}: {}", stderr(&out));
        assert!(!decode_apng(&rec).is_empty(), "{fault}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{fault}");
    }
}
