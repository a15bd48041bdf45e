//! `attach`: the device fd of a QEMU that is already running (started by anyone, libvirt
//! included), taken with `pidfd_getfd`, which needs ptrace rights over QEMU.

use anyhow::{Result, bail};
use nix::errno::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use vfio_display::device::{RealDevice, plane_support};
use vfio_display::vfio::{HostPaths, VfioDevice};
use vfio_display::vmm::{self, VmmDeviceFd, VmmError, qemu_args};

/// Which VMM, and which of its devices.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// QEMU's process id.
    pub pid: Option<i32>,
    /// A libvirt domain name (its pid file names the process).
    pub vm: Option<String>,
    /// The mdev UUID, where QEMU holds more than one display device.
    pub mdev: Option<String>,
    /// Export dma-bufs even where QEMU's own display exports them too (crashes mbochs).
    pub force: bool,
    /// The command will export dma-bufs (it reads frames), not only query planes.
    pub exports: bool,
    /// Where libvirt keeps its QEMU pid files.
    pub libvirt_run_dir: PathBuf,
    /// For tests: take this fd of the process as the device's stand-in, without looking for
    /// VFIO devices (the command then runs on the simulator).
    pub stand_in_fd: Option<i32>,
}

/// The libvirt system instance's pid files.
pub const LIBVIRT_RUN_DIR: &str = "/run/libvirt/qemu";

/// The device taken from QEMU.
#[derive(Debug)]
pub struct Attached {
    /// Our duplicate of QEMU's device fd.
    pub fd: OwnedFd,
    /// Which fd of QEMU's it is, for messages.
    pub what: String,
    /// QEMU's process id.
    pub pid: i32,
    /// A pidfd of QEMU, the process every fd was taken from: readable once QEMU has ended.
    pub pidfd: OwnedFd,
}

/// What to do without ptrace rights over QEMU.
const PTRACE_RIGHTS: &str = "run as root, or as QEMU's user with kernel.yama.ptrace_scope 0 \
                             (sysctl kernel.yama.ptrace_scope)";

fn pid_of(opts: &AttachOptions) -> Result<i32> {
    match (&opts.pid, &opts.vm) {
        (Some(pid), _) => Ok(*pid),
        (None, Some(name)) => {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                bail!("'{name}' is not a libvirt domain name");
            }
            vmm::libvirt_pid(name, &opts.libvirt_run_dir).map_err(|e| {
                let denied = matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM));
                let why = if denied {
                    format!(
                        "libvirt's pid files are readable by root alone (mode 0600): run as \
                         root, or give QEMU's process id with --pid (pgrep -f guest={name})"
                    )
                } else {
                    format!(
                        "cannot find the QEMU of libvirt domain '{name}' (is it running, on \
                         the system instance?)"
                    )
                };
                anyhow::Error::new(e).context(why)
            })
        }
        (None, None) => bail!("name the VM: --pid PID or --vm NAME"),
    }
}

fn take(pidfd: &OwnedFd, pid: i32, fd: i32) -> Result<OwnedFd> {
    vmm::take_fd_from(pidfd.as_fd(), pid, fd).map_err(|e| match e.errno() {
        Some(Errno::EPERM) => anyhow::Error::new(e).context(format!(
            "no ptrace rights over process {pid} (pidfd_getfd needs them): {PTRACE_RIGHTS}"
        )),
        _ => anyhow::Error::new(e),
    })
}

/// QEMU's VFIO device fds, or why they cannot be listed.
fn device_fds(pid: i32) -> Result<Vec<VmmDeviceFd>> {
    vmm::vfio_device_fds(pid).map_err(|e| {
        let denied = matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM));
        match e {
            _ if denied => anyhow::Error::new(e).context(format!(
                "no ptrace rights over process {pid} (reading its fds needs them): \
                 {PTRACE_RIGHTS}"
            )),
            VmmError::Read { .. } | VmmError::NoProcess { .. } => {
                anyhow::Error::new(e).context(format!("cannot look at process {pid}'s fds"))
            }
            other => anyhow::Error::new(other),
        }
    })
}

/// The mdev type's name (`mbochs-medium`) of the mdev `uuid`.
fn mdev_type(uuid: &str, paths: &HostPaths) -> Option<String> {
    let link = paths.mdev_devices().join(uuid).join("mdev_type");
    let resolved = std::fs::canonicalize(link).ok()?;
    Some(resolved.file_name()?.to_string_lossy().into_owned())
}

