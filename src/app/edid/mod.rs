//! EDID hot-plug on a device: writing EDIDs and link state to its EDID region, and watching the
//! guest follow (`edid set`, `edid link`, `edid hotswap`).

mod hotswap;
pub mod worker;

pub use hotswap::{HotswapOptions, hotswap};

use crate::app::input::read_edid_file;
use crate::app::signals::{self, Interrupts};
use crate::app::target::Target;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vfio_display::device::{DisplayDevice, edid_port};
use vfio_display::edid::{self, EdidSpec, Mode};
use vfio_display::frame::{Session, Status, WaitOutcome};
use vfio_display::geometry::Size;
use vfio_display::vfio::{EdidPort, EdidRegs};

/// Where the EDID comes from.
#[derive(Debug, Clone)]
pub enum EdidSource {
    /// Generated for this preferred mode, with the template's identity and extra modes.
    Mode(Mode, Box<EdidSpec>),
    /// A file (binary or hex text; "-" for stdin).
    File(PathBuf),
}

/// One `edid set`.
#[derive(Debug, Clone)]
pub struct SetOptions {
    /// The device.
    pub target: Target,
    /// The EDID.
    pub source: EdidSource,
    /// Milliseconds between the blob and link up.
    pub link_delay_ms: u64,
    /// Write above the device's maximum, or files that do not decode cleanly.
    pub force: bool,
    /// Wait this long for the guest to show the preferred mode.
    pub wait: Option<Duration>,
}

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

/// One line that says what a blob holds: size, blocks and the preferred mode.
pub fn summary(blob: &[u8]) -> String {
    match edid::decode(blob) {
        Ok(d) => format!(
            "{} bytes, {} extension block{}, preferred mode {}",
            blob.len(),
            d.extension_count,
            if d.extension_count == 1 { "" } else { "s" },
            d.preferred_mode()
                .map_or_else(|| "none".to_string(), |m| m.to_string())
        ),
        Err(err) => format!("{} bytes that do not decode: {err}", blob.len()),
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
/// `template` gives the identity and extra modes; its preferred mode and size are replaced.
pub fn generate_for(
    regs: &EdidRegs,
    template: &EdidSpec,
    mode: Mode,
    force: bool,
) -> Result<Vec<u8>> {
    check_max(regs, &mode, force)?;
    for extra in &template.extra_modes {
        check_max(regs, extra, force)?;
    }
    let spec = EdidSpec {
        preferred: mode,
        max_size: (regs.edid_max_size as usize).min(edid::MAX_EDID_SIZE),
        ..template.clone()
    };
    edid::generate(&spec).with_context(|| {
        format!(
            "cannot generate {mode} for a device that takes {} bytes",
            regs.edid_max_size
        )
    })
}

/// Reads and checks an EDID file for the device.
pub fn file_for(regs: &EdidRegs, path: &std::path::Path, force: bool) -> Result<Vec<u8>> {
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
pub fn shown_size(session: &mut Session<'_>) -> Option<Size> {
    session.refresh();
    session.showing().map(|p| Size::new(p.width, p.height))
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
    size: Size,
    deadline: Instant,
    interrupts: &Interrupts,
) -> std::result::Result<Instant, String> {
    let outcome = session.wait_for(
        |s| {
            s.showing()
                .is_some_and(|p| Size::new(p.width, p.height) == size)
        },
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

/// The hot-plug of one EDID, then (with `wait`) the wait for the guest to follow.
pub fn set(args: &SetOptions) -> Result<()> {
    let dev = args.target.open()?;
    let port = edid_port(dev.as_ref())?;
    let regs = port.registers().context("reading the EDID registers")?;
    let blob = match &args.source {
        EdidSource::Mode(mode, template) => generate_for(&regs, template, *mode, args.force)?,
        EdidSource::File(path) => file_for(&regs, path, args.force)?,
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
    if let Some(timeout) = args.wait {
        wait_after_set(dev.as_ref(), &blob, timeout, &interrupts)?;
    }
    Ok(())
}

fn wait_after_set(
    dev: &dyn DisplayDevice,
    blob: &[u8],
    timeout: Duration,
    interrupts: &Interrupts,
) -> Result<()> {
    let mode = edid::preferred_mode(blob).context("--wait needs the EDID's preferred mode")?;
    let mut session = Session::new(dev)?;
    let start = Instant::now();
    match wait_for_size(
        &mut session,
        Size::new(mode.width, mode.height),
        start + timeout,
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
            "the guest did not switch to {}x{} within {} s (the plane shows {last})",
            mode.width,
            mode.height,
            timeout.as_secs_f64()
        ),
    }
}

/// Plugs (`up`) or unplugs the virtual monitor.
pub fn link(target: &Target, up: bool) -> Result<()> {
    let dev = target.open()?;
    let port = edid_port(dev.as_ref())?;
    port.set_link(up)
        .with_context(|| format!("setting the link state of EDID region {}", port.index()))?;
    let regs = port.registers().context("reading the EDID registers")?;
    outln!("Link {} on {}", regs.link(), dev.name());
    Ok(())
}
