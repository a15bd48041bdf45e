//! Keyboard and pointer into a real QEMU: `serve` (VNC clients nobody here wrote, and QEMU's
//! extended key events) and the viewer (xdotool typing and clicking into its window under
//! Xvfb) send through QMP, and QEMU's own input trace (`-trace input_event_*`) says what its
//! input layer received: the guest's keyboard and tablet get exactly that. Needs
//! `qemu-system-x86`, `vncdotool`, `xvfb` and `xdotool`; `.ci/run` installs them.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failure

use crate::common::cli::{bin, path_str, tmp};
use crate::common::qemu::{Qemu, positions, presses};
use crate::common::serve::Server;
use crate::common::xvfb::Xvfb;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vfio_display::input::{KEYS, abs_coordinate};

/// One QMP command on a fresh connection.
fn qmp(path: &Path, command: &str) -> serde_json::Value {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    for cmd in ["qmp_capabilities", command] {
        writeln!(writer, "{{\"execute\": \"{cmd}\"}}").unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let v = crate::common::json::parse(line.as_bytes());
            if v.get("event").is_none() {
                assert!(v.get("return").is_some(), "{cmd}: {line}");
                if cmd == command {
                    return v["return"].clone();
                }
                break;
            }
        }
    }
    unreachable!()
}

#[test]
fn qemus_key_names_are_exactly_ours() {
    let dir = tmp();
    let qemu = Qemu::start(dir.path());
    let schema = qmp(&qemu.qmp, "query-qmp-schema");
    let names = |e: &serde_json::Value| -> Vec<String> {
        e["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|v| v["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let qkeycode = schema
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["meta-type"] == "enum")
        .map(names)
        .find(|n| n.iter().any(|k| k == "kp_enter"))
        .expect("QEMU's schema has the QKeyCode enum");
    let ours: Vec<String> = KEYS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        qkeycode, ours,
        "QEMU's QKeyCode enum, in order, against ours"
    );
}

