//! A device's pictures as they change, pulled one at a time: the refresh pump on a thread of
//! its own and `serve`'s capture on the caller's. Guest CI (`wait`, `script`) and recording
//! take every new picture the guest shows, in order, with the time it was seen.

use crate::app::serve::capture::Capture;
use crate::app::serve::hub::{Hub, Snapshot};
use anyhow::Result;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::frame::{FrameReader, IrqChoice, Pump, RgbaImage, Status, choose_source};
use vfio_display::render::{ImportChoice, LazyGpu, PlaneReader, ReadChoice};

/// How often the capture looks without a wake: a device whose interrupts miss a change (a
/// mode set without a flip) still shows it this soon.
const LOOK_ANYWAY: Duration = Duration::from_secs(1);

/// How pictures are read.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Where refreshes come from.
    pub irq: IrqChoice,
    /// The timer's rate when there is no interrupt.
    pub refresh_hz: f64,
    /// Where pictures are made.
    pub render: ReadChoice,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            irq: IrqChoice::Auto,
            refresh_hz: 60.0,
            render: ReadChoice::Auto,
        }
    }
}

/// One picture the guest showed.
#[derive(Debug, Clone)]
pub struct Shot {
    /// The primary plane and cursor as read.
    pub snapshot: Arc<Snapshot>,
    /// When the capture saw it (just after reading it).
    pub at: Instant,
    /// When the refresh that led to it began: the interrupt's arrival (or the timer's tick)
    /// whose wake the capture answered, for the time from a flip to what is done with it.
    pub woken: Instant,
}

impl Shot {
    /// The picture, with the cursor drawn in when `cursor` is asked for.
    pub fn picture(&self, cursor: bool) -> Arc<RgbaImage> {
        // Snapshot::picture's flag says whether the client draws the cursor itself.
        self.snapshot.picture(!cursor)
    }
}

/// Pulls a device's changed pictures. Made inside a `std::thread::scope` (the pump thread
/// borrows the device); dropping it stops the pump so that the scope can end.
pub struct Watcher<'d> {
    capture: Capture<'d>,
    hub: Hub,
    pump: Arc<Pump>,
    wakes: Receiver<()>,
    last_serial: Option<u64>,
    /// The pump's wake the next capture answers (or when the capture began without one).
    woken: Instant,
    /// Set once the pump thread ended with an error (the device failed).
    pump_failed: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for Watcher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("source", &self.pump.source)
            .field("last_serial", &self.last_serial)
            .finish_non_exhaustive()
    }
}

impl<'d> Watcher<'d> {
    /// Starts the pump for `dev` on a thread of `scope`. `gpu` is opened only if the CPU
    /// cannot map the device's frames.
    pub fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        dev: &'d dyn DisplayDevice,
        gpu: &'d LazyGpu,
        opts: &WatchOptions,
    ) -> Result<Self>
    where
        'd: 'scope,
    {
        let reader = FrameReader::new(dev)?;
        let source = choose_source(dev, opts.irq, opts.refresh_hz)?;
        // Every frame counts here: no slowing down while the guest is still.
        let pump = Arc::new(Pump::new(source)?.without_backoff());
        let (wake_tx, wakes) = mpsc::sync_channel(1);
        let pump_failed = Arc::new(std::sync::Mutex::new(None));
        let (thread_pump, failed) = (Arc::clone(&pump), Arc::clone(&pump_failed));
        std::thread::Builder::new()
            .name("refresh pump".into())
            .spawn_scoped(scope, move || {
                let ran = thread_pump.run(dev, &move || {
                    let _ = wake_tx.try_send(());
                });
                if let Err(err) = ran {
                    let text = vfio_display::frame::session::error_chain(&err);
                    *failed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
                }
            })?;
        let planes = PlaneReader::with_reader(reader, gpu, opts.render, ImportChoice::Auto);
        Ok(Watcher {
            capture: Capture::new(planes).quiet(),
            hub: Hub::new(RgbaImage::new(0, 0)),
            pump,
            wakes,
            last_serial: None,
            woken: Instant::now(),
            pump_failed,
        })
    }

    /// The display's state as last seen.
    pub fn status(&self) -> &Status {
        self.capture.status()
    }

    /// Waits until the guest shows a picture not returned before, or `deadline`: `None` then.
    /// The first call returns the current picture at once (when the display is on).
    pub fn next(&mut self, deadline: Instant) -> Result<Option<Shot>> {
        loop {
            if self.capture.step(&self.hub) || self.last_serial.is_none() {
                let snapshot = self.hub.latest();
                if Some(snapshot.serial) != self.last_serial && snapshot.image.width > 0 {
                    self.last_serial = Some(snapshot.serial);
                    return Ok(Some(Shot {
                        snapshot,
                        at: Instant::now(),
                        woken: self.woken,
                    }));
                }
            }
            if let Some(failed) = self
                .pump_failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
            {
                anyhow::bail!("the device's refresh failed: {failed}");
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            match self.wakes.recv_timeout((deadline - now).min(LOOK_ANYWAY)) {
                Ok(()) => {
                    self.woken = self.pump.last_wake();
                    self.pump.presented(true);
                }
                Err(RecvTimeoutError::Timeout) => self.woken = Instant::now(),
                Err(RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the device's refresh stopped")
                }
            }
        }
    }
}

impl Drop for Watcher<'_> {
    fn drop(&mut self) {
        self.pump.stop();
    }
}
