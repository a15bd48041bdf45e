//! Reverse connections (`--connect`): `serve` dials a viewer that listens (TigerVNC's
//! `vncviewer -listen`, x11vnc's `-connect`, QEMU's `reverse=on`) and plays the server's side
//! of RFB on that connection, with the same security as an accepted client. When the dial
//! fails or the session ends it dials again, after a wait that doubles from `--connect-retry`'s
//! first to its longest; a session that lasted at least the longest wait starts the waits over.

use super::endpoint::{Backoff, DialAddr};
use super::stream::{Peer, Stream};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrLike, UnixAddr, connect, getsockopt, socket, sockopt,
};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a wait looks whether the server stops.
const TICK: Duration = Duration::from_millis(100);

/// What a dialing thread needs from the server.
pub struct Dialer<'a> {
    pub target: &'a DialAddr,
    pub backoff: Backoff,
    /// The longest a dial may take (`--client-timeout`).
    pub timeout: Duration,
    /// Whether the server stops.
    pub stopping: &'a (dyn Fn() -> bool + Sync),
    /// Log lines, when the server logs its clients.
    pub log: bool,
}

impl Dialer<'_> {
    /// Dials and serves until the server stops; `serve` runs one session to its end.
    pub fn run(&self, serve: &dyn Fn(Stream, Peer)) {
        let mut delay = self.backoff.first;
        let mut attempt: u64 = 0;
        while !(self.stopping)() {
            attempt += 1;
            let what = match dial(self.target, self.timeout, self.stopping) {
                Ok((stream, peer)) => {
                    self.say(&format!(
                        "viewer {}: connected (attempt {attempt})",
                        self.target
                    ));
                    let started = Instant::now();
                    serve(stream, peer);
                    if started.elapsed() >= self.backoff.max {
                        delay = self.backoff.first;
                    }
                    "the session ended".to_string()
                }
                Err(err) => format!("not reached (attempt {attempt}): {err}"),
            };
            if (self.stopping)() {
                return;
            }
            self.say(&format!(
                "viewer {}: {what}; dialing again in {} s",
                self.target,
                fmt_secs(delay)
            ));
            wait(delay, self.stopping);
            delay = self.backoff.next(delay);
        }
    }

    fn say(&self, line: &str) {
        if self.log {
            errln!("vfio-display: {line}");
        } else {
            tracing::info!("{line}");
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// Sleeps `delay`, or less when the server stops.
fn wait(delay: Duration, stopping: &dyn Fn() -> bool) {
    let end = Instant::now() + delay;
    while !stopping() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(TICK));
    }
}

/// Connects to `target` within `timeout`, giving up at once when the server stops.
fn dial(
    target: &DialAddr,
    timeout: Duration,
    stopping: &dyn Fn() -> bool,
) -> io::Result<(Stream, Peer)> {
    match target {
        DialAddr::Unix(path) => {
            let addr = UnixAddr::new(path.as_path()).map_err(io::Error::from)?;
            let fd = connect_within(AddressFamily::Unix, &addr, timeout, stopping)?;
            let s = UnixStream::from(fd);
            s.set_nonblocking(false)?;
            let peer = Peer::local(&s, Arc::from(path.display().to_string()));
            Ok((Stream::Unix(s), peer))
        }
        DialAddr::Tcp(host_port) => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
            for addr in host_port.as_str().to_socket_addrs()? {
                match tcp_connect(addr, timeout, stopping) {
                    Ok(s) => return Ok((Stream::Tcp(s), Peer::Ip(addr))),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// A TCP connect within `timeout`. std's timed connect runs on a thread of its own, so that a
/// stopping server need not wait for a viewer's host that does not answer: the thread is left
/// to end by its timeout, and what it connects is then closed.
fn tcp_connect(
    addr: SocketAddr,
    timeout: Duration,
    stopping: &dyn Fn() -> bool,
) -> io::Result<TcpStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("serve: dial".into())
        .spawn(move || {
            let _ = tx.send(TcpStream::connect_timeout(&addr, timeout));
        })?;
    loop {
        if stopping() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the server stops",
            ));
        }
        match rx.recv_timeout(TICK) {
            Ok(result) => return result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other(
                    "the dialing thread ended without an answer",
                ));
            }
        }
    }
}

/// A non-blocking connect, waited for in ticks so that a stopping server is not held.
fn connect_within(
    family: AddressFamily,
    addr: &dyn SockaddrLike,
    timeout: Duration,
    stopping: &dyn Fn() -> bool,
) -> io::Result<OwnedFd> {
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), addr) {
        Ok(()) => return Ok(fd),
        Err(Errno::EINPROGRESS | Errno::EAGAIN | Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    let end = Instant::now() + timeout;
    loop {
        if stopping() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the server stops",
            ));
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {} s", timeout.as_secs()),
            ));
        }
        let ms = left.min(TICK).as_millis().max(1);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => break,
            Err(e) => return Err(e.into()),
        }
    }
    match getsockopt(&fd, sockopt::SocketError)? {
        0 => Ok(fd),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn dials_a_listening_viewer_and_retries_after_a_refusal() {
        // A port nothing listens on yet: take one, close it, and listen on it later.
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let target = DialAddr::Tcp(addr.to_string());
        let stop = AtomicBool::new(false);
        let stopping = || stop.load(Ordering::Acquire);
        let peers = Mutex::new(Vec::new());
        let dialer = Dialer {
            target: &target,
            backoff: Backoff {
                first: Duration::from_millis(50),
                max: Duration::from_millis(200),
            },
            timeout: Duration::from_secs(5),
            stopping: &stopping,
            log: false,
        };
        std::thread::scope(|s| {
            let thread = std::thread::Builder::new()
                .name("dialer".into())
                .spawn_scoped(s, || {
                    dialer.run(&|mut stream: Stream, peer: Peer| {
                        stream.write_all(b"RFB 003.008\n").unwrap();
                        peers.lock().unwrap().push(peer);
                    })
                })
                .unwrap();
            std::thread::sleep(Duration::from_millis(120));
            let viewer = TcpListener::bind(addr).unwrap();
            let (mut conn, _) = viewer.accept().unwrap();
            let mut version = [0u8; 12];
            conn.read_exact(&mut version).unwrap();
            assert_eq!(&version, b"RFB 003.008\n");
            stop.store(true, Ordering::Release);
            thread.join().unwrap();
        });
        assert_eq!(peers.lock().unwrap()[0], Peer::Ip(addr));
    }
}
