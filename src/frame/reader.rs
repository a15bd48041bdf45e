//! The CPU frame path: query a plane, validate it against its buffer, copy its rows out of the
//! mapping (dma-buf reads bracketed by DMA_BUF_IOCTL_SYNC) and convert them to RGBA.

use super::error::FrameError;
use super::image::RgbaImage;
use super::validate::{ValidPlane, validate};
use crate::device::{DisplayDevice, plane_support};
use crate::fourcc::Format;
use crate::tiling::{Detiler, TILE_BYTES, Tiling};
use crate::vfio::{DmaBuf, Mapping, PlaneInfo, PlaneSource, PlaneType};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many buffer mappings the reader keeps (the device keeps as many exports).
pub const MAPPING_CACHE: usize = 5;

/// A frame read on the CPU.
#[derive(Debug, Clone)]
pub struct CpuFrame {
    /// The validated plane.
    pub plane: PlaneInfo,
    /// Its format.
    pub format: &'static Format,
    /// Its pixels in RGBA.
    pub image: RgbaImage,
}

#[derive(Debug)]
enum CachedMap {
    /// The export is held with its mapping so the id stays open (and is never exported again)
    /// as long as we read through it.
    DmaBuf { buf: Arc<DmaBuf>, map: Arc<Mapping> },
    Region {
        index: u32,
        len: u64,
        map: Arc<Mapping>,
    },
}

/// Reads planes of one device through the CPU. Used from one thread at a time (the capture loop or
/// the pump); the caches are behind a mutex so a shared reference is enough.
#[derive(Debug)]
pub struct FrameReader<'d> {
    dev: &'d dyn DisplayDevice,
    source: PlaneSource,
    maps: Mutex<VecDeque<CachedMap>>,
    /// One tile of a tiled frame, copied out of the mapping before it is detiled; kept between
    /// frames.
    band: Mutex<Vec<u8>>,
}

impl<'d> FrameReader<'d> {
    /// Probes the device and uses its preferred plane source (dma-buf, else region).
    pub fn new(dev: &'d dyn DisplayDevice) -> Result<Self, FrameError> {
        let support = plane_support(dev)?;
        let source = support
            .preferred()
            .ok_or_else(|| FrameError::NoPlaneSupport { device: dev.name() })?;
        Ok(Self::with_source(dev, source))
    }

    /// Uses `source` without probing.
    pub fn with_source(dev: &'d dyn DisplayDevice, source: PlaneSource) -> Self {
        FrameReader {
            dev,
            source,
            maps: Mutex::new(VecDeque::new()),
            band: Mutex::new(Vec::new()),
        }
    }

    /// How planes are queried.
    pub fn source(&self) -> PlaneSource {
        self.source
    }

