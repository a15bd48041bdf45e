//! What the viewer prints when its window closes, and the summary `--stats-json` writes.

use super::counters::Counters;
use crate::app::output::{OutputPath, WriteMode};
use crate::app::stats::{Stats, SteadyState, ViewerSummary};
use anyhow::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use vfio_display::frame::Pump;

/// Prints the run's figures and writes them to `stats_out` when asked.
pub fn report(
    counters: Counters,
    pump: &Pump,
    elapsed: Duration,
    stats_out: Option<&OutputPath>,
) -> Result<()> {
    let secs = elapsed.as_secs_f64();
    let p = &pump.stats;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    outln!(
        "Presented {} frames in {secs:.1} s ({:.1} per second); refresh from {}: {} wakes, {} interrupts, {} coalesced, {} throttled",
        counters.presented,
        counters.presented as f64 / secs.max(0.001),
        pump.source,
        load(&p.wakes),
        load(&p.interrupts),
        load(&p.coalesced),
        load(&p.throttled),
    );
    let count = counters.latencies_ms.len();
    let latency = Stats::of(counters.latencies_ms);
    if let Some(spread) = &latency {
        outln!(
            "Refresh to picture: median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {count} refreshes",
            spread.median_ms,
            spread.p95_ms,
            spread.max_ms
        );
    }
    let frames = counters.frame_times_ms.len();
    let frame_time = Stats::of(counters.frame_times_ms);
    if let Some(spread) = &frame_time {
        outln!(
            "Frame time: median {:.2} ms, p95 {:.2} ms over {frames} frames",
            spread.median_ms,
            spread.p95_ms
        );
    }
    let Some(out) = stats_out else {
        return Ok(());
    };
    let summary = ViewerSummary {
        after_first_frame: counters.first_shown.map(|(at, cpu)| SteadyState {
            seconds: at.elapsed().as_secs_f64(),
            cpu_seconds: crate::app::cpu_time::process_cpu()
                .saturating_sub(cpu)
                .as_secs_f64(),
        }),
        seconds: secs,
        presented: counters.presented,
        wakes: load(&p.wakes),
        interrupts: load(&p.interrupts),
        coalesced: load(&p.coalesced),
        throttled: load(&p.throttled),
        frame_ms: frame_time,
        refresh_to_picture_ms: latency,
    };
    let summary = serde_json::to_string_pretty(&summary)?;
    out.write(format!("{summary}\n").as_bytes(), WriteMode::Replace)?;
    Ok(())
}
