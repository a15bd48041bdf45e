//! websockify (0.10, Debian's) with its TokenFile plugin in front of VNC servers on unix
//! sockets, as OpenStack's nova-novncproxy and similar consoles map a token in the page's URL
//! to one server; it also serves noVNC's pages.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::logged::Logged;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub struct Websockify {
    pub process: Logged,
    pub port: u16,
}

impl Websockify {
    /// Starts websockify on 127.0.0.1 with the token file `tokens` and noVNC's pages from
    /// `web`; returns once it accepts connections.
    pub fn start(tokens: &Path, web: &Path) -> Websockify {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut command = Command::new("websockify");
        command
            // Its log lines as they happen, not when a buffer fills.
            .env("PYTHONUNBUFFERED", "1")
            .args(["--token-plugin", "TokenFile", "--token-source"])
            .arg(tokens)
            .arg("--web")
            .arg(web)
            .arg(format!("127.0.0.1:{port}"));
        let mut process = Logged::spawn(
            command,
            "websockify (Debian websockify; scripts/install-test-deps.sh installs it)",
        );
        process.wait_log("websockify listens", Duration::from_secs(20), |_| {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Websockify { process, port }
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// Random tokens as a console proxy makes them: 32 hex digits from the kernel's generator.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
