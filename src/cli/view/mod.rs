//! `vfio-display view` and `demo`: the guest desktop in a window, refreshed by the device's
//! interrupt (or a timer), with an overlay (F1) and the EDID controls.

mod app;
mod edid_worker;
mod icon;
mod layout;
mod overlay;

use crate::cli::output::{OutputPath, WriteMode};
use crate::cli::screenshot::{Import, parse_seconds};
use crate::cli::signals::{self, Interrupts};
use crate::cli::stats::{Stats, SteadyState, ViewerSummary};
use crate::cli::target::{BackendArg, DeviceArgs, SimArgs};
use anyhow::{Context, Result, anyhow};
use app::{App, Options, UserEvent};
use clap::Args;
use layout::ScaleMode;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;
use vfio_display::device::{DisplayDevice, find_edid_region};
use vfio_display::frame::{IrqChoice, Pump, choose_source};
use vfio_display::render::{FrameRenderer, GpuContext};
use winit::event_loop::{EventLoop, EventLoopProxy};

fn parse_irq(s: &str) -> Result<IrqChoice, String> {
    match s {
        "auto" => Ok(IrqChoice::Auto),
        "none" => Ok(IrqChoice::None),
        n => n
            .parse()
            .map(IrqChoice::Index)
            .map_err(|_| format!("'{s}': give auto, none or an IRQ index")),
    }
}

fn parse_hz(s: &str) -> Result<f64, String> {
    let hz: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a rate in Hz"))?;
    if !(1.0..=1000.0).contains(&hz) {
        return Err(format!("{s}: give 1 to 1000 Hz"));
    }
    Ok(hz)
}

/// How the window looks and refreshes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Viewer")]
pub struct ViewOpts {
    /// How the guest picture fills the window (F3 cycles).
    #[arg(long, value_enum, default_value_t = ScaleMode::Fit)]
    scale: ScaleMode,
    /// Refresh source: auto (a display IRQ the device declares, else the timer), none (the
    /// timer), or an IRQ index.
    #[arg(long, value_name = "auto|none|INDEX", default_value = "auto", value_parser = parse_irq)]
    irq: IrqChoice,
    /// The timer's rate when there is no IRQ (it slows down to a quarter while nothing changes).
    #[arg(long, value_name = "HZ", default_value = "60", value_parser = parse_hz)]
    refresh_hz: f64,
    /// How frames reach the GPU.
    #[arg(long, value_enum, default_value_t = Import::Auto)]
    import: Import,
    /// Start with the overlay hidden (F1 toggles it).
    #[arg(long)]
    no_overlay: bool,
    /// Start fullscreen (F11 toggles, Esc leaves).
    #[arg(long)]
    fullscreen: bool,
    /// Keep the timer at --refresh-hz while nothing changes (plain polling, for comparisons).
    #[arg(long, hide = true)]
    no_idle_backoff: bool,
    /// Close the window after S seconds (for scripts and measurements).
    #[arg(long, value_name = "S", value_parser = parse_seconds, hide = true)]
    exit_after: Option<f64>,
    /// Write the exit summary as JSON to PATH (for `bench`).
    #[arg(long, value_name = "PATH", hide = true)]
    stats_json: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    view: ViewOpts,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    target: DeviceArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    view: ViewOpts,
    #[command(flatten)]
    sim: SimArgs,
}

pub fn run(args: &ViewArgs) -> Result<()> {
    let dev = args.target.open()?;
    show(dev.as_ref(), &args.view)
}

