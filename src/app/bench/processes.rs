//! The figures that need whole processes of this binary: `screenshot` end to end, the viewer's
//! frame time, and the viewer's CPU while the guest is idle.

use super::figure::Figure;
use crate::app::cpu_time::children_cpu;
use crate::app::stats::{Stats, ViewerSummary};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// This binary, and the arguments that name the device for its subcommands.
pub struct Runner {
    pub exe: PathBuf,
    pub device: Vec<String>,
}

impl Runner {
    fn command(&self, subcommand: &str, device: &[String]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(subcommand).args(device).stdin(Stdio::null());
        cmd
    }

    /// Runs a command to its end; its stderr goes into the error when it fails.
    fn run(mut cmd: Command, what: &str) -> Result<()> {
        let out = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot start {what}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!("{what} failed ({}): {}", out.status, err.trim());
        }
        Ok(())
    }

    /// Process start to PNG on disk, `runs` times.
    pub fn screenshot(&self, dir: &Path, runs: usize, label: &str) -> Result<Figure> {
        let png = dir.join("bench-screenshot.png");
        let mut times = Vec::new();
        for _ in 0..runs {
            let _ = std::fs::remove_file(&png);
            let mut cmd = self.command("screenshot", &self.device);
            cmd.arg("-o").arg(&png);
            let t0 = Instant::now();
            Self::run(cmd, "screenshot")?;
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            let size = std::fs::metadata(&png)
                .with_context(|| format!("screenshot wrote no {}", png.display()))?
                .len();
            if size == 0 {
                bail!("screenshot wrote an empty {}", png.display());
            }
        }
        let spread = Stats::of(times).context("no screenshot runs")?;
        Ok(Figure::new(
            format!("screenshot end to end, {label}"),
            spread.median_ms,
            "ms",
        )
        .below(150.0, "< 150 ms")
        .detail(format!(
            "process start to PNG on disk (cpu render, fast PNG compression); {runs} runs: {spread}"
        )))
    }

    /// Runs the viewer for `secs` and returns its statistics and its CPU time.
    pub fn viewer(
        &self,
        device: &[String],
        extra: &[&str],
        secs: f64,
        dir: &Path,
    ) -> Result<(ViewerSummary, Duration)> {
        let json = dir.join("bench-view.json");
        let _ = std::fs::remove_file(&json);
        let mut cmd = self.command("view", device);
        cmd.args(["--no-overlay", "--exit-after", &format!("{secs}")])
            .arg("--stats-json")
            .arg(&json)
            .args(extra);
        let cpu0 = children_cpu();
        Self::run(cmd, "the viewer")?;
        let cpu = children_cpu().saturating_sub(cpu0);
        // A summary is a few hundred bytes; 1 MiB bounds a file that is not one.
        let text = crate::app::input::read_bounded(&json, 1 << 20)
            .with_context(|| format!("the viewer wrote no {}", json.display()))?;
        let stats = serde_json::from_slice(&text)
            .with_context(|| format!("cannot read the viewer's {}", json.display()))?;
        Ok((stats, cpu))
    }
}

/// The viewer on an animated guest: CPU time per presented frame and refresh to picture.
pub fn viewer_frame_time(
    runner: &Runner,
    secs: f64,
    dir: &Path,
    label: &str,
) -> Result<Vec<Figure>> {
    let (stats, _) = runner.viewer(&runner.device, &[], secs, dir)?;
    let fps = stats.presented as f64 / stats.seconds.max(0.001);
    let mut figures = Vec::new();
    if let Some(frame) = stats.frame_ms {
        figures.push(
            Figure::new(format!("viewer frame time, {label}"), frame.median_ms, "ms")
                .ratio(frame.median_ms / (1000.0 / 60.0), "x a 60 Hz frame period")
                .detail(format!(
                    "wall time to refresh, compose and present one frame; p95 {:.2} ms; {fps:.1} frames/s",
                    frame.p95_ms
                )),
        );
    }
    if let Some(latency) = stats.refresh_to_picture_ms {
        figures.push(
            Figure::new(
                format!("viewer refresh to picture presented, {label}"),
                latency.median_ms,
                "ms",
            )
            .detail(format!("p95 {:.2} ms", latency.p95_ms)),
        );
    }
    Ok(figures)
}

/// The viewer's CPU over `secs` of an idle guest, refreshed by the interrupt and by a 30 ms
/// polling timer (QEMU's default refresh), and by our own backing-off timer.
pub fn idle_cpu(
    runner: &Runner,
    idle_device: &[String],
    secs: f64,
    dir: &Path,
) -> Result<Vec<Figure>> {
    // Percent of one core after the first frame (the steady state), and the whole run's.
    let measure = |extra: &[&str]| -> Result<(f64, f64)> {
        let (stats, total) = runner.viewer(idle_device, extra, secs, dir)?;
        let steady = stats
            .after_first_frame
            .context("the viewer never showed a frame")?;
        Ok((
            steady.cpu_seconds / steady.seconds.max(0.001) * 100.0,
            total.as_secs_f64() / stats.seconds.max(0.001) * 100.0,
        ))
    };
    let (irq, irq_total) = measure(&["--irq", "auto"])?;
    let (poll, poll_total) =
        measure(&["--irq", "none", "--refresh-hz", "33.3", "--no-idle-backoff"])?;
    let (timer, timer_total) = measure(&["--irq", "none", "--refresh-hz", "33.3"])?;
    let whole = |total: f64| {
        format!("after the first frame; {total:.2}% over the whole run, start-up included")
    };
    Ok(vec![
        Figure::new(
            format!("idle CPU over {secs:.0} s, IRQ refresh"),
            irq,
            "% core",
        )
        .ratio(irq / poll, "x the 30 ms poll's")
        .below(1.0, "< 1% of a core")
        .detail(whole(irq_total)),
        Figure::new(
            format!("idle CPU over {secs:.0} s, 30 ms polling timer"),
            poll,
            "% core",
        )
        .detail(format!(
            "as QEMU refreshes, every poll re-reads and redraws; {}",
            whole(poll_total)
        )),
        Figure::new(
            format!("idle CPU over {secs:.0} s, our timer (33 Hz, backs off)"),
            timer,
            "% core",
        )
        .ratio(timer / poll, "x the 30 ms poll's")
        .detail(format!(
            "for devices without a display IRQ (mbochs, mdpy); {}",
            whole(timer_total)
        )),
    ])
}
