//! `serve` against strangers: a web page of another origin, a local account without the
//! password, a `--web` directory with links and FIFOs planted in it, slow and guessing
//! clients, a full server, Ctrl+C with clients stuck in their handshake. Each test failed on
//! the server before these protections.
#![allow(clippy::unwrap_used)]

use crate::common::cli::{path_str, tmp};
use crate::common::clients::{chromium_page, crop, reference, vncdo};
use crate::common::serve::Server;
use crate::common::wire::{closed_within, http_head, read_reason};
use crate::common::{assert_same_image, read_png};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vfio_display::rfb::auth;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Connects, exchanges versions (3.8) and returns the security types offered, or the reason
/// the server gave for offering none.
fn security_types(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").unwrap();
    crate::common::wire::read_types(s)
}

/// VNC authentication with `password` after the types were read: the SecurityResult, and the
/// reason when it failed.
fn authenticate(s: &mut TcpStream, password: &[u8]) -> Result<(), String> {
    s.write_all(&[2]).unwrap();
    let mut challenge = [0u8; 16];
    s.read_exact(&mut challenge).unwrap();
    s.write_all(&auth::response(password, &challenge)).unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    if result == [0; 4] {
        Ok(())
    } else {
        Err(read_reason(s))
    }
}

fn password_file(dir: &Path, password: &str) -> std::path::PathBuf {
    let file = dir.join("pw");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    file
}

#[test]
fn a_password_is_made_for_a_loopback_listener_and_novnc_logs_in_with_it() {
    let dir = tmp();
    let sim = ["--sim", "--sim-frame", "6", "--sim-mode", "800x600"];
    let server =
        Server::start_with_made_password(&[&sim[..], &["--web", "/usr/share/novnc"]].concat());
    let password = server.made_password();
    assert_eq!(password.len(), 8, "{password}");
    assert!(
        !server.address_line.contains(&password),
        "the password is not on stdout"
    );
    let log = server.log();
    let url = format!(
        "http://127.0.0.1:{}/vnc.html#autoconnect=1&password={password}",
        server.port
    );
    assert!(log.contains(&url), "{log}");

    // A local client without the password: VNC authentication only, and a wrong answer fails.
    let mut s = connect(server.port);
    assert_eq!(security_types(&mut s).unwrap(), [2]);
    assert_eq!(
        authenticate(&mut s, b"guess").unwrap_err(),
        "authentication failed"
    );
    // vncdotool with the password sees the guest; without it, it is refused.
    let want = reference(dir.path(), "want.png", &sim);
    let got = dir.path().join("got.png");
    vncdo(
        server.port,
        &got,
        "zrle",
        "server",
        &want,
        &["--password", &password],
    );
    let refused = Command::new("python3")
        .arg(crate::common::clients::script())
        .args([&server.port.to_string(), path_str(&got), "raw", "server"])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a client without the password was let in"
    );

    // noVNC at the printed address logs in by itself and shows the guest (the cursor is its
    // own: compare with the picture without it). On a loaded machine Chromium may send a
    // request on a connection it opened earlier than `serve` waits for a browser to speak
    // (the port is shared with native VNC clients, which wait for the server), and the page
    // then fails to load: it is loaded again, at most three times.
    let plain = dir.path().join("plain.png");
    let mut args = vec!["screenshot", "-o", path_str(&plain)];
    args.extend_from_slice(&sim);
    assert!(crate::common::cli::run(&args).status.success());
    let want = read_png(&plain);
    for attempt in 0..3 {
        let shot = dir.path().join(format!("novnc-{attempt}.png"));
        let profile = dir.path().join(format!("profile-{attempt}"));
        chromium_page(&format!("{url}&resize=off"), &shot, &profile);
        let canvas = crop(&read_png(&shot), 100, 50, 800, 600);
        if canvas == want {
            return;
        }
        if attempt == 2 {
            assert_same_image(
                &canvas,
                &want,
                &format!("noVNC at the printed address; serve said: {}", server.log()),
            );
        }
    }
}

