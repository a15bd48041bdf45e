//! `vfio-display view` and `demo`: their options, parsed into the viewer's plain options.

use super::args::{parse_hz, parse_irq, parse_seconds};
use super::screenshot::Import;
use super::target::{DeviceArgs, SimArgs};
use crate::app::guest_input::no_input_because;
use crate::app::target::Target;
use crate::app::viewer::{self, ScaleMode, ViewerOptions};
use anyhow::Result;
use clap::Args;
use std::time::Duration;
use vfio_display::frame::IrqChoice;

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
    /// Send keys and pointer to the guest through QEMU's QMP socket at PATH (`run` and
    /// `attach --qmp` set it).
    #[arg(long, value_name = "PATH")]
    qmp: Option<std::path::PathBuf>,
    /// Keep keys and pointer from the guest.
    #[arg(long)]
    view_only: bool,
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
    pub target: DeviceArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    view: ViewOpts,
    #[command(flatten)]
    pub sim: SimArgs,
}

impl ViewOpts {
    /// The viewer's options as plain data.
    fn options(&self, no_input_because: &str) -> ViewerOptions {
        ViewerOptions {
            scale: self.scale,
            irq: self.irq,
            refresh_hz: self.refresh_hz,
            import: self.import.choice(),
            overlay: !self.no_overlay,
            fullscreen: self.fullscreen,
            idle_backoff: !self.no_idle_backoff,
            exit_after: self.exit_after.map(Duration::from_secs_f64),
            stats_json: self.stats_json.clone(),
            qmp: self.qmp.clone(),
            no_input_because: no_input_because.into(),
            view_only: self.view_only,
        }
    }
}

pub fn run(args: &ViewArgs) -> Result<()> {
    let target = args.target.target()?;
    let why = no_input_because(&target);
    let dev = target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    viewer::show(dev.as_ref(), &args.view.options(why))
}

pub fn demo(args: &DemoArgs) -> Result<()> {
    let target = Target::Sim(args.sim.options());
    let why = no_input_because(&target);
    let dev = target.open()?;
    viewer::show(dev.as_ref(), &args.view.options(why))
}
