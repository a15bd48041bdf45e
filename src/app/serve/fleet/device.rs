//! One device of `serve --all`, on a thread of its own: opened (or taken from its QEMU),
//! served until it goes (lost, its VM ended, its driver asked for it back) or the server
//! stops, then let go. Whatever happens here stays here: the thread logs, and the scan tries
//! the device again later.

use super::End;
use super::scan::Found;
use super::{Ctx, LOST_LIMIT, places};
use crate::app::guest_input::GuestInput;
use crate::app::serve::hub::Hub;
use crate::app::serve::input::ServerInput;
use crate::app::serve::screen::Screen;
use crate::app::serve::{BLANK, IDLE_BACKOFF, capture, resize};
use crate::app::target::host_paths;
use crate::app::vmm::attach;
use anyhow::{Context, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use vfio_display::device::{DisplayDevice, RealDevice, plane_support};
use vfio_display::frame::{FrameReader, Pump, RgbaImage, choose_source};
use vfio_display::render::{ImportChoice, LazyGpu, PlaneReader};

/// A device that has no graphics planes (an mdev of another kind, such as mtty): not a
/// display, never tried again.
#[derive(Debug, thiserror::Error)]
#[error("not a display device (it offers neither dma-buf nor region planes)")]
struct NotDisplay;

/// The longest a device waits for its first picture before it is listed anyway.
const FIRST_PICTURE_WAIT: Duration = Duration::from_secs(10);

/// Serves the device `name` until it goes or the server stops, and logs why it ended.
pub fn run(name: &str, found: &Found, ctx: &Ctx<'_>) {
    let result = serve(name, found, ctx);
    let end = match result {
        Ok(why) => {
            errln!("vfio-display: device {name}: no longer served: {why}");
            End::Served
        }
        Err(err) if err.downcast_ref::<NotDisplay>().is_some() => {
            errln!("vfio-display: device {name}: left alone: {err}");
            End::Never
        }
        Err(err) => {
            errln!("vfio-display: device {name}: not served: {err:#} (tried again in a while)");
            End::Failed
        }
    };
    ctx.fleet.ended(name, end);
}

/// The device, and the pidfd of the QEMU it was taken from.
fn open(found: &Found) -> Result<(Box<dyn DisplayDevice>, Option<OwnedFd>)> {
    match found {
        Found::Open(target) => Ok((target.open()?, None)),
        Found::Adopt { options, .. } => {
            let attached = attach::attach(options, &host_paths())?;
            let dev = RealDevice::from_fd(attached.fd)
                .with_context(|| format!("using {}", attached.what))?;
            Ok((Box::new(dev), Some(attached.pidfd)))
        }
    }
}

/// Where the device's clients' keys and pointer go: the QMP socket on its QEMU's command line
/// with `--take-qmp` (serve then holds that monitor; QEMU serves one client per monitor), else
/// nowhere, and the clients are told why.
fn guest_input(name: &str, found: &Found, ctx: &Ctx<'_>) -> GuestInput {
    let qmp = match found {
        Found::Adopt { qmp, .. } => qmp.as_deref(),
        Found::Open(_) => return GuestInput::off("a device without a VM takes no input"),
    };
    if ctx.opts.view_only {
        return GuestInput::off("--view-only");
    }
    let Some(path) = qmp else {
        return GuestInput::off("its QEMU has no QMP unix socket on its command line");
    };
    if !ctx.fleet_opts.take_qmp {
        return GuestInput::off("--take-qmp not given");
    }
    match GuestInput::connect(Some(path), "") {
        Ok(input) => {
            errln!(
                "vfio-display: device {name}: input through QMP at {}",
                path.display()
            );
            input
        }
        Err(err) => {
            errln!(
                "vfio-display: device {name}: no input: QMP at {}: {err:#}",
                path.display()
            );
            GuestInput::off("its QMP socket did not answer")
        }
    }
}

fn serve(name: &str, found: &Found, ctx: &Ctx<'_>) -> Result<String> {
    let opts = ctx.opts;
    let (dev, pidfd) = open(found)?;
    let dev = dev.as_ref();
    if plane_support(dev).is_ok_and(|s| !s.dmabuf && !s.region) {
        return Err(NotDisplay.into());
    }
    let removal_requested = Arc::new(AtomicBool::new(false));
    let _removal = crate::app::removal::watch_device(dev, removal_requested.clone());
    let reader = FrameReader::new(dev)?;
    let source = choose_source(dev, opts.irq, opts.refresh_hz)?;
    let pump = Pump::new(source)?.with_max_backoff(IDLE_BACKOFF);
    let (edid_tx, edid_rx) = mpsc::channel();
    let guest_input = guest_input(name, found, ctx);
    let screen = Arc::new(Screen {
        name: name.to_string(),
        title: format!("vfio-display: {name}"),
        hub: Hub::new(RgbaImage::new(BLANK.0, BLANK.1)),
        max_clients: opts.max_clients,
        follow: (opts.follow_client_size && !opts.view_only).then(|| resize::Follow::new(edid_tx)),
        input: ServerInput::new(guest_input, opts.view_only, opts.shared_input),
    });
    let own = places::open(
        name,
        ctx.fleet_opts.socket_dir.as_deref(),
        opts.endpoints.access,
        ctx.fleet_opts.ports.as_ref(),
    )?;
    let mut line = format!("vfio-display: device {name}: serving at /vm/{name}");
    for place in &own {
        line += &format!(", {}", place.shown());
    }
    let mut own = Some(own);
    let gone: Mutex<Option<String>> = Mutex::new(None);
    let why = std::thread::scope(|s| {
        let (wake_tx, wake_rx) = mpsc::sync_channel(1);
        let pump_ref = &pump;
        let pump_thread = s.spawn(move || {
            pump_ref.run(dev, &move || {
                let _ = wake_tx.try_send(());
            })
        });
        let (hub, gone_ref) = (&screen.hub, &gone);
        s.spawn(move || {
            let gpu = LazyGpu::new();
            let planes = PlaneReader::with_reader(reader, &gpu, opts.render, ImportChoice::Auto);
            let mut capture = capture::Capture::new(planes).quiet();
            if let Some(why) = capture::run(&mut capture, hub, pump_ref, &wake_rx, Some(LOST_LIMIT))
            {
                *gone_ref.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            }
        });
        if screen.follow.is_some() {
            s.spawn(move || resize::worker(dev, edid_rx, hub));
        } else {
            drop(edid_rx);
        }
        // Listed (and its own sockets answered) once its first picture is in, or after
        // FIRST_PICTURE_WAIT for a display that is off: a client that came sooner would be
        // shown the placeholder. Connections meanwhile wait in the sockets' backlog.
        let listed_by = Instant::now() + FIRST_PICTURE_WAIT;
        let why = loop {
            if (ctx.stop)() {
                break super::super::stop_message();
            }
            if own.is_some() && (hub.latest().serial > 0 || Instant::now() >= listed_by) {
                ctx.fleet
                    .insert(screen.clone(), own.take().unwrap_or_default());
                ctx.fleet.serving(name);
                errln!("{line}; refresh from {}", pump_ref.source);
            }
            if let Some(why) = gone.lock().unwrap_or_else(|p| p.into_inner()).take() {
                break why;
            }
            if removal_requested.load(Ordering::SeqCst) {
                break "its driver asked for the device back (the mdev is being removed)".into();
            }
            if pidfd
                .as_ref()
                .is_some_and(|p| vfio_display::vmm::has_ended(p.as_fd()))
            {
                break "the VM ended".into();
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        // No new client reaches it from here; those it has are told why.
        ctx.fleet.remove(name);
        screen.hub.stop(&why);
        pump.stop();
        if let Ok(Err(err)) = pump_thread.join() {
            tracing::warn!("{name}: the refresh pump stopped: {err}");
        }
        why
    });
    Ok(why)
}
