//! The sockets `serve` listens on: TCP, unix sockets it made (removed at exit), and sockets a
//! service manager handed over. Each accepts without blocking and names its peers.

use super::activation::Activated;
use super::endpoint::{DEFAULT_LISTEN, Endpoints, ListenAddr};
use super::stream::{Peer, Stream};
use super::unix_socket::{self, SocketFile};
use anyhow::{Context, Result};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixListener;
use std::sync::Arc;

/// One listening socket.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix socket; `_file` is set when this server made it (and removes it at exit).
    Unix {
        listener: UnixListener,
        /// Its path as logs show it.
        shown: Arc<str>,
        _file: Option<SocketFile>,
    },
}

impl Listener {
    /// Accepts one connection, without blocking (WouldBlock when none is waiting).
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                s.set_nonblocking(false)?;
                Ok((Stream::Tcp(s), Peer::Ip(addr)))
            }
            Listener::Unix {
                listener, shown, ..
            } => {
                let (s, _) = listener.accept()?;
                s.set_nonblocking(false)?;
                let peer = Peer::local(&s, shown.clone());
                Ok((Stream::Unix(s), peer))
            }
        }
    }

    pub fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix { listener, .. } => listener.set_nonblocking(true),
        }
    }

    /// The TCP address, for the announcement's URLs.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    /// The address as the announcement shows it.
    pub fn shown(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(addr) => addr.to_string(),
                Err(_) => "a TCP socket".into(),
            },
            Listener::Unix { shown, .. } => format!("unix:{shown}"),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix { listener, .. } => listener.as_fd(),
        }
    }
}

/// Opens every listener: the activated sockets, then `--listen`'s addresses in order; the
/// default address only when neither these nor `--connect` give the server a client.
pub fn open(endpoints: &Endpoints, activated: Vec<Activated>) -> Result<Vec<Listener>> {
    let mut out = Vec::new();
    for a in activated {
        out.push(match a {
            Activated::Tcp(l, name) => {
                tracing::info!("serving the activated socket {name} ({:?})", l.local_addr());
                Listener::Tcp(l)
            }
            Activated::Unix(listener, name) => {
                tracing::info!("serving the activated unix socket {name}");
                let shown = unix_name(&listener).unwrap_or(name);
                Listener::Unix {
                    listener,
                    shown: shown.into(),
                    _file: None,
                }
            }
        });
    }
    let default = [ListenAddr::Tcp(DEFAULT_LISTEN.into())];
    let wanted: &[ListenAddr] = if endpoints.listen.is_empty()
        && endpoints.connect.is_empty()
        && !endpoints.no_default
        && out.is_empty()
    {
        &default
    } else {
        &endpoints.listen
    };
    for addr in wanted {
        out.push(match addr {
            ListenAddr::Tcp(a) => {
                Listener::Tcp(TcpListener::bind(a).with_context(|| format!("listening on {a}"))?)
            }
            ListenAddr::Unix(path) => {
                let (listener, file) = unix_socket::bind(path, endpoints.access)
                    .with_context(|| format!("listening on unix:{}", path.display()))?;
                Listener::Unix {
                    listener,
                    shown: file.path().display().to_string().into(),
                    _file: Some(file),
                }
            }
        });
    }
    Ok(out)
}

/// A unix listener's path, if it has one (an abstract or unnamed socket has none).
fn unix_name(l: &UnixListener) -> Option<String> {
    let addr = l.local_addr().ok()?;
    addr.as_pathname().map(|p| p.display().to_string())
}
