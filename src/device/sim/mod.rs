//! The simulated vGPU: a `DisplayDevice` that behaves like the kernel's display mdevs, with a
//! guest that draws an animated desktop, flips between two dma-bufs (or scans out of a region, as
//! mdpy does), moves a cursor plane, raises a flip interrupt, and follows EDID hot-plugs.
//!
//! Threads: an animated simulator runs its guest on one thread of its own, which the device stops
//! and joins on drop; every trait method may be called from any thread.

pub mod buffer;
pub mod desktop;
pub mod edid;
mod fault;
pub mod irq;

pub use fault::SimFault;

use self::buffer::SharedBuffer;
use self::desktop::{CURSOR_HOTSPOT, CURSOR_SIZE, Canvas, GUEST_FPS};
use self::edid::{EdidEvent, SimEdid};
use self::irq::{FLIP_IRQ, SimIrq};
use super::{Backend, DeviceError, DisplayDevice, Result};
use crate::fourcc::{self, Format};
use crate::tiling::Tiling;
use crate::uapi::{
    VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_PCI_REQ_IRQ_INDEX,
    VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
    VFIO_REGION_SUBTYPE_GFX_EDID, VFIO_REGION_TYPE_GFX,
};
use crate::vfio::caps::{encode_region_info, parse_region_info};
use crate::vfio::{
    AccessFailure, DeviceInfo, DmaBuf, ExportCache, IrqAction, IrqInfo, Mapping, PlaneInfo,
    PlaneSource, PlaneType, RegionCap, RegionInfo, RegionIo, SparseArea, VfioError,
};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Region indexes of the simulated device (PCI layout; device-specific regions from 9 on).
pub const VRAM_REGION: u32 = 0;
/// The MMIO region (BAR2).
pub const MMIO_REGION: u32 = 2;
/// The PCI config space region.
pub const CONFIG_REGION: u32 = 7;
/// The EDID region.
pub const EDID_REGION: u32 = 9;
/// In region mode the framebuffer is region 16 while `num_regions` is 10, as on mdpy.
pub const FB_REGION: u32 = 16;
/// The cursor's region (region planes).
pub const CURSOR_REGION: u32 = 17;
const NUM_REGIONS: u32 = 10;
/// The edid_max_size the `edid-max-size-small` fault reports.
pub const SMALL_EDID_MAX_SIZE: u32 = 64;

/// The smallest and largest modes the simulated guest accepts.
pub const MIN_SIZE: u32 = 64;
/// The largest width or height the simulator takes.
pub const MAX_SIZE: u32 = 8192;

/// How to build a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The guest's mode, width.
    pub width: u32,
    /// The guest's mode, height.
    pub height: u32,
    /// The framebuffer format.
    pub format: &'static Format,
    /// dma-buf planes or a region plane.
    pub source: PlaneSource,
    /// `Some(n)`: the guest shows frame `n` and never moves (reproducible captures).
    /// `None`: the guest animates at 60 frames per second on its own thread.
    pub frozen_frame: Option<u64>,
    /// A fault to inject.
    pub fault: SimFault,
    /// Video memory; a mode must fit it (two buffers of it in dma-buf mode).
    pub vram_bytes: u64,
    /// The EDID region's `max_xres`.
    pub max_xres: u32,
    /// The EDID region's `max_yres`.
    pub max_yres: u32,
    /// The EDID region's `edid_max_size`.
    pub edid_max_size: u32,
    /// Where the frame starts in its buffer (a panned or sub-allocated scanout): the plane's
    /// `offset` field.
    pub plane_offset: u64,
    /// The guest switches to this mode once this long after the first plane query (seen at the
    /// next plane query), for tests of mode changes in a running viewer.
    pub mode_change: Option<(Duration, u32, u32)>,
    /// Play a device shared with a VMM (a bound fd handed over): it refuses what a shared real
    /// device refuses (SET_IRQS, reset, register writes, writable maps), so that everything
    /// above the device layer is tested in shared mode too.
    pub shared: bool,
    /// How the primary plane's bytes are laid out (Intel's tiling, reported as its modifier,
    /// with the size rounded up to whole tile rows as GVT-g reports it).
    pub tiling: Tiling,
    /// The dma-bufs refuse CPU mapping with ENODEV, as i915 answers for GVT-g's; only a GPU
    /// import reaches their pixels.
    pub cpu_map_refused: bool,
    /// The device raises a flip interrupt. GVT-g has none: its front ends refresh on a timer.
    pub display_irq: bool,
    /// The pointer sweeps the whole screen (the cursor image past the left and top edges)
    /// instead of looping around the middle.
    pub pointer_to_edges: bool,
    /// The device offers a request IRQ (`VFIO_PCI_REQ_IRQ_INDEX`), through which its driver
    /// asks for the device back when it is being removed (`request_removal`). The kernel's
    /// sample drivers have none; the `removal-requested` fault offers and signals one.
    pub request_irq: bool,
}

