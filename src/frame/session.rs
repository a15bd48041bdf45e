//! One device's display state over time: what the guest shows now, what it showed last, and how
//! to behave when the display goes off, the device is lost, the mode changes or a query fails.
//!
//! Every front end (the viewer, `screenshot --timeout`, `edid set --wait`, `edid hotswap`, the
//! remote server) asks the same questions of a device, so the answers live here, once, and are
//! unit-tested against the simulator without a window, a GPU or a sleep. The session only
//! queries planes: reading or importing their pixels stays with the caller (the CPU reader or
//! the GPU renderer), which reports its failures back with `note_failure` so that a device lost
//! during an import is treated like one lost during a query.

use super::error::FrameError;
use crate::device::DisplayDevice;
use crate::vfio::{PlaneInfo, PlaneSource, PlaneType};
use nix::errno::Errno;
use std::time::{Duration, Instant};

/// How long a lost device is left alone before the next query: it may come back (a driver
/// reload, a VM restart), but asking a vanished device a thousand times a second helps nobody.
pub const LOST_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How long a display that shows nothing (off, lost or failing) is left before a front end that
/// waits on nothing else asks again (`Session::look_again_at`): no interrupt announces a plane
/// that comes back after an error, so the viewer looks once a second.
pub const NOT_SHOWING_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// What the guest's display is doing, as far as the session knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The primary plane is on and was read.
    Showing,
    /// The primary plane is off (display disabled, or a mode the device cannot describe). The
    /// last frame is kept.
    Off,
    /// The device is gone (removed, or answering ENODEV, EIO, ENXIO or EBADF). The last frame
    /// and cursor are kept, and queries are retried every `LOST_RETRY_INTERVAL`.
    Lost {
        /// What the device answered.
        errno: Option<Errno>,
        /// The whole error, for people.
        cause: String,
    },
    /// A plane could not be used (a hostile field, a failed export); the next refresh tries
    /// again. The last frame is kept.
    Error {
        /// The whole error, for people.
        cause: String,
    },
}

impl Status {
    /// A short word for logs and overlays.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Showing => "showing",
            Status::Off => "off",
            Status::Lost { .. } => "lost",
            Status::Error { .. } => "error",
        }
    }

    fn same_kind(&self, other: &Status) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// What one refresh changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed {
    /// The primary plane is a different buffer, format, size or position.
    pub primary: bool,
    /// The primary plane's size changed (a mode change): a subset of `primary`.
    pub resized: bool,
    /// The cursor plane moved, changed or appeared or went away.
    pub cursor: bool,
    /// The status changed kind (showing, off, lost, error).
    pub status: bool,
}

impl Changed {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        self.primary || self.cursor || self.status
    }
}

/// What the session counted, for overlays, summaries and `bench`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Refreshes that queried the device.
    pub refreshes: u64,
    /// Refreshes skipped because a lost device's retry time had not come.
    pub skipped: u64,
    /// Primary plane changes (new buffer, format, size or position).
    pub primary_changes: u64,
    /// Mode changes (new primary size).
    pub mode_changes: u64,
    /// Times the display went off.
    pub offs: u64,
    /// Times the device was lost.
    pub losses: u64,
    /// Refreshes or imports that failed for another reason.
    pub errors: u64,
}

/// How `wait_for` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The predicate held, at this time.
    Met(Instant),
    /// The deadline passed; the status and planes are what was seen last.
    TimedOut,
    /// The caller's sleep asked to stop (a signal, a closed window).
    Stopped,
}

/// Whether an error means the device is gone rather than one bad answer.
pub fn is_device_lost(errno: Option<Errno>) -> bool {
    matches!(
        errno,
        Some(Errno::ENODEV | Errno::EIO | Errno::ENXIO | Errno::EBADF)
    )
}

