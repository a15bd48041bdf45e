//! The simulated device's state, which one mutex guards: the guest's mode and frame, its
//! buffers, the EDID region, the interrupts and the dma-bufs exported from it. The other files
//! of the simulator add its behaviour in `impl SimState` blocks of their own.

use super::SimConfig;
use super::buffer::SharedBuffer;
use super::desktop::{self, CURSOR_SIZE};
use super::edid::SimEdid;
use super::encode::encode_canvas;
use super::fault::SimFault;
use super::irq::SimIrq;
use crate::device::{DeviceError, Result};
use crate::fourcc::{self, Format};
use crate::geometry::{Point, Size};
use crate::vfio::{ExportCache, PlaneSource, VfioError};
use drm_fourcc::DrmFourcc;
use nix::errno::Errno;
use std::os::fd::OwnedFd;
use std::time::Instant;

/// The device's name, in messages and in the refusals of a shared device.
pub(super) const NAME: &str = "simulated vGPU";

/// One buffer of the guest's: its memory and the dma-buf id the device gives it.
#[derive(Debug)]
pub(super) struct SimBuffer {
    pub(super) mem: SharedBuffer,
    pub(super) id: u32,
}

#[derive(Debug)]
pub(super) struct SimState {
    pub(super) cfg: SimConfig,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) format: &'static Format,
    pub(super) stride: u32,
    pub(super) frame: u64,
    pub(super) next_id: u32,
    /// dma-buf mode: the two buffers the guest flips between.
    pub(super) flip: Vec<SimBuffer>,
    pub(super) front: usize,
    /// region mode: the VRAM-sized framebuffer region (mdpy keeps one, fixed).
    pub(super) fb_region: Option<SharedBuffer>,
    pub(super) cursor: SimBuffer,
    pub(super) pointer: Point,
    pub(super) vram: Option<SharedBuffer>,
    pub(super) edid: SimEdid,
    pub(super) irq: SimIrq,
    pub(super) exports: ExportCache,
    /// Set by a mode change; the `enomem-after-mode-change` fault fails the next query once.
    pub(super) fresh_mode: bool,
    pub(super) mode_changes: u64,
    /// A mode the guest will switch to on its next tick (after an EDID link-up).
    pub(super) pending_mode: Option<Size>,
    /// When the first plane query came: the clock of the scheduled mode change and the
    /// device-lost fault. It starts there, not when the device opens, so that a slow start of the
    /// front end (a GPU context on a loaded machine) cannot make the events happen before the
    /// guest's first frame is seen.
    pub(super) first_query: Option<Instant>,
    /// Primary plane queries so far (the `plane-flap` fault turns every other one off).
    pub(super) primary_queries: u64,
    /// The eventfd bound to the request IRQ, if any.
    pub(super) request_trigger: Option<OwnedFd>,
    /// How many times the driver asked for the device back.
    pub(super) removal_requests: u64,
}

/// A refusal of the simulated device, shaped like the kernel's answer to the ioctl `op`.
pub(super) fn sim_errno(op: &'static str, target: impl Into<String>, errno: Errno) -> DeviceError {
    DeviceError::Vfio(VfioError::ioctl(op, target, errno))
}

/// The EDID of the simulated monitor, which prefers the guest's mode: at 60 Hz, or at the
/// lowest rate a valid EDID can state for a small mode (a detailed timing needs 10 MHz of pixel
/// clock).
fn initial_edid(cfg: &SimConfig) -> Vec<u8> {
    [60, 120, 240, 480]
        .into_iter()
        .find_map(|hz| {
            crate::edid::generate(&crate::edid::EdidSpec {
                max_size: cfg.edid_max_size as usize,
                ..crate::edid::EdidSpec::new(crate::edid::Mode::new(cfg.width, cfg.height, hz))
            })
            .ok()
        })
        .unwrap_or_default()
}

/// The cursor's buffer, with the cursor image drawn into it once: it never changes.
fn cursor_buffer() -> Result<SharedBuffer> {
    let cursor_mem = SharedBuffer::new("sim-cursor", u64::from(CURSOR_SIZE * CURSOR_SIZE * 4))?;
    let argb = fourcc::by_code(DrmFourcc::Argb8888)
        .ok_or_else(|| DeviceError::Sim("no ARGB8888".into()))?;
    cursor_mem.writer().write_from(
        0,
        &encode_canvas(&desktop::cursor_image(), argb, CURSOR_SIZE * 4),
    )?;
    Ok(cursor_mem)
}

impl SimState {
    /// The state of a device just created: the configured mode set and its first frame shown.
    pub(super) fn new(cfg: &SimConfig) -> Result<Self> {
        let fb_region = match cfg.source {
            PlaneSource::Region => Some(SharedBuffer::new("sim-fb-region", cfg.vram_bytes)?),
            PlaneSource::DmaBuf => None,
        };
        let mut state = SimState {
            edid: SimEdid::new(
                cfg.edid_max_size,
                cfg.max_xres,
                cfg.max_yres,
                &initial_edid(cfg),
            ),
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
                mem: cursor_buffer()?,
                id: 0,
            },
            pointer: Point::default(),
            vram: None,
            irq: SimIrq::new(cfg.clock.clone()),
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
        // Setting the first mode is not a mode change the front end could have seen.
        state.mode_changes = 0;
        state.draw_now(state.frame)?;
        Ok(state)
    }

    /// A fresh dma-buf id (never 0, which means "no buffer").
    pub(super) fn take_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// The refusal of a shared real device (`VfioError::Shared`), when this one plays shared.
    pub(super) fn refuse_if_shared(&self, what: &'static str) -> Result<(), VfioError> {
        if self.cfg.shared {
            return Err(VfioError::Shared {
                device: NAME.to_string(),
                what,
            });
        }
        Ok(())
    }
}
