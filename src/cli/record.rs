//! `vfio-display record`: its options, checked and parsed into the recorder's plain options.

use super::args::{parse_hz, parse_irq, parse_seconds};
use super::serve::ServeRender;
use super::target::DeviceArgs;
use crate::app::record::{self, Limits, RecordOptions};
use crate::app::watch::WatchOptions;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vfio_display::frame::IrqChoice;
use vfio_display::render::ReadChoice;

const AFTER_HELP: &str = "\
The recording is a lossless animated PNG: each frame is a picture the guest showed that differs
from the one before (a still guest adds nothing), with the time it stayed on the screen, stored
as the rectangle that changed. Browsers, ffmpeg (ffmpeg -i rec.apng out%04d.png) and most image
viewers play it. Ctrl-C (SIGINT) or SIGTERM ends the recording and finishes the file; the
program then ends by that signal, as its other commands do. A mode change ends the file there:
the recording goes on in the next free numbered name (rec-0002.apng, ...), and stderr says so.";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RecordArgs {
    /// The APNG file to write: a new file, or a regular file that is replaced whole (keeping
    /// its mode) once the recording ends; until then it is left as it was.
    #[arg(short, long, value_name = "FILE.apng")]
    output: PathBuf,
    /// Stop after S seconds (fractions allowed), counted from the first picture.
    #[arg(long, value_name = "S", value_parser = parse_duration, allow_negative_numbers = true)]
    duration: Option<f64>,
    /// Stop after N frames (changed pictures).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// Draw the cursor plane into the pictures.
    #[arg(long)]
    cursor: bool,
    /// Refresh source: auto (a display IRQ the device declares, else the timer), none (the
    /// timer), or an IRQ index.
    #[arg(long, value_name = "auto|none|INDEX", default_value = "auto", value_parser = parse_irq)]
    irq: IrqChoice,
    /// The timer's rate when there is no IRQ: how often the screen is looked at.
    #[arg(long, value_name = "HZ", default_value = "60", value_parser = parse_hz)]
    refresh_hz: f64,
    /// Where frames are read: auto (the CPU while it can map them; through a headless Vulkan
    /// device when it cannot, as with Intel GVT-g's dma-bufs) or cpu (never open a GPU).
    #[arg(long, value_enum, default_value_t = ServeRender::Auto)]
    render: ServeRender,
    #[command(flatten)]
    pub target: DeviceArgs,
}

/// A positive number of seconds.
fn parse_duration(s: &str) -> Result<f64, String> {
    let secs = parse_seconds(s)?;
    if secs <= 0.0 {
        return Err(format!("{s}: give a positive number of seconds"));
    }
    Ok(secs)
}

pub fn run(args: &RecordArgs) -> Result<()> {
    record::run(&RecordOptions {
        output: args.output.clone(),
        limits: Limits {
            duration: args.duration.map(Duration::from_secs_f64),
            frames: args.frames,
        },
        cursor: args.cursor,
        watch: WatchOptions {
            irq: args.irq,
            refresh_hz: args.refresh_hz,
            render: match args.render {
                ServeRender::Auto => ReadChoice::Auto,
                ServeRender::Cpu => ReadChoice::Cpu,
            },
        },
        target: args.target.target()?,
    })
}
