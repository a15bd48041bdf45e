//! `run`: QEMU started with the mdev's cdev fd, so that QEMU binds the device and this process
//! shares it. QEMU gets an iommufd object, the vfio-pci device on our fd (its own display off)
//! and a QMP socket of ours; with an EDID to write it starts paused (`-S`) and runs on once the
//! EDID is in place, so the guest's driver reads it at load.

use super::qmp::Qmp;
use crate::app::signals::{self, Interrupts};
use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use vfio_display::vfio::{HostPaths, VfioDevice};
use vfio_display::vmm::qemu_args::share_device_args;

/// How long QEMU has to exit after QMP `quit` before it is killed.
const QUIT_GRACE: Duration = Duration::from_secs(10);
/// How long QEMU has to bind the device after its QMP greeting (the greeting comes after every
/// device is realized, so the bind is normally done by then).
const BIND_TIMEOUT: Duration = Duration::from_secs(10);

/// QEMU ended with a failure status: `run` exits with the same code.
#[derive(Debug, thiserror::Error)]
#[error("QEMU {}", describe(.0))]
pub struct QemuFailed(pub ExitStatus);

impl QemuFailed {
    /// The exit code to pass on: QEMU's own, or 128 + the signal that killed it.
    pub fn code(&self) -> u8 {
        match (self.0.code(), self.0.signal()) {
            (Some(code), _) => u8::try_from(code).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
            (None, None) => 1,
        }
    }
}

fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended".into(),
    }
}

/// What `run` starts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The mdev: UUID or sysfs path.
    pub mdev: String,
    /// QEMU's program and arguments, as the user gave them.
    pub qemu: Vec<String>,
    /// Start QEMU paused (`-S`) so that something (the EDID) can be done before the guest runs.
    pub paused: bool,
    /// How long QEMU may take to come up (its QMP greeting).
    pub startup_timeout: Duration,
}

/// A private directory for the QMP socket: created with mode 0700 (an existing path, planted
/// or not, is an error), removed with its contents on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> Result<Self> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!(
            "vfio-display-run.{}.{nanos:08x}",
            std::process::id()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create the directory {}", path.display()))?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A QEMU started by `run`, with the device it shares with us.
pub struct RunningVm {
    child: Arc<Mutex<Child>>,
    exited: Arc<Mutex<Option<ExitStatus>>>,
    qmp: Qmp,
    device: OwnedFd,
    pid: u32,
    paused: bool,
    input_socket: PathBuf,
    _dir: PrivateDir,
}