/// `serve` on a 640x480 simulated guest with input to `qemu`; `first_line` must be in its
/// address line.
fn serve_into(qemu: &Qemu, extra: &[&str], first_line: &str) -> Server {
    let mut args = vec![
        "--sim",
        "--sim-mode",
        "640x480",
        "--qmp",
        path_str(&qemu.qmp),
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    assert!(
        server.address_line.contains(first_line),
        "{}",
        server.address_line
    );
    server
}

#[test]
fn vncdotool_types_and_clicks_into_qemu_exactly() {
    let dir = tmp();
    let qemu = Qemu::start(dir.path());
    let server = serve_into(&qemu, &[], "input: live, to QMP");
    let out = Command::new("vncdo")
        .args(["-s", &format!("127.0.0.1::{}", server.port)])
        .args([
            "type", "Hi!", "key", "ctrl-c", "move", "100", "50", "click", "1",
        ])
        .output()
        .expect("vncdo runs (pip install vncdotool)");
    assert!(out.status.success(), "{out:?}");
    let events = qemu.wait_for(16);
    drop(server);
    assert_eq!(
        presses(&events),
        [
            // vncdotool sends the keysyms 'H' and '!' without Shift: the server adds it.
            "shift+", "h+", "shift-", "h-", "i+", "i-", "shift+", "1+", "shift-", "1-",
            // A key held with a modifier.
            "ctrl+", "c+", "c-", "ctrl-", // A click.
            "left+", "left-",
        ]
    );
    let at = (abs_coordinate(100, 640), abs_coordinate(50, 480));
    let moves = positions(&events);
    assert!(!moves.is_empty());
    assert!(moves.iter().all(|&p| p == at), "{moves:?}, want {at:?}");
}

#[test]
fn extended_key_events_go_by_scancode_and_view_only_drops_input() {
    let dir = tmp();
    let qemu = Qemu::start(dir.path());
    // One client at a time (`--shared no`): the only client has it.
    let server = serve_into(&qemu, &["--shared", "no"], "input: live, to QMP");
    // 'a' typed on a French keyboard: the key at the US 'q' position (scancode 0x10); then
    // right Ctrl (0xe0 0x1d) and a key with no scancode given (its keysym decides: 'z').
    let out = Command::new("python3")
        .arg(format!(
            "{}/tests/remote/rfb_extkey.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([&server.port.to_string(), "61:10", "ffe4:9d", "7a:0"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("acknowledged"),
        "{out:?}"
    );
    let events = qemu.wait_for(6);
    drop(server);
    assert_eq!(
        presses(&events),
        ["q+", "q-", "ctrl_r+", "ctrl_r-", "z+", "z-"]
    );

    // --view-only: the server says input is off, and so it is for the first client that
    // types.
    let server = serve_into(&qemu, &["--view-only"], "input: off (--view-only)");
    let out = Command::new("vncdo")
        .args(["-s", &format!("127.0.0.1::{}", server.port), "type", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    server.wait_log("input from VNC clients is dropped: input: off (--view-only)");
    drop(server);
    assert_eq!(presses(&qemu.events()).len(), 6, "{:?}", qemu.events());
}

/// The absolute position at each button press, in order.
fn position_at_presses(events: &[String]) -> Vec<(String, (u32, u32))> {
    let (mut x, mut y) = (u32::MAX, u32::MAX);
    let mut out = Vec::new();
    for e in events {
        if let Some(v) = e.strip_prefix("x=") {
            x = v.parse().unwrap();
        } else if let Some(v) = e.strip_prefix("y=") {
            y = v.parse().unwrap();
        } else if e.ends_with('+') && ["left", "right", "middle"].contains(&&e[..e.len() - 1]) {
            out.push((e.clone(), (x, y)));
        }
    }
    out
}

/// xdotool on `x`'s display; its output.
fn xdotool(x: &Xvfb, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", &x.display)
        .output()
        .expect("xdotool runs (install xdotool)");
    assert!(out.status.success(), "xdotool {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Moves the pointer to (`wx`, `wy`) in `window` until QEMU's last absolute position is
/// `want`: the viewer maps a motion with the window size it knows, and a resize it has not
/// taken yet would map it elsewhere.
fn point_at(x: &Xvfb, qemu: &Qemu, window: &str, (wx, wy): (u32, u32), want: (u32, u32)) {
    let start = Instant::now();
    for nudge in [0, 3].iter().cycle() {
        let (px, py) = ((wx + nudge).to_string(), (wy + nudge).to_string());
        xdotool(x, &["mousemove", "--sync", "--window", window, &px, &py]);
        let moved_at = Instant::now();
        while moved_at.elapsed() < Duration::from_secs(1) {
            if positions(&qemu.events()).last() == Some(&want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the pointer at {wx},{wy} never reached guest {want:?}: {:?}",
            qemu.events()
        );
    }
}

#[test]
fn the_viewer_types_and_clicks_into_qemu_in_fit_and_one_to_one() {
    let dir = tmp();
    let qemu = Qemu::start(dir.path());
    let x = Xvfb::start();
    let mut viewer = bin()
        .args([
            "demo",
            "--sim-mode",
            "640x480",
            "--sim-frame",
            "9",
            "--no-overlay",
        ])
        .arg("--qmp")
        .arg(&qemu.qmp)
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(viewer.stdout.take().unwrap());
    let mut shown = false;
    for line in stdout.lines().map_while(Result::ok) {
        if line.contains("Showing") {
            shown = true;
            break;
        }
    }
    assert!(shown, "the viewer never showed the guest");
    let window = xdotool(
        &x,
        &[
            "search",
            "--sync",
            "--name",
            "simulated vGPU - 640x480 - vfio-display",
        ],
    );
    let window = window.lines().next().unwrap().to_string();
    xdotool(&x, &["windowfocus", "--sync", &window]);
    xdotool(&x, &["type", "--delay", "30", "Hi!"]);
    xdotool(&x, &["key", "ctrl+c"]);
    // Fit in 1280x960: twice the size, no bars; window (201, 101) is guest (100, 50).
    xdotool(&x, &["windowsize", "--sync", &window, "1280", "960"]);
    let at = (abs_coordinate(100, 640), abs_coordinate(50, 480));
    point_at(&x, &qemu, &window, (201, 101), at);
    xdotool(&x, &["click", "1"]);
    // F3 is the viewer's (1:1, centered at (320, 240)); window (420, 290) is guest (100, 50).
    xdotool(&x, &["key", "F3"]);
    point_at(&x, &qemu, &window, (420, 290), at);
    xdotool(&x, &["click", "3"]);
    // A click on the black border around the picture is not the guest's.
    xdotool(
        &x,
        &[
            "mousemove",
            "--sync",
            "--window",
            &window,
            "100",
            "100",
            "click",
            "1",
        ],
    );
    // Shift held while the focus goes to another window comes back up in the guest.
    xdotool(&x, &["keydown", "shift"]);
    let mut other = Command::new("xclock")
        .env("DISPLAY", &x.display)
        .stderr(Stdio::null())
        .spawn()
        .expect("xclock runs (install x11-apps)");
    let clock = xdotool(&x, &["search", "--sync", "--class", "xclock"]);
    xdotool(
        &x,
        &["windowfocus", "--sync", clock.lines().next().unwrap()],
    );
    xdotool(&x, &["keyup", "shift"]);
    // Enter held while the focus comes back (the Enter that started the viewer from a terminal)
    // was pressed for another window: the guest sees neither its press nor its release. An x
    // typed after it marks the end.
    xdotool(&x, &["keydown", "Return"]);
    xdotool(&x, &["windowfocus", "--sync", &window]);
    xdotool(&x, &["keyup", "Return"]);
    xdotool(&x, &["key", "x"]);
    let events = qemu.wait_for(22);
    let _ = other.kill();
    let _ = other.wait();
    let _ = viewer.kill();
    let _ = viewer.wait();
    // In the order X delivered them: xdotool lets go of a modifier before the key it
    // modified, and of ctrl+c's keys in the order it pressed them.
    assert_eq!(
        presses(&events),
        [
            "shift+", "h+", "shift-", "h-", "i+", "i-", "shift+", "1+", "shift-", "1-", "ctrl+",
            "c+", "ctrl-", "c-", "left+", "left-", "right+", "right-", "shift+", "shift-", "x+",
            "x-",
        ]
    );
    assert_eq!(
        position_at_presses(&events),
        [("left+".to_string(), at), ("right+".to_string(), at)]
    );
}
