//! `edid hotswap`: its options, parsed into the app's plain options.

use super::SpecArgs;
use crate::app::edid::{HotswapOptions, MAX_LINK_DELAY_MS, hotswap};
use crate::cli::args::parse_seconds;
use crate::cli::target::DeviceArgs;
use anyhow::Result;
use clap::Args;
use std::time::Duration;
use vfio_display::edid::Mode;

#[derive(Debug, Args)]
pub struct HotswapArgs {
    /// The modes to cycle through, comma-separated: 1024x768,1920x1080@60,...
    #[arg(
        long,
        value_name = "WxH[@HZ],...",
        value_delimiter = ',',
        required = true
    )]
    modes: Vec<Mode>,
    /// How many times to go through the list.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Seconds to wait for the guest to show each new mode before counting a timeout.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    timeout: f64,
    /// Milliseconds between writing each blob and raising the link (QEMU waits 100; at most
    /// 10000).
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=MAX_LINK_DELAY_MS))]
    link_delay_ms: u64,
    /// Allow modes above the device's max_xres/max_yres.
    #[arg(long)]
    force: bool,
    /// Write the device's original EDID back when done (also after Ctrl+C).
    #[arg(long)]
    restore: bool,
    /// Print one JSON document at the end instead of a line per swap.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    spec: SpecArgs,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

pub fn run(args: &HotswapArgs) -> Result<()> {
    hotswap(&HotswapOptions {
        target: args.target.target()?,
        modes: args.modes.clone(),
        repeat: args.repeat,
        timeout: Duration::from_secs_f64(args.timeout),
        link_delay_ms: args.link_delay_ms,
        force: args.force,
        restore: args.restore,
        json: args.json,
        template: args.spec.template(),
    })
}
