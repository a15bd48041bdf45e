//! The viewer (`vfio-display view` and `demo`): the guest desktop in a window, refreshed by the device's
//! interrupt (or a timer), with an overlay (F1) and the EDID controls.

mod app;
mod counters;
mod icon;
mod input;
mod keymap;
mod layout;
mod overlay;
mod picture;
mod present;
mod snapshot;
mod summary;
mod window;

use crate::app::guest_input::GuestInput;
use crate::app::output::OutputPath;
use crate::app::signals::{self, Interrupts};
use anyhow::{Context, Result, anyhow};
use app::{App, Options, UserEvent};
use counters::Counters;
use input::ViewerInput;
pub use layout::ScaleMode;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vfio_display::device::{DisplayDevice, find_edid_region};
use vfio_display::frame::{IrqChoice, Pump, choose_source};
use vfio_display::render::{FrameRenderer, GpuContext, ImportChoice};
use winit::event_loop::{EventLoop, EventLoopProxy};

/// How the viewer looks and refreshes: what `view` and `demo` parse their options into.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// How the guest picture fills the window.
    pub scale: ScaleMode,
    /// Where refreshes come from.
    pub irq: IrqChoice,
    /// The timer's rate when there is no IRQ.
    pub refresh_hz: f64,
    /// How frames reach the GPU.
    pub import: ImportChoice,
    /// Start with the overlay shown.
    pub overlay: bool,
    /// Start fullscreen.
    pub fullscreen: bool,
    /// Slow the timer down while nothing changes (off only for comparisons).
    pub idle_backoff: bool,
    /// Close the window after this long.
    pub exit_after: Option<Duration>,
    /// Where to write the exit summary as JSON.
    pub stats_json: Option<std::path::PathBuf>,
    /// QEMU's QMP socket, where keys and pointer go.
    pub qmp: Option<std::path::PathBuf>,
    /// Why input is off when there is no QMP socket.
    pub no_input_because: String,
    /// Keep keys and pointer from the guest.
    pub view_only: bool,
}

/// Closes the window when SIGINT or SIGTERM arrives, so that the viewer ends the way it does when
/// the user closes it (pump stopped, summary printed); returns when `stop` is written.
fn watch_signals(interrupts: &Interrupts, stop: &EventFd, quit: &EventLoopProxy<UserEvent>) {
    let mut fds = [
        PollFd::new(interrupts.wait_fd(), PollFlags::POLLIN),
        PollFd::new(stop.as_fd(), PollFlags::POLLIN),
    ];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => {
                tracing::warn!("cannot watch for Ctrl+C: {err}");
                return;
            }
            Ok(_) => break,
        }
    }
    if signals::received().is_some() {
        let _ = quit.send_event(UserEvent::Quit);
    }
}

/// winit's OS errors start "os error at <its source file>:<line>: ": where winit was built
/// means nothing to a user, so only the reason is kept.
fn without_source_location(message: &str) -> &str {
    message
        .strip_prefix("os error at ")
        .and_then(|rest| rest.find(".rs:").map(|at| &rest[at..]))
        .and_then(|rest| rest.split_once(": ").map(|(_, reason)| reason))
        .unwrap_or(message)
        .trim_end_matches('.')
}

/// Stops the pump when dropped.
struct StopOnDrop<'a>(&'a Pump);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Ends the signal watch when dropped.
struct WriteOnDrop<'a>(&'a EventFd);

impl Drop for WriteOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.write(1);
    }
}

