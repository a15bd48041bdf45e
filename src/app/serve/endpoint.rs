//! Where `serve` takes its clients from: addresses it listens on (TCP or unix sockets),
//! sockets a service manager handed over, and viewers it dials (reverse connections).

use super::unix_socket::SocketAccess;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The address `serve` listens on when nothing else is asked: loopback only.
pub const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 5900);

/// An address to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket made at this path.
    Unix(PathBuf),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A listening viewer to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialAddr {
    /// HOST:PORT, resolved again at every attempt (a viewer's address may change).
    Tcp(String),
    /// A unix socket's path.
    Unix(PathBuf),
}

impl fmt::Display for DialAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialAddr::Tcp(host_port) => write!(f, "{host_port}"),
            DialAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// How long a reverse connection waits before it dials again: `first` after the first
/// failure, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after `delay`: twice as long, at most `max`.
    pub fn next(&self, delay: Duration) -> Duration {
        (delay * 2).min(self.max).max(self.first)
    }
}

/// Every source of clients `serve` was given.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// `--listen`, in order (empty: the default address, unless something else was given).
    pub listen: Vec<ListenAddr>,
    /// `--connect`, in order.
    pub connect: Vec<DialAddr>,
    /// The mode and owner of the unix sockets `serve` makes.
    pub access: SocketAccess,
    /// The reverse connections' back-off.
    pub backoff: Backoff,
    /// Clients come some other way (`serve --all`'s per-device sockets and ports): no default
    /// address.
    pub no_default: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff::default();
        let mut d = b.first;
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(d.as_secs());
            d = b.next(d);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30]);
    }
}
