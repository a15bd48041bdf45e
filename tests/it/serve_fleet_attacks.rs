//! `serve --all`, its index page and its control socket under attack: a hostile web page (DNS
//! rebinding, foreign origins, embedding), a remote client (path tricks, slow requests, racing
//! one-time passwords, forged log lines), a local user (squatting the socket directory or the
//! control socket's path). Each test is an attack that must fail; six of them once succeeded
//! (pages answered to a rebinding name, a ticket forgotten by a device that came back, a
//! handshake begun before set_password that ended without a password, log lines forged by a
//! path, pages embeddable by any site, a socket directory others could write).
#![allow(clippy::unwrap_used)]

use crate::common::cli::{bin, path_str, tmp};
use crate::common::control::{Control, start_controlled};
use crate::common::serve::Server;
use crate::common::wire::{read_reason, read_types, security_offer};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use vfio_display::rfb::auth;

/// The WebSocket upgrade's own headers, after the request line and the Host.
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Sends `request` (raw bytes, CRLFs included) to the shared port and returns the whole answer
/// (every HTTP answer closes its connection).
fn exchange(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // A server that turns the connection away may close it before the request is written.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    // A reset after the answer still leaves the answer read.
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A GET of `path` with `host` as its Host header: the whole answer.
fn get_as(port: u16, path: &str, host: &str) -> String {
    exchange(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
}

/// A GET of `path` as a client on the loopback address would send it.
fn get(port: u16, path: &str) -> String {
    get_as(port, path, &format!("127.0.0.1:{port}"))
}

/// The status line of a WebSocket upgrade to `path`, with `extra` headers; the connection is
/// closed after the status line (an upgraded one would start RFB).
fn upgrade_status(port: u16, path: &str, extra: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let host = if extra.contains("Host:") {
        String::new()
    } else {
        format!("Host: 127.0.0.1:{port}\r\n")
    };
    write!(s, "GET {path} HTTP/1.1\r\n{host}{extra}{UPGRADE}\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

/// The HTTP status code of a whole answer.
fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

/// Waits (at most 30 s) until `needle` appears `n` times in the server's log.
fn wait_count(server: &Server, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.log().matches(needle).count() < n {
        assert!(
            Instant::now() < deadline,
            "serve never said {needle:?} {n} times: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until both simulated devices serve: each comes up on a thread of its own, in no set
/// order.
fn wait_both(server: &Server) {
    server.wait_log("device sim0: serving");
    server.wait_log("device sim1: serving");
}

/// Takes security type None on a connection that offered it and goes on to ServerInit:
/// whether the server let the client in (ServerInit came).
fn in_without_password(s: &mut UnixStream) -> bool {
    s.write_all(&[1]).unwrap();
    let mut result = [0u8; 4];
    if s.read_exact(&mut result).is_err() || result != [0; 4] {
        return false;
    }
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).is_ok()
}

/// Answers VNC authentication's challenge on a connection that offered it: Ok once in
/// (ServerInit read), or the reason it was refused.
fn answer_challenge(
    s: &mut UnixStream,
    challenge: &[u8; 16],
    password: &str,
) -> Result<(), String> {
    s.write_all(&auth::response(password.as_bytes(), challenge))
        .unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    if result != [0; 4] {
        return Err(read_reason(s));
    }
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).unwrap();
    Ok(())
}

/// Runs `serve` with `args` where it is expected to refuse to start: its exit status and
/// stderr. A server that starts anyway (prints its address) is stopped and the test fails.
fn refused_start(args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = crate::common::cli::first_line(&mut child);
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve started although it should have refused: {line}");
    }
    let err = crate::common::cli::all_stderr(&mut child);
    (child.wait().unwrap().code(), err)
}

// What holds.

#[test]
fn path_tricks_never_reach_a_device_or_its_thumbnail() {
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2", "--sim-frame", "3"]);
    wait_both(&server);
    let port = server.port;
    // The real paths work, so the refusals below are about the paths alone.
    assert!(upgrade_status(port, "/vm/sim0", "").contains(" 101 "));
    assert_eq!(status(&get(port, "/vm/sim0/thumbnail.png")), "200");
    let long = format!("/vm/{}", "a".repeat(65));
    for path in [
        "/vm/%2e%2e",
        "/vm/..",
        "/vm/../sim0",
        "/vm/./sim0",
        "/vm//sim0",
        "/vm/sim0/",
        "/vm/sim0/..",
        "/vm/SIM0",
        "/vm/sim%30",
        "/vm/sim0%00",
        "/vm/sim0%2f",
        "/vm/",
        "/vm",
        "/",
        long.as_str(),
    ] {
        let line = upgrade_status(port, path, "");
        assert!(line.contains(" 404 "), "WebSocket {path:?}: {line}");
    }
    for path in [
        "/vm/%2e%2e/thumbnail.png",
        "/vm/../vm/sim0/thumbnail.png",
        "/vm/sim%30/thumbnail.png",
        "/vm/sim0/thumbnail.png/",
        "/vm/sim0%2fthumbnail.png",
        "/vm/.sim0/thumbnail.png",
        "/vm//thumbnail.png",
        "/vm/sim0/../sim1/thumbnail.png",
    ] {
        let answer = get(port, path);
        assert_eq!(status(&answer), "404", "GET {path:?}: {answer}");
    }
    // A name as long as a request head may be: refused, and the server goes on.
    let huge = format!("/vm/{}/thumbnail.png", "b".repeat(7000));
    assert_ne!(status(&get(port, &huge)), "200");
    assert_eq!(status(&get(port, "/")), "200");
    let (_, log) = server.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_foreign_page_cannot_open_a_device_nor_probe_its_name() {
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2"]);
    wait_both(&server);
    let port = server.port;
    let evil = |path: &str| {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n\
             {UPGRADE}\r\n"
        );
        exchange(port, request.as_bytes())
    };
    let served = evil("/vm/sim0");
    assert_eq!(status(&served), "403", "{served}");
    // The same answer whether the name is served or not: a page learns nothing of the names.
    assert_eq!(served, evil("/vm/nope"));
    // A page that rebinds its own name to the loopback address is same-origin by its Host, but
    // a server without a password accepts that only for IP literals and localhost.
    let rebound =
        format!("Origin: http://rebind.example:{port}\r\nHost: rebind.example:{port}\r\n");
    let line = upgrade_status(port, "/vm/sim0", &rebound);
    assert!(line.contains(" 403 "), "{line}");
    // The server's own page may.
    let own = format!("Origin: http://127.0.0.1:{port}\r\n");
    let line = upgrade_status(port, "/vm/sim0", &own);
    assert!(line.contains(" 101 "), "{line}");
}

#[test]
fn slow_requests_do_not_shut_out_the_index() {
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2"]);
    wait_both(&server);
    let port = server.port;
    // More half-sent requests from this address than its handshakes may hold at once.
    let slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            s
        })
        .collect();
    // The oldest are closed to make room: a whole request gets its page within the deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = get(port, "/");
        if status(&answer) == "200" {
            assert!(answer.contains("<title>vfio-display: 2 devices</title>"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index never answered: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(slow);
    let (_, log) = server.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_control_socket_is_private_and_takes_eight_connections_at_most() {
    let dir = tmp();
    let server = start_controlled(dir.path(), &[]);
    let ctl = dir.path().join("ctl");
    let mode = std::fs::metadata(&ctl).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut held: Vec<Control> = (0..8).map(|_| Control::connect(&ctl)).collect();
    let (mut ninth, first) = Control::open(&ctl);
    let desc = first["error"]["desc"].as_str().unwrap_or_default();
    assert!(desc.contains("too many control connections"), "{first}");
    // The ninth is closed after its answer.
    assert!(ninth.closed(), "the ninth control connection stays open");
    // A closed connection frees its place.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (mut c, first) = Control::open(&ctl);
        if first["vfio-display"]["version"].is_string() {
            let devices = c.execute("query-devices", json!({}));
            assert_eq!(devices.as_array().unwrap().len(), 2, "{devices}");
            break;
        }
        assert!(Instant::now() < deadline, "no place freed: {first}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The locked devices show no thumbnail on the index, and their thumbnails are not served.
    let page = get(server.port, "/");
    assert!(!page.contains("thumbnail.png"), "{page}");
    assert_eq!(status(&get(server.port, "/vm/sim0/thumbnail.png")), "404");
    drop(held);
}

#[test]
fn a_one_time_password_lets_in_exactly_one_of_many_racing_clients() {
    let dir = tmp();
    let _server = start_controlled(dir.path(), &[]);
    let mut ctl = Control::connect(&dir.path().join("ctl"));
    ctl.execute(
        "set_password",
        json!({"device": "sim0", "password": "race-42", "one_time": true}),
    );
    let socket = dir.path().join("vms/sim0");
    let racers = 8;
    let barrier = Arc::new(Barrier::new(racers));
    let threads: Vec<_> = (0..racers)
        .map(|_| {
            let (socket, barrier) = (socket.clone(), barrier.clone());
            crate::common::spawn(move || {
                let (mut s, types) = security_offer(&socket);
                assert_eq!(types, Ok(vec![2]));
                s.write_all(&[2]).unwrap();
                let mut challenge = [0u8; 16];
                s.read_exact(&mut challenge).unwrap();
                // Every racer holds the right answer; they send it at once.
                barrier.wait();
                answer_challenge(&mut s, &challenge, "race-42").map(|()| s)
            })
        })
        .collect();
    let results: Vec<Result<UnixStream, String>> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners,
        1,
        "{:?}",
        results.iter().map(|r| r.as_ref().err()).collect::<Vec<_>>()
    );
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused, "the one-time password was already used");
    }
}

#[test]
fn the_control_socket_never_replaces_a_link() {
    let dir = tmp();
    let target = dir.path().join("target");
    std::fs::write(&target, b"keep").unwrap();
    let ctl = dir.path().join("ctl");
    std::os::unix::fs::symlink(&target, &ctl).unwrap();
    let control = format!("unix:{}", ctl.display());
    let (code, err) = refused_start(&[
        "--listen",
        "127.0.0.1:0",
        "--all",
        "--sim",
        "--control",
        &control,
    ]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(std::fs::symlink_metadata(&ctl).unwrap().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
}

#[test]
fn a_squatted_device_socket_is_neither_followed_nor_replaced() {
    let dir = tmp();
    let sockets = dir.path().join("vms");
    std::fs::create_dir(&sockets).unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, sockets.join("sim0")).unwrap();
    let server = Server::start(&[
        "--all",
        "--sim",
        "--sim-devices",
        "2",
        "--socket-dir",
        path_str(&sockets),
    ]);
    server.wait_log("device sim1: serving");
    server.wait_log("device sim0: not served");
    let log = server.log();
    assert!(log.contains("symbolic link"), "{log}");
    assert!(
        std::fs::symlink_metadata(sockets.join("sim0"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    // The other device is served at its own socket as usual.
    let (_, types) = security_offer(&sockets.join("sim1"));
    assert_eq!(types, Ok(vec![1]));
}

// Findings: each fails until its weakness is fixed.

#[test]
fn a_rebinding_page_reads_neither_the_index_nor_a_thumbnail() {
    // Without a password (thumbnails shown), as the WebSocket rule already refuses it.
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2"]);
    wait_both(&server);
    let port = server.port;
    let host = format!("rebind.example:{port}");
    // The same page and picture for the server's own address: the refusals below are the
    // Host's doing.
    assert_eq!(status(&get(port, "/vm/sim0/thumbnail.png")), "200");
    for path in ["/", "/index.html", "/vm/sim0/thumbnail.png"] {
        let answer = get_as(port, path, &host);
        assert_ne!(
            status(&answer),
            "200",
            "a page on {host} read {path}: {}",
            answer.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn a_device_that_comes_back_keeps_its_password() {
    let dir = tmp();
    let server = start_controlled(
        dir.path(),
        &[
            "--no-auth",
            "--sim-fault",
            "device-lost",
            "--sim-fault-device",
            "sim1",
        ],
    );
    let mut ctl = Control::connect(&dir.path().join("ctl"));
    ctl.execute(
        "set_password",
        json!({"device": "sim1", "password": "kept-pw"}),
    );
    let socket = dir.path().join("vms/sim1");
    let (_, types) = security_offer(&socket);
    assert_eq!(types, Ok(vec![2]), "the password is asked");
    // The device goes lost (the simulated fault) and the scan serves it again.
    server.wait_log("device sim1: no longer served");
    wait_count(&server, "device sim1: serving at", 2);
    let (_, types) = security_offer(&socket);
    assert_ne!(
        types,
        Ok(vec![1]),
        "the device came back without the password it was given"
    );
}

#[test]
fn a_handshake_begun_before_set_password_needs_the_password() {
    let dir = tmp();
    let _server = start_controlled(dir.path(), &["--no-auth"]);
    let socket = dir.path().join("vms/sim0");
    // The attacker's connection: the server spoke its version, so it chose the credential.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    // The manager locks the device and ends every client, as docs/control.md says to.
    let mut ctl = Control::connect(&dir.path().join("ctl"));
    ctl.execute(
        "set_password",
        json!({"device": "sim0", "password": "now-pw"}),
    );
    ctl.execute("disconnect", json!({"device": "sim0"}));
    s.write_all(b"RFB 003.008\n").unwrap();
    let let_in = match read_types(&mut s) {
        Ok(types) if types == [1] => in_without_password(&mut s),
        _ => false,
    };
    assert!(
        !let_in,
        "a client got in without the password set during its handshake"
    );
}

#[test]
fn a_request_cannot_forge_a_log_line() {
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2"]);
    wait_both(&server);
    let port = server.port;
    // A bare LF is not a line end in HTTP, so it passes as part of the path and the header.
    let by_path = format!(
        "GET /vm/x\nFORGED-BY-PATH:\tclient\t10.0.0.9\tconnected HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n{UPGRADE}\r\n"
    );
    let answer = exchange(port, by_path.as_bytes());
    assert_eq!(status(&answer), "404", "{answer}");
    wait_count(&server, "WebSocket refused", 1);
    let by_origin = format!(
        "GET /vm/sim0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Origin: http://a\nforged-by-origin\r\n{UPGRADE}\r\n"
    );
    let answer = exchange(port, by_origin.as_bytes());
    assert_eq!(status(&answer), "403", "{answer}");
    wait_count(&server, "WebSocket refused", 2);
    let log = server.log();
    for forged in ["FORGED-BY-PATH", "forged-by-origin"] {
        assert!(
            !log.lines().any(|l| l.starts_with(forged)),
            "a line of the client's own in the log: {log}"
        );
    }
    // Nor a terminal's control sequences, which rewrite what an operator sees.
    let escape =
        format!("GET /vm/x\x1b]0;owned\x07 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{UPGRADE}\r\n");
    exchange(port, escape.as_bytes());
    wait_count(&server, "WebSocket refused", 3);
    assert!(!server.log().contains('\x1b'), "{:?}", server.log());
}

#[test]
fn pages_are_for_the_servers_own_site_only() {
    let server = Server::start(&["--all", "--sim", "--sim-devices", "2"]);
    wait_both(&server);
    let thumb = get(server.port, "/vm/sim0/thumbnail.png");
    assert_eq!(status(&thumb), "200");
    let head = |answer: &str| answer.split("\r\n\r\n").next().unwrap_or("").to_string();
    // Another site's <img> would load the screen (and tell by onload which names exist).
    assert!(
        head(&thumb).contains("Cross-Origin-Resource-Policy: same-origin"),
        "{}",
        head(&thumb)
    );
    // Another site's frame could put the index (and its links) under a decoy.
    let index = get(server.port, "/");
    assert!(
        head(&index).contains("frame-ancestors 'none'"),
        "{}",
        head(&index)
    );
}

#[test]
fn a_socket_dir_others_may_write_is_refused() {
    let dir = tmp();
    let sockets = dir.path().join("vms");
    std::fs::create_dir(&sockets).unwrap();
    std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o1777)).unwrap();
    // Another user's socket, bound first, where clients (and websockify) look for sim0.
    let squatter = std::os::unix::net::UnixListener::bind(sockets.join("sim0")).unwrap();
    let (code, err) = refused_start(&[
        "--listen",
        "127.0.0.1:0",
        "--no-auth",
        "--all",
        "--sim",
        "--socket-dir",
        path_str(&sockets),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("writable"), "{err}");
    drop(squatter);
}
