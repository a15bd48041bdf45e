//! The modern VFIO path: a device cdev (`/dev/vfio/devices/vfioN`) bound to an iommufd
//! (`/dev/iommu`), with an I/O address space (IOAS) of its own attached.
//!
//! Order matters both ways. Opening: bind the device fd to the iommufd
//! (`VFIO_DEVICE_BIND_IOMMUFD`), allocate an IOAS (`IOMMU_IOAS_ALLOC`), attach the device to it
//! (`VFIO_DEVICE_ATTACH_IOMMUFD_PT`); no other device ioctl works before the bind (EINVAL).
//! Closing: detach the device (`VFIO_DEVICE_DETACH_IOMMUFD_PT`) and close its fd, which unbinds
//! it; then destroy the IOAS (`IOMMU_DESTROY`) and close the iommufd. `VfioDevice` detaches in its
//! `Drop` and declares its fd before this binding, so its fields drop in that order.

use super::error::{Result, VfioError};
use super::group::open_node;
use super::ioctl::ioctl_ptr;
use super::sysfs::HostPaths;
use crate::uapi::{
    IOMMU_DESTROY, IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
    VFIO_DEVICE_DETACH_IOMMUFD_PT, iommu_destroy, iommu_ioas_alloc, vfio_device_attach_iommufd_pt,
    vfio_device_bind_iommufd, vfio_device_detach_iommufd_pt,
};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// A device cdev bound to an iommufd, with its IOAS attached.
#[derive(Debug)]
pub struct IommufdBinding {
    iommufd: OwnedFd,
    ioas_id: u32,
    devid: u32,
    /// What the device is, for messages (its cdev path, or "device fd N").
    device: String,
}

/// What a refused bind means (which option to use instead is the front end's advice).
fn bind_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EBUSY => {
            "the device is in use through its VFIO group (/dev/vfio/N is open in another \
             process, a VMM such as QEMU?) or is already bound"
        }
        // Measured on 6.12: a second open of a cdev that another open file has bound gets
        // EINVAL from the bind, not EBUSY.
        Errno::EINVAL => {
            "the device is already bound through another open of its cdev (another process, a \
             VMM?), or the fd is not a VFIO device cdev"
        }
        Errno::EPERM | Errno::EACCES => "permission denied: run as root",
        _ => "see the kernel log (dmesg) for details",
    }
}

impl IommufdBinding {
    /// Opens `/dev/iommu`, binds `device` (an open, unbound cdev fd) to it, allocates an IOAS and
    /// attaches the device to it. `what` names the device in errors.
    pub fn bind(device: BorrowedFd<'_>, paths: &HostPaths, what: &str) -> Result<Self> {
        let iommu_path: PathBuf = paths.iommu();
        let iommufd = open_node(&iommu_path)?;
        let mut bind = vfio_device_bind_iommufd {
            argsz: std::mem::size_of::<vfio_device_bind_iommufd>() as u32,
            flags: 0,
            iommufd: iommufd.as_raw_fd(),
            out_devid: 0,
        };
        // SAFETY: VFIO_DEVICE_BIND_IOMMUFD reads and writes one `struct vfio_device_bind_iommufd`
        // (argsz says its size), which `bind` is and which outlives the call.
        unsafe { ioctl_ptr(device, VFIO_DEVICE_BIND_IOMMUFD, (&raw mut bind).cast()) }.map_err(
            |errno| VfioError::Bind {
                device: what.to_string(),
                errno,
                hint: bind_hint(errno).to_string(),
            },
        )?;
        let mut alloc = iommu_ioas_alloc {
            size: std::mem::size_of::<iommu_ioas_alloc>() as u32,
            flags: 0,
            out_ioas_id: 0,
        };
        // SAFETY: IOMMU_IOAS_ALLOC reads and writes one `struct iommu_ioas_alloc` (size says
        // its size), which `alloc` is.
        unsafe { ioctl_ptr(iommufd.as_fd(), IOMMU_IOAS_ALLOC, (&raw mut alloc).cast()) }.map_err(
            |errno| VfioError::ioctl("IOMMU_IOAS_ALLOC", iommu_path.display().to_string(), errno),
        )?;
        let binding = IommufdBinding {
            iommufd,
            ioas_id: alloc.out_ioas_id,
            devid: bind.out_devid,
            device: what.to_string(),
        };
        let mut attach = vfio_device_attach_iommufd_pt {
            argsz: std::mem::size_of::<vfio_device_attach_iommufd_pt>() as u32,
            flags: 0,
            pt_id: binding.ioas_id,
        };
        // SAFETY: VFIO_DEVICE_ATTACH_IOMMUFD_PT reads and writes one
        // `struct vfio_device_attach_iommufd_pt` of argsz bytes, which `attach` is.
        unsafe {
            ioctl_ptr(
                device,
                VFIO_DEVICE_ATTACH_IOMMUFD_PT,
                (&raw mut attach).cast(),
            )
        }
        .map_err(|errno| {
            VfioError::ioctl(
                "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
                format!("{what} (IOAS {})", binding.ioas_id),
                errno,
            )
        })?;
        tracing::debug!(
            "{what}: bound to {} as device {}, IOAS {} attached",
            iommu_path.display(),
            binding.devid,
            binding.ioas_id
        );
        Ok(binding)
    }

