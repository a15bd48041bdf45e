//! `run` and `attach`: a command (view, screenshot, info, edid, check) on a device shared with
//! QEMU. The inner command is parsed like a top-level one, with the shared device's fd as its
//! `--device-fd`.

use super::args::parse_seconds;
use super::exit::{ExitStatus, Usage};
use crate::app::vmm::attach::{AttachOptions, LIBVIRT_RUN_DIR};
use crate::app::vmm::beside::{self, AttachedDevice, RunSteps};
use crate::app::vmm::qemu::RunOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ATTACH_AFTER_HELP: &str = "\
COMMAND is one of: view, screenshot, record, serve, info, edid show|set|link|hotswap, check,
bench, or a guest-CI step (wait, click, key, type, wait-still, wait-change, script), with its
own options but no DEVICE (the device is QEMU's). For example:
  vfio-display attach --vm win11 view
  vfio-display attach --pid 4242 screenshot -o guest.png
  vfio-display attach --pid 4242 edid set --mode 1920x1080
  vfio-display attach --pid 4242 --qmp /run/vm1.qmp view      (keyboard and pointer too)
  vfio-display attach --vm win11 --qmp /run/vm1.qmp script boot-and-login.txt

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
COMMAND is one of: view (the default), screenshot, record, serve, info, edid show|link|hotswap,
check, or a guest-CI step (wait, click, key, type, wait-still, wait-change, script), with its
own options but no DEVICE. Everything after -- is QEMU's command line; run adds the device
(-object iommufd, -device vfio-pci,fd=N,sysfsdev=...,display=off), QMP sockets of its own and,
unless the command line has one, a virtio tablet: view, serve and the guest-CI steps send the
guest keys and pointer through QMP.
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
            if !super::is_command_name(first) {
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

/// Refuses words whose command does not run on a device (`list`, `edid decode`): only those
/// can run on a VM's device. Checked by name, before the words are parsed, so that the error
/// names the commands that can.
fn check_shares_device(words: &[String], refused: &[&str]) -> Result<()> {
    let names: Vec<String> = super::device_command_names()
        .into_iter()
        .filter(|name| !refused.contains(&name.as_str()))
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    if refused.contains(&first) || !super::runs_on_a_device(words) {
        return Err(Usage(format!(
            "'{}' cannot run on a VM's device; use one of: {}",
            words.join(" "),
            names.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// The command's words with `--qmp PATH` added (unless they have it): keyboard and pointer
/// for the commands that take input; an error for the others.
fn with_input(words: &[String], path: &std::path::Path) -> Result<Vec<String>> {
    if !super::command_has_option(words, "qmp") {
        let first = words.first().map(String::as_str).unwrap_or("");
        return Err(Usage(format!(
            "--qmp gives keyboard and pointer to view, serve and the guest-CI commands (wait, \
             click, key, type, script; bench times keys through it), not to '{first}'"
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
fn check_words(words: &[String], before: &str, after: &str) -> Result<super::Command> {
    use clap::error::ErrorKind;
    let err = match super::try_parse_on(words, &["--device-fd".to_string(), "0".to_string()]) {
        Ok(command) => return Ok(command),
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

pub fn attach(args: &AttachArgs) -> Result<()> {
    check_shares_device(&args.command, &[])?;
    let command = match &args.qmp {
        Some(path) => with_input(&args.command, path)?,
        None => args.command.clone(),
    };
    // The command's own errors (and --help) come before anything touches QEMU.
    let parsed = check_words(&command, "attach --pid PID|--vm NAME", "")?;
    let options = AttachOptions {
        pid: args.pid,
        vm: args.vm.clone(),
        mdev: args.mdev.clone(),
        force: args.force,
        exports: parsed.reads_frames(),
        libvirt_run_dir: PathBuf::from(LIBVIRT_RUN_DIR),
        stand_in_fd: args.sim_stand_in,
    };
    beside::attach_and_run(&options, ExitStatus::VmEnded as u8, |device| match device {
        AttachedDevice::StandIn => {
            let sim = ["--sim".to_string(), "--sim-shared".to_string()];
            super::try_parse_on(&command, &sim)
                .map_err(anyhow::Error::from)
                .and_then(super::dispatch)
        }
        AttachedDevice::Fd(fd) => super::run_inner(&command, fd.into_raw_fd()),
    })
}

pub fn run(args: &RunArgs) -> Result<()> {
    let (command, qemu) = args.split()?;
    let command = if command.is_empty() {
        vec!["view".to_string()]
    } else {
        command
    };
    // bench measures processes of its own that open the device: run keeps it to itself.
    check_shares_device(&command, &["bench"])?;
    if command.len() >= 2 && command[0] == "edid" && command[1] == "set" {
        return Err(Usage(
            "use run --edid MODE|FILE: it writes the EDID before the guest starts".into(),
        )
        .into());
    }
    let parsed = check_words(&command, "run DEVICE", " -- QEMU...")?;
    let edid_command = args.edid.as_deref().map(edid_words).transpose()?;
    let takes_input = parsed.takes_input();
    let steps = RunSteps {
        edid: edid_command
            .map(|words| move |fd: OwnedFd| super::run_inner(&words, fd.into_raw_fd())),
        command: |fd: OwnedFd, input: &Path| {
            let command = if takes_input {
                with_input(&command, input)?
            } else {
                command
            };
            super::run_inner(&command, fd.into_raw_fd())
        },
    };
    beside::run_with_vm(
        RunOptions {
            mdev: args.device.clone(),
            qemu,
            paused: false,
            startup_timeout: Duration::from_secs_f64(args.startup_timeout),
        },
        steps,
    )
}

/// `run --edid MODE|FILE` as the `edid set` words it runs, checked before QEMU starts.
fn edid_words(edid: &str) -> Result<Vec<String>> {
    let source = if edid.parse::<vfio_display::edid::Mode>().is_ok() {
        "--mode"
    } else {
        "--file"
    };
    let words = vec!["edid".to_string(), "set".into(), source.into(), edid.into()];
    super::parse_inner(&words, 0)?;
    if source == "--file" {
        check_edid_file(Path::new(edid))?;
    }
    Ok(words)
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
        for (help, refused) in [
            (ATTACH_AFTER_HELP, &[][..]),
            (RUN_AFTER_HELP, &["bench"][..]),
        ] {
            let sentence = listed(help);
            for command in super::super::device_command_names() {
                assert_eq!(
                    sentence.contains(&command),
                    !refused.contains(&command.as_str()),
                    "{command} in {sentence:?}"
                );
            }
        }
    }

    #[test]
    fn the_parsed_command_and_its_definition_agree_on_input() {
        for name in super::super::device_command_names() {
            let mut words = vec![name.clone()];
            if name == "edid" {
                words.push("show".into());
            }
            if name == "screenshot" || name == "record" {
                words.extend(["-o".to_string(), "x.png".to_string()]);
            }
            // The guest-CI steps' own words.
            match name.as_str() {
                "wait" | "click" => words.push("login".into()),
                "key" => words.push("ret".into()),
                "type" | "script" => words.push("x".into()),
                _ => {}
            }
            let parsed = check_words(&words, "attach", "").unwrap();
            assert_eq!(
                parsed.takes_input(),
                super::super::command_has_option(&words, "qmp"),
                "{name}"
            );
        }
    }

    #[test]
    fn commands_without_a_device_are_refused_by_name() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = check_shares_device(&words(&["list"]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("'list' cannot run on a VM's device"),
            "{err}"
        );
        for name in [
            "view",
            "screenshot",
            "serve",
            "info",
            "edid",
            "check",
            "bench",
        ] {
            assert!(err.contains(name), "{name} in {err}");
        }
        assert!(!err.contains("demo") && !err.contains("attach"), "{err}");
        assert!(check_shares_device(&words(&["edid", "decode", "x.bin"]), &[]).is_err());
        assert!(check_shares_device(&words(&["edid", "show"]), &[]).is_ok());
        assert!(check_shares_device(&words(&["bench"]), &["bench"]).is_err());
        assert!(check_shares_device(&words(&["screenshot"]), &["bench"]).is_ok());
    }
}
