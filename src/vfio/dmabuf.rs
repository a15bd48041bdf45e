//! Exported dma-bufs: an owned fd, CPU mapping with `DMA_BUF_IOCTL_SYNC` bracketing, and the
//! export cache that keeps exactly one fd per `dmabuf_id`.
//!
//! The stock mbochs driver crashes the kernel later if `VFIO_DEVICE_GET_GFX_DMABUF` is called a
//! second time for an id whose first fd is still open (ARCHITECTURE.md, section 5). The cache therefore
//! remembers every id whose fd is alive anywhere in the process, not just the ones it keeps.

use super::error::{Result, VfioError};
use super::ioctl::ioctl_ptr;
use super::mapping::Mapping;
use crate::uapi::{
    DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, dma_buf_sync,
};
use nix::errno::Errno;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

/// One exported buffer: the fd the device gave for `id`. Dropping it closes the fd.
#[derive(Debug)]
pub struct DmaBuf {
    fd: OwnedFd,
    id: u32,
    size: u64,
    /// Set when the exporter has no CPU mapping: `map_read` fails with it without asking.
    refuse_cpu_map: Option<Errno>,
}

impl DmaBuf {
    /// Wraps an exported fd; its size is what the fd reports (dma-bufs and memfds both answer
    /// `lseek(SEEK_END)`).
    pub fn new(fd: OwnedFd, id: u32) -> Result<Self> {
        let size = nix::unistd::lseek(&fd, 0, nix::unistd::Whence::SeekEnd)
            .map_err(|errno| VfioError::sys(format!("size of dma-buf {id} (lseek)"), errno))?;
        let _ = nix::unistd::lseek(&fd, 0, nix::unistd::Whence::SeekSet);
        Ok(DmaBuf {
            fd,
            id,
            size: size as u64,
            refuse_cpu_map: None,
        })
    }

    /// Makes `map_read` fail with `errno` as an exporter without a CPU mapping answers mmap
    /// (i915 answers ENODEV for GVT-g's objects, which have no shmem file): the simulator plays
    /// such a device with it. The fd itself stays importable by a GPU.
    pub fn refusing_cpu_map(mut self, errno: Errno) -> Self {
        self.refuse_cpu_map = Some(errno);
        self
    }

    /// The `dmabuf_id` this fd was exported for.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Size of the buffer in bytes, as the exporter reports it.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Maps the whole buffer read-only for the CPU.
    pub fn map_read(&self) -> Result<Mapping> {
        if let Some(errno) = self.refuse_cpu_map {
            return Err(VfioError::Map {
                target: format!("dma-buf {}", self.id),
                offset: 0,
                len: self.size,
                errno,
            });
        }
        Mapping::map(
            self.fd.as_fd(),
            0,
            self.size,
            false,
            format!("dma-buf {}", self.id),
        )
    }

    /// `DMA_BUF_IOCTL_SYNC` with `SYNC_START | SYNC_READ`, before the CPU reads the buffer.
    pub fn begin_cpu_read(&self) -> Result<()> {
        self.sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
    }

    /// `DMA_BUF_IOCTL_SYNC` with `SYNC_END | SYNC_READ`, after the CPU read the buffer.
    pub fn end_cpu_read(&self) -> Result<()> {
        self.sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)
    }

    fn sync(&self, flags: u64) -> Result<()> {
        let mut arg = dma_buf_sync { flags };
        // SAFETY: DMA_BUF_IOCTL_SYNC reads one `struct dma_buf_sync`, which `arg` is.
        match unsafe { ioctl_ptr(self.fd.as_fd(), DMA_BUF_IOCTL_SYNC, (&raw mut arg).cast()) } {
            Ok(_) => Ok(()),
            // A memfd stand-in (the simulator without /dev/udmabuf) has no sync ioctl; its memory
            // is plain shared memory that needs no cache maintenance.
            Err(Errno::ENOTTY) => Ok(()),
            Err(errno) => Err(VfioError::ioctl(
                "DMA_BUF_IOCTL_SYNC",
                format!("dma-buf {}", self.id),
                errno,
            )),
        }
    }
}

impl AsFd for DmaBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Keeps the `capacity` most recently used exports, and never exports an id again while any
/// `Arc<DmaBuf>` for it is alive, in the cache or elsewhere.
#[derive(Debug)]
pub struct ExportCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// Most recent first; holds the strong references that keep fds open.
    recent: VecDeque<Arc<DmaBuf>>,
    /// Every id exported whose fd may still be open somewhere.
    live: HashMap<u32, Weak<DmaBuf>>,
    exports: u64,
}

/// The number of exports the cache keeps open, as QEMU does.
pub const DEFAULT_EXPORT_CACHE: usize = 5;

