//! `serve` with TigerVNC's viewer (1.12, Debian's tigervnc-viewer) over VeNCrypt, under Xvfb:
//! twelve sessions in a row, each of which must show the guest's picture pixel for pixel.
//! The viewer hung in a quarter to a half of its TLS 1.3 sessions while the server sent
//! session tickets before VeNCrypt's security result, so one good session proves little.
#![allow(clippy::unwrap_used)]

use crate::common::cli::{path_str, tmp};
use crate::common::clients::certificate;
use crate::common::serve::Server;
use crate::common::tigervnc::{Viewer, guest_picture, obfuscated_password, viewer_window};
use crate::common::xvfb::Xvfb;
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

const SESSIONS: usize = 12;
/// How long one session may take from the viewer's start to the guest's picture in its window.
const SESSION_LIMIT: Duration = Duration::from_secs(20);
const SIM: [&str; 5] = ["--sim", "--sim-frame", "5", "--sim-mode", "800x600"];
/// What the server logs for a client that finished the handshake over VeNCrypt.
const CONNECTED: &str = "connected (native, VeNCrypt TLS";

/// Runs `SESSIONS` viewers one after another against `server`, each with `security` (the
/// viewer's options choosing the VeNCrypt subtype), each on a fresh Xvfb so no window of an
/// earlier session can be mistaken for the current one. Each session must, within
/// `SESSION_LIMIT`, be logged as connected by the server and show `want` in its window.
fn sessions_in_a_row(server: &Server, security: &[&str], want: &RgbaImage, dir: &Path) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for attempt in 1..=SESSIONS {
        let xvfb = Xvfb::start();
        let log = dir.join(format!("viewer-{attempt}.log"));
        let mut viewer = Viewer::start(&xvfb.display, &home, server.port, security, &log);
        let deadline = Instant::now() + SESSION_LIMIT;
        let mut last_picture = None;
        loop {
            let connected = server.log().matches(CONNECTED).count() >= attempt;
            if connected {
                last_picture = viewer_window(&xvfb.display, dir);
                if last_picture.as_ref().map(|p| (p.width, p.height, &p.data))
                    == Some((want.width, want.height, &want.data))
                {
                    break;
                }
            }
            if let Some(status) = viewer.child.try_wait().unwrap() {
                panic!(
                    "session {attempt} of {SESSIONS}: the viewer ended ({status}) before showing \
                     the guest.\nviewer: {}\nserver: {}",
                    viewer.log(),
                    server.log()
                );
            }
            if Instant::now() > deadline {
                let window = match &last_picture {
                    None => "no viewer window".to_string(),
                    Some(p) => format!(
                        "a {}x{} window without the guest's picture",
                        p.width, p.height
                    ),
                };
                panic!(
                    "session {attempt} of {SESSIONS} hung: after {SESSION_LIMIT:?} the server \
                     logged {} connection(s) and the viewer showed {window}.\nviewer: {}\nserver: {}",
                    server.log().matches(CONNECTED).count(),
                    viewer.log(),
                    server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(viewer);
    }
}

#[test]
fn tigervnc_viewer_over_vencrypt_x509none_twelve_times_in_a_row() {
    let dir = tmp();
    let (cert, key) = certificate(dir.path());
    let want = guest_picture(dir.path(), &SIM);
    let tls = ["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)];
    let server = Server::start(&[&SIM[..], &tls[..]].concat());
    let security = ["-SecurityTypes", "X509None", "-X509CA", path_str(&cert)];
    sessions_in_a_row(&server, &security, &want, dir.path());
    let (_, err) = server.stop();
    assert_eq!(err.matches(CONNECTED).count(), SESSIONS, "{err}");
}

#[test]
fn tigervnc_viewer_over_vencrypt_x509vnc_twelve_times_in_a_row() {
    let dir = tmp();
    let (cert, key) = certificate(dir.path());
    let want = guest_picture(dir.path(), &SIM);
    let password = dir.path().join("password");
    std::fs::write(&password, "open sesame\n").unwrap();
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // The viewer reads its password in VNC's obfuscated form, which TigerVNC's own tool writes.
    let obfuscated = obfuscated_password(dir.path(), "open sesame");
    let server = Server::start(
        &[
            &SIM[..],
            &[
                "--tls-cert",
                path_str(&cert),
                "--tls-key",
                path_str(&key),
                "--password-file",
                path_str(&password),
            ][..],
        ]
        .concat(),
    );
    let security = [
        "-SecurityTypes",
        "X509Vnc",
        "-X509CA",
        path_str(&cert),
        "-PasswordFile",
        path_str(&obfuscated),
    ];
    sessions_in_a_row(&server, &security, &want, dir.path());
    let (_, err) = server.stop();
    assert_eq!(err.matches(CONNECTED).count(), SESSIONS, "{err}");
    assert!(!err.contains("wrong password"), "{err}");
}