/// Queries a plane, retrying once on ENOMEM: mbochs fails the first query after every mode
/// change that way.
pub fn query_plane(
    dev: &dyn DisplayDevice,
    plane_type: PlaneType,
    source: PlaneSource,
) -> Result<PlaneInfo, FrameError> {
    match dev.query_plane(plane_type, source) {
        Err(err) if err.errno() == Some(Errno::ENOMEM) => {
            tracing::debug!("{plane_type} plane query: ENOMEM (a mode change?); retrying once");
            Ok(dev.query_plane(plane_type, source)?)
        }
        other => Ok(other?),
    }
}

/// An error and its causes, joined with ": " (what the user needs, in one line; `to_string`
/// alone drops the causes an error keeps as its source).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// One device's display state over time. Used from one thread.
#[derive(Debug)]
pub struct Session<'d> {
    dev: &'d dyn DisplayDevice,
    source: PlaneSource,
    status: Status,
    /// The last primary plane that was on: kept while the display is off or the device lost.
    primary: Option<PlaneInfo>,
    /// The last cursor plane that was on; kept across a loss, cleared when the guest hides it.
    cursor: Option<PlaneInfo>,
    retry_at: Option<Instant>,
    /// When the device was last queried.
    last_query: Option<Instant>,
    counters: Counters,
}

impl<'d> Session<'d> {
    /// A session on `dev`, reading planes the way the device describes them (dma-buf or region,
    /// as the probe says).
    pub fn new(dev: &'d dyn DisplayDevice) -> Result<Self, FrameError> {
        let reader = super::FrameReader::new(dev)?;
        Ok(Self::with_source(dev, reader.source()))
    }

    /// A session that queries planes as `source` (the one the caller's reader or renderer uses).
    pub fn with_source(dev: &'d dyn DisplayDevice, source: PlaneSource) -> Self {
        Session {
            dev,
            source,
            status: Status::Off,
            primary: None,
            cursor: None,
            retry_at: None,
            last_query: None,
            counters: Counters::default(),
        }
    }

