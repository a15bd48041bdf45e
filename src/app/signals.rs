//! Ending cleanly on SIGINT and SIGTERM.
//!
//! Commands that leave something behind when killed (a temporary file, an EDID link held down,
//! an exit summary not printed) install `Interrupts`. The first signal only records itself and
//! wakes whoever waits (`sleep`, `wait_fd`); the command then finishes its step, cleans up and
//! returns `Interrupted`, and `main` ends the process by the same signal with its default action,
//! so that the parent (a shell loop, CI) sees what it expects. A second signal ends the process
//! at once, for a user who does not want to wait.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The first signal received (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The write end of the wake-up pipe (-1: not installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The command stopped early because of a signal; `main` re-raises it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}", .0.as_str())]
pub struct Interrupted(pub Signal);

extern "C" fn on_signal(signum: nix::libc::c_int) {
    // Only async-signal-safe calls here: atomics, write(2), signal(2), raise(3).
    if RECEIVED.swap(signum, Ordering::SeqCst) != 0 {
        // SAFETY: signal(2) and raise(3) are async-signal-safe; restoring the default action
        // and raising again ends the process by this signal, as the user asked twice.
        unsafe {
            nix::libc::signal(signum, nix::libc::SIG_DFL);
            nix::libc::raise(signum);
        }
        return;
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the pipe stays open for the process's life
        // once installed (its fds are leaked on purpose), and a full pipe only drops the byte.
        unsafe {
            nix::libc::write(fd, (&raw const byte).cast(), 1);
        }
    }
}

/// A stop asked for by the program itself (`request_stop`): the VM that `run` started ended.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// The signal that arrived, if any; a stop the program asked for (`request_stop`) reads as
/// SIGTERM here, so that every command ends the same way for both.
pub fn received() -> Option<Signal> {
    signal_received().or_else(|| {
        notice_vm_end();
        STOP_REQUESTED
            .load(Ordering::SeqCst)
            .then_some(Signal::SIGTERM)
    })
}

/// QEMU's pidfd under `attach` (`stop_when_ended`): readable once the VM has ended.
static VM_PIDFD: OnceLock<OwnedFd> = OnceLock::new();

/// Makes every check (`received`, `check`) report a stop once the process of `pidfd` has
/// ended, looking at the pidfd itself rather than waiting for a watcher thread to wake: a
/// step that starts after the VM's end (a screenshot about to be written) sees it. Returns
/// the pidfd, kept for the process's life, for a thread that waits on it.
pub fn stop_when_ended(pidfd: OwnedFd) -> BorrowedFd<'static> {
    VM_PIDFD.get_or_init(|| pidfd).as_fd()
}

fn notice_vm_end() {
    if !STOP_REQUESTED.load(Ordering::SeqCst)
        && VM_PIDFD
            .get()
            .is_some_and(|fd| vfio_display::vmm::has_ended(fd.as_fd()))
    {
        request_stop();
    }
}

/// True when the program stopped the command itself because the VM ended (`request_stop`).
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst)
}

/// The signal that really arrived, if any (not a `request_stop`): the one to end the process
/// by.
pub fn signal_received() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// Why the command was stopped, for its last line: the signal's name, or for a `request_stop`
/// "the VM ended" or "the device was removed" (its driver asked for it back).
pub fn stop_cause() -> String {
    match signal_received() {
        Some(signal) => signal.as_str().to_string(),
        None if crate::app::removal::was_requested() => "the device was removed".to_string(),
        None if STOP_REQUESTED.load(Ordering::SeqCst) => "the VM ended".to_string(),
        None => "stopped".to_string(),
    }
}

/// Stops the running command as a first SIGTERM would (it finishes its step and cleans up),
/// without ending the process by a signal afterwards: `run` and `attach` call it when the VM
/// exits.
pub fn request_stop() {
    STOP_REQUESTED.store(true, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the write end stays open for the process's life once installed.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::write(fd, &[1u8]);
    }
}

/// `Err(Interrupted)` once a signal arrived: a check between steps.
pub fn check() -> Result<(), Interrupted> {
    received().map_or(Ok(()), |s| Err(Interrupted(s)))
}

/// Handlers for SIGINT and SIGTERM, and the pipe they wake.
pub struct Interrupts {
    wake: BorrowedFd<'static>,
}

impl Interrupts {
    /// Installs the handlers (once per process; later calls share the first pipe).
    pub fn install() -> anyhow::Result<Self> {
        let raw = match WAKE_FD.load(Ordering::SeqCst) {
            -1 => {
                let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
                // The write end lives as long as the process: the handler may use it any time.
                WAKE_FD.store(leak(write), Ordering::SeqCst);
                let read = leak(read);
                // No SA_RESTART: a blocking open or wait returns EINTR, so the command sees
                // the signal instead of waiting on.
                let action = SigAction::new(
                    SigHandler::Handler(on_signal),
                    SaFlags::empty(),
                    SigSet::empty(),
                );
                for signal in [Signal::SIGINT, Signal::SIGTERM] {
                    // SAFETY: the handler only touches atomics and calls async-signal-safe
                    // functions.
                    unsafe { sigaction(signal, &action) }?;
                }
                READ_FD.store(read, Ordering::SeqCst);
                read
            }
            _ => READ_FD.load(Ordering::SeqCst),
        };
        // SAFETY: the read end is leaked above and never closed, so it is valid for 'static.
        let wake = unsafe { BorrowedFd::borrow_raw(raw) };
        Ok(Interrupts { wake })
    }

    /// Sleeps for `duration`, or less when a signal arrives: then `Err(Interrupted)`.
    pub fn sleep(&self, duration: Duration) -> Result<(), Interrupted> {
        let until = Instant::now() + duration;
        loop {
            check()?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.wake, PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(Errno::EINTR) => {}
                // A poll that cannot work must not spin: fall back to a plain sleep.
                Err(_) => std::thread::sleep(left.min(Duration::from_millis(10))),
            }
        }
    }

    /// The fd that becomes readable when a signal arrives (for a thread that waits on it
    /// beside other fds).
    pub fn wait_fd(&self) -> BorrowedFd<'static> {
        self.wake
    }
}

/// The read end of the wake-up pipe (-1: not installed).
static READ_FD: AtomicI32 = AtomicI32::new(-1);

fn leak(fd: OwnedFd) -> i32 {
    let raw = fd.as_fd().as_raw_fd();
    std::mem::forget(fd);
    raw
}

/// Ends the process by `signal` with its default action, after the command cleaned up.
pub fn reraise(signal: Signal) -> ! {
    // SAFETY: restoring the default action is always sound; nothing relies on our handler
    // any more.
    let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    let _ = nix::sys::signal::raise(signal);
    // A signal whose default is not to terminate would come back here: the shell convention.
    std::process::exit(128 + signal as i32)
}
