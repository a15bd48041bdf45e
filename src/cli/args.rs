//! The command line's value parsers: each turns one option's text into a value or a message
//! that names what to write instead (clap shows it with the option's name).

use crate::app::bench::BenchSize;
use crate::app::serve::endpoint::{DialAddr, ListenAddr};
use std::net::SocketAddr;
use vfio_display::device::sim::{ModeChange, SimFault};
use vfio_display::fourcc::{self, Format};
use vfio_display::frame::IrqChoice;
use vfio_display::geometry::Size;
use vfio_display::tiling::Tiling;

pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&v) {
        return Err(format!("{s}: give 0 to 86400 seconds"));
    }
    Ok(v)
}

pub fn parse_irq(s: &str) -> Result<IrqChoice, String> {
    match s {
        "auto" => Ok(IrqChoice::Auto),
        "none" => Ok(IrqChoice::None),
        n => n
            .parse()
            .map(IrqChoice::Index)
            .map_err(|_| format!("'{s}': give auto, none or an IRQ index")),
    }
}

pub fn parse_hz(s: &str) -> Result<f64, String> {
    let hz: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a rate in Hz"))?;
    if !(1.0..=1000.0).contains(&hz) {
        return Err(format!("{s}: give 1 to 1000 Hz"));
    }
    Ok(hz)
}

/// Parses `--listen`: unix:PATH, or ADDR:PORT or HOST:PORT (a name is resolved; its first
/// address is used); a bare port listens on 127.0.0.1.
pub fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    if let Some(path) = s.strip_prefix("unix:") {
        return unix_path(s, path).map(ListenAddr::Unix);
    }
    parse_tcp_listen(s).map(ListenAddr::Tcp)
}

fn unix_path(s: &str, path: &str) -> Result<std::path::PathBuf, String> {
    if path.is_empty() || path.ends_with('/') {
        return Err(format!(
            "'{s}': give unix:PATH, the socket's file (unix:/run/vd.sock)"
        ));
    }
    Ok(path.into())
}

fn parse_tcp_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let usage = "give ADDR:PORT (127.0.0.1:5900, 0.0.0.0:5901, [::1]:5900), HOST:PORT \
                 (localhost:5900), a port, or unix:PATH";
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("'{s}': the name has no address; {usage}")),
        Err(err) => Err(format!("'{s}': {err}; {usage}")),
    }
}

/// The port a listening viewer takes by default (TigerVNC's and x11vnc's).
const VIEWER_PORT: u16 = 5500;

/// Parses `--connect`: unix:PATH, HOST:PORT, [IPV6]:PORT, or HOST alone (port 5500). The
/// name is resolved at every dial, not here: a viewer's address may change while serve runs.
pub fn parse_connect(s: &str) -> Result<DialAddr, String> {
    if let Some(path) = s.strip_prefix("unix:") {
        return unix_path(s, path).map(DialAddr::Unix);
    }
    let usage = "give HOST:PORT (viewer.example:5500, [::1]:5500), HOST (port 5500) or unix:PATH";
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("'{s}': {usage}"));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(DialAddr::Tcp(addr.to_string()));
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(DialAddr::Tcp(SocketAddr::new(ip, VIEWER_PORT).to_string()));
    }
    match s.rsplit_once(':') {
        None => Ok(DialAddr::Tcp(format!("{s}:{VIEWER_PORT}"))),
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(DialAddr::Tcp(s.to_string())),
                _ => Err(format!("'{s}': '{port}' is not a port; {usage}")),
            }
        }
        Some(_) => Err(format!("'{s}': {usage}")),
    }
}

/// Parses `--socket-mode`: octal permission bits, at most 0777 (0600, 0660).
pub fn parse_socket_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 && m & 0o600 == 0o600 => Ok(m),
        Ok(m) if m <= 0o777 => Err(format!(
            "'{s}': the owner needs read and write (0600 at least), or serve could not be reached"
        )),
        _ => Err(format!("'{s}': give octal permission bits (0600, 0660)")),
    }
}

/// Parses `--socket-owner`: USER, USER:GROUP or :GROUP, by name or number.
pub fn parse_socket_owner(s: &str) -> Result<(Option<u32>, Option<u32>), String> {
    use nix::unistd::{Group, User};
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = match user {
        "" => None,
        u => Some(match u.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match User::from_name(u) {
                Ok(Some(found)) => found.uid.as_raw(),
                _ => return Err(format!("'{s}': no user '{u}'")),
            },
        }),
    };
    let gid = match group {
        None | Some("") => None,
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match Group::from_name(g) {
                Ok(Some(found)) => found.gid.as_raw(),
                _ => return Err(format!("'{s}': no group '{g}'")),
            },
        }),
    };
    if uid.is_none() && gid.is_none() {
        return Err(format!("'{s}': give USER, USER:GROUP or :GROUP"));
    }
    Ok((uid, gid))
}

#[cfg(test)]
mod listen_tests {
    use super::*;

