//! The error type of the `vfio` layer: every variant names what it was doing and to which object
//! (path, region, plane, IRQ index), and carries the errno where the kernel gave one.

use nix::errno::Errno;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
/// The errors of the `vfio` layer.
#[non_exhaustive]
pub enum VfioError {
    /// An ioctl failed. `op` is the ioctl's name in `linux/vfio.h`, `target` what it was aimed at.
    #[error("{op} on {target} failed: {errno}")]
    Ioctl {
        /// The ioctl's name in `linux/vfio.h`.
        op: &'static str,
        /// What it was aimed at.
        target: String,
        /// What the kernel answered.
        errno: Errno,
    },
    /// Opening a device node failed; `hint` tells the user what to do about it.
    #[error("cannot open {}: {}; {hint}", path.display(), errno)]
    Open {
        /// The node.
        path: PathBuf,
        /// What the kernel answered.
        errno: Errno,
        /// What that means on this system.
        hint: String,
    },
    /// What the user typed is neither an mdev UUID nor a path.
    #[error("{spec}: not a device: neither an mdev UUID (8-4-4-4-12 hex digits) nor a path")]
    NotADeviceName {
        /// What was typed.
        spec: String,
    },
    /// A well-formed UUID that names no mediated device on this host.
    #[error("{}: no mediated device with UUID {uuid}", path.display())]
    NoSuchMdev {
        /// Where the mdev would be in sysfs.
        path: PathBuf,
        /// The UUID.
        uuid: String,
    },
    /// A name given by the user or read from sysfs does not lead to a mediated device.
    #[error("{}: {reason}", path.display())]
    NotMdev {
        /// The name or path given.
        path: PathBuf,
        /// Why it is not an mdev.
        reason: String,
    },
    /// The group has devices that are not bound to VFIO drivers.
    #[error(
        "VFIO group {group} is not viable: not every device in it is bound to a VFIO driver \
         (see /sys/kernel/iommu_groups/{group}/devices)"
    )]
    GroupNotViable {
        /// The group number.
        group: u32,
    },
    /// The container supports no IOMMU model we can use.
    #[error(
        "the VFIO container offers neither the TYPE1v2 nor the TYPE1 IOMMU model \
         (is the vfio_iommu_type1 module loaded?)"
    )]
    NoIommuModel,
    /// A file descriptor handed to us is not what it should be.
    #[error("fd {fd} is not a VFIO device: {reason}")]
    NotVfioDevice {
        /// The fd number.
        fd: i32,
        /// What it is instead.
        reason: String,
    },
    /// The device is shared with the VMM that owns it, and the operation would take something
    /// from the guest (its interrupts, its registers, its state).
    #[error("{device} is shared with the VMM that runs the guest: this process never {what}")]
    Shared {
        /// The device.
        device: String,
        /// What was refused, as a verb phrase ("resets it").
        what: &'static str,
    },
    /// The kernel returned a region info whose capability chain is malformed.
    #[error("region {index}: malformed capability chain: {reason}")]
    CapChain {
        /// The region.
        index: u32,
        /// What is wrong with the chain.
        reason: String,
    },
    /// A value that came back from the kernel (or the guest) is out of bounds.
    #[error("{target}: {reason}")]
    Invalid {
        /// The object.
        target: String,
        /// What is out of bounds.
        reason: String,
    },
    /// mmap failed.
    #[error("cannot map {target} ({len} bytes at offset {offset:#x}): {errno}")]
    Map {
        /// The region or buffer.
        target: String,
        /// Where the mapping starts.
        offset: u64,
        /// Its length.
        len: u64,
        /// What the kernel answered.
        errno: Errno,
    },
    /// A read or write of a region (pread/pwrite) or of a mapping failed or was short.
    #[error("{op} of {len} bytes at offset {offset:#x} of {target} failed: {failure}")]
    Access {
        /// "pread", "pwrite", "read", "write".
        op: &'static str,
        /// The region.
        target: String,
        /// Where.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// What went wrong: the kernel's errno, a short count, or a bound.
        failure: AccessFailure,
    },
    /// `VFIO_DEVICE_BIND_IOMMUFD` refused to bind a device cdev to the iommufd.
    #[error("VFIO_DEVICE_BIND_IOMMUFD on {device} failed: {errno}; {hint}")]
    Bind {
        /// The device.
        device: String,
        /// What the kernel answered.
        errno: Errno,
        /// What that means.
        hint: String,
    },
    /// The cdev path was asked for where the kernel has none.
    #[error("{device} has no VFIO device cdev ({reason})")]
    NoCdev {
        /// The device.
        device: String,
        /// What is missing.
        reason: String,
    },
    /// A plain system call failed (eventfd, memfd, sysfs reads).
    #[error("{what}: {errno}")]
    Sys {
        /// The call and its object.
        what: String,
        /// What the kernel answered.
        errno: Errno,
    },
}

