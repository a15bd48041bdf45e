//! The EDID decoder on arbitrary bytes: it must return, never panic, whatever a guest, a device
//! or a file hands it; everything derived from a decode must be computable too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = vfio_display::edid::decode(data) {
        let _ = decoded.preferred_mode();
        let _ = decoded.linux_modes();
        let _ = decoded.all_modes();
        let _ = decoded.detailed_timings();
        let _ = serde_json::to_string(&decoded);
    }
    let _ = vfio_display::edid::preferred_mode(data);
});
