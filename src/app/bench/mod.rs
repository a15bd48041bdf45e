//! The benchmark (`vfio-display bench`): the performance figures of ARCHITECTURE.md, section 7, each beside this
//! machine's own reference (memcpy, a 60 Hz frame, a 30 ms polling timer) and its target.

mod echo;
mod figure;
mod frames;
mod measure;
mod processes;
mod remote;
mod rfb_client;
mod tearing;
mod tiled;

use crate::app::target::{SimOptions, Target};
use anyhow::{Context, Result};
use figure::{Figure, Machine, Report, Skipped};
use measure::Budget;
use processes::Runner;
use std::time::Duration;
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::render::GpuContext;
use vfio_display::vfio::PlaneSource;

/// What `bench` measures, and on which device.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Frame sizes for the simulator's per-path figures.
    pub sizes: Vec<BenchSize>,
    /// Seconds spent on each timed figure.
    pub seconds: f64,
    /// Seconds each of the three idle viewer runs lasts.
    pub idle_seconds: f64,
    /// How many `screenshot` processes to time.
    pub screenshot_runs: u32,
    /// Leave out the figures that open a window.
    pub no_window: bool,
    /// Print the report as JSON.
    pub json: bool,
    /// The VMM's QMP socket: key to guest echo is measured through it.
    pub qmp: Option<std::path::PathBuf>,
    /// How many keys that figure times.
    pub keys: usize,
    /// The device.
    pub target: Target,
}

/// A frame size for the per-path figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSize {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