impl SimConfig {
    /// Plays Intel GVT-g: X-tiled frames, dma-bufs the CPU cannot map, no display interrupt,
    /// a pointer that reaches every edge. The format and tiling can be changed after.
    pub fn gvt(self) -> Self {
        SimConfig {
            tiling: Tiling::X,
            cpu_map_refused: true,
            display_irq: false,
            pointer_to_edges: true,
            ..self
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            width: 1024,
            height: 768,
            format: fourcc::parse("XRGB8888").expect("XRGB8888 is in the format table"),
            source: PlaneSource::DmaBuf,
            frozen_frame: None,
            fault: SimFault::None,
            vram_bytes: 128 << 20,
            max_xres: 3840,
            max_yres: 2160,
            edid_max_size: 1024,
            plane_offset: 0,
            mode_change: None,
            shared: false,
            tiling: Tiling::Linear,
            cpu_map_refused: false,
            display_irq: true,
            pointer_to_edges: false,
            request_irq: false,
        }
    }
}

/// The row pitch the simulated guest uses: rows padded to 64 bytes, as GPUs commonly do, so
/// that strides wider than the pixels are exercised.
pub fn stride_for(width: u32, format: &Format) -> u32 {
    (format.row_bytes(width) as u32).div_ceil(64) * 64
}

/// The row pitch of a tiled plane: whole tiles, as the hardware needs.
pub fn tiled_stride_for(width: u32, format: &Format, tiling: Tiling) -> u32 {
    stride_for(width, format).next_multiple_of(tiling.tile_size().0)
}

/// The rows a plane's buffer holds: the height rounded up to whole tile rows.
pub fn buffer_rows(height: u32, tiling: Tiling) -> u32 {
    height.next_multiple_of(tiling.tile_size().1)
}

/// Encodes an RGBA canvas into a plane of `format` and `tiling`, `stride` bytes per row (of
/// tiles): `buffer_rows` rows of it.
pub fn encode_plane(canvas: &Canvas, format: &Format, stride: u32, tiling: Tiling) -> Vec<u8> {
    let linear = encode_canvas(canvas, format, stride);
    if tiling == Tiling::Linear {
        return linear;
    }
    let row_bytes = format.row_bytes(canvas.width) as usize;
    crate::tiling::tile(
        tiling,
        &linear,
        stride as usize,
        row_bytes,
        canvas.height as usize,
        stride as usize,
    )
}

/// Encodes an RGBA canvas into `format` rows of `stride` bytes.
pub fn encode_canvas(canvas: &Canvas, format: &Format, stride: u32) -> Vec<u8> {
    let mut out = vec![0u8; stride as usize * canvas.height as usize];
    for (y, row) in out.chunks_exact_mut(stride as usize).enumerate() {
        let src =
            &canvas.pixels[y * canvas.width as usize * 4..(y + 1) * canvas.width as usize * 4];
        format.encode_row(src, row);
    }
    out
}

#[derive(Debug)]
struct SimBuffer {
    mem: SharedBuffer,
    id: u32,
}

#[derive(Debug)]
struct SimState {
    cfg: SimConfig,
    width: u32,
    height: u32,
    format: &'static Format,
    stride: u32,
    frame: u64,
    next_id: u32,
    /// dma-buf mode: the two buffers the guest flips between.
    flip: Vec<SimBuffer>,
    front: usize,
    /// region mode: the VRAM-sized framebuffer region (mdpy keeps one, fixed).
    fb_region: Option<SharedBuffer>,
    cursor: SimBuffer,
    pointer: (u32, u32),
    vram: Option<SharedBuffer>,
    edid: SimEdid,
    irq: SimIrq,
    exports: ExportCache,
    /// Set by a mode change; the `enomem-after-mode-change` fault fails the next query once.
    fresh_mode: bool,
    mode_changes: u64,
    /// A mode the guest will switch to on its next tick (after an EDID link-up).
    pending_mode: Option<(u32, u32)>,
    /// When the first plane query came: the clock of the scheduled mode change and the
    /// device-lost fault. It starts there, not when the device opens, so that a slow start of the
    /// front end (a GPU context on a loaded machine) cannot make the events happen before the
    /// guest's first frame is seen.
    first_query: Option<std::time::Instant>,
    /// Primary plane queries so far (the `plane-flap` fault turns every other one off).
    primary_queries: u64,
    /// The eventfd bound to the request IRQ, if any.
    request_trigger: Option<std::os::fd::OwnedFd>,
    /// How many times the driver asked for the device back.
    removal_requests: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<SimState>,
    stop: AtomicBool,
}

/// The simulated vGPU.
#[derive(Debug)]
pub struct SimDevice {
    shared: Arc<Shared>,
    guest: Option<JoinHandle<()>>,
}

fn sim_errno(op: &'static str, target: impl Into<String>, errno: Errno) -> DeviceError {
    DeviceError::Vfio(VfioError::ioctl(op, target, errno))
}

