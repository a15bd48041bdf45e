//! `serve`: the guest screen over VNC, checked with clients nobody on this project wrote
//! (vncdotool, gvnccapture) and with a small client of our own for what they cannot show:
//! bytes on the socket, hostile messages, stalled clients, resizes, fds.
#![allow(clippy::unwrap_used)]

use crate::common::cli::{assert_clean_failure, path_str, run, tmp};
use crate::common::clients::{
    certificate, chromium_page, chromium_shot, crop, reference, script, vncdo,
};
use crate::common::serve::Server;
use crate::common::wire::handshake_without_auth;
use crate::common::{assert_same_image, read_png};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

#[test]
fn vncdotool_and_gvnccapture_see_the_guest_pixel_exact() {
    let dir = tmp();
    for (i, sim) in [
        vec!["--sim", "--sim-frame", "5"],
        vec![
            "--sim",
            "--sim-frame",
            "9",
            "--sim-mode",
            "800x600",
            "--sim-format",
            "RGB565",
        ],
        vec![
            "--sim",
            "--sim-frame",
            "3",
            "--sim-mode",
            "1280x720",
            "--sim-plane",
            "region",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let want = reference(dir.path(), &format!("ref{i}.png"), &sim);
        let server = Server::start(&sim);
        // vncdotool's ZRLE decoder takes every CPIXEL as three bytes, so its 16-bit pictures
        // are Raw only (the encoder's own tests decode 16-bit ZRLE).
        for (encoding, format) in [
            ("raw", "server"),
            ("raw", "rgb32"),
            ("raw", "bgr16"),
            ("zrle", "server"),
            ("zrle", "rgb32"),
        ] {
            let out = dir.path().join(format!("got{i}-{encoding}-{format}.png"));
            vncdo(server.port, &out, encoding, format, &want, &[]);
        }
        // gtk-vnc's capture tool asks for ZRLE first.
        let out = dir.path().join(format!("gvnc{i}.png"));
        let display = format!("127.0.0.1:{}", i32::from(server.port) - 5900);
        let result = Command::new("gvnccapture")
            .args([display.as_str(), path_str(&out)])
            .output()
            .expect("gvnccapture (Debian gvncviewer; scripts/install-test-deps.sh installs it)");
        assert!(result.status.success(), "gvnccapture: {result:?}");
        assert_same_image(&read_png(&out), &read_png(&want), "gvnccapture's picture");
        let (_, err) = server.stop();
        assert!(err.contains("connected (native, RFB V3_8)"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A small RFB client: enough to count bytes and to misbehave.
struct Client {
    s: TcpStream,
    width: u16,
    height: u16,
}

impl Client {
    fn connect(port: u16, encodings: &[i32]) -> Client {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (width, height, _) = handshake_without_auth(&mut s);
        let mut c = Client { s, width, height };
        let mut msg = vec![2, 0];
        msg.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            msg.extend_from_slice(&e.to_be_bytes());
        }
        c.s.write_all(&msg).unwrap();
        c
    }

    fn request(&mut self, incremental: bool) {
        let mut msg = vec![3, u8::from(incremental), 0, 0, 0, 0];
        msg.extend_from_slice(&self.width.to_be_bytes());
        msg.extend_from_slice(&self.height.to_be_bytes());
        self.s.write_all(&msg).unwrap();
    }

    fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        self.s.read_exact(&mut b).unwrap();
        b
    }

    /// Reads one update of Raw and DesktopSize rectangles onto `screen` (resized as told).
    fn update(&mut self, screen: &mut RgbaImage) -> usize {
        let head = self.read_n(4);
        assert_eq!(head[0], 0, "a FramebufferUpdate");
        let rects = u16::from_be_bytes([head[2], head[3]]);
        for _ in 0..rects {
            let h = self.read_n(12);
            let v = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
            let enc = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            match enc {
                -223 => {
                    (self.width, self.height) = (v(4), v(6));
                    *screen = RgbaImage::new(u32::from(v(4)), u32::from(v(6)));
                }
                0 => {
                    let (x, y, w, hh) =
                        (v(0) as usize, v(2) as usize, v(4) as usize, v(6) as usize);
                    let px = self.read_n(w * hh * 4);
                    for row in 0..hh {
                        for col in 0..w {
                            let p = &px[(row * w + col) * 4..][..4];
                            let i = ((y + row) * screen.width as usize + x + col) * 4;
                            screen.data[i..i + 4].copy_from_slice(&[p[2], p[1], p[0], 255]);
                        }
                    }
                }
                other => panic!("encoding {other}"),
            }
        }
        rects as usize
    }

    /// Bytes that arrive within `wait`.
    fn bytes_within(&mut self, wait: Duration) -> usize {
        self.s.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 65536];
        let mut total = 0;
        let end = Instant::now() + wait;
        while Instant::now() < end {
            match self.s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(_) => break,
            }
        }
        total
    }

    /// Whether the server closed the connection (within 10 s).
    fn closed_by_server(&mut self) -> bool {
        self.s
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 65536];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }
}

