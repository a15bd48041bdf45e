//! The benchmark (`vfio-display bench`): the performance figures of ARCHITECTURE.md, section 7, each beside this
//! machine's own reference (memcpy, a 60 Hz frame, a 30 ms polling timer) and its target.

mod echo;
mod figure;
mod fleet;
mod fleet_server;
mod frames;
mod measure;
mod needles;
mod processes;
mod record;
mod remote;
mod rfb_client;
mod tearing;
mod tiled;

use crate::app::target::Target;
use anyhow::{Context, Result};
use drm_fourcc::DrmFourcc;
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
    /// The fleet figures: how many simulated devices and viewers `serve --all` serves.
    pub fleet: FleetSize,
    /// Measure only the fleet figures.
    pub fleet_only: bool,
    /// The device.
    pub target: Target,
}

/// The fleet `serve --all` is measured with.
#[derive(Debug, Clone, Copy)]
pub struct FleetSize {
    /// Simulated devices; 0 leaves the fleet figures out.
    pub devices: usize,
    /// Viewers of each device.
    pub clients: usize,
    /// The guests' screen.
    pub size: BenchSize,
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
fn sim_at(o: &SimConfig, size: BenchSize, frozen: bool) -> Result<SimDevice> {
    SimDevice::new(SimConfig {
        width: size.width,
        height: size.height,
        format: o.format,
        source: o.source,
        frozen_frame: frozen.then_some(o.frozen_frame.unwrap_or(1)),
        // Room for two 4K-and-more buffers and the cursor.
        vram_bytes: (u64::from(size.width) * u64::from(size.height) * 4 * 2 + (8 << 20))
            .next_multiple_of(1 << 20),
        ..SimConfig::default()
    })
    .with_context(|| format!("cannot start the simulated vGPU at {}", size.arg()))
}

/// The arguments that make a child process open the same simulated device.
fn sim_child_args(o: &SimConfig, size: BenchSize, frozen: bool) -> Vec<String> {
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
        out.push(o.frozen_frame.unwrap_or(1).to_string());
    }
    out
}

/// The figures measured so far and those left out with the reason: what every part of the
/// run adds to, and what the report prints.
#[derive(Debug, Default)]
struct Results {
    figures: Vec<Figure>,
    skipped: Vec<Skipped>,
}

impl Results {
    fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push(Skipped {
            name: name.to_string(),
            why: why.to_string(),
        });
    }

    fn add(&mut self, (figures, skipped): (Vec<Figure>, impl IntoIterator<Item = Skipped>)) {
        self.figures.extend(figures);
        self.skipped.extend(skipped);
    }
}

/// The figures that need a separate process: `screenshot` end to end, the remote server, and
/// the viewer's frame time and idle CPU.
const PROCESS_FIGURES: [&str; 3] = ["screenshot end to end", "viewer frame time", "idle CPU"];

pub fn run(args: &BenchOptions) -> Result<()> {
    let budget = Budget {
        time: Duration::from_secs_f64(args.seconds),
        min_samples: 5,
        max_samples: 100_000,
    };
    progress("opening the GPU");
    let ctx = GpuContext::headless().context("opening the GPU for the benchmarks")?;
    let mut results = Results::default();
    if args.fleet_only {
        let sim_options = args
            .target
            .sim()
            .context("the fleet figures run on the simulator (bench --sim)")?;
        fleet_figures(args, sim_options, &mut results)?;
        let report = Report {
            machine: machine(&ctx, "simulated vGPUs under `serve --all`".into()),
            figures: results.figures,
            skipped: results.skipped,
        };
        return print_report(&report, args.json);
    }
    let (device_name, runner_device) = match args.target.sim() {
        Some(sim_options) => {
            simulator_figures(&ctx, args, sim_options, budget, &mut results)?;
            let name = format!(
                "simulated vGPU ({} {} planes)",
                sim_options.format.name,
                source_name(sim_options.source)
            );
            let child = sim_child_args(sim_options, BenchSize::FULL_HD, false);
            (name, Some(child))
        }
        None => device_figures(&ctx, args, budget, &mut results)?,
    };
    match runner_device {
        None => {
            for name in PROCESS_FIGURES {
                results.skip(
                    name,
                    "an inherited --device-fd cannot be passed on to other processes",
                );
            }
        }
        Some(device) => process_figures(args, device, &mut results)?,
    }
    match args.target.sim() {
        Some(sim_options) => fleet_figures(args, sim_options, &mut results)?,
        None => results.skip(
            "fleet figures",
            "they run on the simulator (bench --sim), many devices in one `serve --all`",
        ),
    }
    let report = Report {
        machine: machine(&ctx, device_name),
        figures: results.figures,
        skipped: results.skipped,
    };
    print_report(&report, args.json)
}

fn print_report(report: &Report, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(report)?);
    } else {
        outln!("{report}");
    }
    Ok(())
}