impl SimState {
    fn check_mode(&self, width: u32, height: u32, format: &Format) -> Result<()> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&width) || !(MIN_SIZE..=MAX_SIZE).contains(&height) {
            return Err(DeviceError::Sim(format!(
                "mode {width}x{height} is outside {MIN_SIZE}..{MAX_SIZE} pixels per side"
            )));
        }
        let tiling = self.cfg.tiling;
        if !tiling.supports(format.bytes_per_pixel) {
            return Err(DeviceError::Sim(format!(
                "{} cannot be laid out in {} tiles",
                format.name,
                tiling.name()
            )));
        }
        let bytes = u64::from(tiled_stride_for(width, format, tiling))
            * u64::from(buffer_rows(height, tiling))
            + self.cfg.plane_offset;
        let buffers = if self.cfg.source == PlaneSource::DmaBuf {
            2
        } else {
            1
        };
        if bytes * buffers > self.cfg.vram_bytes {
            return Err(DeviceError::Sim(format!(
                "mode {width}x{height} {} needs {} MiB of video memory, the simulator has {} MiB",
                format.name,
                (bytes * buffers) >> 20,
                self.cfg.vram_bytes >> 20
            )));
        }
        Ok(())
    }

    /// Reallocates the scanout buffers for a new mode (new dma-buf ids, as real drivers give).
    fn apply_mode(&mut self, width: u32, height: u32, format: &'static Format) -> Result<()> {
        self.check_mode(width, height, format)?;
        self.width = width;
        self.height = height;
        self.format = format;
        self.stride = tiled_stride_for(width, format, self.cfg.tiling);
        let bytes = u64::from(self.stride) * u64::from(buffer_rows(height, self.cfg.tiling))
            + self.cfg.plane_offset;
        if self.cfg.source == PlaneSource::DmaBuf {
            let mut flip = Vec::new();
            for n in 0..2 {
                let id = self.take_id();
                flip.push(SimBuffer {
                    mem: SharedBuffer::new(&format!("sim-fb{n}-{width}x{height}"), bytes)?,
                    id,
                });
            }
            self.flip = flip;
            self.front = 0;
        }
        self.pointer = self.pointer_at(self.frame);
        self.fresh_mode = true;
        self.mode_changes += 1;
        Ok(())
    }

    fn take_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Puts an encoded frame on screen: into the back buffer and flip, or into the region.
    fn present(&mut self, frame: u64, pixels: &[u8]) -> Result<()> {
        match self.cfg.source {
            PlaneSource::DmaBuf => {
                let back = 1 - self.front;
                self.flip[back]
                    .mem
                    .writer()
                    .write_from(self.cfg.plane_offset as usize, pixels)?;
                self.front = back;
            }
            PlaneSource::Region => {
                if let Some(region) = &self.fb_region {
                    region
                        .writer()
                        .write_from(self.cfg.plane_offset as usize, pixels)?;
                }
            }
        }
        self.frame = frame;
        self.pointer = self.pointer_at(frame);
        if self.cfg.display_irq {
            self.irq.raise();
        }
        Ok(())
    }

    fn pointer_at(&self, frame: u64) -> (u32, u32) {
        if self.cfg.pointer_to_edges {
            desktop::pointer_position_to_edges(self.width, self.height, frame)
        } else {
            desktop::pointer_position(self.width, self.height, frame)
        }
    }

    fn draw_now(&mut self, frame: u64) -> Result<()> {
        let pixels = encode_plane(
            &desktop::render(self.width, self.height, frame),
            self.format,
            self.stride,
            self.cfg.tiling,
        );
        self.present(frame, &pixels)
    }

    fn primary_plane(&self) -> PlaneInfo {
        let (buffer_id, size) = match self.cfg.source {
            // GVT-g's rule: the size covers the height rounded up to whole tile rows.
            PlaneSource::DmaBuf => (
                self.flip[self.front].id,
                self.stride * buffer_rows(self.height, self.cfg.tiling),
            ),
            // Like mdpy, the plane's size is the whole region.
            PlaneSource::Region => (
                FB_REGION,
                self.fb_region
                    .as_ref()
                    .map_or(0, |r| r.size().min(u64::from(u32::MAX)) as u32),
            ),
        };
        PlaneInfo {
            plane_type: PlaneType::Primary,
            source: self.cfg.source,
            drm_format: self.format.fourcc,
            modifier: self.cfg.tiling.modifier(),
            width: self.width,
            height: self.height,
            stride: self.stride,
            size,
            x_pos: 0,
            y_pos: 0,
            x_hot: 0,
            y_hot: 0,
            buffer_id,
            offset: self.cfg.plane_offset,
        }
    }

    fn cursor_plane(&self) -> PlaneInfo {
        let argb = fourcc::parse("ARGB8888").map_or(0, |f| f.fourcc);
        PlaneInfo {
            plane_type: PlaneType::Cursor,
            source: self.cfg.source,
            drm_format: argb,
            modifier: 0,
            width: CURSOR_SIZE,
            height: CURSOR_SIZE,
            stride: CURSOR_SIZE * 4,
            size: CURSOR_SIZE * CURSOR_SIZE * 4,
            x_pos: self.pointer.0,
            y_pos: self.pointer.1,
            x_hot: CURSOR_HOTSPOT.0,
            y_hot: CURSOR_HOTSPOT.1,
            buffer_id: match self.cfg.source {
                PlaneSource::DmaBuf => self.cursor.id,
                PlaneSource::Region => CURSOR_REGION,
            },
            offset: 0,
        }
    }

    fn region(&self, index: u32) -> Option<RegionInfo> {
        let rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        let whole = |size: u64| RegionCap::SparseMmap {
            areas: vec![SparseArea { offset: 0, size }],
        };
        let (flags, size, caps) = match index {
            VRAM_REGION => (rw | VFIO_REGION_INFO_FLAG_MMAP, self.cfg.vram_bytes, vec![]),
            MMIO_REGION => (rw, 4096, vec![]),
            CONFIG_REGION => (rw, 256, vec![]),
            1 | 3..=6 | 8 => (0, 0, vec![]),
            EDID_REGION => (
                rw,
                edid::REGION_SIZE,
                vec![RegionCap::Type {
                    region_type: VFIO_REGION_TYPE_GFX,
                    subtype: VFIO_REGION_SUBTYPE_GFX_EDID,
                }],
            ),
            FB_REGION if self.cfg.source == PlaneSource::Region => {
                let mut size = self.fb_region.as_ref().map_or(0, SharedBuffer::size);
                if self.cfg.fault == SimFault::RegionTooSmall {
                    size = u64::from(self.stride) * u64::from(self.height) / 2;
                }
                (rw | VFIO_REGION_INFO_FLAG_MMAP, size, vec![whole(size)])
            }
            CURSOR_REGION if self.cfg.source == PlaneSource::Region => {
                let size = self.cursor.mem.size();
                (rw | VFIO_REGION_INFO_FLAG_MMAP, size, vec![whole(size)])
            }
            _ => return None,
        };
        Some(RegionInfo {
            index,
            flags,
            size,
            // As vfio-pci does: each region at index << 40 in the device fd.
            offset: u64::from(index) << 40,
            caps,
        })
    }

    fn backing(&mut self, index: u32) -> Result<&SharedBuffer> {
        match index {
            VRAM_REGION => {
                if self.vram.is_none() {
                    self.vram = Some(SharedBuffer::new("sim-vram", self.cfg.vram_bytes)?);
                }
                Ok(self.vram.as_ref().expect("just created"))
            }
            FB_REGION if self.fb_region.is_some() => Ok(self.fb_region.as_ref().expect("checked")),
            CURSOR_REGION if self.cfg.source == PlaneSource::Region => Ok(&self.cursor.mem),
            _ => Err(sim_errno("mmap", format!("region {index}"), Errno::EINVAL)),
        }
    }

    /// What the configuration schedules: the device going away, a mode change.
    fn scheduled_events(&mut self) -> Result<()> {
        let age = self
            .first_query
            .get_or_insert_with(std::time::Instant::now)
            .elapsed();
        if self.cfg.fault == SimFault::DeviceLost && age >= Duration::from_secs(2) {
            return Err(sim_errno(
                "VFIO_DEVICE_QUERY_GFX_PLANE",
                "the device".to_string(),
                Errno::ENODEV,
            ));
        }
        if self.cfg.fault == SimFault::RemovalRequested
            && age >= Duration::from_secs(1)
            && self.removal_requests == 0
        {
            self.request_removal();
        }
        if let Some((after, w, h)) = self.cfg.mode_change
            && age >= after
        {
            self.cfg.mode_change = None;
            let format = self.format;
            self.apply_mode(w, h, format)?;
            let frame = self.frame;
            self.draw_now(frame)?;
        }
        Ok(())
    }

    fn offers_request_irq(&self) -> bool {
        self.cfg.request_irq || self.cfg.fault == SimFault::RemovalRequested
    }

    /// Signals the request IRQ, as the kernel does when the device is being removed while a
    /// process holds it (`vfio_pci_core_request`).
    fn request_removal(&mut self) {
        self.removal_requests += 1;
        if let Some(fd) = &self.request_trigger {
            let _ = nix::unistd::write(fd, &1u64.to_ne_bytes());
        }
    }

    fn on_link_up(&mut self) {
        let blob = &self.edid.blob[..self.edid.size as usize];
        match crate::edid::preferred_mode(blob) {
            Ok(mode) if (mode.width, mode.height) != (self.width, self.height) => {
                if let Err(err) = self.check_mode(mode.width, mode.height, self.format) {
                    tracing::info!("simulated guest ignores the EDID's preferred mode: {err}");
                } else {
                    self.pending_mode = Some((mode.width, mode.height));
                }
            }
            Ok(_) => {}
            Err(err) => tracing::info!("simulated guest ignores the new EDID: {err}"),
        }
    }
}

