//! Which device a command works on, as plain data, and opening it.

use anyhow::{Context, Result};
use std::path::PathBuf;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::device::{DisplayDevice, RealDevice};
use vfio_display::geometry::Size;
use vfio_display::vfio::{BackendChoice, HostPaths};

/// The simulated guest's mode when none is asked for.
pub const DEFAULT_SIM_MODE: Size = Size::new(1024, 768);

/// A device to open.
#[derive(Debug, Clone)]
pub enum Target {
    /// The built-in simulated vGPU, as the library describes it.
    Sim(SimConfig),
    /// An open VFIO device fd inherited from the parent process.
    Fd(i32),
    /// An mdev by UUID or sysfs path, opened through `backend`.
    Mdev {
        /// The UUID or path as given.
        spec: String,
        /// Group, cdev, or whichever the kernel has.
        backend: BackendChoice,
    },
}

/// Where sysfs and /dev are: the real ones, unless the test-only environment variables
/// VFIO_DISPLAY_SYSFS and VFIO_DISPLAY_DEV point elsewhere.
pub fn host_paths() -> HostPaths {
    let mut paths = HostPaths::default();
    if let Some(sysfs) = std::env::var_os("VFIO_DISPLAY_SYSFS") {
        paths.sysfs = PathBuf::from(sysfs);
    }
    if let Some(dev) = std::env::var_os("VFIO_DISPLAY_DEV") {
        paths.dev = PathBuf::from(dev);
    }
    paths
}

impl Target {
    /// Opens the device.
    pub fn open(&self) -> Result<Box<dyn DisplayDevice>> {
        match self {
            Target::Sim(config) => {
                let sim =
                    SimDevice::new(config.clone()).context("cannot start the simulated vGPU")?;
                Ok(Box::new(sim))
            }
            Target::Fd(fd) => {
                let dev = RealDevice::adopt_inherited_fd(*fd)
                    .with_context(|| format!("cannot use --device-fd {fd}"))?;
                Ok(Box::new(dev))
            }
            Target::Mdev { spec, backend } => {
                let dev = RealDevice::open_with(spec, &host_paths(), *backend)
                    .with_context(|| format!("cannot open {spec}"))?;
                Ok(Box::new(dev))
            }
        }
    }

    /// The simulator's configuration, when this is the simulator.
    pub fn sim(&self) -> Option<&SimConfig> {
        match self {
            Target::Sim(config) => Some(config),
            _ => None,
        }
    }
}
