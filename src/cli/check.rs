//! `check`: the conformance checker's command line, table and JSON.

use super::exit::Usage;
use super::target::DeviceArgs;
use crate::app::check::{self, CheckOptions, CheckRefused, CheckRun};
use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use vfio_display::conformance::{CATALOGUE, CheckDocument, Outcome, Report};
use vfio_display::device::DisplayDevice;

const AFTER_HELP: &str = "\
Checks whether a display mdev's driver honours the display uAPI of linux/vfio.h: device info,
region info (capability chains, the argsz protocol, read() against mmap), planes (PROBE, fields
against their buffers, ids across frames and mode changes, the cursor), dma-bufs, the EDID region
(registers, sizes, the update protocol) and IRQs (eventfds, loopback, automask). Each check has a
stable id, the header's rule, a result (pass, fail, warn, skip) and the evidence.

The checker writes to the device: it runs the EDID update protocol (and puts the original EDID
and link state back), triggers and masks IRQs, and resets the device at the end. With --drive
bochs it also programs the DISPI registers and draws into video memory, as a guest would. Use it
on a device no guest is using.

--allow-risky adds dmabuf.second-export, a second VFIO_DEVICE_GET_GFX_DMABUF for a dma-buf id
whose first fd is open: the header allows it, but it CRASHES THE KERNEL with the stock mbochs
sample driver (a use-after-free), so it only runs when asked.

Exit codes: 0 no check failed (warnings allowed), 1 a check failed or the device could not be
opened, 2 bad usage.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Drive {
    /// The Bochs DISPI interface of mbochs-like devices (registers in BAR2, video memory in BAR0).
    Bochs,
}

/// The help's epilogue: what the checker does, then the catalogue.
fn after_help() -> String {
    let mut text = format!("{AFTER_HELP}\n\nThe checks (ids for --only):\n");
    for spec in CATALOGUE {
        text.push_str(&format!("  {:<38} {}\n", spec.id, spec.section));
    }
    text
}

#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct CheckArgs {
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Only these check ids (comma separated; `--help` lists them).
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    only: Vec<String>,
    /// Play the guest's display driver to set modes (otherwise the checker uses what the guest
    /// shows and skips the mode-change checks). The simulator is always driven.
    #[arg(long, value_enum)]
    drive: Option<Drive>,
    /// Also run checks that crash buggy drivers (see below).
    #[arg(long)]
    allow_risky: bool,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

pub fn run(args: &CheckArgs) -> Result<()> {
    let options = CheckOptions {
        only: args.only.clone(),
        allow_risky: args.allow_risky,
        drive_bochs: args.drive == Some(Drive::Bochs),
    };
    let run = check::run(args.target.target()?, &options).map_err(|err| {
        match err.downcast::<CheckRefused>() {
            Ok(refused) => Usage(refused.to_string()).into(),
            Err(other) => other,
        }
    })?;
    let CheckRun {
        device,
        driven_as,
        report,
    } = run;
    if args.json {
        let document = CheckDocument::new(device.name(), device.backend(), driven_as, &report);
        outln!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print_table(device.as_ref(), &report, driven_as)?;
    }
    let failed = report.count(Outcome::Fail);
    if failed > 0 {
        return Err(anyhow!(
            "{failed} of {} checks failed on {}",
            report.results.len(),
            device.name()
        ));
    }
    Ok(())
}

fn summary(report: &Report) -> String {
    [Outcome::Pass, Outcome::Fail, Outcome::Warn, Outcome::Skip]
        .iter()
        .map(|o| format!("{} {}", report.count(*o), o.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_table(dev: &dyn DisplayDevice, report: &Report, driven_as: Option<&str>) -> Result<()> {
    outln!(
        "Conformance of {} ({}):",
        dev.name(),
        driven_as.map_or("not driven: what the guest shows".to_string(), |d| format!(
            "driven as the {d}"
        ))
    );
    for r in &report.results {
        let mark = match r.result {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
        };
        outln!("  {mark}  {:<38} {}", r.id, r.evidence);
        if r.result == Outcome::Fail {
            outln!("        {:<38} rule ({}): {}", "", r.section, r.rule);
        }
    }
    outln!("{}", summary(report));
    Ok(())
}
