//! `serve`'s listeners: unix sockets (mode, owner, refusals, stale sockets, removal), several
//! listeners at once, systemd socket activation through Debian's `systemd-socket-activate`, and
//! reverse connections to a listening viewer; every picture compared with `screenshot`'s.
#![allow(clippy::unwrap_used)]

#[path = "common/listen.rs"]
mod listen_support;

use crate::common::cli::{bin, path_str, run, tmp};
use crate::common::clients::reference;
use crate::common::serve::Server;
use crate::common::{assert_same_image, read_png};
use listen_support::{free_port, rfb_capture, vncdo_listen, vncdo_unix, wait_until};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const SIM: [&str; 3] = ["--sim", "--sim-frame", "5"];

fn connect_unix(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn a_unix_socket_is_0600_with_its_owner_serves_the_guest_and_goes_at_exit() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let path = dir.path().join("vd.sock");
    let listen = format!("unix:{}", path.display());
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let nogroup = nix::unistd::Group::from_gid(nobody.gid).unwrap().unwrap();
    let owner = format!("nobody:{}", nogroup.name);
    let server =
        Server::start(&[&SIM[..], &["--listen", &listen, "--socket-owner", &owner]].concat());
    assert!(
        server.address_line.contains(&format!(", {listen};")),
        "{}",
        server.address_line
    );
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), nobody.uid.as_raw());
    assert_eq!(meta.gid(), nobody.gid.as_raw());
    // Nothing else was left beside the socket (the private directory it was made in is gone).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // Our own client, then vncdotool, over the unix socket: the guest, pixel for pixel.
    let got = rfb_capture(&mut connect_unix(&path));
    assert_same_image(&got, &want, "the picture over the unix socket");
    let out = dir.path().join("vncdo.png");
    vncdo_unix(&path, &out);
    assert_same_image(
        &read_png(&out),
        &want,
        "vncdotool's picture over the unix socket",
    );
    let me = format!(
        "client uid 0 pid {} on {listen} connected",
        std::process::id()
    );
    server.wait_log(&me);
    let (_, log) = server.stop();
    assert!(!path.exists(), "the socket is removed at exit");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_socket_mode_is_given_before_the_name_appears() {
    let dir = tmp();
    let path = dir.path().join("group.sock");
    let listen = format!("unix:{}", path.display());
    let server =
        Server::start(&[&SIM[..], &["--listen", &listen, "--socket-mode", "0660"]].concat());
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    drop(server);
    let out = run(&["serve", "--sim", "--no-auth", "--socket-mode", "0660"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apply to --listen unix:PATH"), "{err}");
}

/// `serve` on `listen` alone: its exit status and stderr, when it fails to start.
fn serve_fails(listen: &str) -> (Option<i32>, String) {
    let out = bin()
        .args(["serve", "--no-auth", "--listen", listen])
        .args(SIM)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_file_a_link_and_a_live_socket_are_never_replaced_but_a_stale_socket_is() {
    let dir = tmp();
    let file = dir.path().join("file");
    std::fs::write(&file, b"keep me").unwrap();
    let (code, err) = serve_fails(&format!("unix:{}", file.display()));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let target = dir.path().join("target");
    std::fs::write(&target, b"target").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, err) = serve_fails(&format!("unix:{}", link.display()));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read(&target).unwrap(), b"target");
    // A live socket (someone answers) is refused.
    let live = dir.path().join("live.sock");
    let _answering = UnixListener::bind(&live).unwrap();
    let (code, err) = serve_fails(&format!("unix:{}", live.display()));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("a server answers on this socket already"),
        "{err}"
    );
    // A stale one (its server gone) is replaced, and served.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let old_ino = std::fs::symlink_metadata(&stale).unwrap().ino();
    let listen = format!("unix:{}", stale.display());
    let server = Server::start(&[&SIM[..], &["--listen", &listen]].concat());
    assert_ne!(std::fs::symlink_metadata(&stale).unwrap().ino(), old_ino);
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    assert_same_image(
        &rfb_capture(&mut connect_unix(&stale)),
        &want,
        "the picture on the replaced socket",
    );
    drop(server);
}

#[test]
fn two_listeners_serve_the_same_guest() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let path = dir.path().join("vd.sock");
    let listen = format!("unix:{}", path.display());
    let server = Server::start(&[&SIM[..], &["--listen", &listen]].concat());
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut unix = connect_unix(&path);
    assert_same_image(&rfb_capture(&mut tcp), &want, "the TCP listener's picture");
    assert_same_image(
        &rfb_capture(&mut unix),
        &want,
        "the unix listener's picture",
    );
    let (_, log) = server.stop();
    assert!(log.contains("client 127.0.0.1:"), "{log}");
    assert!(log.contains(&format!("on {listen} connected")), "{log}");
}