fn uuid_of_sysfsdev(path: &str) -> Option<String> {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// Takes the display device of the QEMU that `opts` names.
pub fn attach(opts: &AttachOptions, paths: &HostPaths) -> Result<Attached> {
    let pid = pid_of(opts)?;
    // The pidfd first: every fd is taken through it, so they all come from this QEMU, and it
    // tells when this QEMU ends (even one that ends while we look).
    let pidfd = vmm::pidfd_open(pid)?;
    if let Some(fd) = opts.stand_in_fd {
        return Ok(Attached {
            fd: take(&pidfd, pid, fd)?,
            what: format!("fd {fd} of process {pid} (a stand-in for a device)"),
            pid,
            pidfd,
        });
    }
    let fds = device_fds(pid)?;
    let wanted = opts.mdev.as_deref().map(str::to_ascii_lowercase);
    let mut displays = Vec::new();
    for vmm_fd in &fds {
        let name = vmm_fd.device_name(&paths.sysfs);
        if let (Some(wanted), Some(name)) = (&wanted, &name)
            && wanted != name
        {
            continue;
        }
        let fd = take(&pidfd, pid, vmm_fd.fd)?;
        // A cdev QEMU has not bound yet (it is still starting): adopting it would bind it here
        // and take the device from QEMU, so it is left alone.
        if !VfioDevice::is_bound(fd.as_fd()) {
            tracing::debug!("process {pid} fd {} is not bound by QEMU yet", vmm_fd.fd);
            continue;
        }
        let dev = match RealDevice::from_fd(fd) {
            Ok(dev) => dev,
            Err(e) => {
                tracing::debug!("process {pid} fd {}: {e}", vmm_fd.fd);
                continue;
            }
        };
        let support = plane_support(&dev).unwrap_or_default();
        if support.dmabuf || support.region {
            displays.push((vmm_fd.clone(), name));
        }
    }
    let (chosen, name) = match displays.len() {
        0 => bail!(
            "process {pid} holds {} VFIO device fd{} but none is a display{}",
            fds.len(),
            if fds.len() == 1 { "" } else { "s" },
            wanted.map_or(String::new(), |w| format!(" that is {w}"))
        ),
        1 => displays.remove(0),
        _ => bail!(
            "process {pid} holds {} display devices ({}); name one with --mdev UUID",
            displays.len(),
            displays
                .iter()
                .map(|(fd, name)| name.clone().unwrap_or_else(|| format!("fd {}", fd.fd)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    refuse_double_export(pid, name.as_deref(), opts, paths)?;
    Ok(Attached {
        fd: take(&pidfd, pid, chosen.fd)?,
        what: format!("fd {} ({}) of process {pid}", chosen.fd, chosen.target),
        pid,
        pidfd,
    })
}

/// mbochs drops its framebuffer page references whenever an exported dma-buf is released, so a
/// second exporter beside QEMU's own display corrupts or crashes the kernel: refuse that
/// unless forced.
fn refuse_double_export(
    pid: i32,
    uuid: Option<&str>,
    opts: &AttachOptions,
    paths: &HostPaths,
) -> Result<()> {
    if !opts.exports || opts.force {
        return Ok(());
    }
    let args = vmm::cmdline(pid).unwrap_or_default();
    let devices = qemu_args::vfio_pci_devices(&args);
    // A device fd from a group has no cdev to name its mdev: with one vfio-pci device on
    // QEMU's command line, its sysfsdev does.
    let single = match devices.as_slice() {
        [only] => only.sysfsdev.as_deref().and_then(uuid_of_sysfsdev),
        _ => None,
    };
    let uuid = uuid.map(str::to_string).or(single);
    let uuid = uuid.as_deref();
    let ours = devices.iter().find(|d| {
        uuid.is_some() && d.sysfsdev.as_deref().and_then(uuid_of_sysfsdev).as_deref() == uuid
    });
    let displayed = match ours {
        Some(device) => device.qemu_displays(),
        None => devices.iter().any(qemu_args::VfioPciArg::qemu_displays),
    };
    let type_name = uuid.and_then(|u| mdev_type(u, paths)).unwrap_or_default();
    if displayed && type_name.starts_with("mbochs") {
        bail!(
            "QEMU shows this {type_name} device itself (display=on), so it exports the same \
             dma-bufs; the mbochs driver drops its page references when an export is released \
             and a second exporter corrupts or crashes the host kernel. --force exports anyway"
        );
    }
    Ok(())
}
