//! `attach` ends with its VM: a fake QEMU (a process holding a pipe's write end, the stand-in for
//! its device fd) is killed under `attach ... screenshot` and `attach ... serve`; the command
//! ends at once with "the VM ended" and exit status 4, lets go of the fd (the pipe's reader sees
//! its last writer gone), writes no picture after the exit, and tells its RFB client why. The
//! same is played with a real QEMU and mdev in the VM suite.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failed test

use crate::common::cli::{bin, path_str, tmp};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

/// How soon after QEMU's exit the command must have ended and released the device.
const LIMIT: Duration = Duration::from_secs(1);

/// A fake QEMU: its stdout (fd 1) is the write end of a pipe whose read end the test keeps.
struct FakeQemu {
    child: Child,
    reader: OwnedFd,
}

impl FakeQemu {
    fn start() -> FakeQemu {
        let (reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let child = Command::new("sleep")
            .arg("300")
            .stdout(Stdio::from(writer))
            .spawn()
            .unwrap();
        FakeQemu { child, reader }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// SIGKILLs it and returns once it has ended: the moment of its exit, at the latest.
    fn kill(&mut self) -> (Instant, SystemTime) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (Instant::now(), SystemTime::now())
    }

    /// True once nobody holds the write end any more (the pipe hangs up), within `limit`.
    fn released_within(&self, limit: Duration) -> bool {
        let ms = u16::try_from(limit.as_millis()).unwrap();
        let mut fds = [PollFd::new(self.reader.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(ms)).unwrap();
        ready > 0
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP))
    }
}

impl Drop for FakeQemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `attach` being waited for: killed when the test ends before it did (a failed test must
/// not leave it running).
struct Waited {
    done: mpsc::Receiver<(ExitStatus, String)>,
    pid: nix::unistd::Pid,
    reaped: Arc<AtomicBool>,
}

impl Waited {
    fn recv_timeout(
        &self,
        limit: Duration,
    ) -> Result<(ExitStatus, String), mpsc::RecvTimeoutError> {
        self.done.recv_timeout(limit)
    }
}

impl Drop for Waited {
    fn drop(&mut self) {
        // Not reaped yet, so the pid is still this child's.
        if !self.reaped.load(Ordering::SeqCst) {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Waits for `child` on a thread, so that the wait can have a limit.
fn waiter(mut child: Child) -> Waited {
    let (tx, rx) = mpsc::channel();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let reaped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&reaped);
    crate::common::spawn(move || {
        let err = crate::common::cli::all_stderr(&mut child);
        let status = child.wait().unwrap();
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send((status, err));
    });
    Waited {
        done: rx,
        pid,
        reaped,
    }
}

#[test]
fn a_screenshot_series_ends_with_its_vm_and_writes_nothing_after() {
    let mut qemu = FakeQemu::start();
    let dir = tmp();
    let out = dir.path().join("shot.png");
    let mut attach = bin()
        .args(["attach", "--pid", &qemu.pid(), "--sim-stand-in", "1"])
        .args(["screenshot", "--count", "1000", "--interval", "50"])
        .args(["-o", path_str(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(attach.stdout.take().unwrap()).lines();
    // Three pictures while the VM runs.
    let mut written = Vec::new();
    while written.len() < 3 {
        let line = lines.next().unwrap().unwrap();
        written.push(line);
    }
    let done = waiter(attach);
    let (exited, exited_wall) = qemu.kill();
    assert!(
        qemu.released_within(LIMIT),
        "the stand-in device fd is still held {LIMIT:?} after QEMU's exit"
    );
    let (status, err) = done
        .recv_timeout(LIMIT.saturating_sub(exited.elapsed()))
        .expect("attach still runs a second after QEMU's exit");
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(err.contains("the VM ended"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Every picture it wrote is older than QEMU's exit.
    written.extend(lines.map_while(Result::ok));
    assert!(written.len() < 1000, "the series ran to its end");
    for line in &written {
        let path = line
            .strip_prefix("wrote ")
            .and_then(|rest| rest.split(" (").next())
            .unwrap_or_else(|| panic!("{line}"));
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        assert!(
            modified <= exited_wall,
            "{path} was written after QEMU's exit"
        );
    }
    let on_disk = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(on_disk, written.len(), "pictures on disk but not reported");
}

#[test]
fn serve_ends_with_its_vm_and_tells_its_client_why() {
    let mut qemu = FakeQemu::start();
    let mut attach = bin()
        .args(["attach", "--pid", &qemu.pid(), "--sim-stand-in", "1"])
        .args(["serve", "--no-auth", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = crate::common::cli::first_line(&mut attach);
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // A client past the handshake (no security), then QEMU ends.
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut version = [0u8; 12];
    client.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"RFB 003.008\n");
    std::io::Write::write_all(&mut client, b"RFB 003.008\n").unwrap();
    let mut security = [0u8; 2];
    client.read_exact(&mut security).unwrap();
    std::io::Write::write_all(&mut client, &[security[1]]).unwrap();
    let mut result = [0u8; 4];
    client.read_exact(&mut result).unwrap();
    assert_eq!(result, [0; 4], "security result");
    std::io::Write::write_all(&mut client, &[1]).unwrap();
    let mut init = [0u8; 24];
    client.read_exact(&mut init).unwrap();
    let name_len = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    let mut name = vec![0u8; name_len];
    client.read_exact(&mut name).unwrap();
    let done = waiter(attach);
    let (exited, _) = qemu.kill();
    // The client's connection ends (EOF or reset) at once.
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut rest = Vec::new();
    let read = client.read_to_end(&mut rest);
    assert!(
        !matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
            || e.kind() == std::io::ErrorKind::TimedOut),
        "the client is still connected {LIMIT:?} after QEMU's exit"
    );
    assert!(
        qemu.released_within(LIMIT.saturating_sub(exited.elapsed())),
        "the stand-in device fd is still held after QEMU's exit"
    );
    let (status, err) = done
        .recv_timeout(LIMIT.saturating_sub(exited.elapsed()))
        .expect("attach still runs a second after QEMU's exit");
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(err.contains("gone: the VM ended"), "{err}");
    assert!(err.contains("the VM ended (QEMU, process"), "{err}");
}