impl BenchSize {
    /// The sizes known by name.
    pub const NAMED: [(&'static str, u32, u32); 5] = [
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
        ("1440p", 2560, 1440),
        ("4k", 3840, 2160),
        ("2160p", 3840, 2160),
    ];
    /// 1920x1080.
    pub const FULL_HD: BenchSize = BenchSize {
        width: 1920,
        height: 1080,
    };

    /// "1080p", "4K" or "WxH".
    pub fn label(self) -> String {
        match Self::NAMED
            .iter()
            .find(|(_, w, h)| (*w, *h) == (self.width, self.height))
        {
            Some(("4k", ..)) => "4K".to_string(),
            Some((name, ..)) => (*name).to_string(),
            None => format!("{}x{}", self.width, self.height),
        }
    }

    /// "WxH", as --sim-mode takes it.
    pub fn arg(self) -> String {
        format!("{}x{}", self.width, self.height)
    }
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
fn sim_at(o: &SimOptions, size: BenchSize, frozen: bool) -> Result<SimDevice> {
    SimDevice::new(SimConfig {
        width: size.width,
        height: size.height,
        format: o.format,
        source: o.source,
        frozen_frame: frozen.then_some(o.frame.unwrap_or(1)),
        // Room for two 4K-and-more buffers and the cursor.
        vram_bytes: (u64::from(size.width) * u64::from(size.height) * 4 * 2 + (8 << 20))
            .next_multiple_of(1 << 20),
        ..SimConfig::default()
    })
    .with_context(|| format!("cannot start the simulated vGPU at {}", size.arg()))
}

/// The arguments that make a child process open the same simulated device.
fn sim_child_args(o: &SimOptions, size: BenchSize, frozen: bool) -> Vec<String> {
    let mut out = vec![
        "--sim".to_string(),
        "--sim-mode".to_string(),
        size.arg(),
        "--sim-format".to_string(),
        o.format.name.to_string(),
        "--sim-plane".to_string(),
        match o.source {
            PlaneSource::DmaBuf => "dmabuf",
            PlaneSource::Region => "region",
        }
        .to_string(),
    ];
    if frozen {
        out.push("--sim-frame".to_string());
        out.push(o.frame.unwrap_or(1).to_string());
    }
    out
}

pub fn run(args: &BenchOptions) -> Result<()> {
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
    if let Some(sim_options) = args.target.sim() {
        device_name = format!(
            "simulated vGPU ({} {} planes)",
            sim_options.format.name,
            match sim_options.source {
                PlaneSource::DmaBuf => "dma-buf",
                PlaneSource::Region => "region",
            }
        );
        let first = *args.sizes.first().context("--sizes names no size")?;
        progress("plane query rate");
        figures.push(frames::query_rate(
            &sim_at(sim_options, first, true)?,
            budget,
        )?);
        for &size in &args.sizes {
            progress(&format!("frame costs at {}", size.label()));
            let sim = sim_at(sim_options, size, true)?;
            let (costs, not_measured) = frames::frame_costs(&ctx, &sim, &size.label(), budget)?;
            figures.extend(costs);
            skipped.extend(not_measured);
        }
        progress("tiled frames (Intel GVT-g's layouts) at 1080p");
        figures.extend(tiled::figures(&ctx, budget)?);
        // The animated guest, in a format every path reads exactly, on dma-buf planes: the
        // paths that import them are the ones that could read a buffer the guest draws into.
        let captures = (args.seconds * 40.0).clamp(20.0, 400.0) as usize;
        progress(&format!(
            "torn captures of the animated guest at {}, {captures} per path",
            first.label()
        ));
        let tearing_sim = SimOptions {
            format: vfio_display::fourcc::parse("XRGB8888")
                .context("XRGB8888 is a known format")?,
            source: PlaneSource::DmaBuf,
            ..sim_options.clone()
        };
        figures.extend(tearing::torn_captures(
            &ctx,
            &sim_at(&tearing_sim, first, false)?,
            &first.label(),
            captures,
        )?);
        progress("interrupt to texture latency at 1080p");
        let sim = sim_at(sim_options, BenchSize::FULL_HD, false)?;
        let when = || sim.last_interrupt();
        match frames::irq_latency(&ctx, &sim, &when, "1080p", budget)? {
            Some(f) => figures.push(f),
            None => skip(
                &mut skipped,
                "interrupt to texture",
                "the device has no display IRQ",
            ),
        }
        progress("remote: the encoders at 1080p");
        figures.extend(remote::encode_figures(budget)?);
        progress("remote: guest flip to update on the socket");
        let sim = sim_at(sim_options, BenchSize::FULL_HD, true)?;
        figures.push(remote::flip_to_socket(&sim, sim_options, budget)?);
        drop(sim);
        runner_device = Some(sim_child_args(sim_options, BenchSize::FULL_HD, false));
    } else {
        let dev = args.target.open()?;
        device_name = dev.name();
        let label = format!("{} (its mode)", current_mode(dev.as_ref())?);
        // First: it needs the guest as the user left it, and fails fast if it cannot be taken.
        match &args.qmp {
            Some(qmp) => {
                progress(&format!(
                    "key to guest echo: typing a letter and Backspace, {} keys",
                    args.keys
                ));
                figures.push(echo::key_to_echo(dev.as_ref(), qmp, args.keys)?);
            }
            None => skip(
                &mut skipped,
                "key to guest echo",
                "no VMM channel: give the guest's QMP socket (attach --qmp PATH bench, or \
                 bench --qmp PATH)",
            ),
        }
        progress("plane query rate");
        figures.push(frames::query_rate(dev.as_ref(), budget)?);
        progress("frame costs");
        let (costs, not_measured) = frames::frame_costs(&ctx, dev.as_ref(), &label, budget)?;
        figures.extend(costs);
        skipped.extend(not_measured);
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
        runner_device = match &args.target {
            Target::Mdev { spec, .. } => Some(vec![spec.clone()]),
            _ => None,
        };
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
            let label = if args.target.sim().is_some() {
                "1080p".to_string()
            } else {
                "its mode".to_string()
            };
            progress("screenshot end to end");
            figures.push(runner.screenshot(dir.path(), args.screenshot_runs as usize, &label)?);
            if let Some(sim_options) = args.target.sim() {
                // The same picture as TigerVNC is given: the desktop's frame in 8-bit RGB.
                let remote_sim = SimOptions {
                    frame: Some(remote::FRAME),
                    format: vfio_display::fourcc::parse("XRGB8888")
                        .context("XRGB8888 is a known format")?,
                    ..sim_options.clone()
                };
                let secs = (args.seconds * 5.0).clamp(1.0, 10.0);
                progress(&format!(
                    "remote: idle server CPU ({secs:.0} s each) and TigerVNC's Xvnc side by side"
                ));
                let (remote_figures, remote_skipped) = remote::server_figures(
                    &runner.exe,
                    &sim_child_args(&remote_sim, BenchSize::FULL_HD, true),
                    secs,
                    dir.path(),
                )?;
                figures.extend(remote_figures);
                skipped.extend(remote_skipped);
            } else {
                skip(
                    &mut skipped,
                    "remote figures",
                    "they run on the simulator (bench --sim), against TigerVNC's Xvnc",
                );
            }
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
                let idle_device = if let Some(sim_options) = args.target.sim() {
                    sim_child_args(
                        sim_options,
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