    /// The IOAS the device is attached to.
    pub fn ioas_id(&self) -> u32 {
        self.ioas_id
    }

    /// The device's id in the iommufd.
    pub fn devid(&self) -> u32 {
        self.devid
    }

    /// Detaches `device` from the IOAS; called by the device's `Drop` before its fd closes.
    pub fn detach(&self, device: BorrowedFd<'_>) {
        let mut detach = vfio_device_detach_iommufd_pt {
            argsz: std::mem::size_of::<vfio_device_detach_iommufd_pt>() as u32,
            flags: 0,
        };
        // SAFETY: VFIO_DEVICE_DETACH_IOMMUFD_PT reads one `struct vfio_device_detach_iommufd_pt`
        // of argsz bytes, which `detach` is.
        if let Err(errno) = unsafe {
            ioctl_ptr(
                device,
                VFIO_DEVICE_DETACH_IOMMUFD_PT,
                (&raw mut detach).cast(),
            )
        } {
            tracing::warn!("{}: VFIO_DEVICE_DETACH_IOMMUFD_PT: {errno}", self.device);
        }
    }
}

impl Drop for IommufdBinding {
    fn drop(&mut self) {
        let mut destroy = iommu_destroy {
            size: std::mem::size_of::<iommu_destroy>() as u32,
            id: self.ioas_id,
        };
        // SAFETY: IOMMU_DESTROY reads one `struct iommu_destroy` of `size` bytes, which
        // `destroy` is. The device was detached and closed before (see the module comment).
        if let Err(errno) = unsafe {
            ioctl_ptr(
                self.iommufd.as_fd(),
                IOMMU_DESTROY,
                (&raw mut destroy).cast(),
            )
        } {
            tracing::warn!(
                "{}: IOMMU_DESTROY of IOAS {}: {errno}",
                self.device,
                self.ioas_id
            );
        }
    }
}

/// Whether `fd` is a VFIO device cdev (`/dev/vfio/devices/vfioN`), by the path the kernel gives
/// the open file.
pub fn is_cdev_fd(fd: BorrowedFd<'_>) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|p| p.starts_with("/dev/vfio/devices/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_iommu_node_says_use_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            sysfs: dir.path().join("sys"),
            dev: dir.path().join("dev"),
        };
        let null = std::fs::File::open("/dev/null").unwrap();
        let err = IommufdBinding::bind(null.as_fd(), &paths, "test device").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        let text = err.to_string();
        assert!(text.contains("dev/iommu"), "{text}");
        assert!(text.contains("no iommufd"), "{text}");
    }

    #[test]
    fn bind_hints_name_the_other_path() {
        assert!(bind_hint(Errno::EBUSY).contains("VFIO group"));
        assert!(bind_hint(Errno::EINVAL).contains("already bound"));
        for errno in [Errno::EBUSY, Errno::EINVAL, Errno::EPERM] {
            assert!(
                !bind_hint(errno).contains("--"),
                "no command-line advice here"
            );
        }
    }

    #[test]
    fn only_cdev_paths_are_cdevs() {
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(!is_cdev_fd(null.as_fd()));
    }
}
