//! Command-line front end: argument parsing, device opening, and one module per subcommand.

mod advice;
mod args;
mod bench;
mod check;
mod docs;
mod edid;
mod exit;
mod guest_ci;
mod info;
mod list;
mod record;
mod screenshot;
mod serve;
mod target;
#[cfg(feature = "viewer")]
mod view;
mod vmm;

use crate::app::{output, signals};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
DEVICE is an mdev UUID (see `vfio-display list`) or its sysfs path; --device-fd N adopts an open
VFIO device fd passed by a VMM; --sim uses the built-in simulated vGPU.

Exit codes: 0 success, 1 error, 2 bad usage, 3 no plane (the display is off, or --timeout expired),
4 the VM ended under attach (the command stopped and let go of the device), 5 the device's driver
asked for it back (the command let go of it).";

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
    /// Record the guest screen to a lossless animated PNG: every changed picture, with its time.
    Record(record::RecordArgs),
    /// Serve the guest screen over VNC (RFB) and WebSocket (noVNC in a browser), on
    /// 127.0.0.1:5900 unless --listen says otherwise.
    #[command(mut_arg("device", |a| a.required_unless_present_any(["all"])))]
    Serve(Box<serve::ServeArgs>),
    /// Generate, decode, write and hot-swap EDIDs.
    Edid(edid::EdidArgs),
    /// Watch the guest desktop in a window (overlay: F1, scale: F3, fullscreen: F11, screenshot:
    /// F12); with a VMM channel (--qmp, run, attach --qmp) keys and pointer go to the guest, and
    /// Ctrl+Alt+G grabs every key.
    #[cfg(feature = "viewer")]
    View(view::ViewArgs),
    /// The viewer on the built-in simulated vGPU.
    #[cfg(feature = "viewer")]
    Demo(view::DemoArgs),
    /// Measure: plane queries, each import path beside memcpy, cached-frame CPU, interrupt
    /// latency, screenshot end to end, viewer frame time and idle CPU.
    Bench(bench::BenchArgs),
    /// Check a display mdev driver against the display uAPI: regions, planes, dma-bufs, EDID,
    /// IRQs; a table (or --json) of pass, fail, warn and skip with the evidence.
    Check(check::CheckArgs),
    /// Guest CI: wait until a needle (openQA's format) with one of the tags matches the screen.
    Wait(guest_ci::WaitCommand),
    /// Guest CI: wait for a needle, then click its click point.
    Click(guest_ci::ClickCommand),
    /// Guest CI: press keys (openQA's names: ret, esc, ctrl-alt-delete, alt-f2, ...).
    Key(guest_ci::KeyCommand),
    /// Guest CI: type text, a key at a time, at openQA's rate.
    Type(guest_ci::TypeCommand),
    /// Guest CI: wait until the screen holds still.
    WaitStill(guest_ci::WaitStillCommand),
    /// Guest CI: wait until the screen changes.
    WaitChange(guest_ci::WaitChangeCommand),
    /// Guest CI: run a test script, one step per line (wait, click, key, type, wait-still,
    /// wait-change, screenshot).
    Script(guest_ci::ScriptCommand),
    /// Start QEMU with the device and run a command (view by default; screenshot, record,
    /// serve, info, edid, check, a guest-CI step) on it beside the guest, for the VM's
    /// lifetime; --edid sets the monitor before the guest boots.
    Run(vmm::RunArgs),
    /// Run a command (view, screenshot, record, serve, info, edid, check, bench, a guest-CI
    /// step) on the device of a QEMU that is already running (--pid, or --vm for a libvirt
    /// domain), until QEMU ends.
    Attach(vmm::AttachArgs),
    /// Print shell completions for bash, zsh or fish.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff).
    Man(docs::ManArgs),
}

impl Command {
    /// The simulator's options, for the commands that can run on a device.
    fn sim_args(&self) -> Option<&target::SimArgs> {
        match self {
            Command::Info(a) => Some(&a.target.sim_opts),
            Command::Screenshot(a) => Some(&a.target.sim_opts),
            Command::Record(a) => Some(&a.target.sim_opts),
            Command::Serve(a) => Some(&a.target.sim_opts),
            Command::Edid(a) => a.sim_args(),
            #[cfg(feature = "viewer")]
            Command::View(a) => Some(&a.target.sim_opts),
            #[cfg(feature = "viewer")]
            Command::Demo(a) => Some(&a.sim),
            Command::Bench(a) => Some(&a.target.sim_opts),
            Command::Check(a) => Some(&a.target.sim_opts),
            Command::Wait(_)
            | Command::Click(_)
            | Command::Key(_)
            | Command::Type(_)
            | Command::WaitStill(_)
            | Command::WaitChange(_)
            | Command::Script(_) => self.guest_ci().map(|c| &c.target().sim_opts),
            Command::List(_)
            | Command::Run(_)
            | Command::Attach(_)
            | Command::Completions(_)
            | Command::Man(_) => None,
        }
    }

