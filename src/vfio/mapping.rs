//! An owned shared memory mapping (a region of the device fd, a dma-buf, or a simulator memfd).
//!
//! The memory behind a mapping can be written by the guest at any moment, so this type never
//! hands out `&[u8]` into it: reads copy into caller-owned buffers, registers are read with
//! volatile accesses of the width the device expects, and every access is bounds checked.

use super::error::{AccessFailure, Result, VfioError};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

/// A `MAP_SHARED` mapping, unmapped on drop. Usable from any thread: it only ever copies bytes in
/// and out, and the memory may change under it (the guest writes it) whatever we do.
pub struct Mapping {
    base: NonNull<u8>,
    map_len: usize,
    /// Distance from the page-aligned start of the mapping to the byte the caller asked for.
    delta: usize,
    len: usize,
    writable: bool,
    what: String,
}

// SAFETY: a Mapping is a raw view of shared memory that every access copies through; it owns no
// thread-affine state, and concurrent access from several threads is the same situation as the
// guest writing while we read, which the copy-only interface is built for.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`: `&Mapping` only allows copies in and out of the mapped memory.
unsafe impl Sync for Mapping {}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(4096)
}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset` with `MAP_SHARED`. The offset need not be page
    /// aligned: the mapping starts at the page below it. `what` names the object in errors.
    pub fn map(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: u64,
        writable: bool,
        what: impl Into<String>,
    ) -> Result<Self> {
        let what = what.into();
        let map_error = |errno| VfioError::Map {
            target: what.clone(),
            offset,
            len,
            errno,
        };
        let page = page_size() as u64;
        let aligned = offset - offset % page;
        let delta = (offset - aligned) as usize;
        let len_usize =
            usize::try_from(len).map_err(|_| map_error(nix::errno::Errno::EOVERFLOW))?;
        let map_len = len_usize
            .checked_add(delta)
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| map_error(nix::errno::Errno::EINVAL))?;
        let file_offset = nix::libc::off_t::try_from(aligned)
            .map_err(|_| map_error(nix::errno::Errno::EOVERFLOW))?;
        let mut prot = ProtFlags::PROT_READ;
        if writable {
            prot |= ProtFlags::PROT_WRITE;
        }
        // SAFETY: we map a new range chosen by the kernel (no fixed address), so no existing
        // memory is replaced; the result is owned by the returned value and unmapped in Drop.
        let ptr = unsafe { mmap(None, map_len, prot, MapFlags::MAP_SHARED, fd, file_offset) }
            .map_err(map_error)?;
        Ok(Mapping {
            base: ptr.cast(),
            map_len: map_len.get(),
            delta,
            len: len_usize,
            writable,
            what,
        })
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What was mapped, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    fn check(&self, op: &'static str, offset: usize, len: usize) -> Result<*mut u8> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if !in_bounds {
            let failure = AccessFailure::OutOfBounds {
                what: "mapping",
                size: self.len as u64,
            };
            return Err(self.access_error(op, offset, len, failure));
        }
        // SAFETY: delta + offset + len <= delta + self.len = map_len, so the pointer stays inside
        // the mapping (one past its end at most when len is 0).
        Ok(unsafe { self.base.as_ptr().add(self.delta + offset) })
    }

    fn check_write(&self, op: &'static str, offset: usize, len: usize) -> Result<*mut u8> {
        if !self.writable {
            return Err(self.access_error(op, offset, len, AccessFailure::ReadOnly));
        }
        self.check(op, offset, len)
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the mapping.
    pub fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        let src = self.check("read", offset, dst.len())?;
        // SAFETY: `src` covers dst.len() mapped bytes (checked above); `dst` is our own buffer, so
        // the ranges cannot overlap. The bytes may change while we copy (the guest writes them);
        // we only ever see them as plain integers in our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copies `rows` rows of `row_bytes` bytes, `stride` apart, starting at `offset`, into `dst`
    /// packed (row after row, no padding).
    pub fn read_rows(
        &self,
        offset: usize,
        stride: usize,
        row_bytes: usize,
        rows: usize,
        dst: &mut [u8],
    ) -> Result<()> {
        let bad = |reason: String| {
            let len = row_bytes.saturating_mul(rows);
            self.access_error("read rows", offset, len, AccessFailure::Size(reason))
        };
        let packed = row_bytes
            .checked_mul(rows)
            .ok_or_else(|| bad("size overflows".into()))?;
        if dst.len() != packed {
            return Err(bad(format!(
                "destination holds {} bytes, not {packed}",
                dst.len()
            )));
        }
        if rows == 0 || row_bytes == 0 {
            return Ok(());
        }
        let span = stride
            .checked_mul(rows - 1)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or_else(|| bad("size overflows".into()))?;
        let src = self.check("read rows", offset, span)?;
        if stride == row_bytes {
            // SAFETY: the whole span is mapped (checked); dst is ours and exactly span bytes.
            unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), packed) };
            return Ok(());
        }
        for (row, out) in dst.chunks_exact_mut(row_bytes).enumerate() {
            // SAFETY: row * stride + row_bytes <= span, which is mapped (checked above).
            unsafe {
                std::ptr::copy_nonoverlapping(src.add(row * stride), out.as_mut_ptr(), row_bytes)
            };
        }
        Ok(())
    }

    /// Copies `src` into the mapping at `offset`.
    pub fn write_from(&self, offset: usize, src: &[u8]) -> Result<()> {
        let dst = self.check_write("write", offset, src.len())?;
        // SAFETY: `dst` covers src.len() mapped, writable bytes (checked); `src` is a Rust slice
        // that cannot overlap a mapping we never expose as a slice.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    /// A 16-bit volatile register read (devices such as Bochs DISPI take only 16-bit accesses).
    pub fn read_u16(&self, offset: usize) -> Result<u16> {
        let p = self.check("read u16", offset, 2)?;
        if !(p as usize).is_multiple_of(2) {
            return Err(self.misaligned("read u16", offset, 2));
        }
        // SAFETY: in bounds and 2-byte aligned (checked); volatile so the access is one 16-bit load.
        Ok(unsafe { std::ptr::read_volatile(p.cast::<u16>()) })
    }

    /// A 16-bit volatile register write.
    pub fn write_u16(&self, offset: usize, value: u16) -> Result<()> {
        let p = self.check_write("write u16", offset, 2)?;
        if !(p as usize).is_multiple_of(2) {
            return Err(self.misaligned("write u16", offset, 2));
        }
        // SAFETY: in bounds, writable and aligned (checked); one 16-bit store.
        unsafe { std::ptr::write_volatile(p.cast::<u16>(), value) };
        Ok(())
    }

    /// A 32-bit volatile register read.
    pub fn read_u32(&self, offset: usize) -> Result<u32> {
        let p = self.check("read u32", offset, 4)?;
        if !(p as usize).is_multiple_of(4) {
            return Err(self.misaligned("read u32", offset, 4));
        }
        // SAFETY: in bounds and 4-byte aligned (checked); one 32-bit load.
        Ok(unsafe { std::ptr::read_volatile(p.cast::<u32>()) })
    }

    /// A 32-bit volatile register write.
    pub fn write_u32(&self, offset: usize, value: u32) -> Result<()> {
        let p = self.check_write("write u32", offset, 4)?;
        if !(p as usize).is_multiple_of(4) {
            return Err(self.misaligned("write u32", offset, 4));
        }
        // SAFETY: in bounds, writable and aligned (checked); one 32-bit store.
        unsafe { std::ptr::write_volatile(p.cast::<u32>(), value) };
        Ok(())
    }

    fn misaligned(&self, op: &'static str, offset: usize, width: usize) -> VfioError {
        self.access_error(op, offset, width, AccessFailure::Misaligned(width))
    }

    fn access_error(
        &self,
        op: &'static str,
        offset: usize,
        len: usize,
        failure: AccessFailure,
    ) -> VfioError {
        VfioError::access(op, self.what.clone(), offset as u64, len as u64, failure)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/map_len are exactly what mmap returned, and no reference into the mapping
        // can outlive `self` (the interface only copies).
        if let Err(errno) = unsafe { munmap(self.base.cast(), self.map_len) } {
            tracing::warn!("munmap of {} failed: {errno}", self.what);
        }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("what", &self.what)
            .field("len", &self.len)
            .field("writable", &self.writable)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn memfd(len: usize) -> std::os::fd::OwnedFd {
        let fd = nix::sys::memfd::memfd_create("mapping-test", nix::sys::memfd::MFdFlags::empty())
            .unwrap();
        nix::unistd::ftruncate(&fd, len as i64).unwrap();
        fd
    }

    #[test]
    fn reads_see_writes_through_another_mapping() {
        let fd = memfd(8192);
        let writer = Mapping::map(fd.as_fd(), 0, 8192, true, "w").unwrap();
        let reader = Mapping::map(fd.as_fd(), 4096, 100, false, "r").unwrap();
        writer.write_from(4096, &[1, 2, 3, 4]).unwrap();
        let mut out = [0u8; 4];
        reader.read_into(0, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn unaligned_offsets_map_from_the_page_below() {
        let fd = memfd(8192);
        let writer = Mapping::map(fd.as_fd(), 0, 8192, true, "w").unwrap();
        writer.write_from(5000, &[9, 8]).unwrap();
        let reader = Mapping::map(fd.as_fd(), 5000, 2, false, "r").unwrap();
        let mut out = [0u8; 2];
        reader.read_into(0, &mut out).unwrap();
        assert_eq!(out, [9, 8]);
    }

    #[test]
    fn out_of_bounds_and_read_only_accesses_fail() {
        let fd = memfd(4096);
        let m = Mapping::map(fd.as_fd(), 0, 4096, false, "ro").unwrap();
        let mut out = [0u8; 8];
        assert!(m.read_into(4090, &mut out).is_err());
        assert!(m.read_into(usize::MAX - 2, &mut out).is_err());
        assert!(
            m.write_from(0, &[1])
                .unwrap_err()
                .to_string()
                .contains("read-only")
        );
        assert!(m.read_u32(4094).is_err());
        assert!(m.read_u32(2).is_err());
    }

    #[test]
    fn rows_are_packed_and_bounded() {
        let fd = memfd(4096);
        let m = Mapping::map(fd.as_fd(), 0, 4096, true, "rows").unwrap();
        let src: Vec<u8> = (0..64).collect();
        m.write_from(0, &src).unwrap();
        let mut dst = vec![0u8; 8];
        m.read_rows(2, 16, 2, 4, &mut dst).unwrap();
        assert_eq!(dst, [2, 3, 18, 19, 34, 35, 50, 51]);
        let mut big = vec![0u8; 4 * 2048];
        assert!(m.read_rows(0, 2048, 2048, 4, &mut big).is_err());
        let mut wrong = vec![0u8; 7];
        assert!(m.read_rows(0, 16, 2, 4, &mut wrong).is_err());
    }

    #[test]
    fn registers_round_trip() {
        let fd = memfd(4096);
        let m = Mapping::map(fd.as_fd(), 0, 4096, true, "regs").unwrap();
        m.write_u16(0x500, 0xb0c5).unwrap();
        m.write_u32(0x504, 0xdead_beef).unwrap();
        assert_eq!(m.read_u16(0x500).unwrap(), 0xb0c5);
        assert_eq!(m.read_u32(0x504).unwrap(), 0xdead_beef);
    }
}
