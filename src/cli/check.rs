//! `check`: the conformance checker's command line, table and JSON.

use super::args::FaultArg;
use super::exit::Usage;
use super::target::DeviceArgs;
use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use vfio_display::conformance::{self, CATALOGUE, Options, Outcome, Report};
use vfio_display::device::DisplayDevice;
use vfio_display::device::guest::{BochsDriver, GuestDriver, SimDriver};
use vfio_display::device::sim::SimFault;

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
    let unknown = conformance::unknown_ids(&args.only);
    if !unknown.is_empty() {
        return Err(Usage(format!(
            "unknown check id {}; `vfio-display check --help` lists them",
            unknown.join(", ")
        ))
        .into());
    }
    let mut target = args.target.clone();
    if target.sim && target.sim_opts.sim_fault == FaultArg::Fault(SimFault::DeviceLost) {
        // The checks end long before the fault starts: they would all pass, proving nothing.
        return Err(Usage(
            "--sim-fault device-lost removes the device 2 s after the first plane query, after \
             the checks have ended; use --sim-fault query-enodev for a device that is gone"
                .into(),
        )
        .into());
    }
    if target.sim && target.sim_opts.sim_frame.is_none() {
        // A still guest: the checker's own mode changes and triggers are the only events.
        target.sim_opts.sim_frame = Some(0);
    }
    let dev = target.open()?;
    let bochs;
    let sim;
    let driver: Option<&dyn GuestDriver> = match (dev.as_sim(), args.drive) {
        // A shared device's modes are the guest's: the checker only reads what it shows.
        (_, Some(Drive::Bochs)) if dev.shared() => {
            return Err(super::exit::Usage(format!(
                "--drive bochs would write the guest's display registers, and {} is shared \
                 with the VMM that runs the guest; check a device no VMM holds to drive it",
                dev.name()
            ))
            .into());
        }
        (Some(_), _) if dev.shared() => None,
        (Some(s), _) => {
            sim = SimDriver(s);
            Some(&sim)
        }
        (None, Some(Drive::Bochs)) => {
            bochs = BochsDriver::new(dev.as_ref())
                .map_err(|e| anyhow!("--drive bochs on {}: {e}", dev.name()))?;
            Some(&bochs)
        }
        (None, None) => None,
    };
    let report = conformance::run(
        dev.as_ref(),
        &Options {
            only: args.only.clone(),
            allow_risky: args.allow_risky,
            driver,
        },
    );
    if args.json {
        print_json(dev.as_ref(), &report, driver)?;
    } else {
        print_table(dev.as_ref(), &report, driver)?;
    }
    let failed = report.count(Outcome::Fail);
    if failed > 0 {
        return Err(anyhow!(
            "{failed} of {} checks failed on {}",
            report.results.len(),
            dev.name()
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

fn print_table(
    dev: &dyn DisplayDevice,
    report: &Report,
    driver: Option<&dyn GuestDriver>,
) -> Result<()> {
    outln!(
        "Conformance of {} ({}):",
        dev.name(),
        driver.map_or("not driven: what the guest shows".to_string(), |d| format!(
            "driven as the {}",
            d.name()
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

/// The `check --json` document.
#[derive(serde::Serialize)]
struct CheckJson<'a> {
    device: String,
    backend: vfio_display::device::Backend,
    driven_as: Option<&'a str>,
    summary: Summary,
    checks: &'a [conformance::CheckResult],
    /// Each check's outcome by id, for `jq .by_id["planes.primary"]`.
    by_id: std::collections::BTreeMap<String, &'static str>,
}

#[derive(serde::Serialize)]
struct Summary {
    pass: usize,
    fail: usize,
    warn: usize,
    skip: usize,
}

fn print_json(
    dev: &dyn DisplayDevice,
    report: &Report,
    driver: Option<&dyn GuestDriver>,
) -> Result<()> {
    let counts = |o| report.count(o);
    let v = CheckJson {
        device: dev.name(),
        backend: dev.backend(),
        driven_as: driver.map(|d| d.name()),
        summary: Summary {
            pass: counts(Outcome::Pass),
            fail: counts(Outcome::Fail),
            warn: counts(Outcome::Warn),
            skip: counts(Outcome::Skip),
        },
        checks: &report.results,
        by_id: report
            .results
            .iter()
            .map(|r| (r.id.to_string(), r.result.name()))
            .collect(),
    };
    let v = serde_json::to_string_pretty(&v)?;
    outln!("{v}");
    Ok(())
}
