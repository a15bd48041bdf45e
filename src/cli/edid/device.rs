//! `edid set` and `edid link`: their options, parsed into the app's plain options.

use super::SpecArgs;
use crate::app::edid::{self, EdidSource, MAX_LINK_DELAY_MS, SetOptions};
use crate::cli::args::parse_seconds;
use crate::cli::exit::Usage;
use crate::cli::target::{BackendArg, DeviceArgs, SimArgs};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vfio_display::edid::Mode;

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Generate an EDID with this preferred mode, sized for the device's edid_max_size.
    #[arg(
        long,
        value_name = "WxH[@HZ]",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    mode: Option<Mode>,
    /// Write this EDID file instead (binary or hex text).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Milliseconds between writing the blob and raising the link (QEMU waits 100; at most
    /// 10000). Ctrl+C during the wait raises the link at once.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=MAX_LINK_DELAY_MS))]
    link_delay_ms: u64,
    /// Write modes above the device's max_xres/max_yres, and files that do not decode cleanly.
    #[arg(long)]
    force: bool,
    /// After link up, wait until the primary plane shows the EDID's preferred mode.
    #[arg(long)]
    wait: bool,
    /// Seconds --wait waits before giving up (exit 1).
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    timeout: f64,
    #[command(flatten)]
    spec: SpecArgs,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The mdev (UUID or sysfs path; omitted with --sim or --device-fd), then the new link
    /// state: up (plug the virtual monitor in; the guest reads the EDID) or down (unplug it).
    #[arg(value_name = "[DEVICE] up|down", num_args = 1..=2, required = true)]
    words: Vec<String>,
    /// Adopt an open VFIO device fd inherited from the parent process (a VMM).
    #[arg(long, value_name = "N", conflicts_with = "sim")]
    device_fd: Option<i32>,
    /// Use the built-in simulated vGPU.
    #[arg(long)]
    sim: bool,
    /// How to open an mdev (see `info --help`).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "VFIO_DISPLAY_BACKEND")]
    backend: BackendArg,
    #[command(flatten)]
    pub sim_opts: SimArgs,
}

impl LinkArgs {
    /// The device and the state: clap cannot put an optional positional before a required one.
    fn parse(&self) -> Result<(DeviceArgs, bool)> {
        let (device, state) = match self.words.as_slice() {
            [state] => (None, state),
            [device, state] => (Some(device.clone()), state),
            _ => return Err(Usage("give [DEVICE] up|down".into()).into()),
        };
        let up = match state.to_ascii_lowercase().as_str() {
            "up" => true,
            "down" => false,
            other => {
                return Err(Usage(format!("link state '{other}' is neither up nor down")).into());
            }
        };
        if device.is_some() == (self.sim || self.device_fd.is_some()) {
            return Err(
                Usage("name exactly one device: DEVICE, --device-fd N or --sim".into()).into(),
            );
        }
        let target = DeviceArgs {
            device,
            device_fd: self.device_fd,
            sim: self.sim,
            backend: self.backend,
            sim_opts: self.sim_opts.clone(),
        };
        Ok((target, up))
    }
}

pub fn run_set(args: &SetArgs) -> Result<()> {
    let source = match (&args.mode, &args.file) {
        (Some(mode), _) => EdidSource::Mode(*mode, Box::new(args.spec.template())),
        (None, Some(path)) => EdidSource::File(path.clone()),
        (None, None) => {
            return Err(Usage("give --mode WxH[@HZ] or --file FILE".into()).into());
        }
    };
    edid::set(&SetOptions {
        target: args.target.target()?,
        source,
        link_delay_ms: args.link_delay_ms,
        force: args.force,
        wait: args.wait.then(|| Duration::from_secs_f64(args.timeout)),
    })
}

pub fn run_link(args: &LinkArgs) -> Result<()> {
    let (target, up) = args.parse()?;
    edid::link(&target.target()?, up)
}
