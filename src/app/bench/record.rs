//! Recording the animated simulated desktop to an APNG: the CPU it costs, the file's growth
//! and the frames it keeps.

use super::figure::Figure;
use crate::app::cpu_time::process_cpu;
use crate::app::output::apng::ApngRecorder;
use crate::app::record::{Limits, record};
use crate::app::watch::WatchOptions;
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::device::sim::SimDevice;

/// The guest's frame rate: the simulator draws a new picture this often.
const GUEST_FPS: f64 = 60.0;

/// Records `sim` (animated) for `secs` into a file in `dir`. The simulator draws its guest on a
/// thread of this process, so the CPU of the same time without a recording is taken first and
/// subtracted: the figure is what recording adds.
pub fn figures(sim: &SimDevice, label: &str, secs: f64, dir: &Path) -> Result<Vec<Figure>> {
    let span = Duration::from_secs_f64(secs);
    let (cpu0, t0) = (process_cpu(), Instant::now());
    std::thread::sleep(span);
    let guest_share = (process_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    let recorder = ApngRecorder::create(&dir.join("bench.apng"))?;
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let recorded = record(
        sim,
        recorder,
        Limits {
            duration: Some(span),
            frames: None,
        },
        false,
        &WatchOptions::default(),
        |_, _, _| {},
    )?;
    let share = (process_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    let s = recorded.summary;
    let duration = s.duration.as_secs_f64().max(1e-3);
    let recording = ((share - guest_share) * 100.0).max(0.0);
    let fps = s.frames as f64 / duration;
    Ok(vec![
        Figure::new(format!("recording CPU, {label}"), recording, "% core").detail(format!(
            "{:.0}% with the recording, {:.0}% for the guest alone, over {secs:.1} s",
            share * 100.0,
            guest_share * 100.0
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
