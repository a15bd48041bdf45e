//! Device-level checks: GET_INFO and the RESET flag.

use super::Recorder;
use super::id;
use crate::device::DisplayDevice;
use crate::uapi::VFIO_DEVICE_FLAGS_RESET;

pub(super) fn info(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    let info = dev.info();
    let evidence = format!(
        "flags {:#x} ({}), {} regions, {} IRQ indexes",
        info.flags,
        info.flag_names().join("|"),
        info.num_regions,
        info.num_irqs
    );
    if info.num_regions == 0 {
        rec.fail(
            id::DEVICE_INFO,
            format!("{evidence}: a display device has regions"),
        );
    } else {
        rec.pass(id::DEVICE_INFO, evidence);
    }
}

/// Resets the device (so it runs last) and compares with the flag.
pub(super) fn reset(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    if !rec.wants(id::DEVICE_RESET) {
        return;
    }
    let flagged = dev.info().flags & VFIO_DEVICE_FLAGS_RESET != 0;
    match (flagged, dev.reset()) {
        (true, Ok(())) => rec.pass(
            id::DEVICE_RESET,
            "RESET advertised; VFIO_DEVICE_RESET works",
        ),
        (true, Err(e)) => rec.fail(id::DEVICE_RESET, format!("RESET advertised, but {e}")),
        (false, Ok(())) => rec.warn(
            id::DEVICE_RESET,
            "VFIO_DEVICE_RESET works but VFIO_DEVICE_FLAGS_RESET is not set: front ends that \
             trust the flag never reset",
        ),
        (false, Err(e)) => rec.pass(id::DEVICE_RESET, format!("RESET not advertised and {e}")),
    }
}
