//! The VM's end under `attach`: the command works on a duplicate of QEMU's device fd, which
//! would keep the device (and so the mdev) busy after QEMU is gone, so that the VM could not
//! start again and the mdev could not be removed. A pidfd of QEMU tells when it ends; the
//! command is then stopped as `run` stops it, and the process ends, releasing the fd.

use crate::app::signals;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a stopped command has to finish its step and clean up before the process ends
/// anyway: the device must be released within a second of the VM's end, whatever the command.
const GRACE: Duration = Duration::from_millis(600);

/// The command has returned: the watcher must not end the process under it any more.
static FINISHED: AtomicBool = AtomicBool::new(false);

/// The VM that `attach` worked beside ended: the command stopped and the device was released.
#[derive(Debug, thiserror::Error)]
#[error("the VM ended (QEMU, process {pid}, exited) and its device was released")]
pub struct VmEnded {
    /// QEMU's process id.
    pub pid: i32,
}

/// Watches QEMU's pidfd from now on: once QEMU has ended, every check of the command
/// (`signals::received`) says so at once, and a thread wakes whatever the command waits on.
/// A command that has not ended `GRACE` later is ended with the process, which prints
/// `VmEnded` and exits with its status (`exit::ExitStatus::VmEnded`).
pub fn watch(pidfd: OwnedFd, pid: i32, exit_code: u8) -> std::io::Result<()> {
    let pidfd = signals::stop_when_ended(pidfd);
    let watcher = std::thread::Builder::new().name("VM lifetime watch".into());
    watcher.spawn(move || {
        vfio_display::vmm::wait_ended(pidfd);
        tracing::info!("QEMU (process {pid}) has ended");
        signals::request_stop();
        std::thread::sleep(GRACE);
        if !FINISHED.load(Ordering::SeqCst) {
            errln!(
                "vfio-display: {} (the command was ended after {} ms)",
                VmEnded { pid },
                GRACE.as_millis()
            );
            std::process::exit(i32::from(exit_code));
        }
    })?;
    Ok(())
}

/// Marks the command as returned; then the caller reports the VM's end itself.
pub fn finished() {
    FINISHED.store(true, Ordering::SeqCst);
}

/// The VM's end, once it has been noticed (not a signal of the user's).
pub fn ended(pid: i32) -> Option<VmEnded> {
    (signals::stop_requested() && signals::signal_received().is_none()).then_some(VmEnded { pid })
}
