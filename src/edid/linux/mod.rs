//! The mode list a Linux guest builds from an EDID: drm_edid's rules
//! (drivers/gpu/drm/drm_edid.c, `_drm_edid_connector_add_modes`) followed source by source,
//! with its tables and its timing formulas, then merged and sorted as the DRM probe helper
//! does. `edid decode --modes` prints it, and the preferred-mode rule of `edid set --wait`
//! and `hotswap` is its first entry. The VM suite compares it, timing for timing, with the
//! list a real guest kernel builds for a corpus of EDIDs.
//!
//! Modes that fail `drm_mode_validate_basic` (a sync that starts before the display ends, as
//! CVT and GTF arithmetic gives for some small standard timings) are removed, as every driver's
//! probe removes them (`dropped_modes` lists them with the kernel's reason). What a driver then
//! removes of its own (modes its memory cannot hold, interlaced modes on a connector that
//! takes none, 4:2:0-only modes on one without YCbCr 4:2:0) is the driver's, not the EDID's,
//! and is not removed here. The per-monitor quirks of drm_edid's table of known broken EDIDs
//! that change modes are applied (`quirks`); stereo 3D modes (hidden from clients that do not
//! ask for them) are not listed.

mod build;
mod formula;
mod mode;
mod quirks;
mod read;
mod tables;

pub(crate) use build::hfeeodb_extension_count;
pub use build::{
    cta_mode, dmt_by_id, dmt_modes, established_iii_modes, established_mode, hdmi_mode,
    probed_modes,
};
pub use mode::{DBLCLK, KMode, PHSYNC, PVSYNC};
pub use quirks::{describe as describe_quirks, lookup as quirks_of};
pub use read::{LinuxRead, ReadPath, describe as describe_read, read};

/// Merges equal modes as `drm_connector_list_update` does (the first stays, with the preferred
/// bit of any equal one; a preferred later one's timing wins over a first that is not) and
/// sorts them as `drm_mode_sort`: preferred first, then larger, then higher whole-hertz
/// refresh, then higher pixel clock; equal ones keep their order.
pub fn connector_modes(edid: &[u8]) -> Vec<(KMode, &'static str)> {
    merged_modes(edid)
        .into_iter()
        .filter(|(mode, _)| mode.validate_basic().is_ok())
        .collect()
}

/// The modes the probe builds and then drops because they fail `drm_mode_validate_basic`, with
/// the kernel's status for each ("H_ILLEGAL", ...), in the order of `connector_modes`.
pub fn dropped_modes(edid: &[u8]) -> Vec<(KMode, &'static str, &'static str)> {
    merged_modes(edid)
        .into_iter()
        .filter_map(|(mode, source)| mode.validate_basic().err().map(|why| (mode, source, why)))
        .collect()
}

/// The probed modes merged and sorted, before validation (the probe helper validates the
/// merged list; a dropped mode is gone before the sort, which keeps equal ones in order). The
/// EDID is first read as a guest's driver reads it from its display (`read`, `ReadPath::Ddc`):
/// repaired, its damaged extensions left out, or refused.
fn merged_modes(edid: &[u8]) -> Vec<(KMode, &'static str)> {
    let Ok(read) = read(edid, ReadPath::Ddc) else {
        return Vec::new();
    };
    let mut merged: Vec<(KMode, &'static str)> = Vec::new();
    for (mode, source) in probed_modes(&read.blob) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edid::{EdidSpec, Mode, generate};

    /// A generated EDID whose first standard timing is replaced by `code`.
    /// A generated EDID made version 1.3 (so that standard timings outside DMT take the GTF
    /// formula, as on many real monitors) whose first standard timing is `code`.
    fn with_standard_timing(code: [u8; 2]) -> Vec<u8> {
        let mut blob = generate(&EdidSpec::new(Mode::new(1024, 768, 60))).unwrap();
        blob[19] = 3;
        blob[38..40].copy_from_slice(&code);
        let sum = blob[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        blob[127] = 0u8.wrapping_sub(sum);
        blob
    }

    #[test]
    fn modes_with_a_sync_inside_the_display_are_dropped_as_linux_drops_them() {
        // 256x160 at 70 Hz (16:10): GTF's sync starts before the display ends (256, 240, ...),
        // so drm_mode_validate_basic answers MODE_H_ILLEGAL and no Linux guest lists it.
        let blob = with_standard_timing([0x01, 0x0a]);
        let listed = connector_modes(&blob);
        assert!(
            !listed.iter().any(|(m, _)| m.h[0] == 256 && m.v[0] == 160),
            "{listed:?}"
        );
        let dropped = dropped_modes(&blob);
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        let (mode, source, why) = dropped[0];
        assert_eq!((mode.h[0], mode.v[0], source), (256, 160, "standard"));
        assert!(why.ends_with("_ILLEGAL"), "{why}");
        assert!(mode.validate_basic().is_err());
        // Every listed mode passes the check, and the EDID's own mode is still first.
        assert!(listed.iter().all(|(m, _)| m.validate_basic().is_ok()));
        assert_eq!((listed[0].0.h[0], listed[0].0.v[0]), (1024, 768));
    }

    #[test]
    fn validate_basic_names_each_failure() {
        let good = KMode::new(
            25_175,
            [640, 656, 752, 800],
            [480, 490, 492, 525],
            0,
            mode::Aspect::None,
        );
        assert_eq!(good.validate_basic(), Ok(()));
        let clockless = KMode { clock: 0, ..good };
        assert_eq!(clockless.validate_basic(), Err("CLOCK_LOW"));
        let h = KMode {
            h: [640, 630, 752, 800],
            ..good
        };
        assert_eq!(h.validate_basic(), Err("H_ILLEGAL"));
        let total = KMode {
            h: [640, 656, 752, 750],
            ..good
        };
        assert_eq!(total.validate_basic(), Err("H_ILLEGAL"));
        let v = KMode {
            v: [480, 490, 492, 491],
            ..good
        };
        assert_eq!(v.validate_basic(), Err("V_ILLEGAL"));
        let empty = KMode {
            v: [0, 0, 0, 0],
            ..good
        };
        assert_eq!(empty.validate_basic(), Err("V_ILLEGAL"));
    }
}