impl ExportCache {
    /// A cache that keeps at most `capacity` exports open.
    pub fn new(capacity: usize) -> Self {
        ExportCache {
            capacity: capacity.max(1),
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Returns the open export of `id`, or calls `export` to make one.
    pub fn get_or_export(
        &self,
        id: u32,
        export: impl FnOnce() -> Result<OwnedFd>,
    ) -> Result<Arc<DmaBuf>> {
        self.get_or_make(id, || DmaBuf::new(export()?, id))
    }

    /// Returns the open export of `id`, or calls `make` to export and wrap one.
    pub fn get_or_make(
        &self,
        id: u32,
        make: impl FnOnce() -> Result<DmaBuf>,
    ) -> Result<Arc<DmaBuf>> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(buf) = state.live.get(&id).and_then(Weak::upgrade) {
            state.recent.retain(|b| b.id != id);
            state.recent.push_front(buf.clone());
            state.recent.truncate(self.capacity);
            return Ok(buf);
        }
        let buf = Arc::new(make()?);
        state.exports += 1;
        state.live.insert(id, Arc::downgrade(&buf));
        state.recent.push_front(buf.clone());
        state.recent.truncate(self.capacity);
        state.live.retain(|_, weak| weak.strong_count() > 0);
        Ok(buf)
    }

    /// Drops every cached export (after a reset, say). Exports still held elsewhere stay known,
    /// so they are not exported a second time.
    pub fn clear(&self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        state.recent.clear();
        state.live.retain(|_, weak| weak.strong_count() > 0);
    }

    /// How many exports this cache made in total (for stats and tests).
    pub fn export_count(&self) -> u64 {
        self.state.lock().map(|s| s.exports).unwrap_or(0)
    }

    /// How many ids currently have an open fd.
    pub fn open_count(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.live.values().filter(|w| w.strong_count() > 0).count())
            .unwrap_or(0)
    }
}

impl Default for ExportCache {
    fn default() -> Self {
        ExportCache::new(DEFAULT_EXPORT_CACHE)
    }
}

/// Whether this machine has `/dev/udmabuf` (real dma-bufs from memfds).
pub fn udmabuf_available() -> bool {
    std::path::Path::new("/dev/udmabuf").exists()
}

/// Turns `size` bytes at `offset` of a memfd into a real dma-buf through `/dev/udmabuf`. The memfd
/// must be sealed against shrinking and `offset`/`size` page aligned.
pub fn udmabuf_from_memfd(memfd: BorrowedFd<'_>, offset: u64, size: u64) -> Result<OwnedFd> {
    use crate::uapi::{UDMABUF_CREATE, UDMABUF_FLAGS_CLOEXEC, udmabuf_create};
    use nix::fcntl::{OFlag, open};
    use std::os::fd::{AsRawFd, FromRawFd};
    let dev = open(
        "/dev/udmabuf",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|errno| VfioError::sys("open /dev/udmabuf", errno))?;
    let mut arg = udmabuf_create {
        memfd: memfd.as_raw_fd() as u32,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset,
        size,
    };
    // SAFETY: UDMABUF_CREATE reads one `struct udmabuf_create`, which `arg` is.
    let raw = unsafe { ioctl_ptr(dev.as_fd(), UDMABUF_CREATE, (&raw mut arg).cast()) }.map_err(
        |errno| VfioError::ioctl("UDMABUF_CREATE", format!("{size} bytes of a memfd"), errno),
    )?;
    // SAFETY: on success the ioctl returns a new dma-buf fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn memfd() -> Result<OwnedFd> {
        let fd = nix::sys::memfd::memfd_create("export-test", nix::sys::memfd::MFdFlags::empty())
            .map_err(|e| VfioError::sys("memfd", e))?;
        nix::unistd::ftruncate(&fd, 4096).map_err(|e| VfioError::sys("ftruncate", e))?;
        Ok(fd)
    }

    #[test]
    fn an_open_id_is_never_exported_twice() {
        let cache = ExportCache::new(2);
        let calls = Cell::new(0);
        let export = || {
            calls.set(calls.get() + 1);
            memfd()
        };
        let held = cache.get_or_export(1, export).unwrap();
        assert_eq!(held.size(), 4096);
        // Push id 1 out of the two-entry cache while we still hold it.
        for id in 2..10 {
            cache.get_or_export(id, memfd).unwrap();
        }
        let again = cache
            .get_or_export(1, || panic!("id 1 is open: it must not be exported again"))
            .unwrap();
        assert!(Arc::ptr_eq(&held, &again));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn the_cache_is_bounded_and_closes_evicted_fds() {
        let cache = ExportCache::new(3);
        for id in 0..100 {
            cache.get_or_export(id, memfd).unwrap();
        }
        assert_eq!(cache.open_count(), 3);
        assert_eq!(cache.export_count(), 100);
        // An evicted id that nobody holds is exported afresh.
        cache.get_or_export(0, memfd).unwrap();
        assert_eq!(cache.export_count(), 101);
        cache.clear();
        assert_eq!(cache.open_count(), 0);
    }

    #[test]
    fn an_export_error_is_passed_on() {
        let cache = ExportCache::default();
        let err = cache
            .get_or_export(7, || Err(VfioError::ioctl("X", "dma-buf 7", Errno::EINVAL)))
            .unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL));
        assert_eq!(cache.open_count(), 0);
    }

    #[test]
    fn sync_on_a_memfd_is_tolerated_and_mapping_reads() {
        let buf = DmaBuf::new(memfd().unwrap(), 3).unwrap();
        buf.begin_cpu_read().unwrap();
        let map = buf.map_read().unwrap();
        let mut out = [1u8; 16];
        map.read_into(0, &mut out).unwrap();
        assert_eq!(out, [0u8; 16]);
        buf.end_cpu_read().unwrap();
    }
}