/// Sends a WebSocket upgrade with these extra headers; returns the status line.
///
/// The port is shared with native VNC clients, which wait for the server to speak: a client
/// that says nothing for 150 ms after connecting is greeted with the RFB version. A test thread
/// descheduled between its connect and its write on a loaded machine is taken for one; that
/// greeting is no answer to the request, so the request is sent again on a new connection (at
/// most three times).
fn upgrade(port: u16, headers: &str) -> String {
    for _ in 0..3 {
        let mut s = connect(port);
        write!(
            s,
            "GET /websockify HTTP/1.1\r\n{headers}Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut first = [0u8; 4];
        s.read_exact(&mut first).unwrap();
        if &first == b"RFB " {
            continue;
        }
        let head = String::from_utf8_lossy(&first).into_owned() + &http_head(&mut s);
        return head.lines().next().unwrap_or("").trim().to_string();
    }
    panic!("serve took three upgrade requests in a row for a native VNC client's silence")
}

#[test]
fn websockets_are_taken_only_from_the_servers_own_pages() {
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--allow-origin",
        "https://console.example",
    ]);
    let port = server.port;
    let host = format!("Host: 127.0.0.1:{port}\r\n");
    let own = format!("{host}Origin: http://127.0.0.1:{port}\r\n");
    assert_eq!(upgrade(port, &own), "HTTP/1.1 101 Switching Protocols");
    assert_eq!(
        upgrade(port, &format!("{host}Origin: https://console.example\r\n")),
        "HTTP/1.1 101 Switching Protocols"
    );
    // No Origin: not a browser.
    assert_eq!(upgrade(port, &host), "HTTP/1.1 101 Switching Protocols");
    for foreign in [
        "http://evil.example",
        "http://127.0.0.1:8000",
        "https://127.0.0.1",
        "null",
    ] {
        let status = upgrade(port, &format!("{host}Origin: {foreign}\r\n"));
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{foreign}");
    }
    // A rebound host name is same-origin, but this server has no password.
    let rebound = "Host: rebind.example:5900\r\nOrigin: http://rebind.example:5900\r\n";
    assert_eq!(upgrade(port, rebound), "HTTP/1.1 403 Forbidden");
    server.wait_log("WebSocket refused");
}

/// A page that opens a WebSocket to `target` and writes what happened into its title.
const PROBE: &str = r#"<!doctype html><html><head><title>pending</title></head><body><script>
const ws = new WebSocket(TARGET, ["binary"]);
ws.binaryType = "arraybuffer";
ws.onmessage = (e) => { document.title = "read " + new TextDecoder().decode(e.data); ws.close(); };
ws.onerror = () => { document.title = "refused"; };
</script></body></html>"#;

/// Chromium's DOM of `url` after its scripts ran.
fn chromium_dom(url: &str, profile: &Path) -> String {
    // The page's verdict comes from a WebSocket event, which real network time decides while
    // headless Chromium's virtual time budget may already be spent on a loaded machine: a page
    // still titled "pending" has no verdict yet, so it is loaded again (never a pass).
    let mut dom = String::new();
    for _ in 0..3 {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .output()
            .expect("chromium");
        dom = String::from_utf8_lossy(&out.stdout).into_owned();
        if !dom.contains("<title>pending</title>") {
            break;
        }
    }
    dom
}

#[test]
fn a_page_of_another_origin_cannot_watch_the_guest_in_chromium() {
    let dir = tmp();
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("index.html"), "<html>serve's own</html>").unwrap();
    let server = Server::start(&["--sim", "--sim-frame", "1", "--web", path_str(&web)]);
    let target = format!("\"ws://127.0.0.1:{}/\"", server.port);
    let page = PROBE.replace("TARGET", &target);
    // The foreign page, served by another web server on another port.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("probe.html"), &page).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut http = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &other_port.to_string(),
        ])
        .current_dir(&other)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", other_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "python's http.server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = chromium_dom(
        &format!("http://127.0.0.1:{other_port}/probe.html"),
        &dir.path().join("p1"),
    );
    let _ = http.kill();
    let _ = http.wait();
    assert!(dom.contains("<title>refused</title>"), "{dom}");
    assert!(!dom.contains("RFB"), "{dom}");
    server.wait_log("WebSocket refused: a page from http://127.0.0.1:");
    // The same page served by serve itself reads the server's version.
    std::fs::write(web.join("probe.html"), &page).unwrap();
    let dom = chromium_dom(
        &format!("http://127.0.0.1:{}/probe.html", server.port),
        &dir.path().join("p2"),
    );
    assert!(dom.contains("<title>read RFB 003.008"), "{dom}");
}

