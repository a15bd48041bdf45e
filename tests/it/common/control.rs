//! A client of `serve --control`'s socket, as a VM manager drives it.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::cli::path_str;
use super::serve::Server;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A control connection: one JSON request per line, one answer per line.
pub struct Control {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Control {
    /// Connects and reads the first line (the greeting, or why the connection is refused).
    pub fn open(path: &Path) -> (Control, Value) {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Control {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        let first = c.line();
        (c, first)
    }

    pub fn connect(path: &Path) -> Control {
        let (c, greeting) = Control::open(path);
        assert!(
            greeting["vfio-display"]["version"].is_string(),
            "{greeting}"
        );
        c
    }

    pub fn line(&mut self) -> Value {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?} ({read:?})"))
    }

    /// Whether the server closed the connection (the next read finds its end).
    pub fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(self.reader.read_line(&mut rest), Ok(0))
    }

    /// Sends a request; returns its `return`, or panics with its error.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Value {
        let request = json!({"execute": command, "arguments": arguments, "id": command});
        writeln!(self.writer, "{request}").unwrap();
        let answer = self.line();
        assert_eq!(answer["id"], command, "{answer}");
        answer
            .get("return")
            .cloned()
            .unwrap_or_else(|| panic!("{command} failed: {answer}"))
    }
}

/// `serve --all` with two simulated devices, their sockets in DIR/vms and the control socket
/// DIR/ctl, with `extra`; returns once both devices serve. Without `--no-auth` or a password
/// file in `extra`, the devices are locked until the control socket sets a password.
pub fn start_controlled(dir: &Path, extra: &[&str]) -> Server {
    let sockets = dir.join("vms");
    std::fs::create_dir_all(&sockets).unwrap();
    let control = format!("unix:{}", dir.join("ctl").display());
    let mut args = vec![
        "--all",
        "--sim",
        "--sim-devices",
        "2",
        "--socket-dir",
        path_str(&sockets),
        "--control",
        &control,
    ];
    args.extend_from_slice(extra);
    let server = Server::start_with_made_password(&args);
    server.wait_log("device sim0: serving");
    server.wait_log("device sim1: serving");
    server
}
