//! `serve` behind what people put in front of it, each driven as it runs in production:
//! TigerVNC's viewer listening for serve's reverse connection (`--connect`), OpenStack
//! nova-novncproxy's VeNCrypt security proxy (its handshake replayed check for check by
//! tests/it/scripts/nova_vencrypt.py), and websockify's token plugin in front of
//! `serve --all` with noVNC in headless Chromium. Every picture is compared pixel for pixel
//! with the one `screenshot` takes of the same simulated guest.
#![allow(clippy::unwrap_used)]

use crate::common::cli::{path_str, tmp};
use crate::common::clients::reference;
use crate::common::logged::Logged;
use crate::common::nova::{nova_client, read_ppm};
use crate::common::novnc::Browser;
use crate::common::pki::authority;
use crate::common::serve::Server;
use crate::common::tigervnc::{Viewer, guest_picture, obfuscated_password, viewer_window};
use crate::common::websockify::{Websockify, random_token};
use crate::common::xvfb::Xvfb;
use crate::common::{assert_same_image, read_png};
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

const SIM: [&str; 5] = ["--sim", "--sim-frame", "5", "--sim-mode", "800x600"];
/// How long a viewer may take from serve's connection to the guest's picture in its window.
const PICTURE_LIMIT: Duration = Duration::from_secs(30);