#[test]
fn a_static_screen_sends_nothing_and_a_mode_change_resizes_the_client() {
    let dir = tmp();
    let server = Server::start(&["--sim", "--sim-frame", "4"]);
    let mut c = Client::connect(server.port, &[0, -223]);
    let mut screen = RgbaImage::new(u32::from(c.width), u32::from(c.height));
    c.request(false);
    c.update(&mut screen);
    let want = reference(dir.path(), "static.png", &["--sim", "--sim-frame", "4"]);
    assert_same_image(&screen, &read_png(&want), "first update");
    c.request(true);
    assert_eq!(
        c.bytes_within(Duration::from_secs(5)),
        0,
        "a static guest costs 0 bytes"
    );
    drop(c);
    server.stop();

    // The guest switches to 800x600 two seconds in: the waiting request gets a DesktopSize
    // and the whole new picture.
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "4",
        "--sim-mode-change",
        "800x600@2",
    ]);
    let mut c = Client::connect(server.port, &[0, -223]);
    let mut screen = RgbaImage::new(u32::from(c.width), u32::from(c.height));
    c.request(false);
    c.update(&mut screen);
    assert_eq!((screen.width, screen.height), (1024, 768));
    c.request(true);
    c.update(&mut screen);
    let want = reference(
        dir.path(),
        "resized.png",
        &["--sim", "--sim-frame", "4", "--sim-mode", "800x600"],
    );
    assert_same_image(&screen, &read_png(&want), "after the mode change");
}

