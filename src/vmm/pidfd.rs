//! `pidfd_open(2)` and `pidfd_getfd(2)`: a duplicate of another process's fd.

use super::{Result, VmmError};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The fd a pidfd system call returned, or its error (ESRCH: the process is gone).
fn new_fd(
    raw: nix::libc::c_long,
    call: &'static str,
    pid: i32,
    fd: Option<i32>,
) -> Result<OwnedFd> {
    if raw < 0 {
        let errno = Errno::last();
        return Err(if errno == Errno::ESRCH {
            VmmError::NoProcess { pid }
        } else {
            VmmError::Syscall {
                call,
                pid,
                fd,
                errno,
            }
        });
    }
    let raw = i32::try_from(raw).map_err(|_| VmmError::Syscall {
        call,
        pid,
        fd,
        errno: Errno::EBADF,
    })?;
    // SAFETY: the kernel returned a new fd (close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// A pidfd for process `pid`: readable once the process has ended.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let raw = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    new_fd(raw, "pidfd_open", pid, None)
}

/// Duplicates fd `target` of process `pid` into this process (close-on-exec), as
/// `pidfd_getfd(2)` does: it needs ptrace rights over the process (root, or the same user
/// where Yama's ptrace_scope allows it); EPERM otherwise.
pub fn take_fd(pid: i32, target: i32) -> Result<OwnedFd> {
    let pidfd = pidfd_open(pid)?;
    // SAFETY: pidfd_getfd takes a pidfd we own, an fd number and flags, and returns a new fd
    // or -1; no memory is passed.
    let raw =
        unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    new_fd(raw, "pidfd_getfd", pid, Some(target))
}
