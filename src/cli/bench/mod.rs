//! `vfio-display bench`: the performance figures of ARCHITECTURE.md, section 7, each beside this
//! machine's own reference (memcpy, a 60 Hz frame, a 30 ms polling timer) and its target.

mod figure;
mod frames;
mod measure;
mod processes;

use crate::cli::exit::Usage;
use crate::cli::screenshot::parse_seconds;
use crate::cli::target::{DEFAULT_SIM_MODE, DeviceArgs, SimPlane, parse_size};
use anyhow::{Context, Result};
use clap::Args;
use figure::{Figure, Machine, Report, Skipped};
use measure::Budget;
use processes::Runner;
use std::time::Duration;
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::SimFault;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::render::GpuContext;
use vfio_display::vfio::PlaneSource;

const AFTER_HELP: &str = "\
Figures that need a window (viewer frame time, idle CPU) need a display; without one, run the
bench under `xvfb-run -a`. Build with --release: a debug build's figures are not representative.

Example: xvfb-run -a target/release/vfio-display bench --sim";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct BenchArgs {
    /// Frame sizes for the simulator's per-path figures: 720p, 1080p, 1440p, 4k or WxH.
    #[arg(long, value_name = "SIZES", value_delimiter = ',', default_value = "720p,1080p,1440p,4k", value_parser = parse_bench_size)]
    sizes: Vec<BenchSize>,
    /// Seconds spent on each timed figure (at least 5 samples each).
    #[arg(long, value_name = "S", default_value = "1", value_parser = parse_seconds)]
    seconds: f64,
    /// Seconds each of the three idle viewer runs lasts.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    idle_seconds: f64,
    /// How many `screenshot` processes to time.
    #[arg(long, value_name = "N", default_value = "10", value_parser = clap::value_parser!(u32).range(1..=1000))]
    screenshot_runs: u32,
    /// Leave out the figures that open a window (viewer frame time, idle CPU).
    #[arg(long)]
    no_window: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    target: DeviceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BenchSize {
    width: u32,
    height: u32,
}

