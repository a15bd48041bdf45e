//! `run` and `attach`: a command (view, screenshot, info, edid, check) on a device shared with
//! QEMU. The inner command is parsed like a top-level one, with the shared device's fd as its
//! `--device-fd`.

use super::exit::{ExitStatus, Usage};
use super::screenshot::parse_seconds;
use crate::app::signals::{self, Interrupts};
use crate::app::target::host_paths;
use crate::app::vmm::attach::{self, AttachOptions, LIBVIRT_RUN_DIR};
use crate::app::vmm::lifetime;
use crate::app::vmm::qemu::{QemuFailed, RunOptions, RunningVm};
use anyhow::{Context, Result};
use clap::Args;
use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// The commands `attach` runs on QEMU's device.
const ATTACH_COMMANDS: &[&str] = &[
    "view",
    "screenshot",
    "serve",
    "info",
    "edid",
    "check",
    "bench",
];

/// The commands `run` runs on the device it gives QEMU.
const RUN_COMMANDS: &[&str] = &["view", "screenshot", "serve", "info", "edid", "check"];

const ATTACH_AFTER_HELP: &str = "\
COMMAND is one of: view, screenshot, serve, info, edid show|set|link|hotswap, check, bench,
with its own options but no DEVICE (the device is QEMU's). For example:
  vfio-display attach --vm win11 view
  vfio-display attach --pid 4242 screenshot -o guest.png
  vfio-display attach --pid 4242 edid set --mode 1920x1080
  vfio-display attach --pid 4242 --qmp /run/vm1.qmp view      (keyboard and pointer too)

The device stays QEMU's: this process reads planes and may write the EDID, and never takes the
guest's interrupts, resets the device or writes its registers. pidfd_getfd needs ptrace rights
over QEMU (root, or QEMU's user where kernel.yama.ptrace_scope is 0); --vm reads libvirt's pid
file, which only root may read.

When QEMU ends, the command stops within a second, lets go of the device (so the VM can start
again) and attach exits with status 4, \"the VM ended\"; serve tells its clients so.";

#[derive(Debug, Clone, Args)]
#[command(after_help = ATTACH_AFTER_HELP)]
pub struct AttachArgs {
    /// QEMU's process id.
    #[arg(
        long,
        value_name = "PID",
        required_unless_present = "vm",
        conflicts_with = "vm"
    )]
    pid: Option<i32>,
    /// A libvirt domain: its QEMU is found through libvirt's pid file.
    #[arg(long, value_name = "NAME")]
    vm: Option<String>,
    /// The mdev (UUID), where QEMU holds more than one display device.
    #[arg(long, value_name = "UUID")]
    mdev: Option<String>,
    /// Export dma-bufs even where QEMU's own display (display=on) exports the same buffers;
    /// the mbochs sample driver crashes the kernel then.
    #[arg(long)]
    force: bool,
    /// QEMU's QMP socket: view and serve send keys and pointer to the guest through it (a
    /// socket QEMU serves with -qmp unix:PATH,server=on,wait=off, not libvirt's own).
    #[arg(long, value_name = "PATH")]
    qmp: Option<PathBuf>,
    /// For tests: take fd N of the process as a stand-in for its device and run the command
    /// on the simulator (shared), as if it were QEMU's device.
    #[arg(long, value_name = "N", hide = true)]
    sim_stand_in: Option<i32>,
    /// The command to run on QEMU's device, with its options.
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

const RUN_AFTER_HELP: &str = "\
COMMAND is one of: view (the default), screenshot, serve, info, edid show|link|hotswap, check,
with its own options but no DEVICE. Everything after -- is QEMU's command line; run adds the device
(-object iommufd, -device vfio-pci,fd=N,sysfsdev=...,display=off), QMP sockets of its own and,
unless the command line has one, a virtio tablet: view and serve send the guest keys and
pointer through QMP.
For example:
  vfio-display run UUID --edid 1920x1080 -- qemu-system-x86_64 -m 4G -hda guest.img
  vfio-display run UUID screenshot --count 60 --interval 5000 -o boot.png -- qemu-system-x86_64 ...

With --edid, QEMU starts paused, the EDID is written with the hot-plug protocol, then the guest
runs: its display driver reads the EDID at load. When QEMU exits, the command ends and run exits
with QEMU's status; when the command ends first (the window closed, the screenshots taken) or on
Ctrl+C, QEMU is asked to quit. Needs the iommufd device cdev (/dev/vfio/devices/vfioN).";

#[derive(Debug, Clone, Args)]
#[command(after_help = RUN_AFTER_HELP)]
pub struct RunArgs {
    /// The mdev to give QEMU: its UUID or sysfs path.
    #[arg(value_name = "DEVICE")]
    device: String,
    /// Write this EDID before the guest starts: a mode (WxH or WxH@HZ) or an EDID file.
    #[arg(long, value_name = "MODE|FILE")]
    edid: Option<String>,
    /// Seconds QEMU may take to come up (its QMP greeting).
    #[arg(long, value_name = "S", default_value = "120", value_parser = parse_seconds)]
    startup_timeout: f64,
    /// The command to run on the shared device with its options (default: view), then `--`
    /// and QEMU's program and arguments.
    #[arg(
        value_name = "COMMAND -- QEMU",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    rest: Vec<String>,
}

impl RunArgs {
    /// The command's words and QEMU's, split at the first `--`.
    fn split(&self) -> Result<(Vec<String>, Vec<String>)> {
        let Some(at) = self.rest.iter().position(|w| w == "--") else {
            // `run DEVICE -- qemu ...`: clap takes a `--` that comes before any value itself,
            // so the words are all QEMU's, unless they start with a command of ours.
            let first = self.rest.first().map(String::as_str).unwrap_or("");
            if !COMMANDS.contains(&first) {
                return Ok((Vec::new(), self.rest.clone()));
            }
            return Err(Usage(
                "give QEMU's command line after --, for example: vfio-display run UUID -- \
                 qemu-system-x86_64 -m 2G ..."
                    .into(),
            )
            .into());
        };
        let command = self.rest[..at].to_vec();
        let qemu = self.rest[at + 1..].to_vec();
        if qemu.is_empty() {
            return Err(Usage("nothing after --: give QEMU's program and arguments".into()).into());
        }
        Ok((command, qemu))
    }
}

/// Every command name, to tell a command from QEMU's program.
const COMMANDS: &[&str] = &[
    "view",
    "screenshot",
    "serve",
    "info",
    "edid",
    "check",
    "bench",
    "list",
    "demo",
    "run",
    "attach",
];

/// Commands that take a device; `edid` needs one of its device subcommands.
fn check_command(words: &[String], allowed: &[&str]) -> Result<()> {
    let first = words.first().map(String::as_str).unwrap_or("");
    let ok = match first {
        "edid" => matches!(
            words.get(1).map(String::as_str),
            Some("show" | "set" | "link" | "hotswap")
        ),
        other => allowed.contains(&other),
    };
    if !ok {
        return Err(Usage(format!(
            "'{}' cannot run on a VM's device; use one of: {}",
            words.join(" "),
            allowed.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// The command's words with `--qmp PATH` added, for the commands that take input; an error
/// for the others.
fn with_input(words: &[String], path: &std::path::Path) -> Result<Vec<String>> {
    let first = words.first().map(String::as_str).unwrap_or("");
    if !matches!(first, "view" | "serve" | "bench") {
        return Err(Usage(format!(
            "--qmp gives keyboard and pointer to view and serve (and bench times keys through \
             it), not to '{first}'"
        ))
        .into());
    }
    let mut words = words.to_vec();
    if !words
        .iter()
        .any(|w| w == "--qmp" || w.starts_with("--qmp="))
    {
        words.push("--qmp".into());
        words.push(path.to_string_lossy().into_owned());
    }
    Ok(words)
}

/// Parses the command's words as `run` or `attach` will run them, so that their errors and
/// --help come before anything starts. A usage error speaks of what the user typed: the
/// device option this program adds is not theirs, and the usage line is the whole command's
/// (`before` the command's words and `after` them).
fn check_words(words: &[String], before: &str, after: &str) -> Result<()> {
    use clap::error::ErrorKind;
    let err = match super::try_parse_on(words, &["--device-fd".to_string(), "0".to_string()]) {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    Err(Usage(inner_usage(
        &err.render().to_string(),
        &words[0],
        before,
        after,
    ))
    .into())
}

/// Clap's usage error for the inner `command`, rewritten for the whole command line.
fn inner_usage(text: &str, command: &str, before: &str, after: &str) -> String {
    let text = text.trim_end();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let first = text.lines().next().unwrap_or("");
    if first.contains("--device-fd") {
        return format!(
            "'{command}' takes no DEVICE, --device-fd or --sim here: it runs on the VM's device"
        );
    }
    let mut lines: Vec<String> = Vec::new();
    // Clap's tip about `--` is wrong here: under `run`, `--` starts QEMU's command line.
    for line in text
        .lines()
        .filter(|line| !line.trim_start().starts_with("tip: to pass"))
    {
        if line.is_empty() && lines.last().is_some_and(String::is_empty) {
            continue;
        }
        lines.push(match line.strip_prefix("Usage: vfio-display ") {
            Some(usage) => {
                let usage = usage
                    .replace(" --device-fd <N>", "")
                    .replace(" [DEVICE]", "")
                    .replace(" <DEVICE>", "");
                format!("Usage: vfio-display {before} {usage}{after}")
            }
            None => line.to_string(),
        });
    }
    lines.join("\n")
}

/// True for commands that read frames (and so export dma-bufs), as opposed to queries and EDID.
fn exports(words: &[String]) -> bool {
    matches!(
        words.first().map(String::as_str),
        Some("view" | "screenshot" | "serve" | "check" | "bench")
    )
}

pub fn attach(args: &AttachArgs) -> Result<()> {
    check_command(&args.command, ATTACH_COMMANDS)?;
    let command = match &args.qmp {
        Some(path) => with_input(&args.command, path)?,
        None => args.command.clone(),
    };
    // The command's own errors (and --help) come before anything touches QEMU.
    check_words(&command, "attach --pid PID|--vm NAME", "")?;
    let paths = host_paths();
    let attached = attach::attach(
        &AttachOptions {
            pid: args.pid,
            vm: args.vm.clone(),
            mdev: args.mdev.clone(),
            force: args.force,
            exports: exports(&args.command),
            libvirt_run_dir: PathBuf::from(LIBVIRT_RUN_DIR),
            stand_in_fd: args.sim_stand_in,
        },
        &paths,
    )?;
    tracing::info!("attached to {}", attached.what);
    let pid = attached.pid;
    lifetime::watch(attached.pidfd, pid, ExitStatus::VmEnded as u8);
    let result = match args.sim_stand_in {
        // The stand-in fd is held while the command runs, as the device's would be.
        Some(_) => {
            let _stand_in = attached.fd;
            let sim = ["--sim".to_string(), "--sim-shared".to_string()];
            super::try_parse_on(&command, &sim)
                .map_err(anyhow::Error::from)
                .and_then(super::dispatch)
        }
        None => super::run_inner(&command, attached.fd.into_raw_fd()),
    };
    lifetime::finished();
    if let Some(ended) = lifetime::ended(pid) {
        // The VM's end stopped the command: what the command said about it is no error.
        if let Err(err) = &result {
            tracing::debug!("the command after the VM ended: {err:#}");
        }
        return Err(ended.into());
    }
    result
}

pub fn run(args: &RunArgs) -> Result<()> {
    let (command, qemu) = args.split()?;
    let command = if command.is_empty() {
        vec!["view".to_string()]
    } else {
        command
    };
    check_command(&command, RUN_COMMANDS)?;
    if command.first().map(String::as_str) == Some("edid")
        && command.get(1).map(String::as_str) == Some("set")
    {
        return Err(Usage(
            "use run --edid MODE|FILE: it writes the EDID before the guest starts".into(),
        )
        .into());
    }
    check_words(&command, "run DEVICE", " -- QEMU...")?;
    let edid_command = args.edid.as_ref().map(|edid| {
        let source = if edid.parse::<vfio_display::edid::Mode>().is_ok() {
            "--mode"
        } else {
            "--file"
        };
        vec![
            "edid".to_string(),
            "set".into(),
            source.into(),
            edid.clone(),
        ]
    });
    if let Some(words) = &edid_command {
        super::parse_inner(words, 0)?;
        if words[2] == "--file" {
            check_edid_file(std::path::Path::new(&words[3]))?;
        }
    }
    let interrupts = Interrupts::install()?;
    let paths = host_paths();
    let mut vm = RunningVm::start(
        &RunOptions {
            mdev: args.device.clone(),
            qemu,
            paused: edid_command.is_some(),
            startup_timeout: Duration::from_secs_f64(args.startup_timeout),
        },
        &paths,
        &interrupts,
    )?;
    errln!(
        "vfio-display: QEMU (pid {}) is up and shares {}",
        vm.pid(),
        args.device
    );
    let mut result = Ok(());
    if let Some(words) = &edid_command {
        result = vm
            .device_fd()
            .and_then(|fd| super::run_inner(words, fd.into_raw_fd()))
            .context("writing the EDID before the guest starts");
    }
    if result.is_ok() {
        result = vm.resume().context("letting the guest run (QMP cont)");
    }
    if result.is_ok() {
        let command = if matches!(command[0].as_str(), "view" | "serve") {
            with_input(&command, vm.input_socket()).unwrap_or_else(|_| command.clone())
        } else {
            command
        };
        result = vm
            .device_fd()
            .and_then(|fd| super::run_inner(&command, fd.into_raw_fd()));
    }
    let (status, by_itself) = vm.stop();
    if by_itself && signals::signal_received().is_none() {
        // The VM ended: that is what stopped the command, not an error of its own.
        let interrupted = result
            .as_ref()
            .err()
            .is_some_and(|e| e.downcast_ref::<signals::Interrupted>().is_some());
        if interrupted {
            result = Ok(());
        }
        errln!("vfio-display: the VM ended ({})", describe_status(status));
        result?;
        return if status.success() {
            Ok(())
        } else {
            Err(QemuFailed(status).into())
        };
    }
    result
}

/// Reads and decodes `run --edid FILE` before QEMU starts, so that a wrong file ends `run`
/// at once rather than after QEMU came up (as `edid set` would refuse it, without --force).
fn check_edid_file(path: &std::path::Path) -> Result<()> {
    let shown = path.display();
    let blob = crate::app::input::read_edid_file(path).with_context(|| {
        format!("--edid {shown} is neither a mode (WxH or WxH@HZ) nor a readable EDID file")
    })?;
    match vfio_display::edid::decode(&blob) {
        Err(err) => anyhow::bail!("--edid {shown}: not an EDID: {err}"),
        Ok(decoded) if !decoded.problems.is_empty() => {
            anyhow::bail!("--edid {shown}: {}", decoded.problems.join("; "))
        }
        Ok(_) => Ok(()),
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    QemuFailed(status)
        .to_string()
        .trim_start_matches("QEMU ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "COMMAND is one of" sentence of a help text, up to its first full stop.
    fn listed(help: &str) -> &str {
        let from = help.find("COMMAND is one of:").unwrap_or(0);
        let rest = &help[from..];
        &rest[..rest.find('.').unwrap_or(rest.len())]
    }

    fn usage_error(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        check_words(&words, "attach --pid PID|--vm NAME", "")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn usage_errors_speak_of_what_the_user_typed() {
        let err = usage_error(&["screenshot", "1234"]);
        assert_eq!(
            err,
            "'screenshot' takes no DEVICE, --device-fd or --sim here: it runs on the VM's device"
        );
        let err = usage_error(&["screenshot", "--sim"]);
        assert!(err.starts_with("'screenshot' takes no DEVICE"), "{err}");
        let err = usage_error(&["edid", "set"]);
        assert!(err.starts_with("the following required arguments"), "{err}");
        assert!(
            err.contains("Usage: vfio-display attach --pid PID|--vm NAME edid set --mode"),
            "{err}"
        );
        let err = usage_error(&["screenshot", "--bogus"]);
        assert!(err.starts_with("unexpected argument '--bogus'"), "{err}");
        assert!(
            !err.contains("--device-fd") && !err.contains("tip:"),
            "{err}"
        );
        assert!(!err.contains("\n\n\n"), "{err}");
        assert!(
            err.contains("Usage: vfio-display attach --pid PID|--vm NAME screenshot"),
            "{err}"
        );
    }

    #[test]
    fn help_texts_list_every_command_run_and_attach_accept() {
        for (help, commands) in [
            (ATTACH_AFTER_HELP, ATTACH_COMMANDS),
            (RUN_AFTER_HELP, RUN_COMMANDS),
        ] {
            let sentence = listed(help);
            for command in commands {
                assert!(sentence.contains(command), "{command} in {sentence:?}");
            }
        }
    }
}
