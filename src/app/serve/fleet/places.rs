//! A device's own places under `serve --all`: a unix socket named after it in `--socket-dir`
//! (what websockify's UnixDomainSocketDirectory plugin and token files point at), and a TCP
//! port from `--port-range`, the first one free.

use super::super::listeners::Listener;
use super::super::unix_socket::{self, SocketAccess};
use anyhow::{Context, Result, bail};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

/// `--port-range [ADDR:]FIRST-LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub addr: IpAddr,
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V6(a) => write!(f, "[{a}]:{}-{}", self.first, self.last),
            IpAddr::V4(a) => write!(f, "{a}:{}-{}", self.first, self.last),
        }
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, ports) = match text.rsplit_once(':') {
            Some((addr, ports)) => {
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("'{addr}' is not an IP address"))?;
                (addr, ports)
            }
            None => (IpAddr::V4(Ipv4Addr::LOCALHOST), text),
        };
        let (first, last) = ports
            .split_once('-')
            .ok_or_else(|| format!("'{ports}' is not a range FIRST-LAST"))?;
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("'{p}' is not a port (1 to 65535)"))
        };
        let (first, last) = (port(first)?, port(last)?);
        if last < first {
            return Err(format!(
                "{first}-{last} is empty: give FIRST-LAST with FIRST <= LAST"
            ));
        }
        Ok(PortRange { addr, first, last })
    }
}

/// The device's own listeners: its socket in `dir`, its port from `range`.
pub fn open(
    name: &str,
    dir: Option<&Path>,
    access: SocketAccess,
    range: Option<&PortRange>,
) -> Result<Vec<Arc<Listener>>> {
    let mut own = Vec::new();
    if let Some(dir) = dir {
        let path = dir.join(name);
        let (listener, file) = unix_socket::bind(&path, access)
            .with_context(|| format!("listening on unix:{}", path.display()))?;
        listener.set_nonblocking(true)?;
        own.push(Arc::new(Listener::Unix {
            listener,
            shown: file.path().display().to_string().into(),
            _file: Some(file),
        }));
    }
    if let Some(range) = range {
        let listener = first_free(range)?;
        listener.set_nonblocking(true)?;
        own.push(Arc::new(Listener::Tcp(listener)));
    }
    Ok(own)
}

/// The first port of `range` that binds.
fn first_free(range: &PortRange) -> Result<TcpListener> {
    for port in range.first..=range.last {
        match TcpListener::bind(SocketAddr::new(range.addr, port)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("listening on {}", SocketAddr::new(range.addr, port))
                });
            }
        }
    }
    bail!("every port of --port-range {range} is in use")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_with_and_without_an_address() {
        let r: PortRange = "5901-5964".parse().unwrap();
        assert_eq!(
            (r.addr.to_string(), r.first, r.last),
            ("127.0.0.1".into(), 5901, 5964)
        );
        let r: PortRange = "0.0.0.0:6000-6000".parse().unwrap();
        assert_eq!(r.to_string(), "0.0.0.0:6000-6000");
        let r: PortRange = "[::1]:7000-7001".parse().unwrap();
        assert_eq!(r.to_string(), "[::1]:7000-7001");
        for bad in ["5901", "5964-5901", "0-10", "x:1-2", "1-70000"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_taken_port_is_skipped_and_a_full_range_is_an_error() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let one = PortRange {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first: port,
            last: port,
        };
        let err = first_free(&one).unwrap_err().to_string();
        assert!(err.contains("is in use"), "{err}");
    }
}
