//! The error type of the `vmm` module.

use nix::errno::Errno;

/// Why a VMM's device could not be found or taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmmError {
    /// A /proc or /run file of the VMM could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process does not exist (any more).
    #[error("there is no process {pid}")]
    NoProcess {
        /// The pid.
        pid: i32,
    },
    /// pidfd_open or pidfd_getfd failed.
    #[error("{call} on process {pid}{fd}: {errno}", fd = .fd.map(|f| format!(", fd {f}")).unwrap_or_default())]
    Syscall {
        /// The system call.
        call: &'static str,
        /// The pid.
        pid: i32,
        /// The fd asked for, for pidfd_getfd.
        fd: Option<i32>,
        /// The errno.
        errno: Errno,
    },
    /// The process holds no VFIO device fd.
    #[error(
        "process {pid} ({comm}) holds no VFIO device (no /dev/vfio/devices/vfioN or anon_inode:[vfio-device] among its fds)"
    )]
    NoDevice {
        /// The pid.
        pid: i32,
        /// Its command name.
        comm: String,
    },
    /// A libvirt pid file does not name a process.
    #[error("{path} does not hold a process id")]
    BadPidFile {
        /// The pid file.
        path: String,
    },
}

impl VmmError {
    /// The errno behind this error, where there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            VmmError::Syscall { errno, .. } => Some(*errno),
            VmmError::Read { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}
