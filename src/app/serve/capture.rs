//! The capture thread: reads the planes when the pump wakes it and publishes what changed.
//! A picture whose bytes did not change is not published, so a static guest costs clients
//! nothing.

use super::hub::{CursorShape, Hub};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;
use vfio_display::frame::session::error_chain;
use vfio_display::frame::{Pump, RgbaImage, Session, Status, cursor_origin, decode_rows};
use vfio_display::geometry::Point;
use vfio_display::render::{PlaneReader, RenderError};
use vfio_display::vfio::PlaneInfo;

/// What the last published primary plane was read from.
struct Primary {
    plane: PlaneInfo,
    raw: Vec<u8>,
}

pub struct Capture<'d> {
    /// Reads on the CPU, or through the GPU once the CPU cannot map the device's frames (Intel
    /// GVT-g's dma-bufs).
    reader: PlaneReader<'d>,
    session: Session<'d>,
    primary: Option<Primary>,
    raw: Vec<u8>,
    image: Option<Arc<RgbaImage>>,
    cursor: Option<Arc<CursorShape>>,
    shape_serial: u64,
    last_status: Option<String>,
    /// Log the display's changes (off, lost, back): `serve` does; guest CI reports the state
    /// in its steps instead.
    log_changes: bool,
}

impl<'d> Capture<'d> {
    pub fn new(reader: PlaneReader<'d>) -> Self {
        let session = Session::with_source(reader.cpu().device(), reader.cpu().source());
        Capture {
            reader,
            session,
            primary: None,
            raw: Vec::new(),
            image: None,
            cursor: None,
            shape_serial: 0,
            last_status: None,
            log_changes: true,
        }
    }

    /// A capture that keeps the display's changes to itself.
    pub fn quiet(mut self) -> Self {
        self.log_changes = false;
        self
    }

    /// The display's state as last seen.
    pub fn status(&self) -> &Status {
        self.session.status()
    }

    /// Refreshes once; publishes to `hub` when the picture or the cursor changed. Returns
    /// whether it did.
    pub fn step(&mut self, hub: &Hub) -> bool {
        let changed = self.session.refresh();
        self.log_status();
        let mut publish = false;
        if let Some(plane) = self.session.showing().copied() {
            match self.read_primary(&plane) {
                Ok(new) => publish |= new,
                Err(RenderError::Frame(err)) => {
                    self.session.note_failure(&err);
                    self.log_status();
                }
                Err(err) => {
                    self.session.note_error(None, error_chain(&err));
                    self.log_status();
                }
            }
            if changed.cursor || changed.primary {
                publish |= self.read_cursor();
            }
        }
        if publish && let Some(image) = &self.image {
            hub.publish(image.clone(), self.cursor.clone());
        }
        publish
    }

    /// Reads the primary plane's bytes; decodes and keeps them when they differ from the last.
    /// Frames read through the GPU are compared as pictures.
    fn read_primary(&mut self, plane: &PlaneInfo) -> Result<bool, RenderError> {
        if self.reader.through_gpu() {
            return self.read_primary_on_gpu(plane);
        }
        let pitch = plane.stride as usize;
        let valid = match self.reader.cpu().read_raw_into(plane, pitch, &mut self.raw) {
            Ok(valid) => valid,
            Err(err) if self.reader.fall_back(&err) => return self.read_primary_on_gpu(plane),
            Err(err) => return Err(err.into()),
        };
        let same_layout = self.primary.as_ref().is_some_and(|p| {
            (
                p.plane.width,
                p.plane.height,
                p.plane.stride,
                p.plane.drm_format,
            ) == (plane.width, plane.height, plane.stride, plane.drm_format)
        });
        if same_layout && self.primary.as_ref().is_some_and(|p| p.raw == self.raw) {
            return Ok(false);
        }
        self.image = Some(Arc::new(decode_rows(&valid, &self.raw, pitch)));
        let raw = std::mem::take(&mut self.raw);
        let old = self.primary.replace(Primary { plane: *plane, raw });
        // Reuse the old buffer for the next read.
        if let Some(old) = old {
            self.raw = old.raw;
        }
        Ok(true)
    }

    fn read_primary_on_gpu(&mut self, plane: &PlaneInfo) -> Result<bool, RenderError> {
        let (frame, _) = self.reader.read_on_gpu(plane)?;
        if self.image.as_deref() == Some(&frame.image) {
            return Ok(false);
        }
        self.image = Some(Arc::new(frame.image));
        self.primary = None;
        Ok(true)
    }

    /// Reads the cursor plane; returns whether the cursor changed.
    fn read_cursor(&mut self) -> bool {
        let Some(plane) = self.session.cursor().copied() else {
            return self.cursor.take().is_some();
        };
        let frame = match self.reader.read(&plane) {
            Ok((frame, _)) => frame,
            Err(err) => {
                tracing::warn!("cursor plane not read: {}", error_chain(&err));
                return self.cursor.take().is_some();
            }
        };
        let origin = cursor_origin(&plane);
        let hot = Point::new(
            (plane.x_hot.min(frame.image.width.saturating_sub(1))) as u16,
            (plane.y_hot.min(frame.image.height.saturating_sub(1))) as u16,
        );
        let hot = if plane.x_hot == vfio_display::uapi::NO_HOTSPOT {
            Point::new(0, 0)
        } else {
            hot
        };
        let same_shape = self
            .cursor
            .as_ref()
            .is_some_and(|c| c.image == frame.image && c.hot == hot);
        if same_shape && self.cursor.as_ref().is_some_and(|c| c.origin == origin) {
            return false;
        }
        if !same_shape {
            self.shape_serial += 1;
        }
        self.cursor = Some(Arc::new(CursorShape {
            image: frame.image,
            hot,
            origin,
            shape_serial: self.shape_serial,
        }));
        true
    }

    fn log_status(&mut self) {
        let now = match self.session.status() {
            Status::Lost { cause, .. } => format!("lost ({cause})"),
            Status::Error { cause } => format!("error ({cause})"),
            Status::Off => "off (clients keep the last picture)".to_string(),
            Status::Showing => "showing".to_string(),
        };
        if self.last_status.as_deref() != Some(now.as_str()) {
            if self.log_changes && (self.last_status.is_some() || now != "showing") {
                tracing::warn!("display: {now}");
            }
            self.last_status = Some(now);
        }
    }
}

/// Runs the capture loop until the hub stops: a step on every pump wake, and one a second
/// without a wake, so that a device whose interrupts miss a change (a mode set without a
/// flip) still shows it within a second, and a stop is noticed.
pub fn run(
    capture: &mut Capture<'_>,
    hub: &Hub,
    pump: &Pump,
    wakes: &Receiver<()>,
    give_up_when_lost: Option<Duration>,
) -> Option<String> {
    capture.step(hub);
    let mut lost_since = None;
    while !hub.stopping() {
        // A server of many devices lets a device go that stays lost (its mdev removed): the
        // single-device server keeps retrying, as a viewer does.
        if let Status::Lost { cause, .. } = capture.status() {
            let since = *lost_since.get_or_insert_with(std::time::Instant::now);
            if give_up_when_lost.is_some_and(|limit| since.elapsed() >= limit) {
                return Some(format!("the device is gone ({cause})"));
            }
        } else {
            lost_since = None;
        }
        match wakes.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => {
                let changed = capture.step(hub);
                pump.presented(changed);
            }
            Err(RecvTimeoutError::Timeout) => {
                capture.step(hub);
            }
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
    None
}
