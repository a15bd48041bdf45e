//! Which device a command works on, as plain data, and opening it.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use vfio_display::device::sim::{SimConfig, SimDevice, SimFault};
use vfio_display::device::{DisplayDevice, RealDevice};
use vfio_display::fourcc::Format;
use vfio_display::vfio::{BackendChoice, HostPaths, PlaneSource};

/// The simulated guest's mode when none is asked for.
pub const DEFAULT_SIM_MODE: (u32, u32) = (1024, 768);

/// How the simulated vGPU is set up.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The guest's mode.
    pub mode: (u32, u32),
    /// The framebuffer's format.
    pub format: &'static Format,
    /// dma-buf planes (like mbochs) or a region plane (like mdpy).
    pub source: PlaneSource,
    /// Freeze the desktop at this frame instead of animating.
    pub frame: Option<u64>,
    /// A fault to inject.
    pub fault: SimFault,
    /// Switch to this mode this long after the first plane query.
    pub mode_change: Option<(Duration, u32, u32)>,
    /// Play a device shared with a VMM.
    pub shared: bool,
    /// Play Intel GVT-g (`SimConfig::gvt`).
    pub gvt: bool,
    /// The primary plane's layout; None for the profile's own (linear, or X tiles for GVT-g).
    pub tiling: Option<vfio_display::tiling::Tiling>,
}

impl SimOptions {
    /// The simulator's configuration for these options.
    pub fn config(&self) -> SimConfig {
        let base = if self.gvt {
            SimConfig::default().gvt()
        } else {
            SimConfig::default()
        };
        SimConfig {
            width: self.mode.0,
            height: self.mode.1,
            format: self.format,
            source: self.source,
            frozen_frame: self.frame,
            fault: self.fault,
            mode_change: self.mode_change,
            shared: self.shared,
            tiling: self.tiling.unwrap_or(base.tiling),
            ..base
        }
    }
}

/// A device to open.
#[derive(Debug, Clone)]
pub enum Target {
    /// The built-in simulated vGPU.
    Sim(SimOptions),
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
            Target::Sim(options) => {
                let sim =
                    SimDevice::new(options.config()).context("cannot start the simulated vGPU")?;
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

    /// The simulator's options, when this is the simulator.
    pub fn sim(&self) -> Option<&SimOptions> {
        match self {
            Target::Sim(options) => Some(options),
            _ => None,
        }
    }
}
