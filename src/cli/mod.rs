//! Command-line front end: argument parsing, device opening, and one module per subcommand.

mod bench;
mod check;
mod cpu_time;
mod edid;
mod exit;
mod info;
mod list;
mod output;
mod screenshot;
mod stats;
mod target;
mod view;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
DEVICE is an mdev UUID (see `vfio-display list`) or its sysfs path; --device-fd N adopts an open
VFIO device fd passed by a VMM; --sim uses the built-in simulated vGPU.

Exit codes: 0 success, 1 error, 2 bad usage, 3 no plane (the display is off, or --timeout expired).";

/// Front end for VFIO mediated display devices (vGPU mdevs): capture, inspect and test them.
#[derive(Debug, Parser)]
#[command(name = "vfio-display", version, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List mdev parent devices, their types with available instances, and existing mdevs.
    List(list::ListArgs),
    /// Show what a device offers: flags, regions with capabilities, IRQs, planes, EDID.
    Info(info::InfoArgs),
    /// Capture the guest screen to PNG, headless.
    Screenshot(screenshot::ScreenshotArgs),
    /// Generate, decode, write and hot-swap EDIDs.
    Edid(edid::EdidArgs),
    /// Watch the guest desktop in a window (overlay: F1, scale: F3, fullscreen: F11, screenshot: F12).
    View(view::ViewArgs),
    /// The viewer on the built-in simulated vGPU.
    Demo(view::DemoArgs),
    /// Measure: plane queries, each import path beside memcpy, cached-frame CPU, interrupt
    /// latency, screenshot end to end, viewer frame time and idle CPU.
    Bench(bench::BenchArgs),
    /// Check a display mdev driver against the display uAPI: regions, planes, dma-bufs, EDID,
    /// IRQs; a table (or --json) of pass, fail, warn and skip with the evidence.
    Check(check::CheckArgs),
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::List(args) => list::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Screenshot(args) => screenshot::run(&args),
        Command::Edid(args) => edid::run(&args),
        Command::View(args) => view::run(&args),
        Command::Demo(args) => view::demo(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Check(args) => check::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain joined with ": ", never a backtrace.
            eprintln!("vfio-display: error: {err:#}");
            ExitCode::from(exit::code_for(&err))
        }
    }
}
