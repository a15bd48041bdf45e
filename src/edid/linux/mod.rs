//! The mode list a Linux guest builds from an EDID: drm_edid's rules
//! (drivers/gpu/drm/drm_edid.c, `_drm_edid_connector_add_modes`) followed source by source,
//! with its tables and its timing formulas, then merged and sorted as the DRM probe helper
//! does. `edid decode --modes` prints it, and the preferred-mode rule of `edid set --wait`
//! and `hotswap` is its first entry. The VM suite compares it, timing for timing, with the
//! list a real guest kernel builds for a corpus of EDIDs.
//!
//! What a driver then removes (modes its memory cannot hold, interlaced modes on a connector
//! that takes none, 4:2:0-only modes on one without YCbCr 4:2:0) is the driver's, not the
//! EDID's, and is not removed here. Per-monitor quirks (drm_edid's table of known broken
//! EDIDs) and stereo 3D modes (hidden from clients that do not ask for them) are not applied.

mod build;
mod formula;
mod mode;
mod tables;

pub use build::{cta_mode, dmt_by_id, dmt_modes, established_iii_modes, hdmi_mode, probed_modes};
pub use mode::{DBLCLK, KMode, PHSYNC, PVSYNC};

/// Merges equal modes as `drm_connector_list_update` does (the first stays, with the preferred
/// bit of any equal one; a preferred later one's timing wins over a first that is not) and
/// sorts them as `drm_mode_sort`: preferred first, then larger, then higher whole-hertz
/// refresh, then higher pixel clock; equal ones keep their order.
pub fn connector_modes(edid: &[u8]) -> Vec<(KMode, &'static str)> {
    let mut merged: Vec<(KMode, &'static str)> = Vec::new();
    for (mode, source) in probed_modes(edid) {
        match merged.iter_mut().find(|(m, _)| m.same_mode(&mode)) {
            Some(existing) if !existing.0.preferred && mode.preferred => *existing = (mode, source),
            Some(existing) => existing.0.preferred |= mode.preferred,
            None => merged.push((mode, source)),
        }
    }
    merged.sort_by_key(|(m, _)| {
        std::cmp::Reverse((
            m.preferred,
            u64::from(m.h[0]) * u64::from(m.v[0]),
            m.vrefresh(),
            m.clock,
        ))
    });
    merged
}