fn get(port: u16, path: &str) -> String {
    let mut s = connect(port);
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn web_files_never_leave_the_directory_and_fifos_block_nobody() {
    let dir = tmp();
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("vnc.html"), "<html>noVNC</html>").unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "the secret").unwrap();
    std::os::unix::fs::symlink(&secret, web.join("secret.txt")).unwrap();
    std::os::unix::fs::symlink("../secret", web.join("up.txt")).unwrap();
    std::os::unix::fs::symlink("/etc", web.join("etc")).unwrap();
    std::os::unix::fs::symlink("vnc.html", web.join("auto.html")).unwrap();
    std::fs::write(web.join(".htpasswd"), "the secret").unwrap();
    nix::unistd::mkfifo(
        &web.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    let server = Server::start(&["--sim", "--sim-frame", "1", "--web", path_str(&web)]);
    for refused in [
        "/secret.txt",
        "/up.txt",
        "/etc/passwd",
        "/.htpasswd",
        "/fifo",
    ] {
        let answer = get(server.port, refused);
        assert!(answer.starts_with("HTTP/1.1 404"), "{refused}: {answer}");
        assert!(
            !answer.contains("the secret") && !answer.contains("root:"),
            "{answer}"
        );
    }
    // Requests for the FIFO at once (as many as one address may have in their handshake) are
    // each answered, and leave no thread waiting on it.
    let fifo_requests: Vec<_> = (0..16)
        .map(|_| {
            let mut s = connect(server.port);
            write!(s, "GET /fifo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            s
        })
        .collect();
    for mut s in fifo_requests {
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    }
    assert!(get(server.port, "/auto.html").ends_with("<html>noVNC</html>"));
    assert!(get(server.port, "/vnc.html").starts_with("HTTP/1.1 200"));
}

#[test]
fn slow_handshakes_are_closed_and_do_not_lock_out_real_clients() {
    let dir = tmp();
    let sim = ["--sim", "--sim-frame", "3"];
    let want = reference(dir.path(), "want.png", &sim);
    let server = Server::start(&[&sim[..], &["--client-timeout", "2"]].concat());
    // 40 connections that send their version a byte every 400 ms: each read makes progress
    // within --client-timeout, only the handshake's deadline can end them.
    let slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let s = connect(server.port);
            s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            s
        })
        .collect();
    let writers: Vec<TcpStream> = slow.iter().map(|s| s.try_clone().unwrap()).collect();
    let trickle = crate::common::spawn(move || {
        for &b in b"RFB 003.008\n" {
            for mut s in &writers {
                let _ = s.write_all(&[b]);
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    // A real client is served meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    vncdo(
        server.port,
        &dir.path().join("got.png"),
        "raw",
        "server",
        &want,
        &[],
    );
    // Every slow one is closed: turned away, closed to make room, or past the deadline,
    // before its version was even whole.
    for mut s in slow {
        assert!(
            closed_within(&mut s, Duration::from_secs(10)),
            "a slow handshake stayed open"
        );
    }
    trickle.join().unwrap();
    server.wait_log("handshake not finished within 2 s (--client-timeout): closed");
}

#[test]
fn wrong_passwords_block_the_address_and_the_right_one_then_waits() {
    let dir = tmp();
    let pw = password_file(dir.path(), "s3cret");
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--password-file",
        path_str(&pw),
    ]);
    for _ in 0..5 {
        let mut s = connect(server.port);
        assert_eq!(security_types(&mut s).unwrap(), [2]);
        assert_eq!(
            authenticate(&mut s, b"guess").unwrap_err(),
            "authentication failed"
        );
    }
    let mut s = connect(server.port);
    let reason = security_types(&mut s).unwrap_err();
    assert!(reason.starts_with("too many failed passwords"), "{reason}");
    server.wait_log("refused for 10 s after repeated failures");
}

#[test]
fn a_full_server_refuses_before_authentication_with_a_reason() {
    let dir = tmp();
    let pw = password_file(dir.path(), "s3cret");
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--password-file",
        path_str(&pw),
        "--max-clients",
        "1",
    ]);
    let mut first = connect(server.port);
    assert_eq!(security_types(&mut first).unwrap(), [2]);
    authenticate(&mut first, b"s3cret").unwrap();
    first.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    first.read_exact(&mut init).unwrap();
    server.wait_log("connected (native");
    let mut second = connect(server.port);
    let reason = security_types(&mut second).unwrap_err();
    assert_eq!(reason, "the server has its most clients (1) connected");
}

