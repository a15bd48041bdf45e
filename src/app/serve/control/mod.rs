//! `--control unix:PATH`: the control socket, where a VM manager sets each device's password at
//! run time and sees and drops its clients, in the shape of QEMU's QMP: one JSON request per
//! line, each answered by one JSON line (docs/control.md is the protocol for operators).
//!
//! The socket is always mode 0600 (made by `unix_socket::bind`): whoever can write to it can
//! let anyone in. Every request that changes something is logged to stderr with the caller's
//! uid and pid, for an audit trail; a password never is.

mod commands;
mod lines;
mod time;
mod watch;

#[cfg(test)]
mod tests;

use super::tickets::Tickets;
use lines::{Line, LineReader};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

pub use watch::{OnExpire, watch_expiry};

/// Control connections at once; the next is told why and closed. A manager needs one or two.
pub const MAX_CONNECTIONS: usize = 8;

/// The longest request line, in bytes; a longer one is answered with an error and closes its
/// connection, since the rest of it cannot be told from the next request.
pub const MAX_LINE: usize = 64 * 1024;

/// How often a waiting thread looks at `stopping()`, so the server stops promptly.
const POLL: Duration = Duration::from_millis(200);

/// How long an answer may wait for a client that does not read, before its connection is
/// closed (an answer is small: only a client that stopped reading takes this long).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One client of a served device, as `query-clients` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The server's number for the client, which `disconnect` takes.
    pub id: u64,
    /// The device it watches.
    pub device: String,
    /// Where it came from: an address, or a local user on a unix socket.
    pub peer: String,
    /// How it came: "vnc", "websocket", "vnc+tls" and so on.
    pub transport: String,
    /// When it connected.
    pub since: SystemTime,
}

/// What the control socket acts on: the served devices and their clients.
pub trait Fleet: Sync {
    /// The names of the devices served now.
    fn device_names(&self) -> Vec<String>;
    /// How many clients watch `device`.
    fn client_count(&self, device: &str) -> usize;
    /// Every client of every device.
    fn clients(&self) -> Vec<ClientInfo>;
    /// Closes client `id`, telling it `why`; false when there is no such client.
    fn disconnect_client(&self, id: u64, why: &str) -> bool;
    /// Closes every client of `device`, telling them `why`; how many there were.
    fn disconnect_device(&self, device: &str, why: &str) -> usize;
}

/// What a request acts on.
#[derive(Clone, Copy)]
struct Context<'a> {
    tickets: &'a Tickets,
    fleet: &'a dyn Fleet,
}

/// Who is on the other end of a control connection, for the audit trail.
#[derive(Debug, Clone, Copy)]
struct Caller {
    uid: u32,
    pid: i32,
}

impl Caller {
    fn of(stream: &UnixStream) -> Caller {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        match getsockopt(stream, PeerCredentials) {
            Ok(cred) => Caller {
                uid: cred.uid(),
                pid: cred.pid(),
            },
            // Not expected on Linux; the log then shows an impossible uid rather than none.
            Err(_) => Caller {
                uid: u32::MAX,
                pid: 0,
            },
        }
    }
}

/// Counts a connection while its thread runs, however the thread ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves control connections on `listener` until `stopping()` (polled every 200 ms, so the
/// server stops promptly); each connection on its own thread, at most [`MAX_CONNECTIONS`].
/// The listener is made non-blocking: a client that leaves between poll and accept must not
/// hold up the loop.
pub fn run(
    listener: &UnixListener,
    tickets: &Tickets,
    fleet: &dyn Fleet,
    stopping: &(dyn Fn() -> bool + Sync),
) {
    if let Err(err) = listener.set_nonblocking(true) {
        tracing::warn!("control socket: making it non-blocking: {err}");
    }
    let ctx = Context { tickets, fleet };
    let open = AtomicUsize::new(0);
    std::thread::scope(|s| {
        while !stopping() {
            let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(POLL.as_millis() as u16)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!("control socket: poll: {err}");
                    std::thread::sleep(POLL);
                    continue;
                }
            }
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("control socket: accepting a connection: {err}");
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::AcqRel);
                refuse(&stream);
                continue;
            }
            let slot = Slot(&open);
            let spawned = std::thread::Builder::new()
                .name("serve: control".to_owned())
                .spawn_scoped(s, move || {
                    let _slot = slot;
                    serve_connection(&stream, ctx, stopping);
                });
            if let Err(err) = spawned {
                // The closure, and the slot in it, were dropped with the error.
                tracing::warn!("control socket: starting a thread for a connection: {err}");
            }
        }
    });
}

/// Tells a connection past [`MAX_CONNECTIONS`] why it is closed.
fn refuse(stream: &UnixStream) {
    let answer = commands::error_answer(
        &format!(
            "too many control connections (at most {MAX_CONNECTIONS} at once): close one and \
             try again"
        ),
        None,
    );
    let _ = stream.set_write_timeout(Some(POLL));
    let _ = send(stream, &answer);
}

/// One JSON value on one line.
fn send(mut stream: &UnixStream, value: &serde_json::Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// Greets a control connection and answers its requests until it closes, sends a line that
/// is too long, stops reading, or the server stops.
fn serve_connection(stream: &UnixStream, ctx: Context<'_>, stopping: &(dyn Fn() -> bool + Sync)) {
    let caller = Caller::of(stream);
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)));
    if let Err(err) = setup {
        tracing::warn!("control socket: setting up a connection: {err}");
        return;
    }
    let greeting = serde_json::json!({ "vfio-display": { "version": env!("CARGO_PKG_VERSION") } });
    if send(stream, &greeting).is_err() {
        return;
    }
    let mut lines = LineReader::new(stream, MAX_LINE);
    loop {
        let line = match lines.next(stopping) {
            Line::Request(line) => line,
            Line::TooLong => {
                let answer = commands::error_answer(
                    &format!(
                        "a request line is longer than {} KiB: closing the connection",
                        MAX_LINE / 1024
                    ),
                    None,
                );
                let _ = send(stream, &answer);
                return;
            }
            Line::End => return,
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let outcome = commands::answer(&line, ctx, SystemTime::now());
        if let Some(audit) = &outcome.audit {
            errln!(
                "vfio-display: control: {audit} (uid {}, pid {})",
                caller.uid,
                caller.pid
            );
        }
        if send(stream, &outcome.answer).is_err() {
            return;
        }
    }
}
