//! Socket activation: listening sockets a service manager (systemd, or
//! `systemd-socket-activate`) opened and handed over, as sd_listen_fds(3) defines it.
//! `LISTEN_PID` must be this process, `LISTEN_FDS` counts the fds from 3, and `LISTEN_FDNAMES`
//! names them (colon-separated). The variables are removed in every case, so that no child
//! takes them for its own; each fd is marked close-on-exec and checked to be a listening
//! stream socket before it is served.
//!
//! This is one of the program's few `unsafe` places (it is allowed where the module is
//! declared): adopting an inherited fd number and changing the environment have no safe form.

use anyhow::{Context, Result, bail};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::socket::{AddressFamily, SockType, SockaddrLike, SockaddrStorage, getsockname};
use nix::sys::socket::{getsockopt, sockopt};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

/// sd_listen_fds(3)'s first fd.
const FIRST_FD: RawFd = 3;

/// More fds than any service passes: a larger count is a mistake, refused by name.
const MAX_FDS: usize = 256;

/// A listening socket handed over, with the name `LISTEN_FDNAMES` gave it.
#[derive(Debug)]
pub enum Activated {
    Tcp(TcpListener, String),
    Unix(UnixListener, String),
}

/// What the service manager's three variables said.
#[derive(Debug, PartialEq, Eq)]
struct Variables {
    pid: Option<String>,
    fds: Option<String>,
    names: Option<String>,
}

/// Reads the three variables and removes them from the environment.
fn take_variables() -> Variables {
    let read = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let vars = Variables {
        pid: read("LISTEN_PID"),
        fds: read("LISTEN_FDS"),
        names: read("LISTEN_FDNAMES"),
    };
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        if std::env::var_os(name).is_some() {
            // SAFETY: `serve` takes its activation first, on the main thread, before it
            // starts any thread of its own; under `run` and `attach` the only other threads
            // are the VM's watchers, which wait on a pidfd and never read the environment.
            unsafe { std::env::remove_var(name) };
        }
    }
    vars
}

/// How many fds were passed to this process: 0 when the variables are absent or meant for
/// another process (`LISTEN_PID` is not ours).
fn count_for_us(vars: &Variables, our_pid: u32) -> Result<usize> {
    let (Some(pid), Some(fds)) = (&vars.pid, &vars.fds) else {
        return Ok(0);
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .with_context(|| format!("LISTEN_PID={pid} is not a process id"))?;
    if pid != our_pid {
        tracing::info!("LISTEN_PID={pid} is not this process ({our_pid}): no activation");
        return Ok(0);
    }
    let n: usize = fds
        .trim()
        .parse()
        .with_context(|| format!("LISTEN_FDS={fds} is not a count"))?;
    if n > MAX_FDS {
        bail!("LISTEN_FDS={n}: more than {MAX_FDS} sockets");
    }
    Ok(n)
}

/// The listening sockets handed to this process (none without activation).
pub fn take() -> Result<Vec<Activated>> {
    let vars = take_variables();
    let n = count_for_us(&vars, std::process::id())?;
    let names: Vec<&str> = vars.names.as_deref().unwrap_or("").split(':').collect();
    (0..n)
        .map(|i| {
            let fd = FIRST_FD + i as RawFd;
            let name = names.get(i).filter(|n| !n.is_empty()).copied();
            adopt(fd, name.unwrap_or("unknown"))
        })
        .collect()
}

/// Takes `fd` as a listening socket.
fn adopt(fd: RawFd, name: &str) -> Result<Activated> {
    // The fd must be open before it is owned: a count larger than what was passed would
    // otherwise adopt a number that is free (and later close another file's).
    if std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err() {
        bail!("LISTEN_FDS counts fd {fd}, which is not open");
    }
    // SAFETY: LISTEN_PID names this process, so the service manager passed fds 3 to
    // 3+LISTEN_FDS-1 to it; this one is open (checked above), and each is taken exactly once,
    // here, before anything else in the process could use the number (the variables are gone).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .with_context(|| format!("activated fd {fd}: setting close-on-exec"))?;
    let what = format!("activated fd {fd} ({name})");
    let kind =
        getsockopt(&owned, sockopt::SockType).with_context(|| format!("{what} is not a socket"))?;
    if kind != SockType::Stream {
        bail!("{what} is a {kind:?} socket: serve takes stream sockets only");
    }
    if !getsockopt(&owned, sockopt::AcceptConn).with_context(|| what.clone())? {
        bail!("{what} is not listening (give serve listening sockets, not --accept's connections)");
    }
    let addr: SockaddrStorage =
        getsockname(owned.as_raw_fd()).with_context(|| format!("{what}: its address"))?;
    match addr.family() {
        Some(AddressFamily::Inet | AddressFamily::Inet6) => {
            let listener = TcpListener::from(owned);
            Ok(Activated::Tcp(listener, name.to_string()))
        }
        Some(AddressFamily::Unix) => {
            let listener = UnixListener::from(owned);
            Ok(Activated::Unix(listener, name.to_string()))
        }
        other => bail!("{what}: address family {other:?} is not served"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pid: Option<&str>, fds: Option<&str>) -> Variables {
        Variables {
            pid: pid.map(String::from),
            fds: fds.map(String::from),
            names: None,
        }
    }

    #[test]
    fn only_fds_meant_for_this_process_count() {
        assert_eq!(count_for_us(&vars(None, None), 42).unwrap(), 0);
        assert_eq!(count_for_us(&vars(Some("42"), Some("2")), 42).unwrap(), 2);
        assert_eq!(count_for_us(&vars(Some("41"), Some("2")), 42).unwrap(), 0);
        assert_eq!(count_for_us(&vars(Some("42"), None), 42).unwrap(), 0);
        let err = count_for_us(&vars(Some("x"), Some("1")), 42).unwrap_err();
        assert!(err.to_string().contains("LISTEN_PID=x"), "{err}");
        let err = count_for_us(&vars(Some("42"), Some("100000")), 42).unwrap_err();
        assert!(err.to_string().contains("more than 256"), "{err}");
    }
}
