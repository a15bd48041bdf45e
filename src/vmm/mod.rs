//! Sharing the device of a running VMM: finding QEMU's VFIO device fds through /proc, taking
//! one with `pidfd_getfd`, and reading what QEMU's command line says about the device.
//!
//! A device taken this way is already bound by the VMM, so `VfioDevice::from_fd` adopts it as
//! shared: the guest keeps its interrupts, registers and state (ARCHITECTURE.md, section 8).

mod error;
// unsafe: the pidfd_open and pidfd_getfd system calls
#[allow(unsafe_code)]
mod pidfd;
mod process;
pub mod qemu_args;

pub use error::VmmError;
pub use pidfd::{has_ended, pidfd_open, take_fd, take_fd_from, wait_ended};
pub use process::{VmmDeviceFd, cmdline, comm, libvirt_pid, vfio_device_fds};

/// A result with a `VmmError`.
pub type Result<T, E = VmmError> = std::result::Result<T, E>;
