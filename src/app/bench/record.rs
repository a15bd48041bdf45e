//! Recording the animated simulated desktop to an APNG: the CPU it costs, the file's growth
//! and the frames it keeps.

use super::figure::Figure;
use crate::app::cpu_time::{process_cpu, thread_cpu};
use crate::app::output::apng::ApngRecorder;
use crate::app::record::{Limits, record};
use crate::app::watch::WatchOptions;
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::device::sim::SimDevice;

/// The guest's frame rate: the simulator draws a new picture this often.
const GUEST_FPS: f64 = 60.0;

/// Records `sim` (animated) for `secs` into a file in `dir`. The figure is the CPU of the
/// thread that reads, compares and encodes the pictures (the refresh pump's wake-ups beside it
/// cost next to nothing); the process's share, which includes the simulated guest drawing its
/// desktop on a thread of its own, is in the detail.
pub fn figures(sim: &SimDevice, label: &str, secs: f64, dir: &Path) -> Result<Vec<Figure>> {
    let recorder = ApngRecorder::create(&dir.join("bench.apng"))?;
    let (process0, thread0, t0) = (process_cpu(), thread_cpu(), Instant::now());
    let recorded = record(
        sim,
        recorder,
        Limits {
            duration: Some(Duration::from_secs_f64(secs)),
            frames: None,
        },
        false,
        &WatchOptions::default(),
        |_, _, _| {},
    )?;
    let wall = t0.elapsed().as_secs_f64();
    let thread = (thread_cpu() - thread0).as_secs_f64() / wall;
    let process = (process_cpu() - process0).as_secs_f64() / wall;
    let s = recorded.summary;
    let duration = s.duration.as_secs_f64().max(1e-3);
    let fps = s.frames as f64 / duration;
    Ok(vec![
        Figure::new(format!("recording CPU, {label}"), thread * 100.0, "% core").detail(format!(
            "the process with its simulated guest: {:.0}%, over {secs:.1} s",
            process * 100.0
        )),
        Figure::new(
            format!("recording size, {label}"),
            s.bytes as f64 / duration * 60.0 / (1024.0 * 1024.0),
            "MiB/min",
        )
        .detail(format!("{} bytes in {duration:.2} s", s.bytes)),
        Figure::new(format!("recorded frames, {label}"), fps, "/s")
            .ratio(fps / GUEST_FPS, "x the guest's 60 fps")
            .detail(format!("{} frames", s.frames)),
    ])
}
