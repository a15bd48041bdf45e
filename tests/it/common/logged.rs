//! A child process of a test whose stdout and stderr are collected as they come, in a process
//! group of its own that is ended on drop: proxies that fork a process per connection
//! (websockify) and browsers leave nothing behind a failed assertion.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most output kept of one process: a runaway child cannot fill the test's memory.
const MAX_LOG: usize = 4 << 20;

pub struct Logged {
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Logged {
    /// Starts `command` (its stdin closed) in a new process group, collecting what it writes.
    pub fn spawn(mut command: Command, what: &str) -> Logged {
        use std::os::unix::process::CommandExt;
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), log.clone());
        collect(child.stderr.take().unwrap(), log.clone());
        Logged { child, log }
    }

    /// What the process wrote so far, both streams as their lines came.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the output, at most `limit`; a process that ends first or
    /// a deadline that passes fails the test with `what` and the output.
    pub fn wait_log(&mut self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if done(&self.log()) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its last lines may still be on their way from the pipe.
                std::thread::sleep(Duration::from_millis(200));
                panic!("ended ({status}) before {what}; it said:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "not within {limit:?}: {what}; it said:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn collect(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    super::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap();
            if log.len() < MAX_LOG {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
}

impl Drop for Logged {
    fn drop(&mut self) {
        // The whole group: the process and every child it forked (SIGTERM lets Python's
        // servers and serve remove what they made; the wait reaps the leader).
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
