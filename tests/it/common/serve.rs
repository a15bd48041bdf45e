//! A running `serve` for the integration tests: started on a free loopback port, its stderr
//! collected, stopped on drop.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::cli::bin;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `serve`; killed (SIGTERM, then waited for) on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// The first line on stdout: the addresses served, and where input goes.
    pub address_line: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    collector: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0` with `args`; returns once it printed its address.
    /// Without `--password-file` in `args` it serves with `--no-auth` (the tests that are not
    /// about authentication); `start_with_made_password` keeps serve's own default.
    pub fn start(args: &[&str]) -> Server {
        Server::start_on("127.0.0.1", args)
    }

    /// Starts `serve --listen HOST:0` (`host` an IPv4 address) with `args`, as `start` does;
    /// returns once it printed its address.
    pub fn start_on(host: &str, args: &[&str]) -> Server {
        let open = !args.contains(&"--password-file") && !args.contains(&"--no-auth");
        let extra: &[&str] = if open { &["--no-auth"] } else { &[] };
        Server::spawn(host, &[args, extra].concat())
    }

    /// Starts `serve --listen 127.0.0.1:0` with `args` as they are: without a password file
    /// or `--no-auth`, serve makes a password and shows it on stderr.
    pub fn start_with_made_password(args: &[&str]) -> Server {
        Server::spawn("127.0.0.1", args)
    }

    /// The password serve made for the run, from its stderr.
    pub fn made_password(&self) -> String {
        self.wait_log("log in with the password ");
        let log = self.log();
        let rest = log.split("log in with the password ").nth(1).unwrap();
        rest.split(' ').next().unwrap().to_string()
    }

    fn spawn(host: &str, args: &[&str]) -> Server {
        let listen = format!("{host}:0");
        let mut child = bin()
            .args(["serve", "--listen", &listen])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let line = crate::common::cli::first_line(&mut child);
        let port = line
            .split(&format!("{host}:"))
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let err = crate::common::cli::all_stderr(&mut child);
                panic!("no address in {line:?}; stderr: {err}")
            });
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let collector = super::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server {
            child,
            port,
            address_line: line,
            log,
            collector: Some(collector),
        }
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most 30 s) until stderr has a line containing `needle`.
    pub fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "serve never said {needle:?}; it said: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and returns its stderr.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        self.collector.take().unwrap().join().unwrap();
        (status.code(), self.log())
    }

    /// Waits for the server to end by itself (a signal the test sent) and returns its stderr.
    pub fn stop_waiting(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.collector.take().unwrap().join().unwrap();
        (status.code(), self.log())
    }

    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of process `pid` now and at its peak (VmRSS, VmHWM), in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