    /// The device.
    pub fn device(&self) -> &'d dyn DisplayDevice {
        self.dev
    }

    /// How planes are queried.
    pub fn source(&self) -> PlaneSource {
        self.source
    }

    /// The status after the last refresh (`Off` before the first).
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The last primary plane that was on (kept while off, lost or failing).
    pub fn primary(&self) -> Option<&PlaneInfo> {
        self.primary.as_ref()
    }

    /// The primary plane if the guest shows it right now.
    pub fn showing(&self) -> Option<&PlaneInfo> {
        (self.status == Status::Showing)
            .then_some(self.primary.as_ref())
            .flatten()
    }

    /// The last cursor plane that was on.
    pub fn cursor(&self) -> Option<&PlaneInfo> {
        self.cursor.as_ref()
    }

    /// What was counted so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queries the planes now.
    pub fn refresh(&mut self) -> Changed {
        self.refresh_at(Instant::now())
    }

    /// Queries the planes as of `now` (tests pass their own clock): the primary plane, then,
    /// while it shows, the cursor. A lost device is queried again only once its retry time
    /// has come.
    pub fn refresh_at(&mut self, now: Instant) -> Changed {
        if let Some(at) = self.retry_at
            && now < at
        {
            self.counters.skipped += 1;
            return Changed::default();
        }
        self.retry_at = None;
        self.last_query = Some(now);
        self.counters.refreshes += 1;
        let before = (self.primary, self.cursor, self.status.clone());
        match query_plane(self.dev, PlaneType::Primary, self.source) {
            Ok(plane) if plane.is_off() => self.set_status(Status::Off),
            Ok(plane) => {
                self.primary = Some(plane);
                self.set_status(Status::Showing);
            }
            Err(err) => self.fail(&err, now),
        }
        if self.status == Status::Showing {
            match query_plane(self.dev, PlaneType::Cursor, self.source) {
                // mdpy answers a cursor query with its primary plane: only a real cursor counts.
                Ok(c) if !c.is_off() && c.plane_type == PlaneType::Cursor => self.cursor = Some(c),
                // A device lost between the two queries keeps its last cursor with its last
                // frame; the next refresh reports the loss.
                Err(err) if is_device_lost(err.errno()) => {}
                _ => self.cursor = None,
            }
        }
        self.changes(before)
    }

    /// When to refresh again though nothing woke the caller: None while the guest shows (its
    /// refresh source says when it changes), else `NOT_SHOWING_RETRY_INTERVAL` after the last
    /// query, and never before a lost device's retry time. None before the first query.
    pub fn look_again_at(&self) -> Option<Instant> {
        if self.status == Status::Showing {
            return None;
        }
        let after_last = self.last_query.map(|at| at + NOT_SHOWING_RETRY_INTERVAL);
        match (after_last, self.retry_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reports a failure of the caller's read or import of the current planes: a lost device
    /// is lost whichever call noticed it.
    pub fn note_failure(&mut self, err: &FrameError) -> Changed {
        let before = (self.primary, self.cursor, self.status.clone());
        self.fail(err, Instant::now());
        self.changes(before)
    }

    /// Reports a failure the caller met that is no `FrameError` (a GPU import, say), with the
    /// errno when there is one.
    pub fn note_error(&mut self, errno: Option<Errno>, cause: String) -> Changed {
        let before = (self.primary, self.cursor, self.status.clone());
        self.fail_with(errno, cause, Instant::now());
        self.changes(before)
    }

    /// Refreshes until `done` holds or `deadline` passes. Between refreshes it calls `sleep`
    /// with the time to wait (at most `poll`); `sleep` returns false to stop early (a signal).
    /// Tests pass a `sleep` that changes the simulated guest instead of waiting.
    pub fn wait_for(
        &mut self,
        mut done: impl FnMut(&Session<'_>) -> bool,
        deadline: Instant,
        poll: Duration,
        mut sleep: impl FnMut(Duration) -> bool,
    ) -> WaitOutcome {
        loop {
            self.refresh();
            if done(self) {
                return WaitOutcome::Met(Instant::now());
            }
            let now = Instant::now();
            if now >= deadline {
                return WaitOutcome::TimedOut;
            }
            if !sleep(poll.min(deadline - now)) {
                return WaitOutcome::Stopped;
            }
        }
    }

    fn fail(&mut self, err: &FrameError, now: Instant) {
        // A refused CPU mapping (ENODEV from a dma-buf's mmap, as i915 answers for GVT-g's
        // objects) says nothing about the device, which still answers: an error of the frame.
        let errno = match err {
            FrameError::CpuMap { .. } => None,
            _ => err.errno(),
        };
        self.fail_with(errno, error_chain(err), now);
    }

    fn fail_with(&mut self, errno: Option<Errno>, cause: String, now: Instant) {
        if is_device_lost(errno) {
            self.set_status(Status::Lost { errno, cause });
            self.retry_at = Some(now + LOST_RETRY_INTERVAL);
        } else {
            self.set_status(Status::Error { cause });
        }
    }

    fn set_status(&mut self, status: Status) {
        if !status.same_kind(&self.status) {
            match &status {
                Status::Showing => {}
                Status::Off => self.counters.offs += 1,
                Status::Lost { .. } => self.counters.losses += 1,
                Status::Error { .. } => {}
            }
        }
        if matches!(status, Status::Error { .. }) {
            self.counters.errors += 1;
        }
        self.status = status;
    }

    fn changes(&mut self, before: (Option<PlaneInfo>, Option<PlaneInfo>, Status)) -> Changed {
        let (primary, cursor, status) = before;
        let size = |p: &Option<PlaneInfo>| p.map(|p| (p.width, p.height));
        let changed = Changed {
            primary: primary != self.primary,
            resized: primary.is_some() && size(&primary) != size(&self.primary),
            cursor: cursor != self.cursor,
            status: !status.same_kind(&self.status),
        };
        if changed.primary {
            self.counters.primary_changes += 1;
        }
        if changed.resized {
            self.counters.mode_changes += 1;
        }
        if changed.status {
            // Debug only: a front end says it its own way (a one-shot command as its error, the
            // viewer as a warning and a banner).
            tracing::debug!("display status: {}", self.status.name());
        }
        changed
    }
}
