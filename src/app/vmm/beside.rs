//! The lifetime of a command beside a VM: `attach` takes QEMU's device, runs the command on it
//! and ends with the VM; `run` starts QEMU with the device, writes the EDID before the guest
//! starts, runs the command, and stops QEMU when the command ends first. The command itself
//! is the caller's (the command line parses and dispatches it): this module only decides when
//! it runs, on which fd, and what the VM's end means for the exit.

use super::attach::{self, AttachOptions};
use super::lifetime;
use super::qemu::{QemuFailed, RunOptions, RunningVm};
use crate::app::signals::{self, Interrupts};
use crate::app::target::host_paths;
use anyhow::{Context, Result};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The device a command runs on under `attach`.
pub enum AttachedDevice {
    /// QEMU's device fd, now this process's.
    Fd(OwnedFd),
    /// A test's stand-in: the command runs on the shared simulator while the fd is held.
    StandIn,
}

/// Attaches to the QEMU `opts` names, runs `command` on its device, and ends with the VM: when
/// QEMU exits first, the result is `VmEnded` (exit status `vm_ended_code`), whatever the
/// command said about losing its device.
pub fn attach_and_run(
    opts: &AttachOptions,
    vm_ended_code: u8,
    command: impl FnOnce(AttachedDevice) -> Result<()>,
) -> Result<()> {
    let attached = attach::attach(opts, &host_paths())?;
    tracing::info!("attached to {}", attached.what);
    let pid = attached.pid;
    lifetime::watch(attached.pidfd, pid, vm_ended_code).context("watching the VM's lifetime")?;
    let result = match opts.stand_in_fd {
        // The stand-in fd is held while the command runs, as the device's would be.
        Some(_) => {
            let _stand_in = attached.fd;
            command(AttachedDevice::StandIn)
        }
        None => command(AttachedDevice::Fd(attached.fd)),
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

/// What `run` does once QEMU is up: the EDID written while the guest is paused (when there is
/// one), then the command on the shared device, given QEMU's input socket.
pub struct RunSteps<E, C> {
    /// Writes the EDID on the device fd before the guest starts.
    pub edid: Option<E>,
    /// The command, on the device fd, with the QMP socket for keyboard and pointer.
    pub command: C,
}

/// Starts QEMU with the device (`opts`), runs the steps, then stops QEMU unless it ended by
/// itself. QEMU's own end is reported on stderr and decides the result: its failure status is
/// `QemuFailed`, and a command interrupted by it is no error.
pub fn run_with_vm<E, C>(mut opts: RunOptions, steps: RunSteps<E, C>) -> Result<()>
where
    E: FnOnce(OwnedFd) -> Result<()>,
    C: FnOnce(OwnedFd, &Path) -> Result<()>,
{
    opts.paused = steps.edid.is_some();
    let interrupts = Interrupts::install()?;
    let mut vm = RunningVm::start(&opts, &host_paths(), &interrupts)?;
    errln!(
        "vfio-display: QEMU (pid {}) is up and shares {}",
        vm.pid(),
        opts.mdev
    );
    let mut result = Ok(());
    if let Some(edid) = steps.edid {
        result = vm
            .device_fd()
            .and_then(edid)
            .context("writing the EDID before the guest starts");
    }
    if result.is_ok() {
        result = vm.resume().context("letting the guest run (QMP cont)");
    }
    if result.is_ok() {
        let input = vm.input_socket().to_path_buf();
        result = vm.device_fd().and_then(|fd| (steps.command)(fd, &input));
    }
    let (status, by_itself) = vm.stop();
    if !by_itself || signals::signal_received().is_some() {
        return result;
    }
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
    if status.success() {
        Ok(())
    } else {
        Err(QemuFailed(status).into())
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    QemuFailed(status)
        .to_string()
        .trim_start_matches("QEMU ")
        .to_string()
}
