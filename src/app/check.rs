//! `check`'s device policy: which device runs the checks, whether the checker may play the
//! guest's display driver on it, and what a run on the simulator means.

use crate::app::target::Target;
use anyhow::{Result, anyhow};
use vfio_display::conformance::{self, Options, Report};
use vfio_display::device::DisplayDevice;
use vfio_display::device::guest::{BochsDriver, GuestDriver, SimDriver};
use vfio_display::device::sim::SimFault;

/// What the user asked of the checker.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Only these check ids (empty: all).
    pub only: Vec<String>,
    /// Run the checks that crash buggy drivers.
    pub allow_risky: bool,
    /// Play the Bochs DISPI driver to set modes.
    pub drive_bochs: bool,
}

/// Why a run cannot start: the user asked for something that would prove nothing or harm a
/// guest. The command line reports it as a usage error.
#[derive(Debug, thiserror::Error)]
pub enum CheckRefused {
    #[error(
        "--sim-fault device-lost removes the device 2 s after the first plane query, after the \
         checks have ended; use --sim-fault query-enodev for a device that is gone"
    )]
    LateFault,
    #[error(
        "--drive bochs would write the guest's display registers, and {0} is shared with the \
         VMM that runs the guest; check a device no VMM holds to drive it"
    )]
    SharedDriven(String),
    #[error("unknown check id {0}; `vfio-display check --help` lists them")]
    UnknownIds(String),
}

/// A finished run: the device it ran on, the driver it played (if any) and the results.
pub struct CheckRun {
    pub device: Box<dyn DisplayDevice>,
    pub driven_as: Option<&'static str>,
    pub report: Report,
}

/// Opens `target` and runs the checks on it.
pub fn run(target: Target, opts: &CheckOptions) -> Result<CheckRun> {
    let unknown = conformance::unknown_ids(&opts.only);
    if !unknown.is_empty() {
        return Err(CheckRefused::UnknownIds(unknown.join(", ")).into());
    }
    let target = match target {
        Target::Sim(sim) if sim.fault == SimFault::DeviceLost => {
            // The checks end long before the fault starts: they would all pass, proving nothing.
            return Err(CheckRefused::LateFault.into());
        }
        // A still guest: the checker's own mode changes and triggers are the only events.
        Target::Sim(mut sim) => {
            sim.frozen_frame.get_or_insert(0);
            Target::Sim(sim)
        }
        other => other,
    };
    let device = target.open()?;
    let bochs;
    let sim;
    let driver: Option<&dyn GuestDriver> = match (device.as_sim(), opts.drive_bochs) {
        // A shared device's modes are the guest's: the checker only reads what it shows.
        (_, true) if device.shared() => {
            return Err(CheckRefused::SharedDriven(device.name()).into());
        }
        (Some(_), _) if device.shared() => None,
        (Some(s), _) => {
            sim = SimDriver(s);
            Some(&sim)
        }
        (None, true) => {
            bochs = BochsDriver::new(device.as_ref())
                .map_err(|e| anyhow!("--drive bochs on {}: {e}", device.name()))?;
            Some(&bochs)
        }
        (None, false) => None,
    };
    let report = conformance::run(
        device.as_ref(),
        &Options {
            only: opts.only.clone(),
            allow_risky: opts.allow_risky,
            driver,
        },
    );
    let driven_as = driver.map(|d| d.name());
    Ok(CheckRun {
        device,
        driven_as,
        report,
    })
}
