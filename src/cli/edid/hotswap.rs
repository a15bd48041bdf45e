//! `edid hotswap`: swap EDIDs again and again and time how long the guest takes to follow.

use super::SpecArgs;
use super::device::{MAX_LINK_DELAY_MS, generate_for, hot_plug, shown_size, wait_for_size};
use crate::app::signals::{self, Interrupts};
use crate::app::stats::Stats;
use crate::cli::screenshot::parse_seconds;
use crate::cli::target::DeviceArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::time::{Duration, Instant};
use vfio_display::device::edid_port;
use vfio_display::edid::Mode;
use vfio_display::frame::Session;

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
    target: DeviceArgs,
}

#[derive(Debug, Serialize)]
struct Swap {
    index: u32,
    mode: String,
    /// The guest already showed this size before the swap (its latency says nothing).
    unchanged: bool,
    shown: bool,
    /// From the start of the swap (link down) until the plane showed the new size.
    latency_ms: Option<f64>,
    /// From link up until the plane showed the new size: the guest's part.
    after_link_up_ms: Option<f64>,
    /// What the plane showed when the wait gave up.
    last_seen: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    device: String,
    swaps: Vec<Swap>,
    total: u32,
    shown: u32,
    timed_out: u32,
    latency: Option<Stats>,
    after_link_up: Option<Stats>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: &HotswapArgs) -> Result<()> {
    let dev = args.target.open()?;
    let port = edid_port(dev.as_ref())?;
    let regs = port.registers().context("reading the EDID registers")?;
    // Every blob is generated (and every mode checked) before the device is touched.
    let blobs = args
        .modes
        .iter()
        .map(|m| generate_for(&regs, &args.spec, *m, args.force))
        .collect::<Result<Vec<_>>>()?;
    let original = if args.restore {
        Some(port.read_blob().context("saving the original EDID")?)
    } else {
        None
    };
    let mut session = Session::new(dev.as_ref())?;
    let interrupts = Interrupts::install()?;
    let delay = Duration::from_millis(args.link_delay_ms);
    let timeout = Duration::from_secs_f64(args.timeout);
    let total = args.repeat * args.modes.len() as u32;
    let mut swaps = Vec::new();
    for index in 0..total {
        if signals::received().is_some() {
            break;
        }
        let i = index as usize % args.modes.len();
        let mode = args.modes[i];
        let size = (mode.width, mode.height);
        let unchanged = shown_size(&mut session) == Some(size);
        let start = Instant::now();
        hot_plug(&port, &blobs[i], delay, &interrupts)
            .with_context(|| format!("swap {}: writing the EDID for {mode}", index + 1))?;
        let link_up = Instant::now();
        let outcome = wait_for_size(&mut session, size, link_up + timeout, &interrupts);
        if signals::received().is_some() {
            // An interrupted wait says nothing about the guest: the swap is not counted.
            break;
        }
        let swap = Swap {
            index: index + 1,
            mode: mode.to_string(),
            unchanged,
            shown: outcome.is_ok(),
            latency_ms: outcome.as_ref().ok().map(|at| ms(*at - start)),
            after_link_up_ms: outcome.as_ref().ok().map(|at| ms(*at - link_up)),
            last_seen: outcome.err(),
        };
        if !args.json {
            print_swap(&swap, total, args.timeout)?;
        }
        swaps.push(swap);
    }
    if let Some(blob) = original {
        // Restored even after Ctrl+C, without the delay a second signal would have to cut.
        port.update(&blob, delay.min(Duration::from_millis(100)))
            .context("restoring the original EDID")?;
    }
    let total = swaps.len() as u32;
    let shown = swaps.iter().filter(|s| s.shown).count() as u32;
    let report = Report {
        device: dev.name(),
        total,
        shown,
        timed_out: total - shown,
        latency: Stats::of(swaps.iter().filter_map(|s| s.latency_ms).collect()),
        after_link_up: Stats::of(swaps.iter().filter_map(|s| s.after_link_up_ms).collect()),
        swaps,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "{} swaps on {}: {} shown, {} timed out",
            report.total,
            report.device,
            report.shown,
            report.timed_out
        );
        if let (Some(l), Some(a)) = (&report.latency, &report.after_link_up) {
            outln!("  swap to picture: {l}");
            outln!("  link up to picture: {a}");
        }
    }
    if let Some(signal) = signals::received() {
        errln!(
            "vfio-display: {}: stopped after {} of {} swaps{}",
            signal.as_str(),
            report.total,
            args.repeat * args.modes.len() as u32,
            if args.restore {
                "; the original EDID is restored"
            } else {
                "; the link is up"
            }
        );
        signals::check()?;
    }
    if report.timed_out > 0 {
        bail!(
            "{} of {} swaps timed out: the guest did not show the new mode within {} s",
            report.timed_out,
            report.total,
            args.timeout
        );
    }
    Ok(())
}

fn print_swap(swap: &Swap, total: u32, timeout: f64) -> Result<()> {
    let note = if swap.unchanged {
        " (the guest already showed this size)"
    } else {
        ""
    };
    match (&swap.latency_ms, &swap.after_link_up_ms) {
        (Some(latency), Some(after)) => outln!(
            "swap {}/{total} {}: shown after {latency:.1} ms ({after:.1} ms after link up){note}",
            swap.index,
            swap.mode
        ),
        _ => outln!(
            "swap {}/{total} {}: TIMED OUT after {timeout} s (the plane shows {}){note}",
            swap.index,
            swap.mode,
            swap.last_seen.as_deref().unwrap_or("nothing")
        ),
    }
    Ok(())
}