/// One `serve --all` process with the fleet's simulated devices and viewers (`fleet.rs`).
fn fleet_figures(
    args: &BenchOptions,
    sim_options: &SimConfig,
    results: &mut Results,
) -> Result<()> {
    if args.fleet.devices == 0 {
        results.skip("fleet figures", "--fleet-devices 0");
        return Ok(());
    }
    let options = fleet::FleetOptions {
        devices: args.fleet.devices,
        clients: args.fleet.clients,
        label: args.fleet.size.label(),
        window: Duration::from_secs_f64((args.seconds * 5.0).clamp(1.0, 10.0)),
    };
    results.add(fleet::figures(
        &std::env::current_exe().context("cannot find this program's path")?,
        &sim_child_args(sim_options, args.fleet.size, true),
        &options,
    )?);
    Ok(())
}

fn source_name(source: PlaneSource) -> &'static str {
    match source {
        PlaneSource::DmaBuf => "dma-buf",
        PlaneSource::Region => "region",
    }
}

/// The in-process figures on the simulator, at each of the user's sizes.
fn simulator_figures(
    ctx: &GpuContext,
    args: &BenchOptions,
    sim_options: &SimConfig,
    budget: Budget,
    results: &mut Results,
) -> Result<()> {
    let first = *args.sizes.first().context("--sizes names no size")?;
    // First, while no other simulated guest draws on this process's threads.
    let secs = (args.seconds * 2.5).clamp(1.0, 10.0);
    let size = BenchSize {
        width: 1024,
        height: 768,
    };
    progress(&format!(
        "recording the animated desktop at {} for {secs:.1} s",
        size.label()
    ));
    let dir = ScratchDir::new()?;
    results.figures.extend(record::figures(
        &sim_at(sim_options, size, false)?,
        &size.label(),
        secs,
        dir.path(),
    )?);
    let size = BenchSize {
        width: 1920,
        height: 1080,
    };
    progress(&format!("guest CI: needle matching at {}", size.label()));
    results.figures.extend(needles::figures(
        &sim_at(sim_options, size, false)?,
        &size.label(),
        secs,
        dir.path(),
    )?);
    progress("plane query rate");
    results.figures.push(frames::query_rate(
        &sim_at(sim_options, first, true)?,
        budget,
    )?);
    for &size in &args.sizes {
        progress(&format!("frame costs at {}", size.label()));
        let sim = sim_at(sim_options, size, true)?;
        results.add(frames::frame_costs(ctx, &sim, &size.label(), budget)?);
    }
    progress("tiled frames (Intel GVT-g's layouts) at 1080p");
    results.figures.extend(tiled::figures(ctx, budget)?);
    // The animated guest, in a format every path reads exactly, on dma-buf planes: the
    // paths that import them are the ones that could read a buffer the guest draws into.
    let captures = (args.seconds * 40.0).clamp(20.0, 400.0) as usize;
    progress(&format!(
        "torn captures of the animated guest at {}, {captures} per path",
        first.label()
    ));
    let tearing_sim = SimConfig {
        format: vfio_display::fourcc::by_code(DrmFourcc::Xrgb8888)
            .context("XRGB8888 is in the table")?,
        source: PlaneSource::DmaBuf,
        ..sim_options.clone()
    };
    results.figures.extend(tearing::torn_captures(
        ctx,
        &sim_at(&tearing_sim, first, false)?,
        &first.label(),
        captures,
    )?);
    progress("interrupt to texture latency at 1080p");
    let sim = sim_at(sim_options, BenchSize::FULL_HD, false)?;
    let when = || sim.last_interrupt();
    match frames::irq_latency(ctx, &sim, &when, "1080p", budget)? {
        Some(f) => results.figures.push(f),
        None => results.skip("interrupt to texture", "the device has no display IRQ"),
    }
    progress("remote: the encoders at 1080p");
    results.figures.extend(remote::encode_figures(budget)?);
    progress("remote: guest flip to update on the socket");
    let sim = sim_at(sim_options, BenchSize::FULL_HD, true)?;
    results
        .figures
        .push(remote::flip_to_socket(&sim, sim_options, budget)?);
    Ok(())
}

