//! The device's driver asking for it back. When an mdev is removed while a process holds it,
//! the kernel waits for the last fd, and where the driver offers a request IRQ
//! (`VFIO_PCI_REQ_IRQ_INDEX`) it signals it to ask userspace to let go. The commands that hold
//! a device for a while (`view`, `screenshot`, `serve`, `edid hotswap`) bind an eventfd to it:
//! when it fires, the command stops as on SIGTERM, closes the device, and the process ends
//! within a second, exit status 5. A device shared with a VMM is left alone: its request IRQ is
//! the VMM's.

use crate::app::signals;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use vfio_display::device::{DisplayDevice, request_irq};
use vfio_display::uapi::VFIO_PCI_REQ_IRQ_INDEX;

/// How long a stopped command has to close the device before the process ends anyway.
const GRACE: Duration = Duration::from_millis(600);

/// The exit status after the driver asked for the device back (`cli::exit::ExitStatus`).
pub const EXIT_CODE: u8 = 5;

/// The device whose driver asked for it back, once it did.
static REQUESTED: OnceLock<String> = OnceLock::new();

/// The driver asked for the device back, and the command let go of it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{device}: its driver asked for the device back (the mdev is being removed), so the command \
     stopped and released it"
)]
pub struct DeviceRemoved {
    /// The device, in words.
    pub device: String,
}

/// The request, once it came.
pub fn requested() -> Option<DeviceRemoved> {
    REQUESTED.get().map(|device| DeviceRemoved {
        device: device.clone(),
    })
}

/// Whether the driver asked for the device back (the stop's cause, for messages).
pub fn was_requested() -> bool {
    REQUESTED.get().is_some()
}

/// The request IRQ bound to an eventfd and the thread that waits on it; dropping it unbinds the
/// IRQ and lets the thread go.
pub struct RemovalWatch<'d> {
    dev: &'d dyn DisplayDevice,
    quit: Arc<EventFd>,
    finished: Arc<AtomicBool>,
}

/// Binds the device's request IRQ, if it offers one and is not shared with a VMM. Returns None
/// (after saying why with -v) where removal will wait for the process instead.
pub fn watch(dev: &dyn DisplayDevice) -> Option<RemovalWatch<'_>> {
    watch_with(dev, None)
}

/// As `watch`, for a process that serves many devices: the request sets `requested` (the
/// caller lets that one device go) instead of stopping the process.
pub fn watch_device<'d>(
    dev: &'d dyn DisplayDevice,
    requested: Arc<AtomicBool>,
) -> Option<RemovalWatch<'d>> {
    watch_with(dev, Some(requested))
}

fn watch_with(dev: &dyn DisplayDevice, flag: Option<Arc<AtomicBool>>) -> Option<RemovalWatch<'_>> {
    if dev.shared() {
        return None;
    }
    let Some(_) = request_irq(dev) else {
        tracing::info!(
            "{} has no request IRQ: removing it waits until this process closes it",
            dev.name()
        );
        return None;
    };
    let (request, quit) = match (EventFd::new(), EventFd::new()) {
        (Ok(request), Ok(quit)) => (request, Arc::new(quit)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("no eventfd for the request IRQ: {e}");
            return None;
        }
    };
    if let Err(err) = dev.set_irq_eventfds(VFIO_PCI_REQ_IRQ_INDEX, 0, &[Some(request.as_fd())]) {
        tracing::warn!("the request IRQ cannot be bound: {err}");
        return None;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let (thread_quit, thread_finished, name) = (quit.clone(), finished.clone(), dev.name());
    let spawned = std::thread::Builder::new()
        .name("removal-watch".into())
        .spawn(move || {
            let mut fds = [
                PollFd::new(request.as_fd(), PollFlags::POLLIN),
                PollFd::new(thread_quit.as_fd(), PollFlags::POLLIN),
            ];
            loop {
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        tracing::warn!("waiting on the request IRQ: {e}");
                        return;
                    }
                    Ok(_) => {}
                }
                let fired = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
                if fired(&fds[1]) {
                    return;
                }
                if fired(&fds[0]) {
                    break;
                }
            }
            tracing::warn!("{name}: its driver asks for the device back (it is being removed)");
            if let Some(flag) = flag {
                flag.store(true, Ordering::SeqCst);
                return;
            }
            let _ = REQUESTED.set(name.clone());
            signals::request_stop();
            std::thread::sleep(GRACE);
            if !thread_finished.load(Ordering::SeqCst) {
                errln!(
                    "vfio-display: {} (the command was ended after {} ms)",
                    DeviceRemoved { device: name },
                    GRACE.as_millis()
                );
                std::process::exit(i32::from(EXIT_CODE));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no thread to watch the request IRQ: {e}");
        let _ = dev.disable_irq(VFIO_PCI_REQ_IRQ_INDEX);
        return None;
    }
    tracing::info!("{}: its request IRQ is bound", dev.name());
    Some(RemovalWatch {
        dev,
        quit,
        finished,
    })
}

impl Drop for RemovalWatch<'_> {
    fn drop(&mut self) {
        // The command has returned: whatever comes now, the device is being closed.
        self.finished.store(true, Ordering::SeqCst);
        if let Err(err) = self.dev.disable_irq(VFIO_PCI_REQ_IRQ_INDEX) {
            tracing::debug!("unbinding the request IRQ: {err}");
        }
        let _ = self.quit.write(1);
    }
}
