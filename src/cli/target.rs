//! The device options every command shares, parsed into the apps' plain `Target`.

use super::args::{
    FaultArg, parse_fault, parse_format, parse_mode_change, parse_size, parse_tiling,
};
use super::exit::Usage;
use crate::app::target::Target;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::{ModeChange, SimConfig, SimFault};
use vfio_display::fourcc::Format;
use vfio_display::geometry::Size;
use vfio_display::tiling::Tiling;
use vfio_display::vfio::{BackendChoice, PlaneSource};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Device")]
pub struct DeviceArgs {
    /// The mdev: its UUID or its sysfs path.
    #[arg(value_name = "DEVICE", required_unless_present_any = ["sim", "device_fd"], conflicts_with_all = ["sim", "device_fd"])]
    pub device: Option<String>,
    /// Adopt an open VFIO device fd inherited from the parent process (a VMM).
    #[arg(long, value_name = "N", conflicts_with = "sim")]
    pub device_fd: Option<i32>,
    /// Use the built-in simulated vGPU.
    #[arg(long)]
    pub sim: bool,
    /// How to open an mdev: through its VFIO device cdev and /dev/iommu (iommufd), through its
    /// VFIO group and the legacy container, or the cdev where the kernel has one, else the group.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "VFIO_DISPLAY_BACKEND")]
    pub backend: BackendArg,
    #[command(flatten)]
    pub sim_opts: SimArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The cdev where it exists (with /dev/iommu), else the group.
    Auto,
    /// /dev/vfio/devices/vfioN bound to /dev/iommu.
    Cdev,
    /// /dev/vfio/N with a /dev/vfio/vfio container.
    Group,
}

impl From<BackendArg> for BackendChoice {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Cdev => BackendChoice::Cdev,
            BackendArg::Group => BackendChoice::Group,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimPlane {
    /// dma-buf planes, flipping between two buffers (like mbochs).
    Dmabuf,
    /// A region plane at index 16 (like mdpy).
    Region,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Simulator (with --sim)")]
pub struct SimArgs {
    /// The simulated guest's mode.
    #[arg(long, value_name = "WxH", default_value = "1024x768", value_parser = parse_size)]
    pub sim_mode: Size,
    /// The simulated framebuffer's format (DRM name or fourcc: XRGB8888, XR24, RGB565, ...).
    #[arg(long, value_name = "FOURCC", default_value = "XRGB8888", value_parser = parse_format)]
    pub sim_format: &'static Format,
    /// How the simulator exposes its planes.
    #[arg(long, value_enum, default_value_t = SimPlane::Dmabuf)]
    pub sim_plane: SimPlane,
    /// Freeze the simulated desktop at frame N (reproducible pictures) instead of animating.
    #[arg(long, value_name = "N")]
    pub sim_frame: Option<u64>,
    /// Inject a fault into the simulator, to see how a hostile or failing device is handled
    /// (`--sim-fault help` lists them).
    #[arg(long, value_name = "NAME", default_value = "none", value_parser = parse_fault)]
    pub sim_fault: FaultArg,
    /// The simulated guest switches to mode WxH this many seconds after the first plane query (for testing).
    #[arg(long, value_name = "WxH@S", value_parser = parse_mode_change, hide = true)]
    pub sim_mode_change: Option<ModeChange>,
    /// Play a device shared with the VMM that runs the guest (like `attach` or `run`): no
    /// interrupts, resets or register writes; timer refresh; the EDID may be written.
    #[arg(long)]
    pub sim_shared: bool,
    /// Which device the simulator plays: sample (like the kernel's mbochs: linear dma-bufs the
    /// CPU can map, a flip interrupt) or gvt (like Intel GVT-g: X-tiled frames, dma-bufs the CPU
    /// cannot map, no display interrupt, the cursor reaching every edge).
    #[arg(long, value_enum, default_value_t = SimProfile::Sample)]
    pub sim_profile: SimProfile,
    /// The primary plane's layout: linear, or Intel's x, y or yf tiles (yf for 4-byte formats
    /// only). Default: the profile's (linear; x for gvt).
    #[arg(long, value_name = "LAYOUT", value_parser = parse_tiling)]
    pub sim_tiling: Option<Tiling>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimProfile {
    /// Like the kernel's sample drivers.
    Sample,
    /// Like Intel GVT-g.
    Gvt,
}

impl SimArgs {
    /// The simulator's configuration these options describe.
    pub fn options(&self) -> SimConfig {
        let base = match self.sim_profile {
            SimProfile::Gvt => SimConfig::default().gvt(),
            SimProfile::Sample => SimConfig::default(),
        };
        SimConfig {
            width: self.sim_mode.width,
            height: self.sim_mode.height,
            format: self.sim_format,
            source: match self.sim_plane {
                SimPlane::Dmabuf => PlaneSource::DmaBuf,
                SimPlane::Region => PlaneSource::Region,
            },
            frozen_frame: self.sim_frame,
            // `help` never gets here: the list is printed before the command runs.
            fault: self.sim_fault.fault().unwrap_or(SimFault::None),
            mode_change: self.sim_mode_change,
            shared: self.sim_shared,
            tiling: self.sim_tiling.unwrap_or(base.tiling),
            ..base
        }
    }
}

impl DeviceArgs {
    /// The chosen device as plain data.
    pub fn target(&self) -> Result<Target> {
        if self.sim {
            let options = self.sim_opts.options();
            if options.fault == SimFault::RegionTooSmall && options.source != PlaneSource::Region {
                // The fault shrinks the framebuffer region, which dma-buf planes do not use: it
                // would be silently ignored.
                return Err(Usage(
                    "--sim-fault region-too-small shrinks the framebuffer region that region \
                     planes scan out of: add --sim-plane region (dma-buf planes have no such \
                     region)"
                        .into(),
                )
                .into());
            }
            let tiling = options.tiling;
            if !tiling.supports(options.format.bytes_per_pixel) {
                return Err(Usage(format!(
                    "--sim-format {} cannot be laid out in {} tiles: x and y tiles take 2- and \
                     4-byte formats, yf tiles 4-byte formats",
                    options.format.name,
                    tiling.name()
                ))
                .into());
            }
            return Ok(Target::Sim(options));
        }
        if let Some(fd) = self.device_fd {
            return Ok(Target::Fd(fd));
        }
        let Some(spec) = &self.device else {
            bail!(
                "no device given: name an mdev (UUID or sysfs path), or use --device-fd N or --sim"
            );
        };
        Ok(Target::Mdev {
            spec: spec.clone(),
            backend: self.backend.into(),
        })
    }

    /// Opens the chosen device.
    pub fn open(&self) -> Result<Box<dyn DisplayDevice>> {
        self.target()?.open()
    }
}
