//! Guest memory of the simulator: a memfd the "guest" draws into through its own mapping, and
//! that is exported as a dma-buf (a real one through /dev/udmabuf where it exists, else the memfd
//! itself stands in) or mapped as a region.

use crate::vfio::dmabuf::{udmabuf_available, udmabuf_from_memfd};
use crate::vfio::{Mapping, VfioError};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Rounds up to the 4 KiB page.
pub fn page_round(n: u64) -> u64 {
    n.div_ceil(4096) * 4096
}

/// A piece of simulated guest memory.
#[derive(Debug)]
pub struct SharedBuffer {
    /// The guest's own view; declared before the memfd so it is unmapped first.
    writer: Mapping,
    memfd: OwnedFd,
    size: u64,
    name: String,
}

impl SharedBuffer {
    /// A zeroed buffer of `size` bytes (rounded up to pages), named for debugging.
    pub fn new(name: &str, size: u64) -> Result<Self, VfioError> {
        let size = page_round(size.max(1));
        let memfd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
            .map_err(|errno| VfioError::sys(format!("memfd_create for {name}"), errno))?;
        nix::unistd::ftruncate(&memfd, size as i64)
            .map_err(|errno| VfioError::sys(format!("ftruncate of {name} to {size}"), errno))?;
        // udmabuf requires that the memfd can never shrink under the dma-buf.
        fcntl(&memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK))
            .map_err(|errno| VfioError::sys(format!("sealing {name}"), errno))?;
        let writer = Mapping::map(memfd.as_fd(), 0, size, true, name.to_string())?;
        Ok(SharedBuffer {
            writer,
            memfd,
            size,
            name: name.to_string(),
        })
    }

    /// Bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The guest's writable mapping.
    pub fn writer(&self) -> &Mapping {
        &self.writer
    }

    /// The memfd behind the buffer.
    pub fn memfd(&self) -> BorrowedFd<'_> {
        self.memfd.as_fd()
    }

    /// A new fd for a consumer: a real dma-buf where /dev/udmabuf exists, else a second fd of the
    /// memfd (which `DmaBuf` handles: no sync ioctl, same mmap).
    pub fn export(&self) -> Result<OwnedFd, VfioError> {
        if udmabuf_available() {
            match udmabuf_from_memfd(self.memfd.as_fd(), 0, self.size) {
                Ok(fd) => {
                    tracing::debug!("exported {} as a udmabuf dma-buf", self.name);
                    return Ok(fd);
                }
                Err(err) => tracing::debug!(
                    "udmabuf export of {} failed, using the memfd: {err}",
                    self.name
                ),
            }
        }
        self.memfd.try_clone().map_err(|e| {
            VfioError::sys(
                format!("dup of {}", self.name),
                nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })
    }
}