/// Why a region or mapping access failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessFailure {
    /// The kernel refused it.
    #[error("{0}")]
    Errno(Errno),
    /// pread or pwrite moved fewer bytes than asked.
    #[error("short {verb} of {done} bytes")]
    Short {
        /// "read" or "write".
        verb: &'static str,
        /// How many bytes moved.
        done: usize,
    },
    /// The access reaches past the end of the region or mapping.
    #[error("outside the {size}-byte {what}")]
    OutOfBounds {
        /// "region" or "mapping".
        what: &'static str,
        /// Its size in bytes.
        size: u64,
    },
    /// A write to a read-only mapping.
    #[error("the mapping is read-only")]
    ReadOnly,
    /// A register access at an offset its width does not divide.
    #[error("offset is not {0}-byte aligned")]
    Misaligned(usize),
    /// The caller's sizes do not fit (overflow, or a destination of the wrong size).
    #[error("{0}")]
    Size(String),
}

impl VfioError {
    /// A failed access of `len` bytes at `offset` of `target`: the one way regions and
    /// mappings report their failures.
    pub fn access(
        op: &'static str,
        target: impl Into<String>,
        offset: u64,
        len: u64,
        failure: AccessFailure,
    ) -> Self {
        VfioError::Access {
            op,
            target: target.into(),
            offset,
            len,
            failure,
        }
    }

    /// Whether this is an mmap the exporter refuses by design, having no CPU mapping to give:
    /// ENODEV, as i915 answers for GVT-g's dma-bufs (objects without a shmem file). Only a GPU
    /// import reaches such a buffer's pixels. Any other refused mmap (stock mbochs's EINVAL for
    /// an export whose size is not whole pages) is the driver's fault, not its design.
    pub fn no_cpu_mapping(&self) -> bool {
        matches!(self, VfioError::Map { errno, .. } if *errno == Errno::ENODEV)
    }

    /// The errno behind this error, where the kernel gave one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            VfioError::Ioctl { errno, .. }
            | VfioError::Open { errno, .. }
            | VfioError::Map { errno, .. }
            | VfioError::Bind { errno, .. }
            | VfioError::Sys { errno, .. }
            | VfioError::Access {
                failure: AccessFailure::Errno(errno),
                ..
            } => Some(*errno),
            _ => None,
        }
    }

    pub(crate) fn ioctl(op: &'static str, target: impl Into<String>, errno: Errno) -> Self {
        VfioError::Ioctl {
            op,
            target: target.into(),
            errno,
        }
    }

    pub(crate) fn invalid(target: impl Into<String>, reason: impl Into<String>) -> Self {
        VfioError::Invalid {
            target: target.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn sys(what: impl Into<String>, errno: Errno) -> Self {
        VfioError::Sys {
            what: what.into(),
            errno,
        }
    }
}

/// A result with a `VfioError`.
pub type Result<T, E = VfioError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_access_keeps_the_kernels_errno() {
        let err = VfioError::access("pread", "region 9", 8, 4, AccessFailure::Errno(Errno::EIO));
        assert_eq!(err.errno(), Some(Errno::EIO));
        assert_eq!(
            err.to_string(),
            format!(
                "pread of 4 bytes at offset 0x8 of region 9 failed: {}",
                Errno::EIO
            )
        );
        let short = AccessFailure::Short {
            verb: "read",
            done: 2,
        };
        let err = VfioError::access("pread", "region 9", 8, 4, short);
        assert_eq!(err.errno(), None);
        assert!(
            err.to_string().ends_with("failed: short read of 2 bytes"),
            "{err}"
        );
    }
}