/// Shows `dev` in a window until the user closes it (or SIGINT/SIGTERM), then prints the
/// summary.
pub fn show(dev: &dyn DisplayDevice, opts: &ViewerOptions) -> Result<()> {
    let guest_input = if opts.view_only {
        GuestInput::off("--view-only")
    } else {
        GuestInput::connect(opts.qmp.as_deref(), &opts.no_input_because)?
    };
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .map_err(|e| {
            anyhow!(
                "cannot open a window ({}); without a display, `vfio-display screenshot` captures \
                 the guest screen headless",
                without_source_location(&e.to_string())
            )
        })?;
    let ctx = GpuContext::headless().context("opening the GPU for the viewer")?;
    let renderer = FrameRenderer::new(&ctx, dev, opts.import)?;
    let source = choose_source(dev, opts.irq, opts.refresh_hz)?;
    let mut pump = Pump::new(source)?;
    if !opts.idle_backoff {
        pump = pump.without_backoff();
    }
    // Checked before the window opens, so that a bad path does not cost a whole session.
    let stats_out = opts
        .stats_json
        .as_deref()
        .map(OutputPath::resolve)
        .transpose()?;
    let window = Window {
        event_loop,
        renderer,
        pump: &pump,
        input: ViewerInput::new(guest_input),
        has_edid: find_edid_region(dev).is_some(),
        options: Options {
            scale: opts.scale,
            overlay: opts.overlay,
            fullscreen: opts.fullscreen,
            exit_after: opts.exit_after,
        },
    };
    let (counters, elapsed) = run(&ctx, window)?;
    summary::report(counters, &pump, elapsed, stats_out.as_ref())
}

/// Everything the window's run needs, made before it opens.
struct Window<'a> {
    event_loop: EventLoop<UserEvent>,
    renderer: FrameRenderer<'a>,
    pump: &'a Pump,
    input: ViewerInput,
    has_edid: bool,
    options: Options,
}

/// Runs the window with its threads (the refresh pump, the signal watch and the EDID worker)
/// until it closes; returns its counters and how long it was open.
fn run(ctx: &GpuContext, window: Window<'_>) -> Result<(Counters, Duration)> {
    let Window {
        event_loop,
        renderer,
        pump,
        input,
        has_edid,
        options,
    } = window;
    let dev = renderer.reader().device();
    let proxy = event_loop.create_proxy();
    let interrupts = Interrupts::install()?;
    let stop_watch = EventFd::new().context("the viewer's signal watch")?;
    std::thread::scope(|s| -> Result<(Counters, Duration)> {
        // The pump thread must end even if the window code panics, or the scope never returns.
        let _stop = StopOnDrop(pump);
        let _stop_watch = WriteOnDrop(&stop_watch);
        let quit = proxy.clone();
        let (interrupts, stop_ref) = (&interrupts, &stop_watch);
        spawn_named(s, "signal watch", move || {
            watch_signals(interrupts, stop_ref, &quit)
        })?;
        let wake = proxy.clone();
        let pump_thread = spawn_named(s, "refresh pump", move || {
            pump.run(dev, &move || {
                let _ = wake.send_event(UserEvent::Refresh);
            })
        })?;
        let (tx, rx) = mpsc::channel();
        let edid_thread = if has_edid {
            let reply = proxy.clone();
            Some(spawn_named(s, "EDID worker", move || {
                crate::app::edid::worker::run(dev, rx, &|r| {
                    let _ = reply.send_event(UserEvent::Edid(r));
                })
            })?)
        } else {
            None
        };
        let mut app = App::new(ctx, renderer, pump, has_edid.then_some(tx), options, input);
        let started = Instant::now();
        let result = event_loop.run_app(&mut app);
        pump.stop();
        let error = app.error.take();
        let counters = std::mem::take(&mut app.counters);
        drop(app);
        if let Err(err) = pump_thread.join().unwrap_or(Ok(())) {
            tracing::warn!("the refresh pump stopped: {err}");
        }
        if let Some(t) = edid_thread {
            let _ = t.join();
        }
        result.map_err(|e| anyhow!("the window's event loop failed: {e}"))?;
        if let Some(err) = error {
            return Err(anyhow!(err));
        }
        Ok((counters, started.elapsed()))
    })
}

/// Starts a scoped thread with a name (in `top`, in a debugger, in a panic message).
fn spawn_named<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, work)
        .with_context(|| format!("starting the viewer's {name} thread"))
}

#[cfg(test)]
mod tests {
    use super::without_source_location;

    #[test]
    fn winit_source_paths_are_dropped() {
        assert_eq!(
            without_source_location(
                "os error at /root/.cargo/registry/src/x/winit-0.30.13/src/platform_impl/linux/\
                 mod.rs:765: neither WAYLAND_DISPLAY nor WAYLAND_SOCKET nor DISPLAY is set."
            ),
            "neither WAYLAND_DISPLAY nor WAYLAND_SOCKET nor DISPLAY is set"
        );
        assert_eq!(without_source_location("plain reason"), "plain reason");
    }
}
