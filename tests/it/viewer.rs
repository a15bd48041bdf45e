//! The viewer in a real window: Xvfb, lavapipe, and screenshots of the window itself (xwd)
//! compared with the simulator's frames. Needs `xvfb`, `x11-apps` (xwd), `imagemagick`
//! (convert) and `xdotool`; `.ci/run` installs them.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{bin, path_str, run, tmp};
use crate::common::read_png;
use crate::common::xvfb::Xvfb;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

/// The lines of one of a child's output streams, as they arrive; those a test waited through
/// are kept for `Viewer::finish`.
struct Lines {
    arriving: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn read(stream: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        crate::common::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Lines {
            arriving: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`: the event itself, not a guess at how long it takes.
    fn wait_for(&mut self, needle: &str, secs: u64, stream: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.arriving.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the viewer never printed {needle:?} on {stream}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line, once the stream has ended.
    fn all(self) -> String {
        let mut lines = self.seen;
        lines.extend(self.arriving.iter());
        lines.join("\n")
    }
}

/// A running viewer whose stdout and stderr lines arrive on channels.
struct Viewer {
    child: Child,
    out: Lines,
    err: Lines,
}

impl Viewer {
    fn start(x: &Xvfb, args: &[&str]) -> Viewer {
        Self::start_in(x, args, Path::new("."))
    }

    fn start_in(x: &Xvfb, args: &[&str], dir: &Path) -> Viewer {
        let mut child = bin()
            .args(args)
            .current_dir(dir)
            .env("DISPLAY", &x.display)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the viewer starts");
        let out = Lines::read(child.stdout.take().expect("piped"));
        let err = Lines::read(child.stderr.take().expect("piped"));
        Viewer { child, out, err }
    }

    /// Waits for a stdout line containing `needle`.
    fn wait_for(&mut self, needle: &str, secs: u64) -> String {
        self.out.wait_for(needle, secs, "stdout")
    }

    /// Waits for a stderr line (a warning) containing `needle`.
    fn wait_for_warning(&mut self, needle: &str, secs: u64) -> String {
        self.err.wait_for(needle, secs, "stderr")
    }

    /// Waits for the viewer to exit; returns (success, stdout, stderr), each whole, the lines
    /// waited for included.
    fn finish(mut self) -> (bool, String, String) {
        let status = self.child.wait().expect("the viewer exits");
        (status.success(), self.out.all(), self.err.all())
    }
}

/// A screenshot of the window named `title`, taken by the X server (xwd), as RGBA.
fn window_shot(x: &Xvfb, title: &str, dir: &Path, name: &str) -> RgbaImage {
    try_window_shot(x, title, dir, name)
        .unwrap_or_else(|| panic!("xwd found no window named {title:?}"))
}

/// Takes screenshots of the window named `title` until `shows` holds for one (or `secs` have
/// passed), and returns the last: the test waits for the picture it expects to appear, however
/// long presenting takes on a loaded machine, and asserts on what the window finally showed.
/// No X event says "these pixels are on screen", so this looks again, 100 ms after each
/// screenshot; a window that does not exist yet (a title still to come) is looked for again.
fn wait_for_window(
    x: &Xvfb,
    title: &str,
    dir: &Path,
    name: &str,
    secs: u64,
    shows: impl Fn(&RgbaImage) -> bool,
) -> RgbaImage {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let shot = try_window_shot(x, title, dir, name);
        let shown = shot.as_ref().is_some_and(&shows);
        if shown || Instant::now() > deadline {
            return shot.unwrap_or_else(|| panic!("no window named {title:?} in {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A screenshot of the window named `title`, or None when there is no such window.
fn try_window_shot(x: &Xvfb, title: &str, dir: &Path, name: &str) -> Option<RgbaImage> {
    let xwd = dir.join(format!("{name}.xwd"));
    let png = dir.join(format!("{name}.png"));
    let found = Command::new("xwd")
        .args(["-silent", "-name", title, "-out", path_str(&xwd)])
        .env("DISPLAY", &x.display)
        .stderr(Stdio::null())
        .status()
        .expect("xwd runs (install x11-apps)")
        .success();
    if !found {
        return None;
    }
    let ok = Command::new("convert")
        .args([
            format!("xwd:{}", path_str(&xwd)),
            format!("PNG32:{}", path_str(&png)),
        ])
        .status()
        .expect("convert runs (install imagemagick)")
        .success();
    assert!(ok, "convert failed");
    Some(read_png(&png))
}

/// The simulator's frame with the cursor, from the CPU screenshot path.
fn expected(mode: &str, frame: u32, dir: &Path) -> RgbaImage {
    let png = dir.join(format!("expected-{mode}-{frame}.png"));
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-mode",
        mode,
        "--sim-frame",
        &frame.to_string(),
        "--cursor",
        "-o",
        path_str(&png),
    ]);
    assert!(out.status.success());
    read_png(&png)
}

/// Compares `actual` at (x0, y0) with `expected`, ignoring alpha (the window has none), within
/// one step per channel (blending rounds on the GPU); returns the worst difference.
fn compare_at(actual: &RgbaImage, expected: &RgbaImage, x0: u32, y0: u32) -> u8 {
    let mut worst = 0;
    for y in 0..expected.height {
        for x in 0..expected.width {
            let a = actual.pixel(x0 + x, y0 + y);
            let e = expected.pixel(x, y);
            for c in 0..3 {
                worst = worst.max(a[c].abs_diff(e[c]));
            }
        }
    }
    worst
}

/// Whether the status banner's orange text shows in `shot` from row `top` down.
fn banner_text(shot: &RgbaImage, top: u32) -> bool {
    (top..shot.height).any(|y| {
        (0..shot.width).any(|x| {
            let p = shot.pixel(x, y);
            p[0] > 200 && (90..150).contains(&p[1]) && p[2] < 110
        })
    })
}

const TITLE_640: &str = "simulated vGPU - 640x480 - vfio-display";

/// Whether `shot` shows `want` (within one step per channel) in its top `rows` rows.
fn shows_above(shot: &RgbaImage, want: &RgbaImage, rows: u32) -> bool {
    (0..rows.min(want.height)).all(|y| {
        (0..want.width).all(|x| {
            let (a, e) = (shot.pixel(x, y), want.pixel(x, y));
            (0..3).all(|c| a[c].abs_diff(e[c]) <= 1)
        })
    })
}

/// The rows of the 640x480 window above the status banner, which sits in the bottom 80.
const ABOVE_BANNER: u32 = 380;

/// `demo` on a frozen 640x480 simulator showing frame 9, in `dir`, waited for until its first
/// picture is on screen: the viewer said so, and the window shows the frame (above the banner,
/// which a failing device may add). Returns the viewer and frame 9 as the CPU path reads it.
fn demo_640(x: &Xvfb, extra: &[&str], dir: &Path) -> (Viewer, RgbaImage) {
    let mut args = vec!["demo", "--sim-mode", "640x480", "--sim-frame", "9"];
    args.extend_from_slice(extra);
    let mut v = Viewer::start_in(x, &args, dir);
    let line = v.wait_for("Showing", 30);
    assert!(line.contains("640x480 XRGB8888"), "{line}");
    let want = expected("640x480", 9, dir);
    let shot = wait_for_window(x, TITLE_640, dir, "first", 10, |shot| {
        shows_above(shot, &want, ABOVE_BANNER)
    });
    assert!(
        shows_above(&shot, &want, ABOVE_BANNER),
        "the window never showed frame 9"
    );
    (v, want)
}

/// Focuses the window named `title` and presses `key` there (XTEST: a real key press, as a user
/// would type it).
fn press(x: &Xvfb, title: &str, key: &str) {
    let xdotool = |args: &[&str]| {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &x.display)
            .output()
            .expect("xdotool runs (install xdotool)");
        assert!(out.status.success(), "xdotool {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let window = xdotool(&["search", "--name", title]);
    let window = window.lines().next().expect("the window's id").to_string();
    xdotool(&["windowfocus", "--sync", &window]);
    xdotool(&["key", key]);
}

#[test]
fn f12_writes_a_png_of_the_guest_screen_and_says_where() {
    let x = Xvfb::start();
    let dir = tmp();
    let (mut v, want) = demo_640(&x, &["--no-overlay", "--exit-after", "12"], dir.path());
    // The window carries the shipped icon (assets/icon.png, 64x64) for the window manager.
    let window = Command::new("xdotool")
        .args(["search", "--name", TITLE_640])
        .env("DISPLAY", &x.display)
        .output()
        .unwrap();
    let window = String::from_utf8_lossy(&window.stdout);
    let window = window.lines().next().expect("the window's id");
    let icon = Command::new("xprop")
        .args(["-id", window, "_NET_WM_ICON"])
        .env("DISPLAY", &x.display)
        .output()
        .expect("xprop runs (x11-utils)");
    let icon = String::from_utf8_lossy(&icon.stdout);
    assert!(
        icon.contains("Icon (64 x 64)") || icon.contains("= 64, 64,"),
        "{icon}"
    );
    press(&x, TITLE_640, "F12");
    let line = v.wait_for("Screenshot:", 10);
    let path = PathBuf::from(line.trim_start_matches("Screenshot:").trim());
    assert!(path.starts_with(dir.path()), "{}", path.display());
    // Named by the time it was taken (vfio-display-YYYYMMDD-HHMMSS.png); a second picture in
    // the same second gets its own name instead of replacing the first.
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let stamp = name
        .strip_prefix("vfio-display-")
        .and_then(|n| n.strip_suffix(".png"))
        .unwrap_or_else(|| panic!("{name}"));
    assert!(
        stamp.len() >= 15 && stamp.as_bytes()[8] == b'-',
        "{name} is not stamped with the time"
    );
    press(&x, TITLE_640, "F12");
    let second = v.wait_for("Screenshot:", 10);
    let second = PathBuf::from(second.trim_start_matches("Screenshot:").trim());
    assert_ne!(second, path);
    assert!(second.exists() && path.exists());
    let shot = read_png(&path);
    assert!(
        compare_at(&shot, &want, 0, 0) <= 1,
        "the PNG is not the guest screen"
    );
    let (ok, _, err) = v.finish();
    assert!(ok, "{err}");
}

#[test]
fn sigint_and_sigterm_close_the_viewer_with_its_summary() {
    use std::os::unix::process::ExitStatusExt;
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let x = Xvfb::start();
        let dir = tmp();
        let stats = dir.path().join("stats.json");
        let (mut v, _) = demo_640(
            &x,
            &["--no-overlay", "--stats-json", path_str(&stats)],
            dir.path(),
        );
        let pid = nix::unistd::Pid::from_raw(v.child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
        let line = v.wait_for("Presented", 10);
        assert!(line.contains("frames in"), "{line}");
        let status = v.child.wait().unwrap();
        assert_eq!(status.signal(), Some(signal as i32), "{status:?}");
        let summary = crate::common::json::parse(&std::fs::read(&stats).unwrap());
        assert!(summary["presented"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn in_one_to_one_mode_the_window_shows_the_sim_frame_exactly() {
    let x = Xvfb::start();
    let dir = tmp();
    let (v, want) = demo_640(
        &x,
        &["--scale", "1:1", "--no-overlay", "--exit-after", "10"],
        dir.path(),
    );
    let shot = window_shot(&x, TITLE_640, dir.path(), "one-to-one");
    assert_eq!((shot.width, shot.height), (640, 480));
    let worst = compare_at(&shot, &want, 0, 0);
    assert!(
        worst <= 1,
        "the window differs from the frame by up to {worst}"
    );
    let (ok, _, err) = v.finish();
    assert!(ok, "{err}");
}

#[test]
fn the_overlay_appears_when_toggled() {
    let x = Xvfb::start();
    let dir = tmp();
    let (v, want) = demo_640(&x, &["--no-overlay", "--exit-after", "12"], dir.path());
    let before = window_shot(&x, TITLE_640, dir.path(), "before");
    assert!(compare_at(&before, &want, 0, 0) <= 1, "no overlay yet");
    press(&x, TITLE_640, "F1");
    // The overlay's panel covers the top-left corner: many pixels there change, and the
    // bottom-right corner does not. A loaded machine may take a while to draw it.
    let changed_in = |img: &RgbaImage| {
        (0..200)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| img.pixel(x, y)[..3] != want.pixel(x, y)[..3])
            .count()
    };
    let after = wait_for_window(&x, TITLE_640, dir.path(), "after", 8, |shot| {
        changed_in(shot) > 5000
    });
    let changed = changed_in(&after);
    assert!(changed > 5000, "only {changed} pixels changed: no overlay");
    for (x, y) in [(600, 440), (630, 470)] {
        assert_eq!(after.pixel(x, y)[..3], want.pixel(x, y)[..3], "({x},{y})");
    }
    let (ok, _, err) = v.finish();
    assert!(ok, "{err}");
}

#[test]
fn a_mode_change_letterboxes_in_fit_mode() {
    let x = Xvfb::start();
    let dir = tmp();
    let (v, _) = demo_640(
        &x,
        &[
            "--sim-mode-change",
            "640x360@2",
            "--irq",
            "none",
            "--no-overlay",
            "--exit-after",
            "12",
        ],
        dir.path(),
    );
    // The guest switches 2 s after the first query. The window keeps its size; the title says
    // the new mode: wait for that window to show the new picture.
    let want = expected("640x360", 9, dir.path());
    let bars = |shot: &RgbaImage| {
        (0..60)
            .chain(420..480)
            .flat_map(|y| (0..640).step_by(37).map(move |x| (x, y)))
            .filter(|&(x, y)| shot.pixel(x, y)[..3] != [0, 0, 0])
            .collect::<Vec<_>>()
    };
    let shot = wait_for_window(
        &x,
        "simulated vGPU - 640x360 - vfio-display",
        dir.path(),
        "fit",
        10,
        |shot| compare_at(shot, &want, 0, 60) <= 1 && bars(shot).is_empty(),
    );
    assert_eq!((shot.width, shot.height), (640, 480));
    // 640x360 fits 640x480 at scale 1: black bars of 60 rows above and below.
    assert!(
        compare_at(&shot, &want, 0, 60) <= 1,
        "the picture is not centered"
    );
    assert_eq!(bars(&shot), [], "bar pixels that are not black");
    let (ok, _, err) = v.finish();
    assert!(ok, "{err}");
}

#[test]
fn irq_refresh_puts_new_frames_on_screen_within_two_frame_periods() {
    let x = Xvfb::start();
    let mut v = Viewer::start(
        &x,
        &[
            "demo",
            "--sim-mode",
            "320x240",
            "--no-overlay",
            "--exit-after",
            "5",
        ],
    );
    let line = v.wait_for("Showing", 30);
    assert!(line.contains("refresh from IRQ index 0"), "{line}");
    let (ok, out, err) = v.finish();
    assert!(ok, "{err}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("Presented"))
        .unwrap_or_else(|| panic!("no summary: {out}"));
    let wakes: u64 = summary
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wake count in {summary}"));
    // A 60 fps guest for about 4 s: the pump followed its interrupts.
    assert!(wakes >= 60, "{summary}");
    let latency = out
        .lines()
        .find(|l| l.starts_with("Refresh to picture"))
        .unwrap_or_else(|| panic!("no latency line: {out}"));
    let median: f64 = latency
        .split("median ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no median in {latency}"));
    assert!(median < 2.0 * 1000.0 / 60.0, "{latency}");
}

#[test]
fn a_lost_device_keeps_the_last_frame_and_says_so() {
    let x = Xvfb::start();
    let dir = tmp();
    let (mut v, want) = demo_640(
        &x,
        &[
            "--sim-fault",
            "device-lost",
            "--irq",
            "none",
            "--no-overlay",
            "--exit-after",
            "7",
        ],
        dir.path(),
    );
    // The device goes 2 s after the first plane query; the viewer says so once.
    v.wait_for_warning("device lost", 10);
    // The banner sits at the bottom center, in its orange text, where the overlay never is.
    let shot = wait_for_window(&x, TITLE_640, dir.path(), "lost", 10, |shot| {
        banner_text(shot, 400)
    });
    assert!(
        banner_text(&shot, 400),
        "no banner text at the bottom of the window"
    );
    // Above it, the last frame, unchanged.
    let mut differing = Vec::new();
    for y in 0..380 {
        for x in 0..640 {
            let (a, e) = (shot.pixel(x, y), want.pixel(x, y));
            if a[..3] != e[..3] {
                differing.push((x, y, [a[0], a[1], a[2]], [e[0], e[1], e[2]]));
            }
        }
    }
    if !differing.is_empty() {
        let kept = dir.keep();
        panic!(
            "the last frame is gone: {} pixels above the banner differ, first {:?}, last {:?} \
             (window shot kept in {})",
            differing.len(),
            differing.first(),
            differing.last(),
            kept.display()
        );
    }
    let (ok, _, err) = v.finish();
    assert!(ok, "the viewer must survive: {err}");
    assert!(err.contains("device lost"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_frame_that_fails_on_every_refresh_is_one_warning_and_the_banner() {
    let x = Xvfb::start();
    let dir = tmp();
    // An animated guest (60 flips a second) whose every plane fails validation: each refresh
    // meets the same failure again.
    let mut v = Viewer::start_in(
        &x,
        &[
            "demo",
            "--sim-mode",
            "640x480",
            "--sim-fault",
            "stride-too-small",
            "--no-overlay",
            "--exit-after",
            "4",
        ],
        dir.path(),
    );
    v.wait_for_warning("cannot show the frame", 30);
    // No picture came, so the title has no mode; the banner says why at the bottom.
    let bottom = |shot: &RgbaImage| shot.height.saturating_sub(80);
    let shot = wait_for_window(
        &x,
        "simulated vGPU - vfio-display",
        dir.path(),
        "failing",
        10,
        |shot| banner_text(shot, bottom(shot)),
    );
    assert!(
        banner_text(&shot, bottom(&shot)),
        "no banner text at the bottom of the window"
    );
    let (ok, out, err) = v.finish();
    assert!(ok, "the viewer must survive: {err}");
    // Many refreshes met the failure (the pump woke for the guest's flips)...
    let wakes: u64 = out
        .split(" wakes")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wake count in {out}"));
    assert!(wakes >= 20, "only {wakes} refreshes: {out}");
    // ...and it was logged once per cause (the guest's two flip buffers name two buffers).
    let warnings = err.matches("cannot show the frame").count();
    assert!((1..=2).contains(&warnings), "{warnings} warnings: {err}");
    assert!(!err.contains("showing the guest again"), "{err}");
}

#[test]
fn without_a_display_view_suggests_screenshot() {
    let out = bin()
        .args(["demo"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vfio-display screenshot"), "{err}");
    assert!(err.contains("DISPLAY is set"), "says why: {err}");
    assert!(
        !err.contains(".rs:"),
        "no source paths of the build machine: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_interrupt_storm_is_throttled_and_the_picture_stays_right() {
    let x = Xvfb::start();
    let dir = tmp();
    let stats = dir.path().join("stats.json");
    let (mut v, want) = demo_640(
        &x,
        &[
            "--sim-fault",
            "irq-storm",
            "--scale",
            "1:1",
            "--no-overlay",
            "--exit-after",
            "5",
            "--stats-json",
            path_str(&stats),
        ],
        dir.path(),
    );
    // The pump notices the stuck line and says so once; the picture is on screen meanwhile.
    v.wait_for_warning("interrupt storm", 10);
    // The stuck line does not disturb the picture: still the guest's frame 9, exactly.
    let shot = window_shot(&x, TITLE_640, dir.path(), "storm");
    assert!(
        compare_at(&shot, &want, 0, 0) <= 1,
        "the window shows frame 9"
    );
    let (ok, _, err) = v.finish();
    assert!(ok, "{err}");
    assert!(err.contains("interrupt storm"), "a warning says why: {err}");
    let summary: serde_json::Value = crate::common::json::parse(&std::fs::read(&stats).unwrap());
    let interrupts = summary["interrupts"].as_u64().unwrap();
    let throttled = summary["throttled"].as_u64().unwrap();
    // At most one handled interrupt per 2 ms over the 5 s run (a stuck line unthrottled is
    // handled tens of thousands of times per second).
    assert!(throttled > 100, "{summary}");
    assert!(interrupts <= 5 * 500 + 100, "{summary}");
}