impl SimDevice {
    /// Starts the simulated device (and, when animated, its guest thread).
    pub fn new(cfg: SimConfig) -> Result<Self> {
        // The monitor's EDID prefers the guest's mode: at 60 Hz, or at the lowest rate a valid
        // EDID can state for a small mode (a detailed timing needs 10 MHz of pixel clock).
        let initial_edid = [60, 120, 240, 480]
            .into_iter()
            .find_map(|hz| {
                crate::edid::generate(&crate::edid::EdidSpec {
                    max_size: cfg.edid_max_size as usize,
                    ..crate::edid::EdidSpec::new(crate::edid::Mode::new(cfg.width, cfg.height, hz))
                })
                .ok()
            })
            .unwrap_or_default();
        let cursor_mem = SharedBuffer::new("sim-cursor", u64::from(CURSOR_SIZE * CURSOR_SIZE * 4))?;
        let argb =
            fourcc::parse("ARGB8888").ok_or_else(|| DeviceError::Sim("no ARGB8888".into()))?;
        cursor_mem.writer().write_from(
            0,
            &encode_canvas(&desktop::cursor_image(), argb, CURSOR_SIZE * 4),
        )?;
        let fb_region = match cfg.source {
            PlaneSource::Region => Some(SharedBuffer::new("sim-fb-region", cfg.vram_bytes)?),
            PlaneSource::DmaBuf => None,
        };
        let mut state = SimState {
            edid: SimEdid::new(cfg.edid_max_size, cfg.max_xres, cfg.max_yres, &initial_edid),
            cfg: cfg.clone(),
            width: 0,
            height: 0,
            format: cfg.format,
            stride: 0,
            frame: cfg.frozen_frame.unwrap_or(0),
            next_id: 0,
            flip: Vec::new(),
            front: 0,
            fb_region,
            cursor: SimBuffer {
                mem: cursor_mem,
                id: 0,
            },
            pointer: (0, 0),
            vram: None,
            irq: SimIrq::default(),
            exports: ExportCache::default(),
            fresh_mode: false,
            mode_changes: 0,
            pending_mode: None,
            first_query: None,
            primary_queries: 0,
            request_trigger: None,
            removal_requests: 0,
        };
        state.irq.stuck = cfg.fault == SimFault::IrqStorm;
        state.cursor.id = state.take_id();
        state.apply_mode(cfg.width, cfg.height, cfg.format)?;
        state.mode_changes = 0;
        state.draw_now(state.frame)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stop: AtomicBool::new(false),
        });
        let guest = match cfg.frozen_frame {
            Some(_) => None,
            None => {
                let shared = shared.clone();
                Some(
                    std::thread::Builder::new()
                        .name("sim-guest".into())
                        .spawn(move || guest_loop(&shared))
                        .map_err(|e| {
                            DeviceError::Sim(format!("cannot start the guest thread: {e}"))
                        })?,
                )
            }
        };
        Ok(SimDevice { shared, guest })
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The guest sets a new mode (keeping its format), as a guest driver would.
    pub fn set_mode(&self, width: u32, height: u32) -> Result<()> {
        let mut s = self.state();
        let format = s.format;
        s.apply_mode(width, height, format)?;
        let frame = s.frame;
        s.draw_now(frame)
    }

    /// The guest draws frame `frame` and flips to it (into the other of its two dma-bufs, or
    /// into the region), as its own thread does at 60 fps; for frozen simulators in tests.
    pub fn show_frame(&self, frame: u64) -> Result<()> {
        self.state().draw_now(frame)
    }

    /// The guest switches to another pixel format.
    pub fn set_format(&self, format: &'static Format) -> Result<()> {
        let mut s = self.state();
        let (w, h) = (s.width, s.height);
        s.apply_mode(w, h, format)?;
        let frame = s.frame;
        s.draw_now(frame)
    }

    /// Switches the injected fault while the device runs (`SimFault::None` ends it), so tests can
    /// check that the front end recovers once the device behaves again.
    pub fn set_fault(&self, fault: SimFault) {
        let mut s = self.state();
        s.cfg.fault = fault;
        s.irq.stuck = fault == SimFault::IrqStorm;
        if s.irq.stuck {
            s.irq.raise();
        }
    }

    /// The fault injected now.
    pub fn fault(&self) -> SimFault {
        self.state().cfg.fault
    }

    /// The guest's current mode.
    pub fn mode(&self) -> (u32, u32) {
        let s = self.state();
        (s.width, s.height)
    }

    /// The frame number on screen now.
    pub fn frame(&self) -> u64 {
        self.state().frame
    }

    /// What the screen shows now, in RGBA, as the guest drew it (before format encoding).
    pub fn reference_frame(&self) -> Canvas {
        let s = self.state();
        desktop::render(s.width, s.height, s.frame)
    }

    /// Where the pointer (the cursor's hotspot) is now.
    pub fn pointer(&self) -> (u32, u32) {
        self.state().pointer
    }

    /// The EDID as the guest reads it (only while the link is up).
    pub fn guest_edid(&self) -> Option<Vec<u8>> {
        self.state().edid.guest_view().map(<[u8]>::to_vec)
    }

    /// How many flip interrupts reached an eventfd.
    pub fn interrupts_delivered(&self) -> u64 {
        self.state().irq.delivered
    }

    /// When the last flip interrupt reached an eventfd.
    pub fn last_interrupt(&self) -> Option<std::time::Instant> {
        self.state().irq.last_delivered
    }

    /// How many dma-buf exports were made.
    pub fn export_count(&self) -> u64 {
        self.state().exports.export_count()
    }

    /// How many dma-buf exports are open now (held by the device's cache or by a reader).
    pub fn open_exports(&self) -> usize {
        self.state().exports.open_count()
    }

    /// Mode changes since creation.
    pub fn mode_changes(&self) -> u64 {
        self.state().mode_changes
    }

    /// The driver asks for the device back through its request IRQ (with `request_irq`), as
    /// the kernel does when the mdev is being removed; a no-op without a bound eventfd.
    pub fn request_removal(&self) {
        self.state().request_removal();
    }

    /// Whether an eventfd is bound to the request IRQ now.
    pub fn request_irq_bound(&self) -> bool {
        self.state().request_trigger.is_some()
    }
}

