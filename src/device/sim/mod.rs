//! The simulated vGPU: a `DisplayDevice` that behaves like the kernel's display mdevs, with a
//! guest that draws an animated desktop, flips between two dma-bufs (or scans out of a region, as
//! mdpy does), moves a cursor plane, raises a flip interrupt, and follows EDID hot-plugs.
//!
//! Threads: an animated simulator runs its guest on one thread of its own, which the device stops
//! and joins on drop; every trait method may be called from any thread.
//!
//! This file holds the device's configuration and its trait implementations, which lock the
//! state and hand each call to the file that does that job: `guest` (modes, frames, what happens
//! over time), `planes` (plane queries and dma-bufs), `regions` (the region table, reads,
//! writes and mappings), `interrupts` (the IRQ indexes); `state` holds what they share.

pub mod buffer;
pub mod clock;
pub mod desktop;
pub mod edid;
mod encode;
mod fault;
mod guest;
mod interrupts;
pub mod irq;
mod planes;
mod regions;
mod state;

pub use clock::{ManualClock, MonotonicClock, SimClock};
pub use encode::{buffer_rows, encode_canvas, encode_plane, stride_for, tiled_stride_for};
pub use fault::SimFault;
pub use guest::{MAX_SIZE, MIN_SIZE};
pub use regions::{
    CONFIG_REGION, CURSOR_REGION, EDID_REGION, FB_REGION, MMIO_REGION, SMALL_EDID_MAX_SIZE,
    VRAM_REGION,
};

use self::desktop::Canvas;
use self::state::{NAME, SimState};
use super::{Backend, DisplayDevice, Result};
use crate::fourcc::{self, Format};
use crate::geometry::{Point, Size};
use crate::tiling::Tiling;
use crate::uapi::{VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET};
use crate::vfio::{
    DeviceInfo, DmaBuf, IrqAction, IrqInfo, Mapping, PlaneInfo, PlaneSource, PlaneType, RegionInfo,
    RegionIo, VfioError,
};
use drm_fourcc::DrmFourcc;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// The guest switches to another mode once, some time after the first plane query (seen at
    /// the next plane query), for tests of mode changes in a running viewer.
    pub mode_change: Option<ModeChange>,
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
    /// Where the simulator reads the time for its scheduled events (`mode_change`, the
    /// `device-lost` and `removal-requested` faults) and its interrupts' time stamps: the
    /// monotonic clock, or a `ManualClock` a test moves.
    pub clock: Arc<dyn SimClock>,
}

/// A mode change the configuration schedules (`--sim-mode-change WxH@S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeChange {
    /// How long after the first plane query the guest switches.
    pub after: Duration,
    /// The mode it switches to.
    pub size: Size,
}

impl SimConfig {
    /// The default device with a still guest that shows frame `frame` and never moves: the
    /// start of most tests' simulators, which want reproducible pictures.
    pub fn frozen(frame: u64) -> Self {
        SimConfig {
            frozen_frame: Some(frame),
            ..SimConfig::default()
        }
    }

    /// The guest's mode.
    pub fn with_mode(self, width: u32, height: u32) -> Self {
        SimConfig {
            width,
            height,
            ..self
        }
    }

    /// How the device exposes its planes.
    pub fn with_source(self, source: PlaneSource) -> Self {
        SimConfig { source, ..self }
    }

    /// The framebuffer format.
    pub fn with_format(self, format: &'static Format) -> Self {
        SimConfig { format, ..self }
    }

    /// The fault to inject.
    pub fn with_fault(self, fault: SimFault) -> Self {
        SimConfig { fault, ..self }
    }

    /// Where the frame starts in its buffer: the plane's `offset` field.
    pub fn with_plane_offset(self, plane_offset: u64) -> Self {
        SimConfig {
            plane_offset,
            ..self
        }
    }

    /// The video memory a mode must fit.
    pub fn with_vram(self, vram_bytes: u64) -> Self {
        SimConfig { vram_bytes, ..self }
    }

    /// How the primary plane's bytes are laid out.
    pub fn with_tiling(self, tiling: Tiling) -> Self {
        SimConfig { tiling, ..self }
    }

    /// The pointer sweeps the whole screen, its image past the left and top edges.
    pub fn with_pointer_to_edges(self) -> Self {
        SimConfig {
            pointer_to_edges: true,
            ..self
        }
    }