    /// Reads the guest's frames (and so exports dma-bufs), as opposed to queries and EDID:
    /// `attach` refuses those exports where QEMU's own display makes them unsafe.
    fn reads_frames(&self) -> bool {
        match self {
            #[cfg(feature = "viewer")]
            Command::View(_) => true,
            Command::Screenshot(_)
            | Command::Record(_)
            | Command::Serve(_)
            | Command::Check(_)
            | Command::Bench(_) => true,
            _ => self.guest_ci().is_some(),
        }
    }

    /// Takes `--qmp`: sends keys and pointer to the guest (bench times them).
    fn takes_input(&self) -> bool {
        match self {
            #[cfg(feature = "viewer")]
            Command::View(_) => true,
            Command::Serve(_) | Command::Bench(_) => true,
            _ => self.guest_ci().is_some(),
        }
    }

    /// The guest-CI commands, as one type.
    fn guest_ci(&self) -> Option<guest_ci::CiCommand<'_>> {
        use guest_ci::CiCommand;
        Some(match self {
            Command::Wait(c) => CiCommand::Wait(c),
            Command::Click(c) => CiCommand::Click(c),
            Command::Key(c) => CiCommand::Key(c),
            Command::Type(c) => CiCommand::Type(c),
            Command::WaitStill(c) => CiCommand::WaitStill(c),
            Command::WaitChange(c) => CiCommand::WaitChange(c),
            Command::Script(c) => CiCommand::Script(c),
            _ => return None,
        })
    }

    /// `--sim-fault help`: the list of faults instead of the command.
    fn wants_fault_list(&self) -> bool {
        self.sim_args()
            .is_some_and(|s| s.sim_fault == args::FaultArg::List)
    }
}

/// Whether `name` is one of this program's commands.
fn is_command_name(name: &str) -> bool {
    use clap::CommandFactory;
    Cli::command().find_subcommand(name).is_some()
}

/// Whether a clap command takes `--device-fd`: that is what running on a display device means.
fn takes_device_fd(command: &clap::Command) -> bool {
    command.get_arguments().any(|a| a.get_id() == "device_fd")
}

/// Whether the command `words` name (with its subcommand, for `edid`) has the option `id`, as
/// clap's own definition of the commands says: asked before the words parse, and no list of
/// names to keep in step.
fn command_has_option(words: &[String], id: &str) -> bool {
    use clap::CommandFactory;
    let cli = Cli::command();
    let Some(mut command) = words.first().and_then(|w| cli.find_subcommand(w)) else {
        return false;
    };
    if command.has_subcommands() {
        match words.get(1).and_then(|w| command.find_subcommand(w)) {
            Some(sub) => command = sub,
            None => return false,
        }
    }
    command.get_arguments().any(|a| a.get_id() == id)
}

/// Whether `words` name a command that runs on a display device (`edid` with one of its device
/// subcommands).
fn runs_on_a_device(words: &[String]) -> bool {
    command_has_option(words, "device_fd")
}

/// The commands that run on a display device and share one with a VM (`demo` makes its own).
fn device_command_names() -> Vec<String> {
    use clap::CommandFactory;
    Cli::command()
        .get_subcommands()
        .filter(|c| c.get_name() != "demo")
        .filter(|c| takes_device_fd(c) || c.get_subcommands().any(takes_device_fd))
        .map(|c| c.get_name().to_string())
        .collect()
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            return match print_clap(&err) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                Err(failed) => finish(Err(failed)),
            };
        }
    };
    init_logging(cli.verbose);
    if cli.command.wants_fault_list() {
        // Like --help: the list on stdout and success, before any command runs.
        let printed = output::stdio::write_out(format_args!("{}", args::fault_list()));
        return finish(printed.map_err(anyhow::Error::from));
    }
    let result = dispatch(cli.command);
    finish(result.and_then(|()| Ok(output::stdio::flush_out()?)))
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    let result = dispatch_command(command);
    // The device's driver asked for it back and the command let go: that is how it ended.
    if let Some(removed) = crate::app::removal::requested() {
        if let Err(err) = &result {
            tracing::debug!("the command after the device's removal: {err:#}");
        }
        return Err(removed.into());
    }
    result
}