pub fn demo(args: &DemoArgs) -> Result<()> {
    let target = DeviceArgs {
        device: None,
        device_fd: None,
        sim: true,
        backend: BackendArg::Auto,
        sim_opts: args.sim.clone(),
    };
    let dev = target.open()?;
    show(dev.as_ref(), &args.view)
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

fn show(dev: &dyn DisplayDevice, opts: &ViewOpts) -> Result<()> {
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
    let renderer = FrameRenderer::new(&ctx, dev, opts.import.choice())?;
    let source = choose_source(dev, opts.irq, opts.refresh_hz)?;
    let mut pump = Pump::new(source)?;
    if opts.no_idle_backoff {
        pump = pump.without_backoff();
    }
    let proxy = event_loop.create_proxy();
    let has_edid = find_edid_region(dev).is_some();
    let options = Options {
        scale: opts.scale,
        overlay: !opts.no_overlay,
        fullscreen: opts.fullscreen,
        exit_after: opts.exit_after.map(Duration::from_secs_f64),
    };
    // Checked before the window opens, so that a bad path does not cost a whole session.
    let stats_out = opts
        .stats_json
        .as_deref()
        .map(OutputPath::resolve)
        .transpose()?;
    let interrupts = Interrupts::install()?;
    let stop_watch = EventFd::new().context("the viewer's signal watch")?;
    std::thread::scope(|s| -> Result<()> {
        // The pump thread must end even if the window code panics, or the scope never returns.
        let _stop = StopOnDrop(&pump);
        let _stop_watch = WriteOnDrop(&stop_watch);
        let quit = proxy.clone();
        let (interrupts, stop_ref) = (&interrupts, &stop_watch);
        s.spawn(move || watch_signals(interrupts, stop_ref, &quit));
        let wake = proxy.clone();
        let pump_ref = &pump;
        let pump_thread = s.spawn(move || {
            pump_ref.run(dev, &move || {
                let _ = wake.send_event(UserEvent::Refresh);
            })
        });
        let (tx, rx) = mpsc::channel();
        let edid_thread = has_edid.then(|| {
            let reply = proxy.clone();
            s.spawn(move || {
                edid_worker::run(dev, rx, &|r| {
                    let _ = reply.send_event(UserEvent::Edid(r));
                })
            })
        });
        let mut app = App::new(&ctx, dev, renderer, &pump, has_edid.then_some(tx), options);
        let started = std::time::Instant::now();
        let result = event_loop.run_app(&mut app);
        pump.stop();
        let error = app.error.take();
        let stats = std::mem::take(&mut app.stats);
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
        let secs = started.elapsed().as_secs_f64();
        let p = &pump.stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        outln!(
            "Presented {} frames in {secs:.1} s ({:.1} per second); refresh from {}: {} wakes, {} interrupts, {} coalesced, {} throttled",
            stats.presented,
            stats.presented as f64 / secs.max(0.001),
            pump.source,
            load(&p.wakes),
            load(&p.interrupts),
            load(&p.coalesced),
            load(&p.throttled),
        );
        let count = stats.latencies_ms.len();
        let latency = Stats::of(stats.latencies_ms);
        if let Some(spread) = &latency {
            outln!(
                "Refresh to picture: median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {count} refreshes",
                spread.median_ms,
                spread.p95_ms,
                spread.max_ms
            );
        }
        let frames = stats.frame_times_ms.len();
        let frame_time = Stats::of(stats.frame_times_ms);
        if let Some(spread) = &frame_time {
            outln!(
                "Frame time: median {:.2} ms, p95 {:.2} ms over {frames} frames",
                spread.median_ms,
                spread.p95_ms
            );
        }
        if let Some(out) = &stats_out {
            let summary = ViewerSummary {
                after_first_frame: stats.first_shown.map(|(at, cpu)| SteadyState {
                    seconds: at.elapsed().as_secs_f64(),
                    cpu_seconds: crate::cli::cpu_time::process_cpu()
                        .saturating_sub(cpu)
                        .as_secs_f64(),
                }),
                seconds: secs,
                presented: stats.presented,
                wakes: load(&p.wakes),
                interrupts: load(&p.interrupts),
                coalesced: load(&p.coalesced),
                throttled: load(&p.throttled),
                frame_ms: frame_time,
                refresh_to_picture_ms: latency,
            };
            let summary = serde_json::to_string_pretty(&summary)?;
            out.write(format!("{summary}\n").as_bytes(), WriteMode::Replace)?;
        }
        Ok(())
    })
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