fn guest_loop(shared: &Shared) {
    let period = Duration::from_nanos(1_000_000_000 / GUEST_FPS);
    while !shared.stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        // Take what to draw under the lock, draw without it, present under it again.
        let job = {
            let mut s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((w, h)) = s.pending_mode.take() {
                let format = s.format;
                if let Err(err) = s.apply_mode(w, h, format) {
                    tracing::warn!("simulated guest cannot switch to {w}x{h}: {err}");
                }
            }
            (
                s.width,
                s.height,
                s.format,
                s.stride,
                s.cfg.tiling,
                s.mode_changes,
                s.frame + 1,
            )
        };
        let (w, h, format, stride, tiling, generation, frame) = job;
        let pixels = encode_plane(&desktop::render(w, h, frame), format, stride, tiling);
        {
            let mut s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            // A mode change while we drew makes this frame stale: drop it.
            if s.mode_changes == generation
                && let Err(err) = s.present(frame, &pixels)
            {
                tracing::warn!("simulated guest cannot present frame {frame}: {err}");
            }
        }
        std::thread::park_timeout(period.saturating_sub(started.elapsed()));
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(guest) = self.guest.take() {
            guest.thread().unpark();
            let _ = guest.join();
        }
    }
}

impl RegionIo for SimDevice {
    fn read_region(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<(), VfioError> {
        let mut s = self.state();
        let len = buf.len() as u64;
        let access_err = |errno: Errno| VfioError::Access {
            op: "pread",
            target: format!("region {index}"),
            offset,
            len,
            failure: AccessFailure::Errno(errno),
        };
        match index {
            EDID_REGION => {
                s.edid.read(offset, buf).map_err(access_err)?;
                if s.cfg.fault == SimFault::EdidMaxSizeSmall
                    && offset == crate::uapi::edid_reg::EDID_MAX_SIZE
                    && buf.len() == 4
                {
                    buf.copy_from_slice(&SMALL_EDID_MAX_SIZE.to_ne_bytes());
                }
                Ok(())
            }
            MMIO_REGION | CONFIG_REGION => {
                buf.fill(0);
                Ok(())
            }
            // The memory regions read like their mappings, as a correct driver's do.
            index => {
                let size = s.region(index).map_or(0, |r| r.size);
                let end = offset
                    .checked_add(len)
                    .ok_or_else(|| access_err(Errno::EINVAL))?;
                if end > size {
                    return Err(access_err(Errno::EINVAL));
                }
                let backing = s.backing(index).map_err(|_| access_err(Errno::EINVAL))?;
                let read = nix::sys::uio::pread(backing.memfd(), buf, offset as i64)
                    .map_err(access_err)?;
                if read != buf.len() {
                    return Err(access_err(Errno::EIO));
                }
                Ok(())
            }
        }
    }

    fn write_region(&self, index: u32, offset: u64, buf: &[u8]) -> Result<(), VfioError> {
        if index != EDID_REGION {
            self.refuse_if_shared("writes its registers (only the EDID region)")?;
        }
        let mut s = self.state();
        let access_err = |errno: Errno| VfioError::Access {
            op: "pwrite",
            target: format!("region {index}"),
            offset,
            len: buf.len() as u64,
            failure: AccessFailure::Errno(errno),
        };
        match index {
            EDID_REGION => {
                // The device that reports a small edid_max_size also enforces it, as the
                // kernel's drivers do.
                if s.cfg.fault == SimFault::EdidMaxSizeSmall
                    && offset == crate::uapi::edid_reg::EDID_SIZE
                    && buf.len() == 4
                    && u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) > SMALL_EDID_MAX_SIZE
                {
                    return Err(access_err(Errno::EINVAL));
                }
                if s.edid.write(offset, buf).map_err(access_err)? == EdidEvent::LinkUp {
                    s.on_link_up();
                    // A frozen guest has no thread to act on it later: switch now.
                    if s.cfg.frozen_frame.is_some()
                        && let Some((w, h)) = s.pending_mode.take()
                    {
                        let format = s.format;
                        let frame = s.frame;
                        s.apply_mode(w, h, format)
                            .and_then(|()| s.draw_now(frame))
                            .map_err(|e| VfioError::invalid("simulated guest", e.to_string()))?;
                    }
                }
                Ok(())
            }
            MMIO_REGION | CONFIG_REGION => Ok(()),
            _ => Err(access_err(Errno::EINVAL)),
        }
    }
}