#[test]
fn ctrl_c_ends_the_server_at_once_whatever_its_clients_do() {
    let server = Server::start(&["--sim", "--sim-frame", "1", "--client-timeout", "60"]);
    // Stuck in the handshake: connected and silent, half a version, a TLS hello without TLS.
    let silent = connect(server.port);
    let mut half = connect(server.port);
    half.write_all(b"RFB 003").unwrap();
    let mut asked = connect(server.port);
    let _ = security_types(&mut asked);
    // Connected and never reading.
    let mut reader = connect(server.port);
    assert_eq!(security_types(&mut reader).unwrap(), [1]);
    reader.write_all(&[1, 1]).unwrap();
    server.wait_log("connected (native");
    let started = Instant::now();
    let pid = nix::unistd::Pid::from_raw(server.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let (_, log) = server.stop_waiting();
    // A hang is what this guards against (before, 30 s: the client timeout): the bound is wide.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "serve took {:?} to end: {log}",
        started.elapsed()
    );
    drop((silent, half, asked, reader));
}

#[test]
fn hosts_resolve_a_readable_key_is_warned_about_and_the_announced_page_exists() {
    let dir = tmp();
    // --listen with a host name.
    let mut child = crate::common::cli::bin()
        .args(["serve", "--sim", "--no-auth", "--listen", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = crate::common::cli::first_line(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains(" on 127.0.0.1:") || line.contains(" on [::1]:"),
        "{line}"
    );

    // A key others can read gets a warning.
    let (cert, key) = crate::common::clients::certificate(dir.path());
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let server = Server::start(&[
        "--sim",
        "--tls-cert",
        path_str(&cert),
        "--tls-key",
        path_str(&key),
    ]);
    server.wait_log("can be read by other users");
    drop(server);

    // A directory with an index but no vnc.html announces its root, which answers 200.
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("index.html"), "<html>index</html>").unwrap();
    let server = Server::start(&["--sim", "--web", path_str(&web)]);
    let announced = format!("http://127.0.0.1:{}/)", server.port);
    assert!(
        server.address_line.contains(&announced),
        "{}",
        server.address_line
    );
    assert!(get(server.port, "/").starts_with("HTTP/1.1 200"));
}

/// Sends `payload` as one masked binary WebSocket frame (payloads under 126 bytes).
fn ws_send(s: &mut TcpStream, payload: &[u8]) {
    let mask = [3u8, 1, 4, 1];
    let mut frame = vec![0x82, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).unwrap();
}

/// Reads one server frame: its opcode and payload.
fn ws_read(s: &mut TcpStream) -> (u8, Vec<u8>) {
    crate::common::wire::ws_frame(s)
}

#[test]
fn a_browser_is_told_why_the_server_ends_its_connection() {
    let server = Server::start(&["--sim", "--sim-frame", "1", "--sim-mode", "640x480"]);
    let port = server.port;
    let mut s = connect(port);
    write!(
        s,
        "GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // The handshake in frames: version, security None, ClientInit.
    assert_eq!(ws_read(&mut s).1, b"RFB 003.008\n");
    ws_send(&mut s, b"RFB 003.008\n");
    assert_eq!(ws_read(&mut s).1, [1, 1]);
    ws_send(&mut s, &[1]);
    assert_eq!(ws_read(&mut s).1, [0, 0, 0, 0]);
    ws_send(&mut s, &[1]);
    let (_, init) = ws_read(&mut s);
    assert_eq!(&init[..4], &[2, 128, 1, 224], "ServerInit: 640x480");
    server.wait_log("connected (WebSocket");
    let pid = nix::unistd::Pid::from_raw(server.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    // The next frame is the close frame: 1001 (going away) and the reason.
    let (opcode, payload) = ws_read(&mut s);
    assert_eq!(opcode, 8, "a close frame");
    assert_eq!(&payload[..2], &1001u16.to_be_bytes());
    assert_eq!(
        String::from_utf8_lossy(&payload[2..]),
        "the server stopped (SIGTERM)"
    );
    let (_, log) = server.stop_waiting();
    assert!(log.contains("gone: the server stopped (SIGTERM)"), "{log}");
}
