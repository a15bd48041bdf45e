//! Guest CI's needle matching on the animated simulated desktop: what one needle costs on one
//! frame, and how long after a flip a step has its answer (capture and matching together),
//! against os-autoinst's 500 ms between looks.

use super::figure::Figure;
use crate::app::output::encode_png;
use crate::app::stats::Stats;
use crate::app::watch::{WatchOptions, Watcher};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::device::sim::SimDevice;
use vfio_display::frame::FrameReader;
use vfio_display::needle::{Needle, search};
use vfio_display::render::LazyGpu;
use vfio_display::vfio::PlaneType;

/// The match area: 300x100 in the middle of the screen, searched within openQA's default
/// margin of 50 pixels.
const AREA: (u32, u32) = (300, 100);

/// Writes a needle cut from the simulator's current picture into `dir`; returns it.
fn make_needle(sim: &SimDevice, dir: &Path) -> Result<(Needle, (u32, u32))> {
    let frame = FrameReader::new(sim)?
        .capture(PlaneType::Primary)?
        .context("the simulated display is on")?;
    let (w, h) = (frame.image.width, frame.image.height);
    std::fs::write(dir.join("bench.png"), encode_png(&frame.image, false)?)?;
    let (x, y) = ((w - AREA.0) / 2, (h - AREA.1) / 2);
    std::fs::write(
        dir.join("bench.json"),
        format!(
            r#"{{"area": [{{"xpos": {x}, "ypos": {y}, "width": {}, "height": {}, "type": "match"}}], "tags": ["bench"]}}"#,
            AREA.0, AREA.1
        ),
    )?;
    Ok((Needle::load(&dir.join("bench.json"))?, (w, h)))
}

/// The figures, on `sim` (animated, with its flip interrupt) for about `secs`.
pub fn figures(sim: &SimDevice, label: &str, secs: f64, dir: &Path) -> Result<Vec<Figure>> {
    let (needle, (w, h)) = make_needle(sim, dir)?;
    let screen = FrameReader::new(sim)?
        .capture(PlaneType::Primary)?
        .context("the simulated display is on")?
        .image;
    // Matching alone: one needle on one frame.
    let mut costs = Vec::new();
    let until = Instant::now() + Duration::from_secs_f64(secs / 2.0);
    while costs.len() < 5 || (Instant::now() < until && costs.len() < 200) {
        let t0 = Instant::now();
        search(&screen, &[&needle], 0.0)?;
        costs.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let cost = Stats::of(costs.clone()).context("samples")?;
    // From each flip to its answer: the pump's wake, the capture, the match.
    let gpu = LazyGpu::new();
    let mut latencies = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let mut watcher = Watcher::start(scope, sim, &gpu, &WatchOptions::default())?;
        let until = Instant::now() + Duration::from_secs_f64(secs / 2.0);
        while let Some(shot) = watcher.next(until)? {
            search(&shot.picture(false), &[&needle], 0.0)?;
            latencies.push(shot.woken.elapsed().as_secs_f64() * 1e3);
        }
        Ok(())
    })?;
    let frames = latencies.len();
    let latency = Stats::of(latencies).context("no frame came from the simulated guest")?;
    Ok(vec![
        Figure::new(
            format!("needle matching, one needle, {label}"),
            cost.median_ms,
            "ms",
        )
        .detail(format!(
            "a {}x{} area within a margin of 50 on a {w}x{h} frame; {cost}",
            AREA.0, AREA.1
        ))
        .samples(costs.len()),
        Figure::new(
            format!("needle answer after a flip, {label}"),
            latency.median_ms,
            "ms",
        )
        .below(50.0, "under 50 ms (os-autoinst looks every 500 ms)")
        .detail(format!(
            "interrupt to match reported, capture included: {latency}"
        ))
        .samples(frames),
    ])
}