impl SimDevice {
    /// The refusal of a shared real device (`VfioError::Shared`), when this one plays shared.
    fn refuse_if_shared(&self, what: &'static str) -> Result<(), VfioError> {
        if self.state().cfg.shared {
            return Err(VfioError::Shared {
                device: self.name(),
                what,
            });
        }
        Ok(())
    }
}

impl DisplayDevice for SimDevice {
    fn as_sim(&self) -> Option<&SimDevice> {
        Some(self)
    }

    fn shared(&self) -> bool {
        self.state().cfg.shared
    }

    fn name(&self) -> String {
        "simulated vGPU".to_string()
    }

    fn backend(&self) -> Backend {
        Backend::Sim
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
            num_regions: NUM_REGIONS,
            // The PCI indexes up to the request IRQ's, when it has one.
            num_irqs: if self.state().offers_request_irq() {
                VFIO_PCI_REQ_IRQ_INDEX + 1
            } else {
                1
            },
        }
    }

    fn region_info(&self, index: u32) -> Result<RegionInfo> {
        let info = self.state().region(index).ok_or_else(|| {
            sim_errno(
                "VFIO_DEVICE_GET_REGION_INFO",
                format!("region {index}"),
                Errno::EINVAL,
            )
        })?;
        // Through the kernel's byte layout and the same parser as a real device.
        let bytes = self
            .state()
            .cfg
            .fault
            .corrupt_region_info(encode_region_info(&info));
        Ok(parse_region_info(index, &bytes)?)
    }

    fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        let offers_request = self.state().offers_request_irq();
        if index == VFIO_PCI_REQ_IRQ_INDEX && offers_request {
            return Ok(IrqInfo {
                index,
                flags: crate::uapi::VFIO_IRQ_INFO_EVENTFD,
                count: 1,
            });
        }
        // The PCI indexes between the flip IRQ and the request IRQ: listed, unused.
        if index != FLIP_IRQ && index < VFIO_PCI_REQ_IRQ_INDEX && offers_request {
            return Ok(IrqInfo {
                index,
                flags: 0,
                count: 0,
            });
        }
        if index == FLIP_IRQ && !self.state().cfg.display_irq {
            // Like a device whose only interrupt lines are not the display's: nothing to bind.
            return Ok(IrqInfo {
                index,
                flags: 0,
                count: 0,
            });
        }
        if index == FLIP_IRQ {
            Ok(SimIrq::info())
        } else {
            Err(sim_errno(
                "VFIO_DEVICE_GET_IRQ_INFO",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ))
        }
    }

    fn set_irq_eventfds(
        &self,
        index: u32,
        start: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<()> {
        self.refuse_if_shared("changes its interrupts (VFIO_DEVICE_SET_IRQS)")?;
        let target = format!("IRQ index {index}");
        let request = index == VFIO_PCI_REQ_IRQ_INDEX && self.state().offers_request_irq();
        let flip = index == FLIP_IRQ && self.state().cfg.display_irq;
        if !(request || flip) || start != 0 || fds.len() != 1 {
            return Err(sim_errno("VFIO_DEVICE_SET_IRQS", target, Errno::EINVAL));
        }
        // Our own duplicate of the eventfd, as the kernel takes a reference to it.
        let fd = match fds[0] {
            Some(fd) => Some(fd.try_clone_to_owned().map_err(|e| {
                sim_errno(
                    "VFIO_DEVICE_SET_IRQS",
                    target,
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                )
            })?),
            None => None,
        };
        if request {
            self.state().request_trigger = fd;
        } else {
            self.state().irq.bind(fd);
        }
        Ok(())
    }

    fn disable_irq(&self, index: u32) -> Result<()> {
        self.refuse_if_shared("changes its interrupts (VFIO_DEVICE_SET_IRQS)")?;
        if index == VFIO_PCI_REQ_IRQ_INDEX && self.state().offers_request_irq() {
            self.state().request_trigger = None;
            return Ok(());
        }
        if index != FLIP_IRQ {
            return Err(sim_errno(
                "VFIO_DEVICE_SET_IRQS",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ));
        }
        self.state().irq.bind(None);
        Ok(())
    }

    fn irq_action(&self, action: IrqAction, index: u32, start: u32, count: u32) -> Result<()> {
        self.refuse_if_shared("changes its interrupts (VFIO_DEVICE_SET_IRQS)")?;
        // The request IRQ takes a loopback trigger, as vfio-pci's does; it cannot be masked.
        if index == VFIO_PCI_REQ_IRQ_INDEX
            && action == IrqAction::Trigger
            && (start, count) == (0, 1)
            && self.state().offers_request_irq()
        {
            let s = self.state();
            if let Some(fd) = &s.request_trigger {
                let _ = nix::unistd::write(fd, &1u64.to_ne_bytes());
            }
            return Ok(());
        }
        if index != FLIP_IRQ {
            return Err(sim_errno(
                "VFIO_DEVICE_SET_IRQS",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ));
        }
        self.state()
            .irq
            .action(action, start, count)
            .map_err(|errno| {
                sim_errno(
                    "VFIO_DEVICE_SET_IRQS",
                    format!("IRQ index {index} ({})", action.name()),
                    errno,
                )
            })
    }

    fn probe_planes(&self, source: PlaneSource) -> Result<bool> {
        Ok(self.state().cfg.source == source)
    }

    fn query_plane(&self, plane_type: PlaneType, source: PlaneSource) -> Result<PlaneInfo> {
        let mut s = self.state();
        let target = format!("{plane_type} plane ({source})");
        if s.cfg.source != source {
            return Err(sim_errno(
                "VFIO_DEVICE_QUERY_GFX_PLANE",
                target,
                Errno::EINVAL,
            ));
        }
        s.scheduled_events()?;
        let fault = s.cfg.fault;
        if let Some(errno) = fault.query_errno() {
            return Err(sim_errno("VFIO_DEVICE_QUERY_GFX_PLANE", target, errno));
        }
        if fault == SimFault::EnomemAfterModeChange && std::mem::take(&mut s.fresh_mode) {
            return Err(sim_errno(
                "VFIO_DEVICE_QUERY_GFX_PLANE",
                target,
                Errno::ENOMEM,
            ));
        }
        if plane_type == PlaneType::Cursor {
            return Ok(s.cursor_plane());
        }
        s.primary_queries += 1;
        if fault == SimFault::PlaneFlap && s.primary_queries.is_multiple_of(2) {
            return Ok(PlaneInfo::off(PlaneType::Primary, source));
        }
        if fault == SimFault::NewIdEveryFrame && source == PlaneSource::DmaBuf {
            let id = s.take_id();
            let front = s.front;
            s.flip[front].id = id;
        }
        Ok(fault.corrupt_plane(s.primary_plane()))
    }

    fn dmabuf(&self, dmabuf_id: u32) -> Result<Arc<DmaBuf>> {
        let mut s = self.state();
        s.scheduled_events()?;
        let s = s;
        let buffer = s
            .flip
            .iter()
            .chain(std::iter::once(&s.cursor))
            .find(|b| b.id == dmabuf_id && s.cfg.source == PlaneSource::DmaBuf)
            .ok_or_else(|| {
                sim_errno(
                    "VFIO_DEVICE_GET_GFX_DMABUF",
                    format!("dmabuf_id {dmabuf_id}"),
                    Errno::ENOENT,
                )
            })?;
        let refused = s.cfg.cpu_map_refused;
        Ok(s.exports.get_or_make(dmabuf_id, || {
            let buf = DmaBuf::new(buffer.mem.export()?, dmabuf_id)?;
            Ok(if refused {
                buf.refusing_cpu_map(Errno::ENODEV)
            } else {
                buf
            })
        })?)
    }

    fn map_region(&self, index: u32, offset: u64, len: u64, writable: bool) -> Result<Mapping> {
        if writable {
            self.refuse_if_shared("maps its regions writable")?;
        }
        let info = self.region_info(index)?;
        if !info.can_map(offset, len) {
            return Err(DeviceError::Vfio(VfioError::invalid(
                format!("region {index}"),
                format!(
                    "{len} bytes at offset {offset:#x} cannot be mapped (region size {})",
                    info.size
                ),
            )));
        }
        let mut s = self.state();
        let backing = s.backing(index)?;
        Ok(Mapping::map(
            backing.memfd().as_fd(),
            offset,
            len,
            writable,
            format!("region {index}"),
        )?)
    }

    fn reset(&self) -> Result<()> {
        self.refuse_if_shared("resets it")?;
        let mut s = self.state();
        s.exports.clear();
        let (w, h, format) = (s.cfg.width, s.cfg.height, s.cfg.format);
        s.apply_mode(w, h, format)?;
        let frame = s.frame;
        s.draw_now(frame)
    }
}
