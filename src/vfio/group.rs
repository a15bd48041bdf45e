//! The legacy VFIO path: a container (`/dev/vfio/vfio`) with an IOMMU model, and a group
//! (`/dev/vfio/N`) attached to it, from which device fds are obtained.

use super::error::{Result, VfioError};
use super::ioctl::{ValueIoctl, ioctl_ptr, ioctl_val};
use super::sysfs::HostPaths;
use crate::uapi::{
    VFIO_API_VERSION, VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS,
    VFIO_GROUP_SET_CONTAINER, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, vfio_group_status,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What an open failure means (facts about the system; which option to use instead is the
/// front end's advice to give).
fn open_hint(path: &Path, errno: Errno) -> String {
    match errno {
        Errno::ENOENT if path.ends_with("iommu") => "the node does not exist: this kernel has \
             no iommufd (CONFIG_IOMMUFD), or the iommufd module is not loaded"
            .to_string(),
        Errno::ENOENT => {
            "the node does not exist: load the VFIO modules (modprobe vfio_iommu_type1 \
             vfio_mdev) and check that the mdev exists (`vfio-display list`)"
                .to_string()
        }
        Errno::EACCES | Errno::EPERM => format!(
            "permission denied: run as root, or give your user the node (for example \
             `sudo chown $USER {}`, or a udev rule for the vfio subsystem)",
            path.display()
        ),
        Errno::EBUSY => "the group is busy: another process (a VMM such as QEMU?) owns it, \
             through the group or through the device's cdev (/dev/vfio/devices/vfioN)"
            .to_string(),
        _ => "see the kernel log (dmesg) for details".to_string(),
    }
}

pub(crate) fn open_node(path: &Path) -> Result<OwnedFd> {
    open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()).map_err(|errno| VfioError::Open {
        path: path.to_path_buf(),
        errno,
        hint: open_hint(path, errno),
    })
}

/// `/dev/vfio/vfio` with an IOMMU model set. Dropped after every group attached to it.
#[derive(Debug)]
pub struct Container {
    fd: OwnedFd,
    path: PathBuf,
    iommu_model: u32,
}

impl Container {
    fn open(paths: &HostPaths) -> Result<Self> {
        let path = paths.vfio_container();
        let fd = open_node(&path)?;
        let version = ioctl_val(fd.as_fd(), ValueIoctl::GetApiVersion).map_err(|errno| {
            VfioError::ioctl("VFIO_GET_API_VERSION", path.display().to_string(), errno)
        })?;
        if version != VFIO_API_VERSION as i32 {
            return Err(VfioError::invalid(
                path.display().to_string(),
                format!("VFIO API version {version}, expected {VFIO_API_VERSION}"),
            ));
        }
        Ok(Container {
            fd,
            path,
            iommu_model: 0,
        })
    }

    /// Picks TYPE1v2, else TYPE1. Must be called after a group was attached.
    fn set_iommu(&mut self) -> Result<()> {
        for model in [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU] {
            let supported =
                ioctl_val(self.fd.as_fd(), ValueIoctl::CheckExtension(model)).map_err(|errno| {
                    VfioError::ioctl(
                        "VFIO_CHECK_EXTENSION",
                        self.path.display().to_string(),
                        errno,
                    )
                })?;
            if supported > 0 {
                ioctl_val(self.fd.as_fd(), ValueIoctl::SetIommu(model)).map_err(|errno| {
                    VfioError::ioctl("VFIO_SET_IOMMU", self.path.display().to_string(), errno)
                })?;
                self.iommu_model = model;
                return Ok(());
            }
        }
        Err(VfioError::NoIommuModel)
    }

    /// The IOMMU model in use (`VFIO_TYPE1v2_IOMMU` or `VFIO_TYPE1_IOMMU`).
    pub fn iommu_model(&self) -> u32 {
        self.iommu_model
    }
}

/// An open, viable group attached to its own container.
///
/// Drop order: the group fd is declared first, so it closes before the container.
#[derive(Debug)]
pub struct Group {
    fd: OwnedFd,
    number: u32,
    path: PathBuf,
    container: Container,
}

impl Group {
    /// Opens `/dev/vfio/<number>`, checks it is viable, attaches a new container and sets its
    /// IOMMU model.
    pub fn open(number: u32, paths: &HostPaths) -> Result<Self> {
        let path = paths.vfio_group(number);
        let fd = open_node(&path)?;
        let mut status = vfio_group_status {
            argsz: std::mem::size_of::<vfio_group_status>() as u32,
            flags: 0,
        };
        // SAFETY: VFIO_GROUP_GET_STATUS writes one `struct vfio_group_status`, which `status` is.
        unsafe { ioctl_ptr(fd.as_fd(), VFIO_GROUP_GET_STATUS, (&raw mut status).cast()) }.map_err(
            |errno| VfioError::ioctl("VFIO_GROUP_GET_STATUS", path.display().to_string(), errno),
        )?;
        if status.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(VfioError::GroupNotViable { group: number });
        }
        let mut container = Container::open(paths)?;
        let mut container_fd = container.fd.as_raw_fd();
        // SAFETY: VFIO_GROUP_SET_CONTAINER reads one int (the container fd) through the pointer.
        unsafe {
            ioctl_ptr(
                fd.as_fd(),
                VFIO_GROUP_SET_CONTAINER,
                (&raw mut container_fd).cast(),
            )
        }
        .map_err(|errno| {
            VfioError::ioctl(
                "VFIO_GROUP_SET_CONTAINER",
                path.display().to_string(),
                errno,
            )
        })?;
        container.set_iommu()?;
        Ok(Group {
            fd,
            number,
            path,
            container,
        })
    }

    /// The group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The group's node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The IOMMU model its container uses.
    pub fn iommu_model(&self) -> u32 {
        self.container.iommu_model()
    }

    /// `VFIO_GROUP_GET_DEVICE_FD` for the device named `name` (an mdev's UUID).
    pub fn device_fd(&self, name: &str) -> Result<OwnedFd> {
        let cname = CString::new(name)
            .map_err(|_| VfioError::invalid(name, "device name contains a NUL byte"))?;
        // SAFETY: VFIO_GROUP_GET_DEVICE_FD reads a NUL-terminated string, which `cname` is, and
        // which outlives the call.
        let raw = unsafe {
            ioctl_ptr(
                self.fd.as_fd(),
                VFIO_GROUP_GET_DEVICE_FD,
                cname.as_ptr() as *mut _,
            )
        }
        .map_err(|errno| {
            VfioError::ioctl(
                "VFIO_GROUP_GET_DEVICE_FD",
                format!("device {name} in {}", self.path.display()),
                errno,
            )
        })?;
        // SAFETY: on success the ioctl returns a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_node_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            sysfs: dir.path().join("sys"),
            dev: dir.path().join("dev"),
        };
        let err = Group::open(12, &paths).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        let text = err.to_string();
        assert!(text.contains("dev/vfio/12"), "{text}");
        assert!(text.contains("modprobe"), "{text}");
    }

    #[test]
    fn a_file_that_is_not_a_group_is_refused_by_the_kernel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dev/vfio")).unwrap();
        std::fs::write(dir.path().join("dev/vfio/3"), b"").unwrap();
        let paths = HostPaths {
            sysfs: dir.path().join("sys"),
            dev: dir.path().join("dev"),
        };
        let err = Group::open(3, &paths).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOTTY));
        assert!(err.to_string().contains("VFIO_GROUP_GET_STATUS"), "{err}");
    }

    #[test]
    fn hints_name_the_path() {
        let hint = open_hint(Path::new("/dev/vfio/7"), Errno::EACCES);
        assert!(hint.contains("/dev/vfio/7"));
        let busy = open_hint(Path::new("/dev/vfio/7"), Errno::EBUSY);
        assert!(busy.contains("another process"), "{busy}");
        assert!(
            !busy.contains("--"),
            "no command-line advice in the library: {busy}"
        );
    }
}
