//! The simulated guest: the modes it accepts and sets, the frames it draws and flips to (on a
//! thread of its own when animated), the mode it takes from a new EDID, and what the
//! configuration schedules over time (a mode change, the device going away, a removal request).

use super::Shared;
use super::buffer::SharedBuffer;
use super::desktop::{self, GUEST_FPS};
use super::encode::{buffer_rows, encode_plane, tiled_stride_for};
use super::fault::SimFault;
use super::state::{SimBuffer, SimState, sim_errno};
use crate::device::{DeviceError, Result};
use crate::fourcc::Format;
use crate::geometry::{Point, Size};
use crate::vfio::PlaneSource;
use nix::errno::Errno;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The smallest width or height the simulated guest accepts.
pub const MIN_SIZE: u32 = 64;
/// The largest width or height the simulator takes.
pub const MAX_SIZE: u32 = 8192;

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
    pub(super) fn apply_mode(
        &mut self,
        width: u32,
        height: u32,
        format: &'static Format,
    ) -> Result<()> {
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

    /// The guest sets a new mode and redraws the frame on screen in it at once.
    pub(super) fn change_mode(
        &mut self,
        width: u32,
        height: u32,
        format: &'static Format,
    ) -> Result<()> {
        self.apply_mode(width, height, format)?;
        let frame = self.frame;
        self.draw_now(frame)
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

    fn pointer_at(&self, frame: u64) -> Point {
        if self.cfg.pointer_to_edges {
            desktop::pointer_position_to_edges(self.width, self.height, frame)
        } else {
            desktop::pointer_position(self.width, self.height, frame)
        }
    }

    /// The guest draws frame `frame` and flips to it, on the caller's thread.
    pub(super) fn draw_now(&mut self, frame: u64) -> Result<()> {
        let pixels = encode_plane(
            &desktop::render(self.width, self.height, frame),
            self.format,
            self.stride,
            self.cfg.tiling,
        );
        self.present(frame, &pixels)
    }

    /// Switches the injected fault while the device runs.
    pub(super) fn set_fault(&mut self, fault: SimFault) {
        self.cfg.fault = fault;
        self.irq.stuck = fault == SimFault::IrqStorm;
        if self.irq.stuck {
            self.irq.raise();
        }
    }

    /// What the configuration schedules: the device going away, a mode change.
    pub(super) fn scheduled_events(&mut self) -> Result<()> {
        let now = self.cfg.clock.now();
        let age = now.saturating_duration_since(*self.first_query.get_or_insert(now));
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
        if let Some(change) = self.cfg.mode_change
            && age >= change.after
        {
            self.cfg.mode_change = None;
            let format = self.format;
            self.change_mode(change.size.width, change.size.height, format)?;
        }
        Ok(())
    }

    /// The guest reads the EDID the link came up with and plans to switch to its preferred
    /// mode, if that differs from its own and fits the device.
    pub(super) fn on_link_up(&mut self) {
        let blob = &self.edid.blob[..self.edid.size as usize];
        match crate::edid::preferred_mode(blob) {
            Ok(mode) if (mode.width, mode.height) != (self.width, self.height) => {
                if let Err(err) = self.check_mode(mode.width, mode.height, self.format) {
                    tracing::info!("simulated guest ignores the EDID's preferred mode: {err}");
                } else {
                    self.pending_mode = Some(Size::new(mode.width, mode.height));
                }
            }
            Ok(_) => {}
            Err(err) => tracing::info!("simulated guest ignores the new EDID: {err}"),
        }
    }

    /// A frozen guest has no thread to act on a planned mode later: it switches now.
    pub(super) fn switch_if_frozen(&mut self) -> Result<()> {
        if self.cfg.frozen_frame.is_some()
            && let Some(size) = self.pending_mode.take()
        {
            let format = self.format;
            self.change_mode(size.width, size.height, format)?;
        }
        Ok(())
    }
}

/// Starts the guest's own thread, which draws and flips at `GUEST_FPS` until `shared.stop`.
pub(super) fn spawn(shared: &Arc<Shared>) -> Result<JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("sim-guest".into())
        .spawn(move || guest_loop(&shared))
        .map_err(|e| DeviceError::Sim(format!("cannot start the guest thread: {e}")))
}

fn lock(shared: &Shared) -> MutexGuard<'_, SimState> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

fn guest_loop(shared: &Shared) {
    // Frame pacing is real time, not the configuration's clock: a manual clock would stop the
    // animation, and tests that step frames freeze the guest instead (`SimDevice::show_frame`).
    let period = Duration::from_nanos(1_000_000_000 / GUEST_FPS);
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // Take what to draw under the lock, draw without it, present under it again.
        let job = {
            let mut s = lock(shared);
            if let Some(size) = s.pending_mode.take() {
                let format = s.format;
                if let Err(err) = s.apply_mode(size.width, size.height, format) {
                    tracing::warn!("simulated guest cannot switch to {size}: {err}");
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
            let mut s = lock(shared);
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