#[test]
fn socket_activation_through_systemd_socket_activate() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let path = dir.path().join("activated.sock");
    let port = free_port();
    let tcp = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new("systemd-socket-activate")
        .args([
            "-l",
            path_str(&path),
            "-l",
            &tcp,
            "--fdname=vnc-unix:vnc-tcp",
        ])
        .arg(env!("CARGO_BIN_EXE_vfio-display"))
        .args(["serve", "--no-auth"])
        .args(SIM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd package)");
    // Without --accept, systemd-socket-activate starts the service at the first connection,
    // which then waits in the socket's backlog for serve to take it.
    wait_until("systemd-socket-activate listens", || path.exists());
    let mut first = connect_unix(&path);
    let line = crate::common::cli::first_line(&mut child);
    // Exactly the two sockets it was given: no default 127.0.0.1:5900 beside them.
    assert!(
        line.contains(&format!("on unix:{}, {tcp} (vnc://{tcp})", path.display())),
        "{line}"
    );
    assert!(!line.contains(":5900"), "{line}");
    assert_same_image(
        &rfb_capture(&mut first),
        &want,
        "the activated unix socket's picture",
    );
    let mut s = TcpStream::connect(&tcp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_same_image(
        &rfb_capture(&mut s),
        &want,
        "the activated TCP socket's picture",
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // A socket it was given is its owner's: serve leaves it.
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_socket()
    );
}

#[test]
fn a_reverse_connection_dials_again_until_the_viewer_listens() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let server = Server::start(
        &[
            &SIM[..],
            &[
                "--connect",
                &target,
                "--connect-retry",
                "0.2",
                "--connect-retry-max",
                "1",
            ],
        ]
        .concat(),
    );
    assert!(
        server
            .address_line
            .contains(&format!("the viewer at {target} (dialed)")),
        "{}",
        server.address_line
    );
    // Nothing listens yet: the first dial fails and is logged; the next ones follow.
    server.wait_log(&format!("viewer {target}: not reached (attempt 1)"));
    server.wait_log(&format!("viewer {target}: not reached (attempt 2)"));
    let viewer = TcpListener::bind(&target).unwrap();
    let (mut conn, _) = viewer.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_same_image(
        &rfb_capture(&mut conn),
        &want,
        "the reverse connection's picture",
    );
    drop(conn);
    // The session ended: serve dials again, and the viewer is served again.
    let (mut again, _) = viewer.accept().unwrap();
    again
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_same_image(
        &rfb_capture(&mut again),
        &want,
        "the second reverse session",
    );
    let (_, log) = server.stop();
    assert!(
        log.contains(&format!("viewer {target}: connected (attempt ")),
        "{log}"
    );
    assert!(log.contains("the session ended; dialing again in"), "{log}");
}

#[test]
fn a_reverse_connection_over_a_unix_socket() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let path = dir.path().join("viewer.sock");
    let viewer = UnixListener::bind(&path).unwrap();
    let target = format!("unix:{}", path.display());
    let server = Server::start(&[&SIM[..], &["--connect", &target]].concat());
    let (mut conn, _) = viewer.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_same_image(
        &rfb_capture(&mut conn),
        &want,
        "the reverse unix connection's picture",
    );
    wait_until("serve logs the viewer", || {
        server
            .log()
            .contains(&format!("viewer {target}: connected (attempt 1)"))
    });
    drop(server);
}

#[test]
fn vncdotool_listening_as_a_viewer_is_dialed_and_sees_the_guest() {
    let dir = tmp();
    let want = read_png(&reference(dir.path(), "ref.png", &SIM));
    let port = free_port();
    let out = dir.path().join("viewer.png");
    let viewer = vncdo_listen(port, &out);
    let target = format!("127.0.0.1:{port}");
    let server = Server::start(&[&SIM[..], &["--connect", &target]].concat());
    let result = viewer.wait_with_output().unwrap();
    assert!(result.status.success(), "vncdotool's listener: {result:?}");
    assert_same_image(
        &read_png(&out),
        &want,
        "vncdotool's picture, dialed by serve",
    );
    let (_, log) = server.stop();
    assert!(
        log.contains(&format!("client {target} connected (native, RFB V3_8)")),
        "{log}"
    );
}

/// Activation variables that name what is not a listening stream socket (a regular file, a
/// character device, a count past the fds passed, a connected socket) are refused with the fd
/// named and exit status 1 before anything listens: a caller cannot make serve adopt a file.
#[test]
fn activation_variables_naming_a_file_or_a_connection_are_refused() {
    let dir = tmp();
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"precious").unwrap();
    let sock = dir.path().join("peer.sock");
    let _peer = UnixListener::bind(&sock).unwrap();
    // A connected (not listening) unix socket, as `systemd-socket-activate --accept` passes,
    // inherited by the shell (Rust opens every fd close-on-exec).
    let conn = UnixStream::connect(&sock).unwrap();
    nix::fcntl::fcntl(
        &conn,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let conn_fd = std::os::fd::AsRawFd::as_raw_fd(&conn);
    let cases = [
        (
            format!("3<{}", path_str(&file)),
            "1",
            "activated fd 3 (unknown) is not a socket",
        ),
        (
            "3<>/dev/null".to_string(),
            "1",
            "activated fd 3 (unknown) is not a socket",
        ),
        (
            String::new(),
            "2",
            "LISTEN_FDS counts fd 3, which is not open",
        ),
        (format!("3<&{conn_fd}"), "1", "is not listening"),
    ];
    for (redirect, count, want) in cases {
        let script = format!(
            "LISTEN_PID=$$ LISTEN_FDS={count} exec \"$0\" serve --sim --listen 127.0.0.1:0 {redirect}"
        );
        // bash, not sh: dash takes single-digit fds only in `3<&N`, and under a loaded test
        // run the connection's fd is past 9.
        let out = std::process::Command::new("bash")
            .args(["-c", &script, env!("CARGO_BIN_EXE_vfio-display")])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{script}: {err}");
        assert!(err.contains(want), "{script}: {err}");
        assert!(!err.contains("serving"), "{script}: {err}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
}
