//! The raw ioctl calls. VFIO passes variable-length structs through `_IO` numbers, so the typed
//! ioctl macros of `nix` do not fit; these two helpers are the only places that call `ioctl(2)`.

use nix::errno::Errno;
use nix::libc::{self, c_int, c_ulong, c_void};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Calls an ioctl that takes a pointer argument.
///
/// # Safety
/// `arg` must point to a buffer that is valid for reads and writes of at least as many bytes as
/// the ioctl `request` accesses (for VFIO: the struct's `argsz`), for the duration of the call.
pub(crate) unsafe fn ioctl_ptr(
    fd: BorrowedFd<'_>,
    request: c_ulong,
    arg: *mut c_void,
) -> Result<c_int, Errno> {
    // SAFETY: the caller guarantees `arg` covers what `request` reads and writes; `fd` is a live
    // descriptor for the duration of the borrow.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) })
}

/// The VFIO ioctls that take their argument by value (or none). Only these can be sent through
/// `ioctl_val`, which is why it is safe: none of them reads or writes memory through its
/// argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueIoctl {
    /// `VFIO_GET_API_VERSION` (container).
    GetApiVersion,
    /// `VFIO_CHECK_EXTENSION` with an extension or IOMMU model number (container).
    CheckExtension(u32),
    /// `VFIO_SET_IOMMU` with an IOMMU model number (container).
    SetIommu(u32),
    /// `VFIO_DEVICE_RESET` (device).
    DeviceReset,
}

impl ValueIoctl {
    /// The request number and the value passed.
    fn encode(self) -> (c_ulong, c_ulong) {
        use crate::uapi::{
            VFIO_CHECK_EXTENSION, VFIO_DEVICE_RESET, VFIO_GET_API_VERSION, VFIO_SET_IOMMU,
        };
        match self {
            ValueIoctl::GetApiVersion => (VFIO_GET_API_VERSION, 0),
            ValueIoctl::CheckExtension(n) => (VFIO_CHECK_EXTENSION, n.into()),
            ValueIoctl::SetIommu(n) => (VFIO_SET_IOMMU, n.into()),
            ValueIoctl::DeviceReset => (VFIO_DEVICE_RESET, 0),
        }
    }
}

/// Calls one of the by-value VFIO ioctls.
pub(crate) fn ioctl_val(fd: BorrowedFd<'_>, ioctl: ValueIoctl) -> Result<c_int, Errno> {
    let (request, value) = ioctl.encode();
    // SAFETY: every `ValueIoctl` takes its argument by value: the kernel reads no memory
    // through it, and `fd` is a live descriptor for the duration of the borrow.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, value) })
}

/// A zeroed, 8-byte aligned buffer for a VFIO info struct plus its capability chain.
pub(crate) struct InfoBuffer {
    words: Vec<u64>,
    len: usize,
}

impl InfoBuffer {
    pub(crate) fn new(len: usize) -> Self {
        InfoBuffer {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut c_void {
        self.words.as_mut_ptr().cast()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialized bytes; u8 has no alignment or validity
        // requirement, and the borrow of `self` keeps the buffer alive and unaliased.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the unique borrow of `self` makes the slice unaliased.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn put_u32(&mut self, offset: usize, value: u32) {
        self.bytes_mut()[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
    }
}

/// Reads a native-endian u32 at `offset` of `bytes`, if it is in bounds.
pub(crate) fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let end = offset.checked_add(4)?;
    Some(u32::from_ne_bytes(bytes.get(offset..end)?.try_into().ok()?))
}

/// Reads a native-endian u16 at `offset` of `bytes`, if it is in bounds.
pub(crate) fn read_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let end = offset.checked_add(2)?;
    Some(u16::from_ne_bytes(bytes.get(offset..end)?.try_into().ok()?))
}

/// Reads a native-endian u64 at `offset` of `bytes`, if it is in bounds.
pub(crate) fn read_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    let end = offset.checked_add(8)?;
    Some(u64::from_ne_bytes(bytes.get(offset..end)?.try_into().ok()?))
}
