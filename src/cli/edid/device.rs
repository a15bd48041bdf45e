//! `edid set` and `edid link`: writing EDIDs and link state to a device's EDID region, and
//! watching the guest follow.

use super::SpecArgs;
use super::generate::summary;
use crate::app::input::read_edid_file;
use crate::app::signals::{self, Interrupts};
use crate::cli::exit::Usage;
use crate::cli::screenshot::parse_seconds;
use crate::cli::target::{BackendArg, DeviceArgs, SimArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vfio_display::device::{DisplayDevice, edid_port};
use vfio_display::edid::{self, Mode};
use vfio_display::frame::{Session, Status, WaitOutcome};
use vfio_display::vfio::{EdidPort, EdidRegs};

/// The longest link-down time a command accepts: far above any guest's need (QEMU uses 100 ms),
/// short enough that a typo cannot leave a monitor unplugged for hours.
pub const MAX_LINK_DELAY_MS: u64 = 10_000;

/// The hot-plug protocol with a wait that Ctrl+C cuts short: the link is raised again however
/// the wait ends, so an interrupted command never leaves the virtual monitor unplugged.
pub fn hot_plug(
    port: &EdidPort<'_>,
    blob: &[u8],
    delay: Duration,
    interrupts: &Interrupts,
) -> Result<(), vfio_display::vfio::VfioError> {
    port.update_with(blob, || {
        let _ = interrupts.sleep(delay);
    })
}

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
    target: DeviceArgs,
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
    sim_opts: SimArgs,
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

/// Refuses a mode above the device's declared maximum (0 means no limit) unless forced.
pub fn check_max(regs: &EdidRegs, mode: &Mode, force: bool) -> Result<()> {
    let over = regs.exceeds_max(mode.width, mode.height);
    if over && !force {
        bail!(
            "{mode} exceeds the device's maximum {}x{} (max_xres/max_yres); --force writes it anyway",
            regs.max_xres,
            regs.max_yres
        );
    }
    if over {
        tracing::warn!(
            "{mode} exceeds the device's maximum {}x{}, written because of --force",
            regs.max_xres,
            regs.max_yres
        );
    }
    Ok(())
}

/// Generates an EDID for `mode` that fits the device: its edid_max_size, its maximum mode.
pub fn generate_for(regs: &EdidRegs, spec: &SpecArgs, mode: Mode, force: bool) -> Result<Vec<u8>> {
    check_max(regs, &mode, force)?;
    for extra in &spec.extra_modes {
        check_max(regs, extra, force)?;
    }
    edid::generate(&spec.spec(mode, regs.edid_max_size as usize)).with_context(|| {
        format!(
            "cannot generate {mode} for a device that takes {} bytes",
            regs.edid_max_size
        )
    })
}

/// Reads and checks an EDID file for the device.
fn file_for(regs: &EdidRegs, path: &std::path::Path, force: bool) -> Result<Vec<u8>> {
    let blob = read_edid_file(path)?;
    if blob.len() > regs.edid_max_size as usize {
        bail!(
            "{} is {} bytes but the device takes at most {} (edid_max_size)",
            path.display(),
            blob.len(),
            regs.edid_max_size
        );
    }
    let problem = match edid::decode(&blob) {
        Err(err) => Some(err.to_string()),
        Ok(d) if !d.problems.is_empty() => Some(d.problems.join("; ")),
        Ok(d) => {
            if let Some(mode) = d.preferred_mode() {
                check_max(regs, &mode, force)?;
            }
            None
        }
    };
    match problem {
        Some(p) if !force => bail!("{}: {p}; --force writes it anyway", path.display()),
        Some(p) => tracing::warn!("{}: {p}; written because of --force", path.display()),
        None => {}
    }
    Ok(blob)
}

/// The primary plane's size right now, if it is on. Errors count as "not yet": a guest in the
/// middle of a mode change may fail a query (mbochs answers ENOMEM once).
pub fn shown_size(session: &mut Session<'_>) -> Option<(u32, u32)> {
    session.refresh();
    session.showing().map(|p| (p.width, p.height))
}

/// What the plane showed last, for a message.
fn last_seen(session: &Session<'_>) -> String {
    match (session.status(), session.showing()) {
        (_, Some(p)) => format!("{}x{}", p.width, p.height),
        (Status::Lost { cause, .. } | Status::Error { cause }, _) => format!("an error: {cause}"),
        _ => "no plane (display off)".into(),
    }
}

/// Waits until the primary plane is `width` x `height`; returns when, or the last thing seen
/// ("interrupted" when a signal ended the wait; the caller then checks `signals::check`).
pub fn wait_for_size(
    session: &mut Session<'_>,
    size: (u32, u32),
    deadline: Instant,
    interrupts: &Interrupts,
) -> std::result::Result<Instant, String> {
    let outcome = session.wait_for(
        |s| s.showing().is_some_and(|p| (p.width, p.height) == size),
        deadline,
        Duration::from_millis(1),
        |d| interrupts.sleep(d).is_ok(),
    );
    match outcome {
        WaitOutcome::Met(at) => Ok(at),
        WaitOutcome::Stopped => Err("interrupted".into()),
        WaitOutcome::TimedOut => Err(last_seen(session)),
    }
}

pub fn run_set(args: &SetArgs) -> Result<()> {
    let dev = args.target.open()?;
    let port = edid_port(dev.as_ref())?;
    let regs = port.registers().context("reading the EDID registers")?;
    let blob = match (&args.mode, &args.file) {
        (Some(mode), _) => generate_for(&regs, &args.spec, *mode, args.force)?,
        (None, Some(path)) => file_for(&regs, path, args.force)?,
        (None, None) => bail!("give --mode WxH[@HZ] or --file FILE"),
    };
    let delay = Duration::from_millis(args.link_delay_ms);
    let interrupts = Interrupts::install()?;
    port.update_with(&blob, || {
        if delay >= Duration::from_secs(1) {
            errln!(
                "EDID written to region {} with the link down; raising the link in {} ms \
                 (Ctrl+C raises it now)",
                port.index(),
                delay.as_millis()
            );
        }
        let _ = interrupts.sleep(delay);
    })
    .with_context(|| format!("writing the EDID to region {}", port.index()))?;
    if let Some(signal) = signals::received() {
        errln!(
            "vfio-display: {}: the EDID is written and the link raised early",
            signal.as_str()
        );
        signals::check()?;
    }
    let back = port.read_blob().context("reading the EDID back")?;
    if back != blob {
        bail!(
            "the device's EDID region reads back {} bytes that differ from the {} written",
            back.len(),
            blob.len()
        );
    }
    outln!(
        "EDID set on {}: {}; link up after {} ms",
        dev.name(),
        summary(&blob),
        args.link_delay_ms
    );
    if args.wait {
        wait_after_set(dev.as_ref(), &blob, args.timeout, &interrupts)?;
    }
    Ok(())
}

fn wait_after_set(
    dev: &dyn DisplayDevice,
    blob: &[u8],
    timeout: f64,
    interrupts: &Interrupts,
) -> Result<()> {
    let mode = edid::preferred_mode(blob).context("--wait needs the EDID's preferred mode")?;
    let mut session = Session::new(dev)?;
    let start = Instant::now();
    match wait_for_size(
        &mut session,
        (mode.width, mode.height),
        start + Duration::from_secs_f64(timeout),
        interrupts,
    ) {
        Ok(at) => {
            outln!(
                "The guest shows {}x{} after {:.1} ms",
                mode.width,
                mode.height,
                (at - start).as_secs_f64() * 1000.0
            );
            Ok(())
        }
        Err(_) if signals::received().is_some() => Ok(signals::check()?),
        Err(last) => bail!(
            "the guest did not switch to {}x{} within {timeout} s (the plane shows {last})",
            mode.width,
            mode.height
        ),
    }
}

pub fn run_link(args: &LinkArgs) -> Result<()> {
    let (target, up) = args.parse()?;
    let dev = target.open()?;
    let port = edid_port(dev.as_ref())?;
    port.set_link(up)
        .with_context(|| format!("setting the link state of EDID region {}", port.index()))?;
    let regs = port.registers().context("reading the EDID registers")?;
    outln!("Link {} on {}", regs.link(), dev.name());
    Ok(())
}