    #[test]
    fn listen_and_connect_addresses() {
        assert_eq!(
            parse_listen("unix:/run/vd.sock"),
            Ok(ListenAddr::Unix("/run/vd.sock".into()))
        );
        assert!(parse_listen("unix:").is_err());
        assert_eq!(
            parse_listen("5901"),
            Ok(ListenAddr::Tcp(([127, 0, 0, 1], 5901).into()))
        );
        assert_eq!(
            parse_connect("192.0.2.7"),
            Ok(DialAddr::Tcp("192.0.2.7:5500".into()))
        );
        assert_eq!(
            parse_connect("viewer.example:5501"),
            Ok(DialAddr::Tcp("viewer.example:5501".into()))
        );
        assert_eq!(
            parse_connect("[::1]:5600"),
            Ok(DialAddr::Tcp("[::1]:5600".into()))
        );
        assert_eq!(
            parse_connect("unix:/tmp/v.sock"),
            Ok(DialAddr::Unix("/tmp/v.sock".into()))
        );
        assert!(parse_connect("host:0").is_err());
        assert!(parse_connect("host:x").is_err());
        assert!(parse_connect("").is_err());
    }

    #[test]
    fn socket_mode_and_owner() {
        assert_eq!(parse_socket_mode("0660"), Ok(0o660));
        assert_eq!(parse_socket_mode("600"), Ok(0o600));
        assert!(
            parse_socket_mode("0400")
                .unwrap_err()
                .contains("0600 at least")
        );
        assert!(parse_socket_mode("4755").is_err());
        assert!(parse_socket_mode("rw").is_err());
        assert_eq!(parse_socket_owner("0:0"), Ok((Some(0), Some(0))));
        assert_eq!(parse_socket_owner("root"), Ok((Some(0), None)));
        assert_eq!(parse_socket_owner(":0"), Ok((None, Some(0))));
        assert!(parse_socket_owner("no-such-user-here").is_err());
        assert!(parse_socket_owner(":").is_err());
    }
}

pub fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("'{s}': give yes or no")),
    }
}

pub fn parse_clients(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=256) => Ok(n),
        _ => Err(format!("'{s}': give 1 to 256 clients")),
    }
}

pub fn parse_bench_size(s: &str) -> Result<BenchSize, String> {
    let lower = s.trim().to_ascii_lowercase();
    if let Some((_, width, height)) = BenchSize::NAMED.iter().find(|(n, ..)| *n == lower) {
        return Ok(BenchSize {
            width: *width,
            height: *height,
        });
    }
    let Size { width, height } =
        parse_size(s).map_err(|e| format!("{e} (or 720p, 1080p, 1440p, 4k)"))?;
    if width > 8192 || height > 8192 {
        return Err(format!("'{s}': at most 8192x8192"));
    }
    Ok(BenchSize { width, height })
}

pub fn parse_tiling(s: &str) -> Result<Tiling, String> {
    Tiling::parse(s).ok_or_else(|| format!("unknown layout '{s}'; one of: linear, x, y, yf"))
}

pub fn parse_mode_change(s: &str) -> Result<ModeChange, String> {
    let (size, secs) = s
        .split_once('@')
        .ok_or_else(|| format!("'{s}': write WxH@SECONDS"))?;
    let size = parse_size(size)?;
    let secs: f64 = secs
        .parse()
        .map_err(|_| format!("'{secs}' is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{secs}: give 0 to 3600 seconds"));
    }
    Ok(ModeChange {
        after: std::time::Duration::from_secs_f64(secs),
        size,
    })
}

/// Parses "WxH" (also "W*H" or "WXH") with the library's size parser, in the words of a
/// command-line error.
pub fn parse_size(s: &str) -> Result<Size, String> {
    vfio_display::edid::parse_size(s).map_err(|e| {
        if e.reason.contains("positive") {
            format!("'{s}': width and height must be positive")
        } else {
            format!("'{s}' is not a size; write WIDTHxHEIGHT, for example 1920x1080")
        }
    })
}

pub fn parse_format(s: &str) -> Result<&'static Format, String> {
    fourcc::parse(s).ok_or_else(|| {
        let names: Vec<&str> = fourcc::FORMATS.iter().map(|f| f.name).collect();
        format!("unknown format '{s}'; one of: {}", names.join(", "))
    })
}

/// What `--sim-fault` names: a fault, or `help`, which lists them (on stdout, with success,
/// before the command runs: `Command::wants_fault_list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultArg {
    /// `--sim-fault help`.
    List,
    /// A fault by name.
    Fault(SimFault),
}

impl FaultArg {
    /// The fault, None for `help`.
    pub fn fault(self) -> Option<SimFault> {
        match self {
            FaultArg::Fault(fault) => Some(fault),
            FaultArg::List => None,
        }
    }
}

pub fn parse_fault(s: &str) -> Result<FaultArg, String> {
    if s == "help" {
        return Ok(FaultArg::List);
    }
    s.parse().map(FaultArg::Fault)
}

/// The text `--sim-fault help` prints.
pub fn fault_list() -> String {
    let lines: Vec<String> = SimFault::ALL
        .iter()
        .map(|(_, n, d)| format!("  {n:<24} {d}"))
        .collect();
    format!(
        "Simulator faults (--sim-fault NAME):\n{}\n",
        lines.join("\n")
    )
}

pub fn parse_vendor(s: &str) -> Result<[u8; 3], String> {
    let upper = s.to_ascii_uppercase();
    match <[u8; 3]>::try_from(upper.as_bytes()) {
        Ok(v) if v.iter().all(u8::is_ascii_uppercase) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a PNP vendor id: three letters, e.g. DEL"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1920x1080"), Ok(Size::new(1920, 1080)));
        assert_eq!(parse_size("640X480"), Ok(Size::new(640, 480)));
        assert!(parse_size("1920").unwrap_err().contains("WIDTHxHEIGHT"));
        assert!(parse_size("0x10").is_err());
        assert!(parse_size("axb").is_err());
        assert!(parse_size("99999999999x1").is_err());
    }
}
