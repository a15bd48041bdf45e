//! `pidfd_open(2)` and `pidfd_getfd(2)`: a duplicate of another process's fd.

use super::{Result, VmmError};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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
    take_fd_from(pidfd.as_fd(), pid, target)
}

/// Duplicates fd `target` of the process that `pidfd` (a pidfd of process `pid`) refers to.
/// Going through one pidfd for every fd taken means they all come from the same process, even
/// if `pid` is reused after it ends.
pub fn take_fd_from(pidfd: BorrowedFd<'_>, pid: i32, target: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes a pidfd we borrow, an fd number and flags, and returns a new
    // fd or -1; no memory is passed.
    let raw =
        unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    new_fd(raw, "pidfd_getfd", pid, Some(target))
}

/// True once the process of `pidfd` has ended: its pidfd is then readable. It does not wait.
pub fn has_ended(pidfd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// Waits until the process of `pidfd` has ended.
pub fn wait_ended(pidfd: BorrowedFd<'_>) {
    loop {
        let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(n) if n > 0 => return,
            Ok(_) | Err(Errno::EINTR) => {}
            // A pidfd that cannot be polled must not spin: look again shortly.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}
