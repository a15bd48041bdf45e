//! `vfio-display bench`: its options, checked and parsed into the benchmark's plain options.

use super::args::{FaultArg, parse_bench_size, parse_clients, parse_seconds};
use super::exit::Usage;
use super::target::DeviceArgs;
use crate::app::bench::{self, BenchOptions, BenchSize, FleetSize};
use crate::app::target::DEFAULT_SIM_MODE;
use anyhow::Result;
use clap::Args;
use vfio_display::device::sim::SimFault;

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
    /// The VMM's QMP socket: adds key to guest echo, the time from a key sent to the guest
    /// until its screen shows the echo. It types a letter and erases it with Backspace, so the
    /// guest must have a text prompt with the focus and a screen that is otherwise still.
    #[arg(long, value_name = "PATH")]
    qmp: Option<std::path::PathBuf>,
    /// How many keys key to guest echo times.
    #[arg(long, value_name = "N", default_value = "20", value_parser = clap::value_parser!(u32).range(2..=1000))]
    keys: u32,
    /// The fleet figures: how many simulated devices one `serve --all` serves (0 leaves
    /// them out).
    #[arg(long, value_name = "N", default_value = "16", value_parser = clap::value_parser!(u32).range(0..=256))]
    fleet_devices: u32,
    /// The fleet figures: how many viewers each device has.
    #[arg(long, value_name = "N", default_value = "4", value_parser = parse_clients)]
    fleet_clients: usize,
    /// The fleet's guests' screen: 720p, 1080p, 1440p, 4k or WxH.
    #[arg(long, value_name = "SIZE", default_value = "1080p", value_parser = parse_bench_size)]
    fleet_size: BenchSize,
    /// Measure only the fleet figures (with --sim): idle CPU and memory per device, memory
    /// per client, connect to first picture, one busy guest among idle ones.
    #[arg(long)]
    fleet_only: bool,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    // The simulator options bench would silently override are refused instead.
    let sim = &args.target.sim_opts;
    if sim.sim_fault != FaultArg::Fault(SimFault::None) {
        return Err(Usage(
            "bench measures a healthy device: --sim-fault is for the other commands".into(),
        )
        .into());
    }
    if sim.sim_shared {
        return Err(Usage(
            "bench measures the simulator as its own device, with its interrupts: --sim-shared is \
             for the other commands (a device shared with a VMM is measured by \
             `vfio-display attach --pid PID bench`)"
                .into(),
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
    if args.fleet_only && (!args.target.sim || args.fleet_devices == 0) {
        return Err(Usage(
            "--fleet-only measures simulated devices: give --sim and at least one \
             --fleet-devices"
                .into(),
        )
        .into());
    }
    if args.qmp.is_some() && args.target.sim {
        return Err(Usage("--qmp: the simulator has no guest to type into".into()).into());
    }
    bench::run(&BenchOptions {
        sizes: args.sizes.clone(),
        seconds: args.seconds,
        idle_seconds: args.idle_seconds,
        screenshot_runs: args.screenshot_runs,
        no_window: args.no_window,
        json: args.json,
        qmp: args.qmp.clone(),
        keys: args.keys as usize,
        fleet: FleetSize {
            devices: args.fleet_devices as usize,
            clients: args.fleet_clients,
            size: args.fleet_size,
        },
        fleet_only: args.fleet_only,
        target: args.target.target()?,
    })
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
