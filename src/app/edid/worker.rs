//! EDID changes from the viewer's overlay and from remote clients (`serve`'s resize), on a
//! thread of their own: the hot-plug protocol waits for the link delay, which must not stall a
//! window or a connection. The EDID is made and checked as `edid set` makes it.

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

/// What the worker tells the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdidReply {
    /// The device's EDID as it is now (after every job, so the panel always shows it).
    Described(Result<String, String>),
    /// How an action (set, link) went.
    Done(Result<String, String>),
}

/// Runs jobs until the channel closes; each reply goes to `reply`.
pub fn run(dev: &dyn DisplayDevice, jobs: Receiver<EdidJob>, reply: &dyn Fn(EdidReply)) {
    for job in jobs {
        for r in replies(dev, job) {
            reply(r);
        }
    }
}

/// The replies to one job: an action's outcome, then the EDID as it is afterwards.
pub fn replies(dev: &dyn DisplayDevice, job: EdidJob) -> Vec<EdidReply> {
    let mut out = Vec::new();
    if !matches!(job, EdidJob::Read) {
        out.push(EdidReply::Done(handle(dev, job)));
    }
    out.push(EdidReply::Described(handle(dev, EdidJob::Read)));
    out
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
            // Said here without the command line's --force advice: the overlay and a remote
            // client have no such option.
            if regs.exceeds_max(mode.width, mode.height) {
                return Err(format!(
                    "{mode} exceeds the device's maximum {}x{}",
                    regs.max_xres, regs.max_yres
                ));
            }
            let blob = super::generate_for(&regs, &EdidSpec::new(mode), mode, false)
                .map_err(|e| format!("{e:#}"))?;
            port.update(&blob, Duration::from_millis(100))
                .map_err(|e| e.to_string())?;
            Ok(format!("EDID set: {}", describe(&blob)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::device::sim::{SimConfig, SimDevice};

    fn sim() -> SimDevice {
        SimDevice::new(SimConfig::frozen(0)).unwrap()
    }

    #[test]
    fn every_job_ends_with_the_edid_as_it_is_now() {
        let dev = sim();
        let read = replies(&dev, EdidJob::Read);
        assert_eq!(read.len(), 1);
        assert!(matches!(&read[0], EdidReply::Described(Ok(t)) if t.starts_with("link up")));
        let set = replies(&dev, EdidJob::Set(Mode::new(800, 600, 60)));
        match &set[..] {
            [EdidReply::Done(Ok(done)), EdidReply::Described(Ok(now))] => {
                assert!(done.starts_with("EDID set"), "{done}");
                assert!(now.contains("preferred 800x600"), "{now}");
            }
            other => panic!("{other:?}"),
        }
        let down = replies(&dev, EdidJob::Link(false));
        match &down[..] {
            [EdidReply::Done(Ok(done)), EdidReply::Described(Ok(now))] => {
                assert_eq!(done, "link down");
                assert!(now.starts_with("link down"), "{now}");
                // The decoded EDID is still there: the action did not replace it.
                assert!(now.contains("preferred 800x600"), "{now}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_action_still_describes_the_edid() {
        let dev = sim();
        let set = replies(&dev, EdidJob::Set(Mode::new(7680, 4320, 60)));
        match &set[..] {
            [EdidReply::Done(Err(err)), EdidReply::Described(Ok(_))] => {
                assert!(err.contains("exceeds the device's maximum"), "{err}");
            }
            other => panic!("{other:?}"),
        }
    }
}
