//! `--follow-client-size`: a client's SetDesktopSize becomes an EDID for that size, written
//! with the hot-plug protocol on a thread of its own (the link delay must not stall a client).
//! Requests that come while one is being written are folded: only the newest is written.

use super::hub::Hub;
use super::screen::Screen;
use crate::app::edid::worker::{self, EdidJob, EdidReply};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;
use vfio_display::device::{DisplayDevice, edid_port};
use vfio_display::edid::Mode;

/// ExtendedDesktopSize status codes (reason 1: the answer to this client's request).
const CLIENT_REQUEST: u16 = 1;
const OK: u16 = 0;
const PROHIBITED: u16 = 1;
const OUT_OF_RESOURCES: u16 = 2;
const INVALID: u16 = 3;

/// The smallest size written (the generator's floor for a usable mode).
const MIN_SIDE: u16 = 64;

/// Where resize requests go.
pub struct Follow {
    jobs: Mutex<Sender<EdidJob>>,
}

impl Follow {
    pub fn new(jobs: Sender<EdidJob>) -> Self {
        Follow {
            jobs: Mutex::new(jobs),
        }
    }
}

/// Answers a client's SetDesktopSize: (reason, status) for its ExtendedDesktopSize reply.
/// Without `--follow-client-size` (and with `--view-only`) resizing is prohibited; a size above
/// the device's maximum (its EDID region's max_xres/max_yres) is refused, as the device would
/// not show it.
pub fn request(screen: &Screen, width: u16, height: u16) -> (u16, u16) {
    let hub = &screen.hub;
    let Some(follow) = &screen.follow else {
        return (CLIENT_REQUEST, PROHIBITED);
    };
    if width < MIN_SIDE || height < MIN_SIDE {
        return (CLIENT_REQUEST, INVALID);
    }
    match hub.edid_limits() {
        Some(Err(_)) => return (CLIENT_REQUEST, PROHIBITED),
        Some(&Ok((max_x, max_y)))
            if (max_x != 0 && u32::from(width) > max_x)
                || (max_y != 0 && u32::from(height) > max_y) =>
        {
            return (CLIENT_REQUEST, OUT_OF_RESOURCES);
        }
        // Not read yet (the worker has just started): the worker checks again.
        _ => {}
    }
    let mode = Mode::new(u32::from(width), u32::from(height), 60);
    let jobs = follow.jobs.lock().unwrap_or_else(|p| p.into_inner());
    match jobs.send(EdidJob::Set(mode)) {
        Ok(()) => (CLIENT_REQUEST, OK),
        Err(_) => (CLIENT_REQUEST, PROHIBITED),
    }
}

/// Writes EDIDs for requested sizes until the server stops.
pub fn worker(dev: &dyn DisplayDevice, jobs: Receiver<EdidJob>, hub: &Hub) {
    let limits = match edid_port(dev) {
        Ok(port) => port
            .registers()
            .map(|regs| (regs.max_xres, regs.max_yres))
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    if let Err(why) = &limits {
        errln!("vfio-display: --follow-client-size: no EDID can be written: {why}");
    }
    hub.set_edid_limits(limits);
    while !hub.stopping() {
        let mut job = match jobs.recv_timeout(Duration::from_millis(500)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        while let Ok(newer) = jobs.try_recv() {
            job = newer;
        }
        let what = match &job {
            EdidJob::Set(mode) => mode.to_string(),
            _ => String::new(),
        };
        for reply in worker::replies(dev, job) {
            match reply {
                EdidReply::Done(Ok(done)) => {
                    errln!("vfio-display: a client asked for {what}: {done}")
                }
                EdidReply::Done(Err(err)) => {
                    errln!("vfio-display: a client asked for {what}, not written: {err}")
                }
                EdidReply::Described(_) => {}
            }
        }
    }
}
