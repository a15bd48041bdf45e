//! A client's socket, whichever way it came: accepted on TCP or on a unix socket, or dialed
//! out to a listening viewer. Everything above the transport treats both kinds alike; only the
//! peer's name differs (an address, or a local process's credentials).

use nix::sys::socket::{MsgFlags, recv};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

/// A connected stream socket.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A unix stream socket.
    Unix(UnixStream),
}

impl Stream {
    /// A second handle on the same socket.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// Shuts the socket down: a read or write blocked on it returns.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        match self {
            Stream::Tcp(s) => s.write_timeout(),
            Stream::Unix(s) => s.write_timeout(),
        }
    }

    /// Small writes go out at once on TCP (a unix socket has no Nagle to turn off).
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    /// Reads without consuming, within the read timeout (std has no `peek` for unix streams
    /// yet, so both kinds go through recv with MSG_PEEK).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match recv(self.as_raw_fd(), buf, MsgFlags::MSG_PEEK) {
                Ok(n) => return Ok(n),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Who is at the other end, as logs name it and as the gate counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer's address.
    Ip(SocketAddr),
    /// A local process on a unix socket: its credentials when it connected (SO_PEERCRED), and
    /// the socket it came by.
    Local {
        uid: u32,
        pid: i32,
        socket: Arc<str>,
    },
}

/// What the gate counts connections and failed passwords by: an address, or a local user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    /// An address (IPv6 by its /64).
    Ip(IpAddr),
    /// A local user, whatever its processes.
    Uid(u32),
}

impl Peer {
    /// The peer of a unix stream `s` that came by `socket` (its path, as shown).
    pub fn local(s: &UnixStream, socket: Arc<str>) -> Peer {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        match getsockopt(s, PeerCredentials) {
            Ok(cred) => Peer::Local {
                uid: cred.uid(),
                pid: cred.pid(),
                socket,
            },
            // Not expected on Linux; the peer is then named by the socket alone.
            Err(_) => Peer::Local {
                uid: u32::MAX,
                pid: 0,
                socket,
            },
        }
    }

    /// What the gate counts this peer by.
    pub fn key(&self) -> PeerKey {
        match self {
            Peer::Ip(addr) => PeerKey::Ip(ip_key(addr.ip())),
            Peer::Local { uid, .. } => PeerKey::Uid(*uid),
        }
    }
}

/// IPv4 addresses alone, IPv6 by their /64 (one host holds a whole /64).
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ip(addr) => write!(f, "{addr}"),
            Peer::Local { uid, pid, socket } => {
                write!(f, "uid {uid} pid {pid} on unix:{socket}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn ipv6_hosts_count_by_their_64_and_local_peers_by_uid() {
        let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6));
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9));
        let peer = |ip| Peer::Ip(SocketAddr::new(ip, 1));
        assert_eq!(peer(a).key(), peer(b).key());
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(peer(mapped).key(), PeerKey::Ip(v4));
        let local = |pid| Peer::Local {
            uid: 1000,
            pid,
            socket: "/run/x.sock".into(),
        };
        assert_eq!(local(1).key(), local(2).key());
        assert_eq!(local(7).to_string(), "uid 1000 pid 7 on unix:/run/x.sock");
    }

    #[test]
    fn a_unix_peer_is_named_by_its_credentials() {
        let (a, b) = UnixStream::pair().unwrap();
        let Peer::Local { uid, pid, .. } = Peer::local(&a, "x".into()) else {
            panic!("not local");
        };
        assert_eq!(uid, nix::unistd::getuid().as_raw());
        assert_eq!(pid, std::process::id() as i32);
        let stream = Stream::Unix(b);
        (&a).write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(stream.peek(&mut buf).unwrap(), 2);
        assert_eq!(&buf, b"hi");
    }
}
