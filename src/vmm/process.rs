//! What /proc says about a VMM process: its VFIO device fds and its command line.

use super::{Result, VmmError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most fds looked at in one process: a QEMU with thousands of fds is not a display VM, and
/// the scan must stay bounded.
const MAX_FDS_SCANNED: usize = 1 << 16;
/// Most bytes of a command line read: QEMU's, with libvirt's JSON devices, fits easily.
const MAX_CMDLINE: u64 = 1 << 20;

/// A VFIO device fd held by a VMM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmmDeviceFd {
    /// The fd's number in the VMM.
    pub fd: i32,
    /// What the fd points to: `/dev/vfio/devices/vfioN` (a cdev, the iommufd backend) or
    /// `anon_inode:[vfio-device]` (from a group, the legacy backend).
    pub target: String,
}

impl VmmDeviceFd {
    /// The cdev's name (`vfioN`), for an fd opened through a device cdev.
    pub fn cdev(&self) -> Option<&str> {
        self.target.strip_prefix("/dev/vfio/devices/")
    }

    /// The mdev UUID (or PCI address) behind a cdev fd: the name its sysfs `device` link
    /// points at.
    pub fn device_name(&self, sysfs: &Path) -> Option<String> {
        let link = sysfs
            .join("class/vfio-dev")
            .join(self.cdev()?)
            .join("device");
        let resolved = std::fs::canonicalize(link).ok()?;
        Some(resolved.file_name()?.to_string_lossy().into_owned())
    }
}

fn read_error(path: &Path, source: std::io::Error, pid: i32) -> VmmError {
    if source.kind() == std::io::ErrorKind::NotFound {
        VmmError::NoProcess { pid }
    } else {
        VmmError::Read {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The VFIO device fds of process `pid`, in fd order.
pub fn vfio_device_fds(pid: i32) -> Result<Vec<VmmDeviceFd>> {
    let dir = PathBuf::from(format!("/proc/{pid}/fd"));
    let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&dir, e, pid))?;
    let mut found = Vec::new();
    for entry in entries.take(MAX_FDS_SCANNED) {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // An fd closed while we look is simply not there.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if target.starts_with("/dev/vfio/devices/vfio") || target == "anon_inode:[vfio-device]" {
            found.push(VmmDeviceFd { fd, target });
        }
    }
    found.sort_by_key(|d| d.fd);
    if found.is_empty() {
        return Err(VmmError::NoDevice {
            pid,
            comm: comm(pid),
        });
    }
    Ok(found)
}

/// The process's command name ("qemu-system-x86", "?" when it cannot be read).
pub fn comm(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/comm"))
        .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The command line of process `pid`, one string per argument (at most 1 MiB read).
pub fn cmdline(pid: i32) -> Result<Vec<String>> {
    let path = PathBuf::from(format!("/proc/{pid}/cmdline"));
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_CMDLINE).read_to_end(&mut bytes))
        .map_err(|e| read_error(&path, e, pid))?;
    Ok(bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

/// The pid of libvirt's domain `name`, from its pid file in `run_dir` (libvirt's system
/// instance keeps them in /run/libvirt/qemu).
pub fn libvirt_pid(name: &str, run_dir: &Path) -> Result<i32> {
    let path = run_dir.join(format!("{name}.pid"));
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(64).read_to_string(&mut text))
        .map_err(|source| VmmError::Read {
            path: path.display().to_string(),
            source,
        })?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|&pid| pid > 0)
        .ok_or_else(|| VmmError::BadPidFile {
            path: path.display().to_string(),
        })
}
