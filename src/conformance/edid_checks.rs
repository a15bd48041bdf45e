//! EDID region checks: registers, sizes, the update protocol and an oversized blob. The protocol
//! check writes an EDID and then puts the original blob and link state back.

use super::Recorder;
use super::id;
use crate::device::{DisplayDevice, find_edid_region};
use crate::edid::{EdidSpec, Mode, generate};
use crate::uapi::edid_reg;
use crate::vfio::{EdidPort, LinkState};
use std::time::Duration;

const IDS: [&str; 5] = [
    id::EDID_REGISTERS,
    id::EDID_MAX_SIZE,
    id::EDID_MAX_RES,
    id::EDID_PROTOCOL,
    id::EDID_OVERSIZE,
];

pub(super) fn run(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    let Some(info) = find_edid_region(dev) else {
        for id in IDS {
            rec.skip(
                id,
                "the device has no EDID region (VFIO_REGION_SUBTYPE_GFX_EDID)",
            );
        }
        return;
    };
    let port = match EdidPort::new(dev, &info) {
        Ok(port) => port,
        Err(e) => {
            rec.fail(id::EDID_REGISTERS, e.to_string());
            return;
        }
    };
    let regs = match port.registers() {
        Ok(r) => r,
        Err(e) => {
            rec.fail(id::EDID_REGISTERS, e.to_string());
            return;
        }
    };
    let blob = port.read_blob();
    match &blob {
        Ok(b) => rec.pass(
            id::EDID_REGISTERS,
            format!(
                "region {}: edid_offset {:#x}, edid_max_size {}, edid_size {}, blob of {} bytes readable",
                info.index,
                regs.edid_offset,
                regs.edid_max_size,
                regs.edid_size,
                b.len()
            ),
        ),
        Err(e) => rec.fail(id::EDID_REGISTERS, e.to_string()),
    }
    if regs.edid_max_size >= 128 {
        rec.pass(
            id::EDID_MAX_SIZE,
            format!("edid_max_size {}", regs.edid_max_size),
        );
    } else {
        rec.fail(
            id::EDID_MAX_SIZE,
            format!(
                "edid_max_size {} holds no 128-byte EDID block",
                regs.edid_max_size
            ),
        );
    }
    let res = format!("max_xres {}, max_yres {}", regs.max_xres, regs.max_yres);
    if (regs.max_xres == 0) == (regs.max_yres == 0) {
        rec.pass(id::EDID_MAX_RES, res);
    } else {
        rec.warn(
            id::EDID_MAX_RES,
            format!("{res}: one limited, the other not"),
        );
    }
    if regs.edid_max_size < 128 {
        rec.skip(id::EDID_PROTOCOL, "no EDID fits edid_max_size");
        rec.skip(id::EDID_OVERSIZE, "no EDID fits edid_max_size");
        return;
    }
    let (Ok(original), link) = (blob, regs.link()) else {
        rec.skip(
            id::EDID_PROTOCOL,
            "the current blob cannot be read, so it could not be restored",
        );
        rec.skip(
            id::EDID_OVERSIZE,
            "the current blob cannot be read, so it could not be restored",
        );
        return;
    };
    if !rec.wants(id::EDID_PROTOCOL) && !rec.wants(id::EDID_OVERSIZE) {
        // Nothing was written, so nothing is restored (no link flap for the guest).
        return;
    }
    if rec.wants(id::EDID_PROTOCOL) {
        protocol(&port, regs.edid_max_size, rec);
    }
    if rec.wants(id::EDID_OVERSIZE) {
        oversize(dev, &port, info.index, regs.edid_max_size, rec);
    }
    // Put back what the guest had.
    let restored = port
        .update(&original, Duration::from_millis(10))
        .and_then(|()| port.set_link(link == LinkState::Up));
    if let Err(e) = restored {
        rec.fail(
            id::EDID_PROTOCOL,
            format!("restoring the original EDID failed: {e}"),
        );
    }
}

fn protocol(port: &EdidPort<'_>, max_size: u32, rec: &mut Recorder<'_>) {
    let spec = EdidSpec {
        max_size: max_size as usize,
        ..EdidSpec::new(Mode::new(800, 600, 60))
    };
    let blob = match generate(&spec) {
        Ok(b) => b,
        Err(e) => {
            rec.skip(
                id::EDID_PROTOCOL,
                format!("cannot generate a test EDID: {e}"),
            );
            return;
        }
    };
    let result = port
        .update(&blob, Duration::from_millis(10))
        .and_then(|()| {
            let back = port.read_blob()?;
            let regs = port.registers()?;
            Ok((back, regs))
        });
    match result {
        Ok((back, regs)) if back == blob && regs.link() == LinkState::Up => rec.pass(
            id::EDID_PROTOCOL,
            format!(
                "link down, {} bytes and size, link up: read back equal, link up",
                blob.len()
            ),
        ),
        Ok((back, regs)) => rec.fail(
            id::EDID_PROTOCOL,
            format!(
                "wrote {} bytes, read back {} ({}), link {:?}",
                blob.len(),
                back.len(),
                if back == blob { "equal" } else { "different" },
                regs.link()
            ),
        ),
        Err(e) => rec.fail(id::EDID_PROTOCOL, e.to_string()),
    }
}

fn oversize(
    dev: &dyn DisplayDevice,
    port: &EdidPort<'_>,
    index: u32,
    max_size: u32,
    rec: &mut Recorder<'_>,
) {
    if let Err(e) = port.set_link(false) {
        rec.fail(id::EDID_OVERSIZE, format!("link down: {e}"));
        return;
    }
    let too_big = max_size.saturating_add(128);
    match dev.write_region(index, edid_reg::EDID_SIZE, &too_big.to_ne_bytes()) {
        Err(e) => rec.pass(
            id::EDID_OVERSIZE,
            format!("edid_size {too_big} refused: {e}"),
        ),
        Ok(()) => {
            let now = port.registers().map(|r| r.edid_size).unwrap_or(0);
            if now == too_big {
                rec.fail(
                    id::EDID_OVERSIZE,
                    format!("edid_size {too_big} > edid_max_size {max_size} was accepted"),
                );
            } else {
                rec.pass(
                    id::EDID_OVERSIZE,
                    format!("edid_size {too_big} was ignored (reads {now})"),
                );
            }
        }
    }
}