#[test]
fn hostile_clients_are_dropped_and_others_are_served() {
    let server = Server::start(&["--sim", "--sim-frame", "1"]);
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        ("unknown message type", vec![99]),
        (
            "cut text of 2 GiB",
            vec![6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff],
        ),
        ("65535 encodings", vec![2, 0, 0xff, 0xff]),
        (
            "24-bit pixels",
            [vec![
                0, 0, 0, 0, 24, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
            ]]
            .concat(),
        ),
        (
            "colour map",
            [vec![0u8, 0, 0, 0, 8, 8, 0, 0], vec![0; 12]].concat(),
        ),
        (
            "SetDesktopSize with 200 screens",
            vec![251, 0, 1, 0, 1, 0, 200, 0],
        ),
    ];
    for (what, bytes) in attacks {
        let mut c = Client::connect(server.port, &[0]);
        c.s.write_all(&bytes).unwrap();
        assert!(c.closed_by_server(), "{what}: the connection stays open");
    }
    // A request far outside the screen is clipped, not an error.
    let mut c = Client::connect(server.port, &[0]);
    c.s.write_all(&[3, 0, 0xff, 0, 0xff, 0, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    let head = c.read_n(4);
    assert_eq!(head, [0, 0, 0, 0], "an empty update");
    // A handshake that never finishes ends at --client-timeout.
    // The server still serves a well-behaved client in full.
    let mut c = Client::connect(server.port, &[0]);
    let mut screen = RgbaImage::new(u32::from(c.width), u32::from(c.height));
    c.request(false);
    assert!(c.update(&mut screen) > 0);
    let (_, err) = server.stop();
    for needle in [
        "unknown client message type 99",
        "ClientCutText of 2147483647 bytes is over the limit",
        "SetEncodings list",
        "24 bits per pixel",
        "colour-map pixels",
        "200 screens",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_stalled_client_is_dropped_without_delaying_another() {
    // An animated guest: every request finds a new picture.
    let server = Server::start(&["--sim", "--client-timeout", "2", "--refresh-hz", "30"]);
    let mut stalled = Client::connect(server.port, &[0]);
    // It keeps asking for full updates and never reads them: the socket buffers fill within a
    // few, then the server's writes to it block.
    let asking = crate::common::spawn(move || {
        let start = Instant::now();
        stalled
            .s
            .set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        while start.elapsed() < Duration::from_secs(6) {
            if stalled
                .s
                .write_all(&[3, 0, 0, 0, 0, 0, 4, 0, 3, 0])
                .is_err()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let mut fine = Client::connect(server.port, &[0]);
    let mut screen = RgbaImage::new(u32::from(fine.width), u32::from(fine.height));
    let start = Instant::now();
    let mut updates = 0;
    while start.elapsed() < Duration::from_secs(6) {
        fine.request(true);
        fine.update(&mut screen);
        updates += 1;
    }
    // 30 Hz backs off to a quarter at worst: well over 20 pictures in 6 s.
    assert!(
        updates >= 20,
        "only {updates} updates in 6 s beside a stalled client"
    );
    drop(fine);
    asking.join().unwrap();
    let (_, err) = server.stop();
    assert!(
        err.contains("gone: no progress for 2 s"),
        "the stalled client was not dropped: {err}"
    );
}

#[test]
fn connect_disconnect_cycles_leave_fds_flat() {
    let server = Server::start(&["--sim", "--sim-frame", "2"]);
    // One first connection starts whatever the server starts once.
    drop(Client::connect(server.port, &[0]));
    std::thread::sleep(Duration::from_millis(300));
    let before = server.fds();
    for i in 0..200 {
        let mut c = Client::connect(server.port, &[0]);
        if i % 2 == 0 {
            let mut screen = RgbaImage::new(u32::from(c.width), u32::from(c.height));
            c.request(false);
            c.update(&mut screen);
        }
    }
    // The last connections' threads end within moments of their clients.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.fds() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.fds(), before, "fds after 200 cycles");
}

#[test]
fn a_remote_address_with_a_password_file() {
    let dir = tmp();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let want = reference(dir.path(), "auth.png", &["--sim", "--sim-frame", "6"]);
    let server = Server::start_on(
        "0.0.0.0",
        &[
            "--sim",
            "--sim-frame",
            "6",
            "--password-file",
            path_str(&file),
        ],
    );
    let port = server.port;
    let out = dir.path().join("got.png");
    vncdo(
        port,
        &out,
        "zrle",
        "server",
        &want,
        &["--password", "s3cret"],
    );
    let wrong = Command::new("python3")
        .arg(script())
        .args([&port.to_string(), path_str(&out), "raw", "server"])
        .args(["--password", "guess"])
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password was let in");
}

#[test]
fn websocket_and_static_files_share_the_port() {
    let web = tmp();
    std::fs::write(web.path().join("vnc.html"), "<html>hello</html>").unwrap();
    let server = Server::start(&["--sim", "--sim-frame", "2", "--web", path_str(web.path())]);
    let get = |path: &str| -> String {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("/vnc.html");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.ends_with("<html>hello</html>"), "{page}");
    assert!(get("/").starts_with("HTTP/1.1 302"));
    for bad in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/nothing.js",
    ] {
        let answer = get(bad);
        assert!(answer.starts_with("HTTP/1.1 404"), "{bad}: {answer}");
        assert!(!answer.contains("root:"), "{bad}: {answer}");
    }
    // A WebSocket upgrade, then RFB inside binary frames.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    let mut frame = [0u8; 14];
    s.read_exact(&mut frame).unwrap();
    assert_eq!(&frame[..2], &[0x82, 12], "a binary frame of 12 bytes");
    assert_eq!(&frame[2..], b"RFB 003.008\n");
    // Our version, masked as a client must.
    let mask = [9u8, 8, 7, 6];
    let mut out = vec![0x82, 0x80 | 12];
    out.extend_from_slice(&mask);
    out.extend(
        b"RFB 003.008\n"
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4]),
    );
    s.write_all(&out).unwrap();
    let mut types = [0u8; 4];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, [0x82, 2, 1, 1], "security types in a frame");
    drop(s);
    let (_, err) = server.stop();
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn serve_usage_errors() {
    let out = run(&["serve", "--sim", "--listen", "nowhere"]);
    assert_clean_failure(&out, 2, "give ADDR:PORT");
    let out = run(&["serve", "--sim", "--no-auth", "--web", "/nonexistent-dir"]);
    assert_clean_failure(&out, 1, "--web /nonexistent-dir: opening the directory");
    let empty = tmp();
    let out = run(&[
        "serve",
        "--sim",
        "--no-auth",
        "--web",
        path_str(empty.path()),
    ]);
    assert_clean_failure(&out, 1, "no vnc.html or index.html");
    let out = run(&["serve", "--sim", "--allow-origin", "evil.example"]);
    assert_clean_failure(&out, 1, "--allow-origin evil.example: give an origin");
    let out = run(&[
        "serve",
        "--sim",
        "--no-auth",
        "--password-file",
        "/etc/hostname",
    ]);
    assert_clean_failure(&out, 1, "exclude each other");
}

#[test]
fn novnc_in_chromium_shows_the_guest_and_follows_its_window() {
    let dir = tmp();
    let novnc = "/usr/share/novnc";
    // noVNC asks for Tight first and draws the cursor itself (Cursor pseudo-encoding): the
    // canvas is the guest's picture without the cursor, centred in the 1000x700 page.
    let sim = ["--sim", "--sim-frame", "5", "--sim-mode", "800x600"];
    let server = Server::start(&[&sim[..], &["--web", novnc]].concat());
    let shot = dir.path().join("novnc.png");
    chromium_shot(server.port, "resize=off", &shot, &dir.path().join("p1"));
    let want = dir.path().join("want.png");
    let mut args = vec!["screenshot", "-o", path_str(&want)];
    args.extend_from_slice(&sim);
    assert!(run(&args).status.success());
    let page = read_png(&shot);
    assert_same_image(
        &crop(&page, 100, 50, 800, 600),
        &read_png(&want),
        "noVNC's canvas",
    );
    let (_, err) = server.stop();
    assert!(err.contains("connected (WebSocket, RFB V3_8)"), "{err}");

    // With resize=remote noVNC asks for its viewport's size; --follow-client-size writes an
    // EDID for it, the simulated guest takes the mode, and noVNC shows the new picture.
    let server = Server::start(&[&sim[..], &["--web", novnc, "--follow-client-size"]].concat());
    // Chromium takes its screenshot when its virtual-time budget runs out, which on a loaded
    // machine can come before the guest's new mode has reached the page: then the page is
    // loaded again (noVNC asks for the same size, which the guest already has).
    let mut compared = Vec::new();
    for attempt in 0..5 {
        let shot = dir.path().join(format!("novnc-resized-{attempt}.png"));
        let profile = dir.path().join(format!("p2-{attempt}"));
        chromium_shot(server.port, "resize=remote", &shot, &profile);
        let log = server.log();
        let Some(asked) = log
            .split("a client asked for ")
            .nth(1)
            .and_then(|s| s.split('@').next())
        else {
            compared.push("no resize request yet".to_string());
            continue;
        };
        assert!(log.contains("EDID set"), "{log}");
        let (w, h) = asked.split_once('x').unwrap();
        let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
        assert_eq!(w, 1000, "noVNC asks for its viewport's width");
        let want = dir.path().join("want-resized.png");
        let args = [
            "screenshot",
            "-o",
            path_str(&want),
            "--sim",
            "--sim-frame",
            "5",
        ];
        assert!(
            run(&[&args[..], &["--sim-mode", asked]].concat())
                .status
                .success()
        );
        // The canvas is centred vertically; CSS may round the half pixel either way. noVNC's
        // control-bar handle covers the canvas's left 18 pixels: the comparison starts right
        // of it.
        let page = read_png(&shot);
        let want = crop(&read_png(&want), 24, 0, w - 24, h);
        let top = (700 - h) / 2;
        if [top, top + 1]
            .iter()
            .any(|&y| crop(&page, 24, y, w - 24, h) == want)
        {
            return;
        }
        compared.push(format!(
            "{} differs from the guest's {asked}",
            shot.display()
        ));
    }
    panic!("noVNC never showed the resized guest: {compared:?}");
}

#[test]
fn rfb_3_3_and_3_7_clients_are_served() {
    let server = Server::start(&["--sim", "--sim-frame", "1", "--sim-mode", "640x480"]);
    for (version, security) in [
        (&b"RFB 003.003\n"[..], &[0u8, 0, 0, 1][..]),
        (b"RFB 003.007\n", &[1, 1]),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut theirs = [0u8; 12];
        s.read_exact(&mut theirs).unwrap();
        s.write_all(version).unwrap();
        // 3.3: the server names the type (a u32); 3.7: a list the client picks from, and no
        // SecurityResult after None.
        let mut got = vec![0u8; security.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, security, "{}", String::from_utf8_lossy(version));
        if security.len() == 2 {
            s.write_all(&[1]).unwrap();
        }
        s.write_all(&[1]).unwrap();
        let mut init = [0u8; 24];
        s.read_exact(&mut init).unwrap();
        assert_eq!(&init[..4], &[2, 128, 1, 224], "ServerInit: 640x480");
    }
}

#[test]
fn tls_for_browsers_and_vencrypt_clients() {
    let dir = tmp();
    let (cert, key) = certificate(dir.path());
    let sim = ["--sim", "--sim-frame", "5", "--sim-mode", "800x600"];
    let tls = ["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)];
    let server = Server::start(&[&sim[..], &tls[..], &["--web", "/usr/share/novnc"]].concat());

    // noVNC over https and wss (Chromium told to accept the self-signed certificate).
    let shot = dir.path().join("novnc-tls.png");
    let url = format!(
        "https://127.0.0.1:{}/vnc.html?autoconnect=1&resize=off",
        server.port
    );
    chromium_page(&url, &shot, &dir.path().join("p"));
    let want = dir.path().join("want.png");
    assert!(
        run(&[&["screenshot", "-o", path_str(&want)][..], &sim[..]].concat())
            .status
            .success()
    );
    assert_same_image(
        &crop(&read_png(&shot), 100, 50, 800, 600),
        &read_png(&want),
        "noVNC's canvas over wss",
    );

    // gtk-vnc with VeNCrypt X509None. It reads its CA certificate from the user's home as the
    // password database has it (not $HOME): a private mount namespace lends it one.
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".pki/CA")).unwrap();
    std::fs::copy(&cert, home.join(".pki/CA/cacert.pem")).unwrap();
    let user_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let want_cursor = reference(
        dir.path(),
        "want-cursor.png",
        &["--sim", "--sim-frame", "5", "--sim-mode", "800x600"],
    );
    let out = dir.path().join("gvnc-tls.png");
    let script = format!(
        "mount --bind {} {user_home} && exec gvnccapture 127.0.0.1:{} {}",
        home.display(),
        i32::from(server.port) - 5900,
        out.display()
    );
    let result = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "gvnccapture over VeNCrypt: {result:?}"
    );
    assert_same_image(
        &read_png(&out),
        &read_png(&want_cursor),
        "gvnccapture over TLS",
    );

    // Plain HTTP is sent to https; an RFB 3.3 client (which cannot negotiate TLS) is refused.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        s,
        "GET /vnc.html HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
    assert!(
        answer.contains(&format!(
            "Location: https://127.0.0.1:{}/vnc.html",
            server.port
        )),
        "{answer}"
    );
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    s.write_all(b"RFB 003.003\n").unwrap();
    let mut refusal = Vec::new();
    s.read_to_end(&mut refusal).unwrap();
    assert_eq!(&refusal[..4], &[0, 0, 0, 0], "security type 0: refused");
    assert!(String::from_utf8_lossy(&refusal).contains("TLS is required"));
    let (_, err) = server.stop();
    assert!(
        err.contains("connected (WebSocket over TLS, RFB V3_8)"),
        "{err}"
    );
    assert!(
        err.contains("connected (native, VeNCrypt TLS, RFB V3_8)"),
        "{err}"
    );

    // Bad certificate files are clear errors before anything starts.
    let out = run(&[
        "serve",
        "--sim",
        "--tls-cert",
        path_str(&key),
        "--tls-key",
        path_str(&key),
    ]);
    assert_clean_failure(&out, 1, "no certificate in it");
    let out = run(&[
        "serve",
        "--sim",
        "--tls-cert",
        path_str(&cert),
        "--tls-key",
        path_str(&cert),
    ]);
    assert_clean_failure(&out, 1, "not a PEM private key");
    let out = run(&["serve", "--sim", "--tls-cert", path_str(&cert)]);
    assert_clean_failure(&out, 2, "--tls-key");
}

/// VeNCrypt X509Vnc by hand (no client nobody here wrote speaks it headless): the subtype
/// negotiation, TLS with our certificate as the only root, then VNC authentication inside.
fn vencrypt_vnc_auth(port: u16, cert: &Path, password: &[u8]) -> (u32, Vec<u8>) {
    use rustls_pki_types::pem::PemObject;
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 12];
    s.read_exact(&mut b).unwrap();
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut types = [0u8; 2];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, [1, 19], "only VeNCrypt is offered");
    s.write_all(&[19, 0, 2]).unwrap();
    let mut v = [0u8; 3];
    s.read_exact(&mut v).unwrap();
    assert_eq!(v, [0, 2, 0], "version 0.2, accepted");
    let mut sub = [0u8; 5];
    s.read_exact(&mut sub).unwrap();
    assert_eq!(sub, [1, 0, 0, 1, 5], "one subtype: X509Vnc (261)");
    s.write_all(&261u32.to_be_bytes()).unwrap();
    let mut go = [0u8; 1];
    s.read_exact(&mut go).unwrap();
    assert_eq!(go, [1]);
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut s);
    let mut challenge = [0u8; 16];
    tls.read_exact(&mut challenge).unwrap();
    tls.write_all(&vfio_display::rfb::auth::response(password, &challenge))
        .unwrap();
    let mut result = [0u8; 4];
    tls.read_exact(&mut result).unwrap();
    let result = u32::from_be_bytes(result);
    let mut rest = Vec::new();
    if result == 0 {
        tls.write_all(&[1]).unwrap();
        let mut init = [0u8; 24];
        tls.read_exact(&mut init).unwrap();
        rest = init.to_vec();
    } else {
        let _ = tls.read_to_end(&mut rest);
    }
    (result, rest)
}

#[test]
fn vencrypt_with_a_password_authenticates_inside_tls() {
    let dir = tmp();
    let (cert, key) = certificate(dir.path());
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "open sesame\n").unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--sim-mode",
        "640x480",
        "--tls-cert",
        path_str(&cert),
        "--tls-key",
        path_str(&key),
        "--password-file",
        path_str(&pw),
    ]);
    let (result, init) = vencrypt_vnc_auth(server.port, &cert, b"open sesame");
    assert_eq!(result, 0, "the right password is let in");
    assert_eq!(
        &init[..4],
        &[2, 128, 1, 224],
        "ServerInit: 640x480, inside TLS"
    );
    let (result, reason) = vencrypt_vnc_auth(server.port, &cert, b"guess");
    assert_eq!(result, 1, "a wrong password is refused");
    assert!(String::from_utf8_lossy(&reason).contains("authentication failed"));
    let (_, err) = server.stop();
    assert!(err.contains("gone: wrong password"), "{err}");
}