    /// The device.
    pub fn device(&self) -> &'d dyn DisplayDevice {
        self.dev
    }

    /// Queries a plane, retrying once on ENOMEM: mbochs fails the first query after every mode
    /// change that way.
    pub fn query(&self, plane_type: PlaneType) -> Result<PlaneInfo, FrameError> {
        super::session::query_plane(self.dev, plane_type, self.source)
    }

    /// Queries and reads a plane; `None` when the plane is off.
    pub fn capture(&self, plane_type: PlaneType) -> Result<Option<CpuFrame>, FrameError> {
        let plane = self.query(plane_type)?;
        if plane.is_off() {
            return Ok(None);
        }
        self.read(&plane).map(Some)
    }

    fn invalid(plane: &PlaneInfo, error: super::PlaneError) -> FrameError {
        FrameError::InvalidPlane {
            plane: plane.plane_type,
            source_kind: plane.source,
            buffer_id: plane.buffer_id,
            error,
        }
    }

    /// Reads a queried plane into RGBA.
    pub fn read(&self, plane: &PlaneInfo) -> Result<CpuFrame, FrameError> {
        self.with_mapping(plane, |map, valid| {
            if valid.tiling == Tiling::Linear {
                return convert(map, valid);
            }
            let mut raw = Vec::new();
            let mut band = self.band.lock().unwrap_or_else(|p| p.into_inner());
            copy_raw(map, valid, valid.row_bytes, &mut raw, &mut band)?;
            Ok(CpuFrame {
                plane: valid.info,
                format: valid.format,
                image: decode_rows(valid, &raw, valid.row_bytes),
            })
        })
    }

    /// Copies a queried plane's raw bytes into `out`, row `y` at `y * pitch` (`pitch` at least
    /// the plane's row bytes; the plane's own stride gives one contiguous copy). `out` is resized
    /// to `pitch * height` and reused between frames. Returns the validated plane.
    pub fn read_raw_into(
        &self,
        plane: &PlaneInfo,
        pitch: usize,
        out: &mut Vec<u8>,
    ) -> Result<ValidPlane, FrameError> {
        self.with_mapping(plane, |map, valid| {
            let mut band = self.band.lock().unwrap_or_else(|p| p.into_inner());
            copy_raw(map, valid, pitch, out, &mut band)?;
            Ok(*valid)
        })
    }

    /// Validates the plane against its buffer and runs `f` on the buffer's mapping; dma-buf
    /// reads are bracketed by DMA_BUF_IOCTL_SYNC.
    fn with_mapping<T>(
        &self,
        plane: &PlaneInfo,
        f: impl FnOnce(&Mapping, &ValidPlane) -> Result<T, FrameError>,
    ) -> Result<T, FrameError> {
        match plane.source {
            PlaneSource::DmaBuf => {
                let buf = self.dev.dmabuf(plane.buffer_id)?;
                let valid = validate(plane, buf.size()).map_err(|e| Self::invalid(plane, e))?;
                let map = self.dmabuf_mapping(plane, &buf)?;
                buf.begin_cpu_read()
                    .map_err(crate::device::DeviceError::from)?;
                let result = f(&map, &valid);
                buf.end_cpu_read()
                    .map_err(crate::device::DeviceError::from)?;
                result
            }
            PlaneSource::Region => {
                let info = self.dev.region_info(plane.buffer_id)?;
                let valid = validate(plane, info.size).map_err(|e| Self::invalid(plane, e))?;
                let (index, len) = (plane.buffer_id, plane.offset + valid.span);
                let map = self.cached_mapping(
                    |m| matches!(m, CachedMap::Region { index: i, len: l, .. } if *i == index && *l == len),
                    || {
                        let map = Arc::new(self.dev.map_region(index, 0, len, false)?);
                        Ok(CachedMap::Region { index, len, map })
                    },
                )?;
                f(&map, &valid)
            }
        }
    }

    fn dmabuf_mapping(
        &self,
        plane: &PlaneInfo,
        buf: &Arc<DmaBuf>,
    ) -> Result<Arc<Mapping>, FrameError> {
        self.cached_mapping(
            |m| matches!(m, CachedMap::DmaBuf { buf: b, .. } if Arc::ptr_eq(b, buf)),
            || {
                let map = Arc::new(buf.map_read().map_err(|error| FrameError::CpuMap {
                    plane: plane.plane_type,
                    dmabuf_id: plane.buffer_id,
                    error,
                })?);
                Ok(CachedMap::DmaBuf {
                    buf: buf.clone(),
                    map,
                })
            },
        )
    }

    /// The cached mapping that `hit` recognises, moved to the front; or a new one from `make`,
    /// with the cache trimmed to `MAPPING_CACHE` entries.
    fn cached_mapping(
        &self,
        hit: impl Fn(&CachedMap) -> bool,
        make: impl FnOnce() -> Result<CachedMap, FrameError>,
    ) -> Result<Arc<Mapping>, FrameError> {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match maps.iter().position(hit) {
            Some(i) => maps.remove(i).expect("index from position"),
            None => make()?,
        };
        let map = match &entry {
            CachedMap::DmaBuf { map, .. } | CachedMap::Region { map, .. } => map.clone(),
        };
        maps.push_front(entry);
        maps.truncate(MAPPING_CACHE);
        Ok(map)
    }

    /// Drops every cached mapping (and with them the dma-buf references they hold).
    pub fn clear_cache(&self) {
        self.maps.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Decodes linear rows (`pitch` apart) into an RGBA image.
pub fn decode_rows(valid: &ValidPlane, raw: &[u8], pitch: usize) -> RgbaImage {
    let plane = &valid.info;
    let mut image = RgbaImage::new(plane.width, plane.height);
    let out_row = plane.width as usize * 4;
    for (y, out) in image.data.chunks_exact_mut(out_row).enumerate() {
        let row = &raw[y * pitch..y * pitch + valid.row_bytes];
        valid.format.decode_row(row, out);
    }
    image
}

/// Copies the plane's bytes out of the mapping into linear rows `pitch` apart: one copy when
/// the rows keep their stride, else row by row; a tiled plane one tile at a time (through
/// `band`), detiled on the way.
fn copy_raw(
    map: &Mapping,
    valid: &ValidPlane,
    pitch: usize,
    out: &mut Vec<u8>,
    band: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let plane = &valid.info;
    let height = plane.height as usize;
    assert!(pitch >= valid.row_bytes, "the caller's pitch holds a row");
    out.resize(pitch * height, 0);
    let device_err = |e| FrameError::Device(crate::device::DeviceError::from(e));
    if valid.tiling != Tiling::Linear {
        // One tile at a time: each is 4 KiB in one piece, so the copy out of the guest's buffer
        // reads sequentially and the detiling works in the first-level cache. Tiles in the
        // stride's padding are never read.
        let detiler = Detiler::new(valid.tiling);
        let tile = valid.tiling.tile_size();
        let (tile_width, tile_rows) = (tile.width_bytes, tile.rows);
        let (tile_width, tile_rows) = (tile_width as usize, tile_rows as usize);
        let band_len = plane.stride as usize * tile_rows;
        let tile_bytes = TILE_BYTES as usize;
        band.resize(tile_bytes, 0);
        for (n, rows) in out.chunks_mut(pitch * tile_rows).enumerate() {
            for t in 0..valid.row_bytes.div_ceil(tile_width) {
                // offset + band start + (t + 1) * 4 KiB <= offset + span <= mapping length:
                // the span covers the height rounded up to whole tile rows, and the tiles a row
                // reaches lie inside the stride (both validated).
                let at = plane.offset as usize + n * band_len + t * tile_bytes;
                map.read_into(at, band).map_err(device_err)?;
                detiler.copy_tile(band, t, 0, valid.row_bytes, pitch, rows);
            }
        }
        return Ok(());
    }
    if pitch == plane.stride as usize {
        // offset + span <= mapping length (validated); the tail after the last row's pixels
        // stays as it was (zeros on first use).
        let span = valid.span as usize;
        return map
            .read_into(plane.offset as usize, &mut out[..span])
            .map_err(device_err);
    }
    for (y, row) in out.chunks_exact_mut(pitch).enumerate() {
        let at = plane.offset + u64::from(plane.stride) * y as u64;
        map.read_into(at as usize, &mut row[..valid.row_bytes])
            .map_err(device_err)?;
    }
    Ok(())
}

/// Copies the plane's rows out of the mapping one at a time and converts them to RGBA.
fn convert(map: &Mapping, valid: &ValidPlane) -> Result<CpuFrame, FrameError> {
    let plane = &valid.info;
    let mut image = RgbaImage::new(plane.width, plane.height);
    let mut row = vec![0u8; valid.row_bytes];
    let out_row = plane.width as usize * 4;
    for (y, out) in image.data.chunks_exact_mut(out_row).enumerate() {
        // offset + stride * y + row_bytes <= offset + span <= mapping length (validated).
        let at = plane.offset + u64::from(plane.stride) * y as u64;
        map.read_into(at as usize, &mut row)
            .map_err(|e| FrameError::Device(crate::device::DeviceError::from(e)))?;
        valid.format.decode_row(&row, out);
    }
    Ok(CpuFrame {
        plane: *plane,
        format: valid.format,
        image,
    })
}
