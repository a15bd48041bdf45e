//! `serve --control`: passwords set, used up, expired and clients listed and ended at run
//! time over the control socket, each device on its own, every login attempt in the log.
#![allow(clippy::unwrap_used)]

use crate::common::cli::tmp;
use crate::common::control::{Control, start_controlled};
use crate::common::serve::Server;
use crate::common::wire::{closed_within, read_reason, security_offer};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::rfb::auth;

/// Logs in to a device's socket with `password`: the connection once in (ServerInit read),
/// or the reason it was refused.
fn login(socket: &Path, password: &str) -> Result<UnixStream, String> {
    let (mut s, types) = security_offer(socket);
    assert_eq!(types?, [2], "VNC authentication only");
    s.write_all(&[2]).unwrap();
    let mut challenge = [0u8; 16];
    s.read_exact(&mut challenge).unwrap();
    s.write_all(&auth::response(password.as_bytes(), &challenge))
        .unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    if result != [0; 4] {
        return Err(read_reason(&mut s));
    }
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).unwrap();
    let mut name = vec![0u8; init[23] as usize];
    s.read_exact(&mut name).unwrap();
    Ok(s)
}

#[test]
fn tickets_set_at_run_time_let_in_once_per_device_and_are_audited() {
    let dir = tmp();
    let server = start_controlled(dir.path(), &[]);
    assert!(
        server
            .log()
            .contains("clients are refused until the control socket")
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("ctl"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let sim0 = dir.path().join("vms/sim0");
    let sim1 = dir.path().join("vms/sim1");
    // Locked: refused before security, with the reason.
    let (_, offered) = security_offer(&sim0);
    assert_eq!(
        offered,
        Err("no password is set for this device yet".into())
    );

    let mut ctl = Control::connect(&dir.path().join("ctl"));
    ctl.execute(
        "set_password",
        json!({"device": "sim0", "password": "tk-0001", "one_time": true}),
    );
    // sim1 stays locked: tickets are per device.
    let (_, offered) = security_offer(&sim1);
    assert_eq!(
        offered,
        Err("no password is set for this device yet".into())
    );
    // A wrong password fails and is logged as such.
    assert_eq!(login(&sim0, "guess").unwrap_err(), "authentication failed");
    // The one-time password lets exactly one client in.
    let _first = login(&sim0, "tk-0001").unwrap();
    let (_, offered) = security_offer(&sim0);
    assert_eq!(
        offered,
        Err("the one-time password was already used".into())
    );

    let devices = ctl.execute("query-devices", json!({}));
    let sim0_row = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sim0")
        .unwrap();
    assert_eq!(sim0_row["clients"], 1, "{devices}");
    assert_eq!(sim0_row["used"], true, "{devices}");
    let clients = ctl.execute("query-clients", json!({}));
    assert_eq!(clients.as_array().unwrap().len(), 1, "{clients}");
    assert_eq!(clients[0]["device"], "sim0", "{clients}");
    let log = server.log();
    for line in [
        "[device sim0, auth refused]",
        "[device sim0, auth failed]",
        "[device sim0, auth password]",
        "control: set_password device=sim0",
    ] {
        assert!(log.contains(line), "no {line:?} in: {log}");
    }
    assert!(
        !log.contains("tk-0001"),
        "the password is never logged: {log}"
    );
}

#[test]
fn an_expired_password_refuses_new_clients_and_disconnects_old_ones_when_asked() {
    let dir = tmp();
    let server = start_controlled(dir.path(), &["--on-expire", "disconnect"]);
    let sim1 = dir.path().join("vms/sim1");
    let mut ctl = Control::connect(&dir.path().join("ctl"));
    ctl.execute(
        "set_password",
        json!({"device": "sim1", "password": "s3cret", "expires": "+2"}),
    );
    let mut inside = login(&sim1, "s3cret").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    assert!(
        closed_within(&mut inside, Duration::from_secs(20)),
        "the client of an expired password is still connected: {}",
        server.log()
    );
    assert!(Instant::now() < deadline);
    server.wait_log("device sim1: its password expired");
    let (_, offered) = security_offer(&sim1);
    assert_eq!(offered, Err("the password for this device expired".into()));

    // A new password opens it again; `disconnect` ends a client by its number.
    ctl.execute(
        "set_password",
        json!({"device": "sim1", "password": "again"}),
    );
    let mut again = login(&sim1, "again").unwrap();
    let clients = ctl.execute("query-clients", json!({}));
    let id = clients[0]["id"].clone();
    let ended = ctl.execute("disconnect", json!({"client": id}));
    assert_eq!(ended["disconnected"], 1, "{ended}");
    assert!(closed_within(&mut again, Duration::from_secs(10)));
    let (code, log) = server.stop();
    // Ended by the SIGTERM as a stopped server is, never by a panic (101).
    assert_eq!(code, None, "{log}");
    assert!(
        log.contains("no longer served: the server stopped (SIGTERM)"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_single_device_server_takes_tickets_too_and_keeps_clients_by_default() {
    let dir = tmp();
    let ctl_path = dir.path().join("ctl");
    let control = format!("unix:{}", ctl_path.display());
    let server = Server::start_with_made_password(&["--sim", "--control", &control]);
    let mut ctl = Control::connect(&ctl_path);
    // One device: its name may be left out.
    ctl.execute("set_password", json!({"password": "pw", "expires": "+1"}));
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut types = [0u8; 2];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, [1, 2]);
    s.write_all(&[2]).unwrap();
    let mut challenge = [0u8; 16];
    s.read_exact(&mut challenge).unwrap();
    s.write_all(&auth::response(b"pw", &challenge)).unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    assert_eq!(result, [0; 4]);
    s.write_all(&[1]).unwrap();
    server.wait_log("its password expired");
    // --on-expire keep (the default): the client stays and is still served.
    s.write_all(&[3, 0, 0, 0, 0, 0, 0, 16, 0, 16]).unwrap();
    let mut head = [0u8; 1];
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut init_rest = vec![0u8; 24];
    s.read_exact(&mut init_rest).unwrap();
    let mut name = vec![0u8; init_rest[23] as usize];
    s.read_exact(&mut name).unwrap();
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0, "a FramebufferUpdate after the expiry");
    assert!(
        !server.log().contains("log in with the password"),
        "{}",
        server.log()
    );
}