    /// Plays a device shared with its VMM (a bound fd handed over).
    pub fn shared_with_vmm(self) -> Self {
        SimConfig {
            shared: true,
            ..self
        }
    }

    /// Offers a request IRQ, through which the driver asks for the device back.
    pub fn with_request_irq(self) -> Self {
        SimConfig {
            request_irq: true,
            ..self
        }
    }

    /// No flip interrupt: front ends refresh on a timer, as for GVT-g.
    pub fn without_display_irq(self) -> Self {
        SimConfig {
            display_irq: false,
            ..self
        }
    }

    /// The guest switches to `size` once, `after` the first plane query.
    pub fn with_mode_change(self, after: Duration, size: Size) -> Self {
        SimConfig {
            mode_change: Some(ModeChange { after, size }),
            ..self
        }
    }

    /// Where the simulator reads the time (a `ManualClock` in tests that move it).
    pub fn with_clock(self, clock: Arc<dyn SimClock>) -> Self {
        SimConfig { clock, ..self }
    }

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
            format: fourcc::by_code(DrmFourcc::Xrgb8888).expect("XRGB8888 is in the format table"),
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
            clock: Arc::new(MonotonicClock),
        }
    }
}

/// What the device and its guest thread share.
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

impl SimDevice {
    /// Starts the simulated device (and, when animated, its guest thread).
    pub fn new(cfg: SimConfig) -> Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState::new(&cfg)?),
            stop: AtomicBool::new(false),
        });
        let guest = match cfg.frozen_frame {
            Some(_) => None,
            None => Some(guest::spawn(&shared)?),
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
        s.change_mode(width, height, format)
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
        s.change_mode(w, h, format)
    }

    /// Switches the injected fault while the device runs (`SimFault::None` ends it), so tests can
    /// check that the front end recovers once the device behaves again.
    pub fn set_fault(&self, fault: SimFault) {
        self.state().set_fault(fault);
    }

    /// The fault injected now.
    pub fn fault(&self) -> SimFault {
        self.state().cfg.fault
    }

    /// The guest's current mode.
    pub fn mode(&self) -> Size {
        let s = self.state();
        Size::new(s.width, s.height)
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
    pub fn pointer(&self) -> Point {
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

    /// When the last flip interrupt reached an eventfd, on the configuration's clock.
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
        self.state().read_region(index, offset, buf)
    }

    fn write_region(&self, index: u32, offset: u64, buf: &[u8]) -> Result<(), VfioError> {
        self.state().write_region(index, offset, buf)
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
        NAME.to_string()
    }

    fn backend(&self) -> Backend {
        Backend::Sim
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
            num_regions: regions::NUM_REGIONS,
            num_irqs: self.state().num_irqs(),
        }
    }

    fn region_info(&self, index: u32) -> Result<RegionInfo> {
        self.state().region_info(index)
    }

    fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        self.state().irq_info(index)
    }

    fn set_irq_eventfds(
        &self,
        index: u32,
        start: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<()> {
        self.state().set_irq_eventfds(index, start, fds)
    }

    fn disable_irq(&self, index: u32) -> Result<()> {
        self.state().disable_irq(index)
    }

    fn irq_action(&self, action: IrqAction, index: u32, start: u32, count: u32) -> Result<()> {
        self.state().irq_action(action, index, start, count)
    }

    fn probe_planes(&self, source: PlaneSource) -> Result<bool> {
        Ok(self.state().cfg.source == source)
    }

    fn query_plane(&self, plane_type: PlaneType, source: PlaneSource) -> Result<PlaneInfo> {
        self.state().query_plane(plane_type, source)
    }

    fn dmabuf(&self, dmabuf_id: u32) -> Result<Arc<DmaBuf>> {
        self.state().dmabuf(dmabuf_id)
    }

    fn map_region(&self, index: u32, offset: u64, len: u64, writable: bool) -> Result<Mapping> {
        self.state().map_region(index, offset, len, writable)
    }

    fn reset(&self) -> Result<()> {
        let mut s = self.state();
        s.refuse_if_shared("resets it")?;
        s.exports.clear();
        let (w, h, format) = (s.cfg.width, s.cfg.height, s.cfg.format);
        s.change_mode(w, h, format)
    }
}