/// The in-process figures on the user's device, in its current mode; returns the device's name
/// and the arguments that open it in a child process (None for an inherited fd).
fn device_figures(
    ctx: &GpuContext,
    args: &BenchOptions,
    budget: Budget,
    results: &mut Results,
) -> Result<(String, Option<Vec<String>>)> {
    let dev = args.target.open()?;
    let label = format!("{} (its mode)", current_mode(dev.as_ref())?);
    // First: it needs the guest as the user left it, and fails fast if it cannot be taken.
    match &args.qmp {
        Some(qmp) => {
            progress(&format!(
                "key to guest echo: typing a letter and Backspace, {} keys",
                args.keys
            ));
            results
                .figures
                .push(echo::key_to_echo(dev.as_ref(), qmp, args.keys)?);
        }
        None => results.skip(
            "key to guest echo",
            "no VMM channel: give the guest's QMP socket (attach --qmp PATH bench, or \
             bench --qmp PATH)",
        ),
    }
    progress("plane query rate");
    results
        .figures
        .push(frames::query_rate(dev.as_ref(), budget)?);
    progress("frame costs");
    results.add(frames::frame_costs(ctx, dev.as_ref(), &label, budget)?);
    progress("interrupt to texture latency");
    match frames::irq_latency(ctx, dev.as_ref(), &|| None, &label, budget)? {
        Some(f) => results.figures.push(f),
        None => results.skip(
            "interrupt to texture",
            "the device declares no display IRQ (the viewer refreshes it from a timer)",
        ),
    }
    // The device is closed on return: the processes measured next open it themselves.
    let child = match &args.target {
        Target::Mdev { spec, .. } => Some(vec![spec.clone()]),
        _ => None,
    };
    Ok((dev.name(), child))
}

/// The figures measured on child processes of this program that open `device` themselves.
fn process_figures(args: &BenchOptions, device: Vec<String>, results: &mut Results) -> Result<()> {
    let runner = Runner {
        exe: std::env::current_exe().context("cannot find this program's path")?,
        device,
    };
    let dir = ScratchDir::new()?;
    let label = if args.target.sim().is_some() {
        "1080p"
    } else {
        "its mode"
    };
    progress("screenshot end to end");
    results
        .figures
        .push(runner.screenshot(dir.path(), args.screenshot_runs as usize, label)?);
    match args.target.sim() {
        Some(sim_options) => {
            remote_process_figures(args, sim_options, &runner, dir.path(), results)?
        }
        None => results.skip(
            "remote figures",
            "they run on the simulator (bench --sim), against TigerVNC's Xvnc",
        ),
    }
    let no_window = if args.no_window {
        Some("--no-window")
    } else if cfg!(not(feature = "viewer")) {
        Some("this program was built without its viewer (cargo feature viewer)")
    } else if !has_display() {
        Some("no display (DISPLAY and WAYLAND_DISPLAY unset): run under `xvfb-run -a`")
    } else {
        None
    };
    match no_window {
        Some(why) => {
            for name in &PROCESS_FIGURES[1..] {
                results.skip(name, why);
            }
            Ok(())
        }
        None => window_figures(args, &runner, dir.path(), label, results),
    }
}

/// The remote server's idle CPU and TigerVNC's Xvnc beside it, on the simulator.
fn remote_process_figures(
    args: &BenchOptions,
    sim_options: &SimConfig,
    runner: &Runner,
    dir: &std::path::Path,
    results: &mut Results,
) -> Result<()> {
    // The same picture as TigerVNC is given: the desktop's frame in 8-bit RGB.
    let remote_sim = SimConfig {
        frozen_frame: Some(remote::FRAME),
        format: vfio_display::fourcc::by_code(DrmFourcc::Xrgb8888)
            .context("XRGB8888 is in the table")?,
        ..sim_options.clone()
    };
    let secs = (args.seconds * 5.0).clamp(1.0, 10.0);
    progress(&format!(
        "remote: idle server CPU ({secs:.0} s each) and TigerVNC's Xvnc side by side"
    ));
    results.add(remote::server_figures(
        &runner.exe,
        &sim_child_args(&remote_sim, BenchSize::FULL_HD, true),
        secs,
        dir,
    )?);
    Ok(())
}

/// The viewer's frame time and idle CPU, in windows of their own.
fn window_figures(
    args: &BenchOptions,
    runner: &Runner,
    dir: &std::path::Path,
    label: &str,
    results: &mut Results,
) -> Result<()> {
    progress("viewer frame time");
    let secs = (args.seconds * 5.0).clamp(2.0, 30.0);
    results
        .figures
        .extend(processes::viewer_frame_time(runner, secs, dir, label)?);
    progress(&format!(
        "idle CPU: three viewer runs of {:.0} s",
        args.idle_seconds
    ));
    let idle_device = match args.target.sim() {
        Some(sim_options) => sim_child_args(
            sim_options,
            BenchSize {
                width: 1024,
                height: 768,
            },
            true,
        ),
        None => runner.device.clone(),
    };
    results.figures.extend(processes::idle_cpu(
        runner,
        &idle_device,
        args.idle_seconds,
        dir,
    )?);
    Ok(())
}

/// A private directory for the child processes' files, removed on drop.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    /// A new directory, private to this user (0700). It must not exist yet: a name in the
    /// shared temporary directory that someone else made (or linked) is never used.
    fn new() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        // The clock in the name: a directory an earlier run with this pid left is not in the way.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("vfio-display-bench-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
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
