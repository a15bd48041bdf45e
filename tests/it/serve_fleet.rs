//! `serve --all`: many simulated devices in one process, each reached by its own port, its own
//! unix socket or its WebSocket path, listed on an index page; a device that goes ends alone.
#![allow(clippy::unwrap_used)]

use crate::common::cli::{path_str, run, tmp};
use crate::common::clients::{reference, vncdo};
use crate::common::serve::Server;
use crate::common::wire::{handshake_without_auth, http_head, ws_payload};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The port serve's log gave device `name` from `--port-range`.
fn device_port(server: &Server, name: &str) -> u16 {
    let said = format!("device {name}: serving at /vm/{name}");
    server.wait_log(&said);
    let log = server.log();
    let line = log.lines().find(|l| l.contains(&said)).unwrap();
    let addr = line
        .split(", ")
        .find_map(|p| p.strip_prefix("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    addr.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A free range of `n` loopback ports, likely to stay free for the test.
fn free_range(n: u16) -> (u16, u16) {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let first = probe.local_addr().unwrap().port();
    drop(probe);
    (first, first.saturating_add(n + 8))
}

/// An HTTP GET on the shared port: the whole response.
fn get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Opens a WebSocket at `path`: the status line, and the stream when upgraded.
fn websocket(port: u16, path: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let head = http_head(&mut s);
    (head.lines().next().unwrap_or("").to_string(), s)
}

#[test]
fn every_device_is_reached_by_its_port_its_socket_and_its_path() {
    let dir = tmp();
    let sockets = dir.path().join("vms");
    std::fs::create_dir(&sockets).unwrap();
    let (first, last) = free_range(3);
    let range = format!("127.0.0.1:{first}-{last}");
    let server = Server::start(&[
        "--all",
        "--sim",
        "--sim-devices",
        "3",
        "--sim-frame",
        "5",
        "--sim-mode",
        "640x480",
        "--socket-dir",
        path_str(&sockets),
        "--port-range",
        &range,
    ]);
    for k in 0..3u64 {
        let name = format!("sim{k}");
        // Its own port, with a client nobody here wrote: the picture of its own frame.
        let port = device_port(&server, &name);
        assert!((first..=last).contains(&port), "{port} outside {range}");
        let frame = (5 + k).to_string();
        let sim = ["--sim", "--sim-frame", &frame, "--sim-mode", "640x480"];
        let want = reference(dir.path(), &format!("want{k}.png"), &sim);
        let out = dir.path().join(format!("got{k}.png"));
        vncdo(port, &out, "raw", "server", &want, &[]);
        // Its own unix socket, mode 0600.
        let socket = sockets.join(&name);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&socket).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", socket.display());
        let mut unix = UnixStream::connect(&socket).unwrap();
        unix.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let (_, _, title) = handshake_without_auth(&mut unix);
        assert_eq!(title, format!("vfio-display: {name}"));
        // Its WebSocket path on the shared port: the version comes in a frame.
        let (status, mut ws) = websocket(server.port, &format!("/vm/{name}"));
        assert!(status.contains(" 101 "), "{status}");
        assert_eq!(ws_payload(&mut ws), b"RFB 003.008\n");
    }
    // Frames 5 and 6 differ, so the pictures above prove each device its own.
    let a = crate::common::read_png(&dir.path().join("want0.png"));
    let b = crate::common::read_png(&dir.path().join("want1.png"));
    assert_ne!(
        a.data, b.data,
        "the devices' reference pictures should differ"
    );

    // A native client on the shared port is told where to go, in RFB's own words.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let reason = String::from_utf8_lossy(&rest[5..]).into_owned();
    assert_eq!(rest[0], 0, "no security types: a refusal");
    assert!(
        reason.contains("serves 3 devices: open /vm/NAME"),
        "{reason}"
    );
    // A path that names no device is a 404 with the reason, before any upgrade.
    let (status, _) = websocket(server.port, "/vm/nope");
    assert!(status.contains(" 404 "), "{status}");
    let (status, _) = websocket(server.port, "/vm/..%2f");
    assert!(status.contains(" 404 "), "{status}");

    let (_, log) = server.stop();
    assert!(log.contains("[device sim1, auth none]"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    // Every socket it made is gone.
    assert_eq!(std::fs::read_dir(&sockets).unwrap().count(), 0);
}

#[test]
fn the_index_lists_devices_and_shows_thumbnails_only_of_open_ones() {
    let dir = tmp();
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2", "--sim-frame", "3"]);
    server.wait_log("device sim1: serving");
    server.wait_log("device sim0: serving");
    // Until its first capture a screen shows a blank 640x480 placeholder: wait for the guest's.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = String::from_utf8(get(server.port, "/")).unwrap();
        if page.contains("<b>sim1</b> 1024x768") || std::time::Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<b>sim1</b> 1024x768"), "{page}");
    assert!(
        page.contains("Content-Security-Policy: default-src 'none'"),
        "{page}"
    );
    assert!(
        page.contains("<title>vfio-display: 2 devices</title>"),
        "{page}"
    );
    for name in ["sim0", "sim1"] {
        assert!(
            page.contains(&format!("src=\"/vm/{name}/thumbnail.png\"")),
            "{page}"
        );
    }
    let png = get(server.port, "/vm/sim1/thumbnail.png");
    let body = png.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let path = dir.path().join("thumb.png");
    std::fs::write(&path, &png[body..]).unwrap();
    let thumb = crate::common::read_png(&path);
    // 1024x768 shown at a quarter: every thumbnail pixel the mean of a 4x4 block.
    assert_eq!((thumb.width, thumb.height), (256, 192));
    let full = reference(dir.path(), "full.png", &["--sim", "--sim-frame", "4"]);
    let full = crate::common::read_png(&full);
    let mean = |x: u32, y: u32, c: usize| -> u8 {
        let mut sum = 0u32;
        for dy in 0..4 {
            for dx in 0..4 {
                sum += u32::from(full.data[(((y * 4 + dy) * 1024 + x * 4 + dx) * 4) as usize + c]);
            }
        }
        (sum / 16) as u8
    };
    for (x, y) in [(0, 0), (100, 50), (255, 191), (128, 96)] {
        for c in 0..3 {
            assert_eq!(
                thumb.data[((y * 256 + x) * 4) as usize + c],
                mean(x, y, c),
                "thumbnail pixel ({x},{y}) channel {c}"
            );
        }
    }
    drop(server);

    // Behind a password, the index names the devices but shows no screen.
    let password = dir.path().join("pw");
    std::fs::write(&password, "secret\n").unwrap();
    let server = Server::start(&[
        "--all",
        "--sim",
        "--sim-devices",
        "2",
        "--password-file",
        path_str(&password),
    ]);
    server.wait_log("device sim1: serving");
    let page = String::from_utf8(get(server.port, "/")).unwrap();
    assert!(page.contains("password protected"), "{page}");
    assert!(!page.contains("thumbnail.png"), "{page}");
    let thumb = String::from_utf8_lossy(&get(server.port, "/vm/sim0/thumbnail.png")).into_owned();
    assert!(thumb.starts_with("HTTP/1.1 404"), "{thumb}");
}

#[test]
fn a_lost_device_ends_its_own_clients_and_no_one_else_s() {
    let server = Server::start(&[
        "--all",
        "--sim",
        "--sim-devices",
        "2",
        "--sim-fault",
        "device-lost",
        "--sim-fault-device",
        "sim1",
        "--sim-frame",
        "2",
    ]);
    server.wait_log("device sim1: serving");
    server.wait_log("device sim0: serving");
    let (status, mut lost) = websocket(server.port, "/vm/sim1");
    assert!(status.contains(" 101 "), "{status}");
    let (status, mut kept) = websocket(server.port, "/vm/sim0");
    assert!(status.contains(" 101 "), "{status}");
    assert_eq!(ws_payload(&mut lost), b"RFB 003.008\n");
    assert_eq!(ws_payload(&mut kept), b"RFB 003.008\n");
    let mut lost = WsClient(lost);
    lost.handshake("sim1");
    // The lost device's client is told why in the WebSocket's close frame.
    server.wait_log("device sim1: no longer served: the device is gone");
    let mut close = Vec::new();
    lost.0.read_to_end(&mut close).unwrap();
    let text = String::from_utf8_lossy(&close).into_owned();
    assert!(text.contains("the device is gone"), "{text:?}");
    // The other device's client still talks to its server: a handshake to ServerInit.
    WsClient(kept).handshake("sim0");
    // And the server still serves the device that stayed, to a new client.
    let (status, _) = websocket(server.port, "/vm/sim0");
    assert!(status.contains(" 101 "), "{status}");
    let (code, log) = server.stop();
    // Ended by the SIGTERM as a stopped server is, never by a panic (101).
    assert_eq!(code, None, "{log}");
    assert!(
        log.contains("no longer served: the server stopped (SIGTERM)"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// A WebSocket connection driven through the RFB handshake without authentication.
struct WsClient(TcpStream);

impl WsClient {
    fn send(&mut self, payload: &[u8]) {
        let mask = [9u8, 8, 7, 6];
        let mut frame = vec![0x82, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.write_all(&frame).unwrap();
    }

    /// Answers the version (already read), takes None, and checks ServerInit names `device`.
    fn handshake(&mut self, device: &str) {
        self.send(b"RFB 003.008\n");
        let mut got = Vec::new();
        while got.len() < 2 {
            got.extend(ws_payload(&mut self.0));
        }
        assert_eq!(got[..2], [1, 1]);
        self.send(&[1]);
        let mut got = Vec::new();
        while got.len() < 4 {
            got.extend(ws_payload(&mut self.0));
        }
        self.send(&[1]);
        let mut init = Vec::new();
        while init.len() < 24 || init.len() < 24 + init[23] as usize {
            init.extend(ws_payload(&mut self.0));
        }
        assert!(String::from_utf8_lossy(&init[24..]).ends_with(device));
    }
}

#[test]
fn bad_fleet_options_are_refused_with_a_reason() {
    for (args, needle) in [
        (
            &["serve", "--all", "--sim", "--sim-devices", "0"][..],
            "give 1 to 1024 devices",
        ),
        (&["serve", "--all", "--port-range", "6000-5000"], "is empty"),
        (
            &["serve", "--all", "--sim", "--sim-fault-device", "sim3"],
            "the devices are sim0 to sim0",
        ),
        (&["serve", "--sim", "--socket-dir", "/tmp"], "--all"),
        (
            &["serve", "--all", "--sim", "--connect", "127.0.0.1"],
            "cannot be used with",
        ),
        (
            &["serve", "--all", "--sim", "--scan-interval", "0.01"],
            "at least 0.2 seconds",
        ),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