impl BenchSize {
    const NAMED: [(&'static str, u32, u32); 5] = [
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
        ("1440p", 2560, 1440),
        ("4k", 3840, 2160),
        ("2160p", 3840, 2160),
    ];
    const FULL_HD: BenchSize = BenchSize {
        width: 1920,
        height: 1080,
    };

    fn label(self) -> String {
        match Self::NAMED
            .iter()
            .find(|(_, w, h)| (*w, *h) == (self.width, self.height))
        {
            Some(("4k", ..)) => "4K".to_string(),
            Some((name, ..)) => (*name).to_string(),
            None => format!("{}x{}", self.width, self.height),
        }
    }

    fn arg(self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

fn parse_bench_size(s: &str) -> Result<BenchSize, String> {
    let lower = s.trim().to_ascii_lowercase();
    if let Some((_, width, height)) = BenchSize::NAMED.iter().find(|(n, ..)| *n == lower) {
        return Ok(BenchSize {
            width: *width,
            height: *height,
        });
    }
    let (width, height) = parse_size(s).map_err(|e| format!("{e} (or 720p, 1080p, 1440p, 4k)"))?;
    if width > 8192 || height > 8192 {
        return Err(format!("'{s}': at most 8192x8192"));
    }
    Ok(BenchSize { width, height })
}

fn progress(what: &str) {
    errln!("bench: {what}...");
}

fn machine(ctx: &GpuContext, device: String) -> Machine {
    // The first processor's entry names the model: 64 KiB holds it on any machine.
    let cpu = std::fs::File::open("/proc/cpuinfo")
        .and_then(|f| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(f, 64 * 1024), &mut text)
                .map(|_| text)
        })
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let report = ctx.report();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        adapter: format!("{} ({})", report.name, report.driver),
        device,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    }
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// A simulated vGPU as the user's --sim options describe it, at `size`.
fn sim_at(args: &DeviceArgs, size: BenchSize, frozen: bool) -> Result<SimDevice> {
    let o = &args.sim_opts;
    SimDevice::new(SimConfig {
        width: size.width,
        height: size.height,
        format: o.sim_format,
        source: match o.sim_plane {
            SimPlane::Dmabuf => PlaneSource::DmaBuf,
            SimPlane::Region => PlaneSource::Region,
        },
        frozen_frame: frozen.then_some(o.sim_frame.unwrap_or(1)),
        // Room for two 4K-and-more buffers and the cursor.
        vram_bytes: (u64::from(size.width) * u64::from(size.height) * 4 * 2 + (8 << 20))
            .next_multiple_of(1 << 20),
        ..SimConfig::default()
    })
    .with_context(|| format!("cannot start the simulated vGPU at {}", size.arg()))
}

/// The arguments that make a child process open the same simulated device.
fn sim_child_args(args: &DeviceArgs, size: BenchSize, frozen: bool) -> Vec<String> {
    let o = &args.sim_opts;
    let mut out = vec![
        "--sim".to_string(),
        "--sim-mode".to_string(),
        size.arg(),
        "--sim-format".to_string(),
        o.sim_format.name.to_string(),
        "--sim-plane".to_string(),
        match o.sim_plane {
            SimPlane::Dmabuf => "dmabuf",
            SimPlane::Region => "region",
        }
        .to_string(),
    ];
    if frozen {
        out.push("--sim-frame".to_string());
        out.push(o.sim_frame.unwrap_or(1).to_string());
    }
    out
}

pub fn run(args: &BenchArgs) -> Result<()> {
    // The simulator options bench would silently override are refused instead.
    let sim = &args.target.sim_opts;
    if sim.sim_fault != SimFault::None {
        return Err(Usage(
            "bench measures a healthy device: --sim-fault is for the other commands".into(),
        )
        .into());
    }
    if sim.sim_mode != DEFAULT_SIM_MODE || sim.sim_frame.is_some() || sim.sim_mode_change.is_some()
    {
        return Err(Usage(
            "bench sets the simulated mode and frames itself: give the sizes with --sizes \
             (e.g. --sizes 720p,1080p) instead of --sim-mode, --sim-frame or --sim-mode-change"
                .into(),
        )
        .into());
    }
    let budget = Budget {
        time: Duration::from_secs_f64(args.seconds),
        min_samples: 5,
        max_samples: 100_000,
    };
    progress("opening the GPU");
    let ctx = GpuContext::headless().context("opening the GPU for the benchmarks")?;
    let mut figures: Vec<Figure> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let skip = |skipped: &mut Vec<Skipped>, name: &str, why: &str| {
        skipped.push(Skipped {
            name: name.to_string(),
            why: why.to_string(),
        })
    };

    let device_name;
    let runner_device: Option<Vec<String>>;
    if args.target.sim {
        device_name = format!(
            "simulated vGPU ({} {} planes)",
            args.target.sim_opts.sim_format.name,
            match args.target.sim_opts.sim_plane {
                SimPlane::Dmabuf => "dma-buf",
                SimPlane::Region => "region",
            }
        );
        let first = *args.sizes.first().context("--sizes names no size")?;
        progress("plane query rate");
        figures.push(frames::query_rate(
            &sim_at(&args.target, first, true)?,
            budget,
        )?);
        for &size in &args.sizes {
            progress(&format!("frame costs at {}", size.label()));
            let sim = sim_at(&args.target, size, true)?;
            figures.extend(frames::frame_costs(&ctx, &sim, &size.label(), budget)?);
        }
        progress("interrupt to texture latency at 1080p");
        let sim = sim_at(&args.target, BenchSize::FULL_HD, false)?;
        let when = || sim.last_interrupt();
        match frames::irq_latency(&ctx, &sim, &when, "1080p", budget)? {
            Some(f) => figures.push(f),
            None => skip(
                &mut skipped,
                "interrupt to texture",
                "the device has no display IRQ",
            ),
        }
        runner_device = Some(sim_child_args(&args.target, BenchSize::FULL_HD, false));
    } else {
        let dev = args.target.open()?;
        device_name = dev.name();
        let label = format!("{} (its mode)", current_mode(dev.as_ref())?);
        progress("plane query rate");
        figures.push(frames::query_rate(dev.as_ref(), budget)?);
        progress("frame costs");
        figures.extend(frames::frame_costs(&ctx, dev.as_ref(), &label, budget)?);
        progress("interrupt to texture latency");
        match frames::irq_latency(&ctx, dev.as_ref(), &|| None, &label, budget)? {
            Some(f) => figures.push(f),
            None => skip(
                &mut skipped,
                "interrupt to texture",
                "the device declares no display IRQ (the viewer refreshes it from a timer)",
            ),
        }
        // The device is closed here: the processes below open it themselves.
        drop(dev);
        runner_device = args.target.device.clone().map(|d| vec![d]);
    }

    let process_figures = ["screenshot end to end", "viewer frame time", "idle CPU"];
    match runner_device {
        None => {
            for name in process_figures {
                skip(
                    &mut skipped,
                    name,
                    "an inherited --device-fd cannot be passed on to other processes",
                );
            }
        }
        Some(device) => {
            let runner = Runner {
                exe: std::env::current_exe().context("cannot find this program's path")?,
                device,
            };
            let dir = ScratchDir::new()?;
            let label = if args.target.sim {
                "1080p".to_string()
            } else {
                "its mode".to_string()
            };
            progress("screenshot end to end");
            figures.push(runner.screenshot(dir.path(), args.screenshot_runs as usize, &label)?);
            if args.no_window {
                for name in &process_figures[1..] {
                    skip(&mut skipped, name, "--no-window");
                }
            } else if !has_display() {
                for name in &process_figures[1..] {
                    skip(
                        &mut skipped,
                        name,
                        "no display (DISPLAY and WAYLAND_DISPLAY unset): run under `xvfb-run -a`",
                    );
                }
            } else {
                progress("viewer frame time");
                let secs = (args.seconds * 5.0).clamp(2.0, 30.0);
                figures.extend(processes::viewer_frame_time(
                    &runner,
                    secs,
                    dir.path(),
                    &label,
                )?);
                progress(&format!(
                    "idle CPU: three viewer runs of {:.0} s",
                    args.idle_seconds
                ));
                let idle_device = if args.target.sim {
                    sim_child_args(
                        &args.target,
                        BenchSize {
                            width: 1024,
                            height: 768,
                        },
                        true,
                    )
                } else {
                    runner.device.clone()
                };
                figures.extend(processes::idle_cpu(
                    &runner,
                    &idle_device,
                    args.idle_seconds,
                    dir.path(),
                )?);
            }
        }
    }

    let report = Report {
        machine: machine(&ctx, device_name),
        figures,
        skipped,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{report}");
    }
    Ok(())
}

/// A private directory for the child processes' files, removed on drop.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("vfio-display-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(ScratchDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn current_mode(dev: &dyn DisplayDevice) -> Result<String> {
    let reader = vfio_display::frame::FrameReader::new(dev)?;
    let plane = reader
        .query(vfio_display::vfio::PlaneType::Primary)
        .context("querying the primary plane")?;
    Ok(format!("{}x{}", plane.width, plane.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_by_name_or_dimensions() {
        assert_eq!(parse_bench_size("1080p").unwrap(), BenchSize::FULL_HD);
        assert_eq!(parse_bench_size("4K").unwrap().label(), "4K");
        assert_eq!(parse_bench_size("1440p").unwrap().arg(), "2560x1440");
        assert_eq!(parse_bench_size("800x600").unwrap().label(), "800x600");
        assert!(parse_bench_size("9000x10").unwrap_err().contains("8192"));
        assert!(parse_bench_size("huge").unwrap_err().contains("720p"));
    }
}
