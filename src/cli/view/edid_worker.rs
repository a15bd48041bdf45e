//! EDID changes from the viewer, on their own thread: the hot-plug protocol waits for the link
//! delay, which must not stall the window.

use std::sync::mpsc::Receiver;
use std::time::Duration;
use vfio_display::device::{DisplayDevice, edid_port};
use vfio_display::edid::{self, EdidSpec, Mode};

pub enum EdidJob {
    /// Generate an EDID for the mode and hot-plug it.
    Set(Mode),
    Link(bool),
    /// Describe the current EDID.
    Read,
}

/// Runs jobs until the channel closes; each result goes to `reply` (text for the overlay).
pub fn run(
    dev: &dyn DisplayDevice,
    jobs: Receiver<EdidJob>,
    reply: &dyn Fn(Result<String, String>),
) {
    for job in jobs {
        reply(handle(dev, job));
    }
}

fn describe(blob: &[u8]) -> String {
    match edid::decode(blob) {
        Ok(d) => format!(
            "{} {} bytes, preferred {}, \"{}\"{}",
            d.vendor,
            blob.len(),
            d.preferred_mode()
                .map_or_else(|| "none".to_string(), |m| m.to_string()),
            d.name().unwrap_or(""),
            if d.problems.is_empty() {
                String::new()
            } else {
                format!(" ({} problems)", d.problems.len())
            }
        ),
        Err(err) => format!("{} bytes: {err}", blob.len()),
    }
}

fn handle(dev: &dyn DisplayDevice, job: EdidJob) -> Result<String, String> {
    let port = edid_port(dev).map_err(|e| e.to_string())?;
    let regs = port.registers().map_err(|e| e.to_string())?;
    match job {
        EdidJob::Read => {
            let blob = port.read_blob().map_err(|e| e.to_string())?;
            Ok(format!("link {}; {}", regs.link(), describe(&blob)))
        }
        EdidJob::Link(up) => {
            port.set_link(up).map_err(|e| e.to_string())?;
            Ok(format!("link {}", if up { "up" } else { "down" }))
        }
        EdidJob::Set(mode) => {
            let over = (regs.max_xres != 0 && mode.width > regs.max_xres)
                || (regs.max_yres != 0 && mode.height > regs.max_yres);
            if over {
                return Err(format!(
                    "{mode} exceeds the device's maximum {}x{}",
                    regs.max_xres, regs.max_yres
                ));
            }
            let spec = EdidSpec {
                max_size: regs.edid_max_size as usize,
                ..EdidSpec::new(mode)
            };
            let blob = edid::generate(&spec).map_err(|e| e.to_string())?;
            port.update(&blob, Duration::from_millis(100))
                .map_err(|e| e.to_string())?;
            Ok(format!("EDID set: {}", describe(&blob)))
        }
    }
}