/// A loopback TCP port that was free a moment ago, for a viewer that listens on a given port.
/// (serve_listen's helper of the same name is compiled into that module alone.)
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits until the viewer's window on `display` shows `want`, at most `PICTURE_LIMIT`; a viewer
/// that ends first, or a window that keeps another picture, fails with both programs' logs.
fn wait_for_window(
    viewer: &mut Viewer,
    display: &str,
    dir: &Path,
    want: &RgbaImage,
    server: &Server,
) {
    let deadline = Instant::now() + PICTURE_LIMIT;
    loop {
        let shown = viewer_window(display, dir);
        let matches = shown.as_ref().map(|p| (p.width, p.height, &p.data))
            == Some((want.width, want.height, &want.data));
        if matches {
            return;
        }
        if let Some(status) = viewer.child.try_wait().unwrap() {
            panic!(
                "the listening viewer ended ({status}) before showing the guest.\nviewer: {}\n\
                 serve: {}",
                viewer.log(),
                server.log()
            );
        }
        if Instant::now() > deadline {
            let window = match &shown {
                None => "no viewer window".to_string(),
                Some(p) => {
                    // Name the first wrong pixel when the sizes agree.
                    let same_size = (p.width, p.height) == (want.width, want.height);
                    let at = if same_size {
                        let i = p
                            .data
                            .chunks_exact(4)
                            .zip(want.data.chunks_exact(4))
                            .position(|(a, b)| a != b)
                            .unwrap_or(0) as u32;
                        format!(", first differing pixel ({},{})", i % p.width, i / p.width)
                    } else {
                        String::new()
                    };
                    format!(
                        "a {}x{} window without the guest's picture{at}",
                        p.width, p.height
                    )
                }
            };
            panic!(
                "after {PICTURE_LIMIT:?} the viewer showed {window}.\nviewer: {}\nserve: {}",
                viewer.log(),
                server.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `serve --connect` to a TigerVNC viewer that already listens (`-listen PORT` and
/// `viewer_options`), serve's security from `serve_security`; returns once the window shows
/// the guest, with serve's log and the viewer's.
fn dialed_viewer_shows_the_guest(
    viewer_options: &[&str],
    serve_security: &[&str],
) -> (String, String) {
    let dir = tmp();
    let want = guest_picture(dir.path(), &SIM);
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let xvfb = Xvfb::start();
    let port = free_port();
    let log = dir.path().join("viewer.log");
    let mut viewer = Viewer::listen(&xvfb.display, &home, port, viewer_options, &log);
    let target = format!("127.0.0.1:{port}");
    let server = Server::start(&[&SIM[..], &["--connect", &target], serve_security].concat());
    wait_for_window(&mut viewer, &xvfb.display, dir.path(), &want, &server);
    server.wait_log(&format!("viewer {target}: connected (attempt 1)"));
    server.wait_log(&format!("client {target} connected (native, RFB V3_8)"));
    let said = viewer.log();
    drop(viewer);
    let (_, log) = server.stop();
    (log, said)
}

#[test]
fn tigervnc_listening_viewer_is_dialed_and_shows_the_guest() {
    let (serve, viewer) = dialed_viewer_shows_the_guest(&[], &["--no-auth"]);
    assert!(
        viewer.contains("Choosing security type None(1)"),
        "the viewer chose no authentication, as serve --no-auth offers: {viewer}"
    );
    assert!(!serve.contains("panicked"), "{serve}");
}

#[test]
fn tigervnc_listening_viewer_with_a_password_is_dialed_and_shows_the_guest() {
    let dir = tmp();
    let password = dir.path().join("password");
    std::fs::write(&password, "open sesame\n").unwrap();
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // TigerVNC reads its password in VNC's obfuscated form, which its own tool writes.
    let obfuscated = obfuscated_password(dir.path(), "open sesame");
    let (serve, viewer) = dialed_viewer_shows_the_guest(
        &["-passwd", path_str(&obfuscated)],
        &["--password-file", path_str(&password)],
    );
    assert!(
        viewer.contains("Choosing security type VncAuth(2)"),
        "the viewer authenticated with the password (VNC authentication): {viewer}"
    );
    assert!(!serve.contains("wrong password"), "{serve}");
}

#[test]
fn a_viewer_listening_two_seconds_after_serve_started_is_reached_by_the_redial() {
    let dir = tmp();
    let want = guest_picture(dir.path(), &SIM);
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let xvfb = Xvfb::start();
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    // serve's own back-off (1 s doubling): dials at about 0, 1 and 3 s.
    let started = Instant::now();
    let server = Server::start(&[&SIM[..], &["--connect", &target, "--no-auth"]].concat());
    server.wait_log(&format!("viewer {target}: not reached (attempt 1)"));
    // The viewer comes 2 s after serve, as a person's would: between two dials.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()));
    let log = dir.path().join("viewer.log");
    let mut viewer = Viewer::listen(&xvfb.display, &home, port, &[], &log);
    wait_for_window(&mut viewer, &xvfb.display, dir.path(), &want, &server);
    server.wait_log(&format!("client {target} connected (native, RFB V3_8)"));
    let log = server.log();
    let attempt: u32 = log
        .split(&format!("viewer {target}: connected (attempt "))
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("serve logged no connection to the viewer: {log}"));
    assert!(
        attempt >= 2,
        "the viewer listened only after serve's first dial, yet attempt {attempt} reached it: {log}"
    );
    assert!(
        log.contains(&format!(
            "viewer {target}: not reached (attempt {})",
            attempt - 1
        )),
        "the dial before the one that reached the viewer failed: {log}"
    );
}

/// OpenStack's nova-novncproxy in front of a compute host's VNC server with
/// `[vnc] auth_schemes = vencrypt` and `vencrypt_ca_certs`, `vencrypt_client_cert`,
/// `vencrypt_client_key` set. tests/it/scripts/nova_vencrypt.py does what nova does, with the
/// checks nova makes, taken from the repository openstack/nova:
/// - nova/console/securityproxy/rfb.py, `RFBSecurityProxy.connect`: the server's version
///   string parses to 3.8 (`_parse_version`); the security type list is not empty and each
///   type is one nova's `AuthType` names (nova/console/rfb/auth.py); each message arrives
///   whole in one `recv`, as nova reads it.
/// - nova/console/rfb/auths.py, `RFBAuthSchemeList.find_scheme`: the list holds VeNCrypt (19).
/// - nova/console/rfb/authvencrypt.py, `RFBAuthSchemeVeNCrypt.security_handshake`: VeNCrypt
///   version 0.2, acknowledged with 0; the subtype list holds X509None (260) and only subtypes
///   nova names; X509None is accepted with a U8 1; TLS through nova's `SSLContext`
///   (PROTOCOL_TLS_CLIENT, the client certificate loaded, CERT_REQUIRED against the CA,
///   no host name check).
/// - rfb.py again, which hands the server's security result on to the tenant: the result is 0,
///   and the tenant then gets ServerInit and a framebuffer update with the guest's picture.
#[test]
fn nova_novncproxy_vencrypt_x509none_handshake_and_first_update() {
    let dir = tmp();
    let pki = authority(dir.path(), "nova");
    let server = Server::start(
        &[
            &SIM[..],
            &[
                "--no-auth",
                "--tls-cert",
                path_str(&pki.server_cert),
                "--tls-key",
                path_str(&pki.server_key),
            ],
        ]
        .concat(),
    );
    let out = dir.path().join("nova.ppm");
    let run = nova_client(server.port, &pki, &pki, &out);
    assert!(
        run.ok,
        "nova-novncproxy's handshake (nova/console/securityproxy/rfb.py RFBSecurityProxy.connect, \
         nova/console/rfb/authvencrypt.py RFBAuthSchemeVeNCrypt.security_handshake) failed: \
         {}\nserve: {}",
        run.said,
        server.log()
    );
    for step in [
        "version b'RFB 003.008\\n' is 3.8",
        "security types [19]",
        "VeNCrypt version 0.2 offered and accepted",
        "include X509None (260)",
        "X509None accepted",
        "client certificate",
        "SecurityResult 0 (OK) through TLS",
        "ServerInit 800x600",
    ] {
        assert!(
            run.said.contains(step),
            "nova's step {step:?} is missing: {}",
            run.said
        );
    }
    // Raw rectangles without the cursor pseudo-encoding: serve draws the cursor into them.
    let want = read_png(&reference(dir.path(), "want.png", &SIM));
    assert_same_image(
        &read_ppm(&out),
        &want,
        "the first framebuffer update the tenant gets through nova's proxy",
    );
    server.wait_log("connected (native, VeNCrypt TLS, RFB V3_8)");
}

/// The same client is not a rubber stamp: a server certificate from another CA fails nova's
/// verification (nova/console/rfb/authvencrypt.py `security_handshake`, CERT_REQUIRED), and a
/// server without TLS offers no type nova's `auth_schemes = vencrypt` takes
/// (nova/console/rfb/auths.py `RFBAuthSchemeList.find_scheme`).
#[test]
fn nova_refuses_a_certificate_of_another_ca_and_a_server_without_vencrypt() {
    let dir = tmp();
    let pki = authority(dir.path(), "nova");
    let stranger = authority(dir.path(), "stranger");
    let server = Server::start(
        &[
            &SIM[..],
            &[
                "--no-auth",
                "--tls-cert",
                path_str(&stranger.server_cert),
                "--tls-key",
                path_str(&stranger.server_key),
            ],
        ]
        .concat(),
    );
    let run = nova_client(server.port, &pki, &pki, &dir.path().join("no.ppm"));
    assert!(
        !run.ok && run.said.contains("certificate verify failed"),
        "nova must refuse a compute host whose certificate its CA did not sign \
         (authvencrypt.py security_handshake, CERT_REQUIRED): {}",
        run.said
    );
    drop(server);

    let plain = Server::start(&[&SIM[..], &["--no-auth"]].concat());
    let run = nova_client(plain.port, &pki, &pki, &dir.path().join("no.ppm"));
    assert!(
        !run.ok && run.said.contains("No compute auth available"),
        "nova with auth_schemes = vencrypt must find no scheme on a server without TLS \
         (auths.py find_scheme): {}",
        run.said
    );
    assert!(run.said.contains("security types [1]"), "{}", run.said);
}

/// How many simulated devices `serve --all` serves in the token test.
const DEVICES: u32 = 8;
/// The devices whose tokens noVNC opens (two of the eight, far apart).
const OPENED: [u32; 2] = [2, 6];
/// How long noVNC may take from opening the page to the device's picture on its canvas.
const NOVNC_LIMIT: Duration = Duration::from_secs(40);

/// `serve --all` on `DEVICES` simulated devices, each on the unix socket `dir`/simK (the
/// layout websockify's UnixDomainSocketDirectory plugin reads, and what a token file points
/// at); returns once every socket is there.
fn serve_all(dir: &Path) -> Logged {
    let mut command = crate::common::cli::bin();
    command
        .args([
            "serve",
            "--all",
            "--sim",
            "--sim-devices",
            &DEVICES.to_string(),
        ])
        .args(["--sim-frame", "5", "--sim-mode", "800x600", "--no-auth"])
        .arg("--socket-dir")
        .arg(dir);
    let mut serve = Logged::spawn(command, "serve --all");
    serve.wait_log(
        &format!("serve --all makes {DEVICES} sockets in {}", dir.display()),
        Duration::from_secs(30),
        |_| {
            (0..DEVICES).all(|k| {
                std::fs::symlink_metadata(dir.join(format!("sim{k}")))
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            })
        },
    );
    serve
}

/// Waits until noVNC's canvas in `browser` shows `want`, at most `NOVNC_LIMIT`; fails with
/// noVNC's state, the first wrong pixel, and the proxy's and serve's logs.
fn wait_for_canvas(
    browser: &mut Browser,
    want: &RgbaImage,
    scratch: &Path,
    what: &str,
    logs: &dyn Fn() -> String,
) -> RgbaImage {
    let deadline = Instant::now() + NOVNC_LIMIT;
    loop {
        let canvas = browser.canvas(scratch);
        if let Some(canvas) = canvas {
            if (canvas.width, canvas.height, &canvas.data) == (want.width, want.height, &want.data)
            {
                return canvas;
            }
            if Instant::now() > deadline {
                let state = browser.state();
                assert_same_image(
                    &canvas,
                    want,
                    &format!("{what} (noVNC: {state})\n{}", logs()),
                );
            }
        } else if Instant::now() > deadline {
            panic!(
                "{what}: no noVNC canvas after {NOVNC_LIMIT:?}; noVNC: {}\n{}",
                browser.state(),
                logs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// websockify's TokenFile plugin in front of `serve --all` with eight simulated devices, as a
/// cloud's console proxy maps each instance's random token to that instance's VNC server
/// (`TOKEN: unix_socket:PATH` lines); noVNC 1.3 (Debian's, served by websockify) in headless
/// Chromium opens `vnc.html?autoconnect=1&path=websockify%3Ftoken%3DTOKEN` (noVNC's `path`
/// setting, read from the query). Two tokens each show their own device's picture, pixel for
/// pixel, and not the other's; a token not in the file is refused by websockify and reaches no
/// device.
#[test]
fn websockify_tokens_route_novnc_to_each_of_serve_alls_devices() {
    let dir = tmp();
    let sockets = dir.path().join("sockets");
    std::fs::create_dir(&sockets).unwrap();
    let serve = serve_all(&sockets);
    let tokens: Vec<String> = (0..DEVICES).map(|_| random_token()).collect();
    let file = dir.path().join("tokens");
    let lines: String = tokens
        .iter()
        .enumerate()
        .map(|(k, token)| {
            format!(
                "{token}: unix_socket:{}\n",
                sockets.join(format!("sim{k}")).display()
            )
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    let proxy = Websockify::start(&file, Path::new("/usr/share/novnc"));
    let logs = || format!("websockify:\n{}\nserve:\n{}", proxy.log(), serve.log());
    let url = |token: &str| {
        format!(
            "http://127.0.0.1:{}/vnc.html?autoconnect=1&resize=off&path=websockify%3Ftoken%3D{token}",
            proxy.port
        )
    };
    // Device simK shows the simulator's frame 5 + K; noVNC draws the cursor itself.
    let pictures: Vec<RgbaImage> = OPENED
        .iter()
        .map(|k| {
            let frame = (5 + k).to_string();
            guest_picture(
                dir.path(),
                &["--sim", "--sim-frame", &frame, "--sim-mode", "800x600"],
            )
        })
        .collect();
    assert_ne!(
        pictures[0].data, pictures[1].data,
        "the two devices' pictures must differ for the routing to be seen"
    );
    for (i, k) in OPENED.iter().enumerate() {
        let what = format!("noVNC through websockify with sim{k}'s token");
        let mut browser = Browser::open(
            &url(&tokens[*k as usize]),
            &dir.path().join(format!("profile-{k}")),
        );
        let canvas = wait_for_canvas(
            &mut browser,
            &pictures[i],
            &dir.path().join("canvas.png"),
            &what,
            &logs,
        );
        assert_ne!(
            canvas.data,
            pictures[1 - i].data,
            "{what} shows another device"
        );
        let socket = format!(
            "connecting to unix socket: {}",
            sockets.join(format!("sim{k}")).display()
        );
        assert!(proxy.log().contains(&socket), "{what}: {}", logs());
        let listener = format!("on unix:{}", sockets.join(format!("sim{k}")).display());
        assert!(
            serve
                .log()
                .lines()
                .any(|l| l.contains(&listener) && l.contains(" connected (")),
            "{what}: serve logged the client on sim{k}'s socket: {}",
            logs()
        );
    }

    // A token the file does not hold: websockify refuses it, noVNC fails, no device is reached.
    let connected_before = serve.log().matches(" connected (").count();
    let wrong = random_token();
    let mut browser = Browser::open(&url(&wrong), &dir.path().join("profile-wrong"));
    let deadline = Instant::now() + NOVNC_LIMIT;
    loop {
        let state = browser.state();
        if state.contains("Failed to connect to server") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "noVNC with an unknown token: still {state} after {NOVNC_LIMIT:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        browser.canvas(&dir.path().join("canvas.png")).is_none(),
        "noVNC with an unknown token has a screen"
    );
    assert!(
        proxy.log().contains(&format!("Token '{wrong}' not found")),
        "websockify refused the unknown token: {}",
        logs()
    );
    assert_eq!(
        serve.log().matches(" connected (").count(),
        connected_before,
        "a device was reached with an unknown token: {}",
        logs()
    );
}