/// True when QEMU's command line already gives the guest an absolute pointing device.
fn has_tablet(args: &[String]) -> bool {
    args.iter()
        .any(|a| a.contains("usb-tablet") || a.contains("virtio-tablet"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunningVm {
    /// Opens the mdev's cdev, starts QEMU on it and waits until QEMU is up and has bound the
    /// device. QEMU's stdin, stdout and stderr are ours.
    pub fn start(opts: &RunOptions, paths: &HostPaths, interrupts: &Interrupts) -> Result<Self> {
        let Some((program, user_args)) = opts.qemu.split_first() else {
            bail!("no QEMU command given after --");
        };
        let (device, mdev) = VfioDevice::open_cdev_for_vmm(&opts.mdev, paths)
            .with_context(|| format!("cannot open {}", opts.mdev))?;
        if VfioDevice::is_bound(device.as_fd()) {
            bail!(
                "{} is already bound by another process (a VMM, or another vfio-display); \
                 `attach` shares a device a running QEMU holds",
                mdev.uuid
            );
        }
        // QEMU's copy is inherited (no close-on-exec) under its own number; ours stays
        // close-on-exec, so no other child ever gets the device.
        let for_qemu = nix::unistd::dup(device.as_fd()).context("dup of the device fd")?;
        let dir = PrivateDir::create()?;
        let socket = dir.0.join("qmp.sock");
        let mut args: Vec<String> = user_args.to_vec();
        args.extend(share_device_args(
            for_qemu.as_raw_fd(),
            &mdev.sysfs_path.to_string_lossy(),
            "vfio-display",
        ));
        args.push("-qmp".into());
        args.push(format!("unix:{},server=on,wait=off", socket.display()));
        // A second monitor for the command's keyboard and pointer: QEMU serves one client per
        // monitor, and the first is this process's control connection.
        let input_socket = dir.0.join("input.sock");
        args.push("-qmp".into());
        args.push(format!(
            "unix:{},server=on,wait=off",
            input_socket.display()
        ));
        if !has_tablet(user_args) {
            // Absolute pointing: the guest's pointer lands where the viewer's is.
            args.push("-device".into());
            args.push("virtio-tablet-pci".into());
        }
        let paused = opts.paused && !user_args.iter().any(|a| a == "-S");
        if paused {
            args.push("-S".into());
        }
        tracing::info!("starting {program} {}", args.join(" "));
        let child = Command::new(program)
            .args(&args)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        drop(for_qemu);
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        let vm = Self::wait_until_up(&child, &socket, opts.startup_timeout, interrupts)
            .and_then(|qmp| {
                Self::wait_for_bind(&child, &device, interrupts)?;
                Ok(qmp)
            })
            .map(|qmp| RunningVm {
                child: Arc::clone(&child),
                exited: Arc::new(Mutex::new(None)),
                qmp,
                device,
                pid,
                paused,
                input_socket,
                _dir: dir,
            });
        let vm = vm.and_then(|mut vm| {
            vm.watch_exit()?;
            Ok(vm)
        });
        if vm.is_err() {
            // QEMU must not outlive a start that failed.
            let mut child = lock(&child);
            let _ = child.kill();
            let _ = child.wait();
        }
        vm
    }

    fn exit_status(child: &Mutex<Child>) -> Option<ExitStatus> {
        lock(child).try_wait().ok().flatten()
    }

    fn wait_until_up(
        child: &Mutex<Child>,
        socket: &std::path::Path,
        timeout: Duration,
        interrupts: &Interrupts,
    ) -> Result<Qmp> {
        let start = Instant::now();
        let mut said = false;
        loop {
            if let Some(status) = Self::exit_status(child) {
                return Err(QemuFailed(status)).context("QEMU ended before it was up");
            }
            if socket.exists()
                && let Ok(qmp) = Qmp::connect(socket)
            {
                tracing::info!("QEMU is up after {:.1} s", start.elapsed().as_secs_f64());
                return Ok(qmp);
            }
            if start.elapsed() > timeout {
                bail!(
                    "QEMU did not come up within {} s (no QMP greeting); --startup-timeout \
                     gives it longer",
                    timeout.as_secs()
                );
            }
            if !said && start.elapsed() > Duration::from_secs(3) {
                errln!("vfio-display: waiting for QEMU to come up...");
                said = true;
            }
            interrupts.sleep(Duration::from_millis(50))?;
        }
    }

    fn wait_for_bind(
        child: &Mutex<Child>,
        device: &OwnedFd,
        interrupts: &Interrupts,
    ) -> Result<()> {
        let start = Instant::now();
        while !VfioDevice::is_bound(device.as_fd()) {
            if let Some(status) = Self::exit_status(child) {
                return Err(QemuFailed(status)).context("QEMU ended before it bound the device");
            }
            if start.elapsed() > BIND_TIMEOUT {
                bail!(
                    "QEMU is up but did not bind the device within {} s",
                    BIND_TIMEOUT.as_secs()
                );
            }
            interrupts.sleep(Duration::from_millis(20))?;
        }
        Ok(())
    }

    /// A thread that notices QEMU's exit at once (its pidfd becomes readable) and stops the
    /// running command as a signal would.
    fn watch_exit(&mut self) -> Result<()> {
        let pid = self.pid as i32;
        let child = Arc::clone(&self.child);
        let exited = Arc::clone(&self.exited);
        let pidfd = vfio_display::vmm::pidfd_open(pid).ok();
        let watcher = std::thread::Builder::new().name("QEMU exit watch".into());
        watcher.spawn(move || {
            loop {
                match &pidfd {
                    Some(fd) => {
                        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                        let _ = poll(&mut fds, PollTimeout::NONE);
                    }
                    // Without pidfds (an old kernel), look twice a second.
                    None => std::thread::sleep(Duration::from_millis(500)),
                }
                if let Some(status) = Self::exit_status(&child) {
                    *lock(&exited) = Some(status);
                    signals::request_stop();
                    return;
                }
            }
        })?;
        Ok(())
    }

    /// The QMP socket for the command's keyboard and pointer.
    pub fn input_socket(&self) -> &std::path::Path {
        &self.input_socket
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A duplicate of the shared device fd (bound by QEMU), for the command to adopt.
    pub fn device_fd(&self) -> Result<OwnedFd> {
        nix::unistd::dup(self.device.as_fd()).context("dup of the device fd")
    }

    /// Lets a guest started paused run (QMP `cont`); nothing when QEMU was not paused by us.
    pub fn resume(&mut self) -> Result<()> {
        if std::mem::take(&mut self.paused) {
            self.qmp.execute("cont", None)?;
        }
        Ok(())
    }

    /// QEMU's exit status, if it has ended.
    pub fn exited(&self) -> Option<ExitStatus> {
        *lock(&self.exited)
    }

    /// Ends QEMU if it still runs (QMP `quit`, then SIGKILL after a grace period) and returns
    /// how it ended and whether it ended by itself.
    pub fn stop(mut self) -> (ExitStatus, bool) {
        if let Some(status) = self.exited() {
            return (status, true);
        }
        let _ = self.qmp.execute("quit", None);
        let start = Instant::now();
        loop {
            if let Some(status) = Self::exit_status(&self.child) {
                return (status, false);
            }
            if start.elapsed() > QUIT_GRACE {
                let mut child = lock(&self.child);
                let _ = child.kill();
                let status = child.wait().unwrap_or_else(|_| ExitStatus::from_raw(9));
                return (status, false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
