//! What the window shows of the guest: the session's planes brought to the GPU, and the
//! warnings an outage is worth (once per cause).

use vfio_display::device::DisplayDevice;
use vfio_display::frame::session::error_chain;
use vfio_display::frame::{Session, Status};
use vfio_display::geometry::Size;
use vfio_display::render::{FrameRenderer, GpuFrame, RenderError};
use vfio_display::vfio::PlaneInfo;

/// How many different warnings the viewer logs in one outage.
const WARNED_CAUSES: usize = 8;

/// What one refresh changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Refreshed {
    /// The picture or the cursor is different.
    pub changed: bool,
    /// The guest's mode is new (its size, when there is a frame).
    pub resized: Option<Size>,
}

/// The guest picture on the GPU and the session that decides what it is.
pub struct GuestPicture<'a> {
    pub renderer: FrameRenderer<'a>,
    /// The device's display state: status, planes, the loss and retry policy.
    pub session: Session<'a>,
    pub primary: Option<GpuFrame>,
    pub cursor: Option<PlaneInfo>,
    /// The warnings logged since the guest last showed (at most `WARNED_CAUSES`).
    warned: Vec<String>,
}

impl<'a> GuestPicture<'a> {
    pub fn new(dev: &'a dyn DisplayDevice, renderer: FrameRenderer<'a>) -> Self {
        let session = Session::with_source(dev, renderer.reader().source());
        GuestPicture {
            renderer,
            session,
            primary: None,
            cursor: None,
            warned: Vec::new(),
        }
    }

    /// The guest's frame size, 1x1 before there is one.
    pub fn frame_size(&self) -> Size {
        self.primary.map_or(Size::new(1, 1), |f| {
            Size::new(f.plane.width, f.plane.height)
        })
    }

    /// Queries the planes (the session decides what they mean) and brings them to the GPU.
    pub fn refresh(&mut self) -> Refreshed {
        let before = (self.primary.map(|f| f.plane), self.cursor);
        let mut resized = None;
        let mut changed = self.session.refresh();
        if let Some(plane) = self.session.showing().copied() {
            match self.renderer.update_plane(&plane) {
                Ok(frame) => {
                    let size = Size::new(frame.plane.width, frame.plane.height);
                    if self
                        .primary
                        .is_none_or(|p| Size::new(p.plane.width, p.plane.height) != size)
                    {
                        resized = Some(size);
                    }
                    self.primary = Some(frame);
                }
                Err(RenderError::Frame(err)) => {
                    changed.status |= self.session.note_failure(&err).status
                }
                Err(err) => {
                    changed.status |= self.session.note_error(None, error_chain(&err)).status
                }
            }
        }
        if changed.status {
            self.log_status(before.0.is_none());
        }
        // The cursor the session kept (across a loss too) is drawn; it is imported only while
        // the device answers.
        self.cursor = self.session.cursor().copied();
        if let Some(cursor) = self.cursor
            && *self.session.status() == Status::Showing
            && let Err(err) = self.renderer.update_plane(&cursor)
        {
            tracing::debug!("cursor not imported: {err}");
            self.cursor = None;
        }
        Refreshed {
            changed: before != (self.primary.map(|f| f.plane), self.cursor),
            resized,
        }
    }

    /// Logs the status a refresh ended in, once per cause: a failure that repeats on every
    /// frame (an import the driver refuses, a plane that never validates) is one warning, and
    /// the status banner shows it for as long as it lasts.
    fn log_status(&mut self, first_picture: bool) {
        let text = match self.session.status() {
            // The first picture is no news; one after an outage is.
            Status::Showing => {
                if !first_picture && !self.warned.is_empty() {
                    tracing::warn!("showing the guest again");
                }
                self.warned.clear();
                return;
            }
            Status::Off => "display off: the guest shows no primary plane".to_string(),
            Status::Lost { cause, .. } => format!("device lost (keeping the last frame): {cause}"),
            Status::Error { cause } => format!("cannot show the frame: {cause}"),
        };
        if self.warned.contains(&text) {
            tracing::debug!("{text} (again)");
        } else if self.warned.len() < WARNED_CAUSES {
            tracing::warn!("{text}");
            self.warned.push(text);
        } else {
            // Causes that change every time (a counter in the message) stop here.
            tracing::debug!("{text}");
        }
    }
}