fn dispatch_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List(args) => list::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Screenshot(args) => screenshot::run(&args),
        Command::Record(args) => record::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Edid(args) => edid::run(&args),
        #[cfg(feature = "viewer")]
        Command::View(args) => view::run(&args),
        #[cfg(feature = "viewer")]
        Command::Demo(args) => view::demo(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => vmm::run(&args),
        Command::Attach(args) => vmm::attach(&args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
        Command::Wait(c) => guest_ci::run(guest_ci::CiCommand::Wait(&c)),
        Command::Click(c) => guest_ci::run(guest_ci::CiCommand::Click(&c)),
        Command::Key(c) => guest_ci::run(guest_ci::CiCommand::Key(&c)),
        Command::Type(c) => guest_ci::run(guest_ci::CiCommand::Type(&c)),
        Command::WaitStill(c) => guest_ci::run(guest_ci::CiCommand::WaitStill(&c)),
        Command::WaitChange(c) => guest_ci::run(guest_ci::CiCommand::WaitChange(&c)),
        Command::Script(c) => guest_ci::run(guest_ci::CiCommand::Script(&c)),
    }
}

/// Parses `words` as a command on device fd `fd` (`--device-fd` appended), as `run` and
/// `attach` give it. A usage error or --help prints as it would at the top level and exits.
fn parse_inner(words: &[String], fd: i32) -> anyhow::Result<Command> {
    match try_parse_on(words, &["--device-fd".to_string(), fd.to_string()]) {
        Ok(command) => Ok(command),
        Err(err) => std::process::exit(print_clap(&err)?),
    }
}

/// Parses `words` as a command on the device that `device` (options) names.
fn try_parse_on(words: &[String], device: &[String]) -> Result<Command, clap::Error> {
    let argv = std::iter::once("vfio-display".to_string())
        .chain(words.iter().cloned())
        .chain(device.iter().cloned());
    Cli::try_parse_from(argv).map(|cli| cli.command)
}

/// Prints what clap has to say instead of a command and returns its exit code. Help and the
/// version go to stdout, where a failure to write (a full disk, a closed pipe) is returned to be
/// reported like every other print's; clap's own `exit` ignores it and exits 0. A usage error
/// goes to stderr, whose failure has nowhere to be reported.
fn print_clap(err: &clap::Error) -> anyhow::Result<i32> {
    if err.use_stderr() {
        let _ = err.print();
    } else {
        err.print().map_err(output::stdio::StdoutError)?;
        output::stdio::flush_out()?;
    }
    Ok(err.exit_code())
}

/// Runs `words` as a command on the open device fd `fd`, which it takes over.
fn run_inner(words: &[String], fd: i32) -> anyhow::Result<()> {
    dispatch(parse_inner(words, fd)?)
}

/// Turns a command's outcome into the process's end: success, one error line and its exit
/// code, or (after the command cleaned up) death by the signal that interrupted it or by
/// SIGPIPE when the reader of stdout went away, as shells and `head` expect.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    let err = match result {
        Ok(()) => {
            if let Some(signal) = signals::signal_received() {
                signals::reraise(signal);
            }
            return ExitCode::SUCCESS;
        }
        Err(err) => err,
    };
    let broken_pipe = err
        .chain()
        .filter_map(|e| e.downcast_ref::<output::stdio::StdoutError>())
        .any(output::stdio::StdoutError::is_broken_pipe);
    if broken_pipe {
        signals::reraise(nix::sys::signal::Signal::SIGPIPE);
    }
    // An error caused by the interruption (EINTR from a wait) is not worth a line of its own.
    if let Some(signal) = signals::signal_received() {
        if err.downcast_ref::<signals::Interrupted>().is_none() {
            tracing::debug!("after {}: {err:#}", signal.as_str());
        }
        signals::reraise(signal);
    }
    // The VM's end under `attach`, or the device's removal, is how the command ends, not a
    // failure of its own.
    if err
        .downcast_ref::<crate::app::vmm::lifetime::VmEnded>()
        .is_some()
        || err
            .downcast_ref::<crate::app::removal::DeviceRemoved>()
            .is_some()
    {
        errln!("vfio-display: {err}");
        return ExitCode::from(exit::code_for(&err));
    }
    // One line: the context chain joined with ": ", then what to do, never a backtrace.
    match advice::advice(&err) {
        Some(advice) => errln!("vfio-display: error: {err:#}; {advice}"),
        None => errln!("vfio-display: error: {err:#}"),
    }
    ExitCode::from(exit::code_for(&err))
}
