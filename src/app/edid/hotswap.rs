//! `edid hotswap`: swap EDIDs again and again and time how long the guest takes to follow.

use super::{generate_for, hot_plug, shown_size, wait_for_size};
use crate::app::signals::{self, Interrupts};
use crate::app::stats::Stats;
use crate::app::target::Target;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::time::{Duration, Instant};
use vfio_display::device::edid_port;
use vfio_display::edid::{EdidSpec, Mode};
use vfio_display::frame::Session;
use vfio_display::geometry::Size;

/// One `edid hotswap`.
#[derive(Debug, Clone)]
pub struct HotswapOptions {
    /// The device.
    pub target: Target,
    /// The modes to cycle through.
    pub modes: Vec<Mode>,
    /// Times through the list.
    pub repeat: u32,
    /// How long to wait for each mode.
    pub timeout: Duration,
    /// Milliseconds between each blob and link up.
    pub link_delay_ms: u64,
    /// Allow modes above the device's maximum.
    pub force: bool,
    /// Write the original EDID back at the end.
    pub restore: bool,
    /// One JSON document instead of a line per swap.
    pub json: bool,
    /// Identity and extra modes of the generated EDIDs.
    pub template: EdidSpec,
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

impl Report {
    /// The summary of the swaps done on `device`.
    fn of(device: String, swaps: Vec<Swap>) -> Report {
        let total = swaps.len() as u32;
        let shown = swaps.iter().filter(|s| s.shown).count() as u32;
        Report {
            device,
            total,
            shown,
            timed_out: total - shown,
            latency: Stats::of(swaps.iter().filter_map(|s| s.latency_ms).collect()),
            after_link_up: Stats::of(swaps.iter().filter_map(|s| s.after_link_up_ms).collect()),
            swaps,
        }
    }

    /// Prints the summary, as JSON or as text.
    fn print(&self, json: bool) -> Result<()> {
        if json {
            outln!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        outln!(
            "{} swaps on {}: {} shown, {} timed out",
            self.total,
            self.device,
            self.shown,
            self.timed_out
        );
        if let (Some(l), Some(a)) = (&self.latency, &self.after_link_up) {
            outln!("  swap to picture: {l}");
            outln!("  link up to picture: {a}");
        }
        Ok(())
    }
}

/// Swaps EDIDs in turn and times how long the guest takes to show each new mode.
pub fn hotswap(args: &HotswapOptions) -> Result<()> {
    let dev = args.target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    let port = edid_port(dev.as_ref())?;
    let regs = port.registers().context("reading the EDID registers")?;
    // Every blob is generated (and every mode checked) before the device is touched.
    let blobs = args
        .modes
        .iter()
        .map(|m| generate_for(&regs, &args.template, *m, args.force))
        .collect::<Result<Vec<_>>>()?;
    let original = if args.restore {
        Some(port.read_blob().context("saving the original EDID")?)
    } else {
        None
    };
    let mut session = Session::new(dev.as_ref())?;
    let interrupts = Interrupts::install()?;
    let delay = Duration::from_millis(args.link_delay_ms);
    let timeout = args.timeout;
    let total = args.repeat * args.modes.len() as u32;
    let mut swaps = Vec::new();
    for index in 0..total {
        if signals::received().is_some() {
            break;
        }
        let i = index as usize % args.modes.len();
        let mode = args.modes[i];
        let size = Size::new(mode.width, mode.height);
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
            print_swap(&swap, total, args.timeout.as_secs_f64())?;
        }
        swaps.push(swap);
    }
    if let Some(blob) = original {
        // Restored even after Ctrl+C, without the delay a second signal would have to cut.
        port.update(&blob, delay.min(Duration::from_millis(100)))
            .context("restoring the original EDID")?;
    }
    let report = Report::of(dev.name(), swaps);
    report.print(args.json)?;
    if signals::received().is_some() {
        errln!(
            "vfio-display: {}: stopped after {} of {} swaps{}",
            signals::stop_cause(),
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
            args.timeout.as_secs_f64()
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
