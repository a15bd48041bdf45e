//! The kernel's CVT and GTF timing formulas (`drm_cvt_mode`, `drm_gtf_mode_complex` in
//! drivers/gpu/drm/drm_modes.c), in its integer arithmetic, rounding and all: a mode list
//! equal to the kernel's needs the same pixel clocks, and the kernel's differ from the VESA
//! spreadsheets (it never rounds the CVT clock down to a 250 kHz step, for one). Its C
//! arithmetic is unsigned 32-bit in places where a term can wrap; so is this.

use super::mode::Aspect;
use super::mode::{INTERLACE, KMode, NHSYNC, NVSYNC, PHSYNC, PVSYNC};

/// `drm_cvt_mode` without margins.
pub fn cvt(
    hdisplay: u32,
    vdisplay: u32,
    vrefresh: u32,
    reduced: bool,
    interlaced: bool,
) -> Option<KMode> {
    const H_GRANULARITY: u32 = 8;
    const MIN_V_PORCH: u32 = 3;
    const MIN_V_BPORCH: u32 = 6;
    if hdisplay == 0 || vdisplay == 0 {
        return None;
    }
    let vrefresh = if vrefresh == 0 { 60 } else { vrefresh };
    let vfieldrate = if interlaced { vrefresh * 2 } else { vrefresh };
    let hdisplay_rnd = hdisplay - hdisplay % H_GRANULARITY;
    let vdisplay_rnd = if interlaced { vdisplay / 2 } else { vdisplay };
    let interlace = u32::from(interlaced);
    let vsync = if vdisplay.is_multiple_of(3) && vdisplay * 4 / 3 == hdisplay {
        4
    } else if vdisplay.is_multiple_of(9) && vdisplay * 16 / 9 == hdisplay {
        5
    } else if vdisplay.is_multiple_of(10) && vdisplay * 16 / 10 == hdisplay {
        6
    } else if (vdisplay.is_multiple_of(4) && vdisplay * 5 / 4 == hdisplay)
        || (vdisplay.is_multiple_of(9) && vdisplay * 15 / 9 == hdisplay)
    {
        7
    } else {
        10
    };
    let (h, v, hperiod);
    if !reduced {
        const MIN_VSYNC_BP: u32 = 550;
        const HSYNC_PERCENTAGE: u32 = 8;
        const C_PRIME: u32 = 30;
        const M_PRIME: u32 = 300;
        let tmp1 = 1_000_000_000u32.wrapping_sub(MIN_VSYNC_BP * 1000 * vfieldrate);
        let tmp2 = (vdisplay_rnd + MIN_V_PORCH) * 2 + interlace;
        hperiod = tmp1.wrapping_mul(2) / tmp2.wrapping_mul(vfieldrate).max(1);
        let estimate = MIN_VSYNC_BP * 1000 / hperiod.max(1) + 1;
        let vsync_and_back_porch = estimate.max(vsync + MIN_V_PORCH);
        let vtotal = vdisplay_rnd + vsync_and_back_porch + MIN_V_PORCH;
        let mut hblank_percentage =
            (C_PRIME * 1000).wrapping_sub(M_PRIME.wrapping_mul(hperiod) / 1000);
        if hblank_percentage < 20 * 1000 {
            hblank_percentage = 20 * 1000;
        }
        let mut hblank = hdisplay_rnd.wrapping_mul(hblank_percentage)
            / (100 * 1000u32).wrapping_sub(hblank_percentage).max(1);
        hblank -= hblank % (2 * H_GRANULARITY);
        let htotal = hdisplay_rnd + hblank;
        let hsync_end = hdisplay_rnd + hblank / 2;
        let mut hsync_start = hsync_end.wrapping_sub(htotal * HSYNC_PERCENTAGE / 100);
        hsync_start = hsync_start.wrapping_add(H_GRANULARITY - hsync_start % H_GRANULARITY);
        h = [hdisplay_rnd, hsync_start, hsync_end, htotal];
        v = [
            vdisplay,
            vdisplay + MIN_V_PORCH,
            vdisplay + MIN_V_PORCH + vsync,
            vtotal,
        ];
    } else {
        const RB_MIN_VBLANK: u32 = 460;
        const RB_H_SYNC: u32 = 32;
        const RB_H_BLANK: u32 = 160;
        const RB_VFPORCH: u32 = 3;
        let tmp1 = 1_000_000_000u32.wrapping_sub(RB_MIN_VBLANK * 1000 * vfieldrate);
        hperiod = tmp1 / vdisplay_rnd.wrapping_mul(vfieldrate).max(1);
        let vbilines =
            (RB_MIN_VBLANK * 1000 / hperiod.max(1) + 1).max(RB_VFPORCH + vsync + MIN_V_BPORCH);
        let hsync_end = hdisplay_rnd + RB_H_BLANK / 2;
        h = [
            hdisplay_rnd,
            hsync_end - RB_H_SYNC,
            hsync_end,
            hdisplay_rnd + RB_H_BLANK,
        ];
        v = [
            vdisplay,
            vdisplay + RB_VFPORCH,
            vdisplay + RB_VFPORCH + vsync,
            vdisplay_rnd + vbilines,
        ];
    }
    // The kernel subtracts `clock % 250` while `clock` is still 0: no rounding happens.
    let clock = u64::from(h[3]) * 1_000_000 / u64::from(hperiod.max(1));
    let mut v = v;
    let mut flags = if reduced {
        PHSYNC | NVSYNC
    } else {
        PVSYNC | NHSYNC
    };
    if interlaced {
        v[3] *= 2;
        flags |= INTERLACE;
    }
    Some(KMode::new(
        u32::try_from(clock).ok()?,
        h,
        v,
        flags,
        Aspect::None,
    ))
}

/// The secondary GTF curve's parameters, as a range-limits descriptor states them (M, 2C,
/// K, 2J); `GTF_DEFAULT` is the primary curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtfCurve {
    pub m: u32,
    pub c2: u32,
    pub k: u32,
    pub j2: u32,
}

pub const GTF_DEFAULT: GtfCurve = GtfCurve {
    m: 600,
    c2: 80,
    k: 128,
    j2: 40,
};

/// `drm_gtf_mode_complex`, progressive and without margins (the only way drm_edid calls it).
pub fn gtf(hdisplay: u32, vdisplay: u32, vrefresh: u32, curve: GtfCurve) -> Option<KMode> {
    const CELL_GRAN: u32 = 8;
    const MIN_V_PORCH: u32 = 1;
    const V_SYNC_RQD: u32 = 3;
    const H_SYNC_PERCENT: u32 = 8;
    const MIN_VSYNC_PLUS_BP: u32 = 550;
    if hdisplay == 0 || vdisplay == 0 {
        return None;
    }
    // C' and M' in the kernel's int arithmetic (the curve's bytes cannot make them negative
    // enough to matter: 2C and 2J are bytes, K a byte, M a 16-bit word).
    let c_prime = ((i64::from(curve.c2) - i64::from(curve.j2)) * i64::from(curve.k) / 256
        + i64::from(curve.j2))
        / 2;
    let m_prime = i64::from(curve.k) * i64::from(curve.m) / 256;
    let hdisplay_rnd = (hdisplay + CELL_GRAN / 2) / CELL_GRAN * CELL_GRAN;
    let vdisplay_rnd = vdisplay;
    let vfieldrate_rqd = vrefresh;
    let tmp1 = 1_000_000u32.wrapping_sub(MIN_VSYNC_PLUS_BP.wrapping_mul(vfieldrate_rqd)) / 500;
    let tmp2 = (vdisplay_rnd + MIN_V_PORCH) * 2;
    let hfreq_est = tmp2.wrapping_mul(1000).wrapping_mul(vfieldrate_rqd) / tmp1.max(1);
    let vsync_plus_bp = (MIN_VSYNC_PLUS_BP.wrapping_mul(hfreq_est) / 1000 + 500) / 1000;
    let vtotal_lines = vdisplay_rnd + vsync_plus_bp + MIN_V_PORCH;
    let total_active_pixels = hdisplay_rnd;
    let ideal_duty_cycle =
        (c_prime * 1000 - m_prime * 1_000_000 / i64::from(hfreq_est.max(1))) as u32;
    let mut hblank = total_active_pixels.wrapping_mul(ideal_duty_cycle)
        / 100_000u32.wrapping_sub(ideal_duty_cycle).max(1);
    hblank = (hblank + CELL_GRAN) / (2 * CELL_GRAN) * 2 * CELL_GRAN;
    let total_pixels = total_active_pixels + hblank;
    let pixel_freq = total_pixels.wrapping_mul(hfreq_est) / 1000;
    let hsync = (H_SYNC_PERCENT * total_pixels / 100 + CELL_GRAN / 2) / CELL_GRAN * CELL_GRAN;
    let hfront_porch = (hblank / 2).wrapping_sub(hsync);
    let hsync_start = hdisplay_rnd.wrapping_add(hfront_porch);
    let flags = if curve == GTF_DEFAULT {
        NHSYNC | PVSYNC
    } else {
        PHSYNC | NVSYNC
    };
    Some(KMode::new(
        pixel_freq,
        [
            hdisplay_rnd,
            hsync_start,
            hsync_start.wrapping_add(hsync),
            total_pixels,
        ],
        [
            vdisplay_rnd,
            vdisplay_rnd + MIN_V_PORCH,
            vdisplay_rnd + MIN_V_PORCH + V_SYNC_RQD,
            vtotal_lines,
        ],
        flags,
        Aspect::None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values the kernel computes (and `cvt`/`gtf` programs of X.Org agree on where they do not
    // round the clock): checked against the VM suite's guest kernel as well.
    #[test]
    fn cvt_matches_the_kernel() {
        let m = cvt(1920, 1080, 60, false, false).unwrap();
        assert_eq!(m.h, [1920, 2048, 2248, 2576]);
        assert_eq!(m.v, [1080, 1083, 1088, 1120]);
        assert_eq!(m.vrefresh(), 60);
        let rb = cvt(1920, 1080, 60, true, false).unwrap();
        assert_eq!(rb.h, [1920, 1968, 2000, 2080]);
        assert_eq!(rb.v[3], 1111);
        assert!(rb.is_reduced_blanking());
    }

    #[test]
    fn gtf_matches_the_kernel() {
        let m = gtf(1024, 768, 60, GTF_DEFAULT).unwrap();
        assert_eq!(m.h, [1024, 1080, 1184, 1344]);
        assert_eq!(m.v, [768, 769, 772, 795]);
        assert_eq!(m.vrefresh(), 60);
    }

    /// Sizes and rates from any EDID byte (standard timings, CVT codes, range probes) and any
    /// secondary GTF curve compute without overflowing, as the kernel's do.
    #[test]
    fn formulas_take_any_size_an_edid_can_state() {
        for w in [8, 64, 1366, 2288, 8192, 16384, 65535] {
            for h in [1, 2, 3, 480, 2288, 8192, 65535] {
                for r in [1, 60, 123, 255, 1000] {
                    let _ = cvt(w, h, r, false, false);
                    let _ = cvt(w, h, r, true, false);
                    let _ = cvt(w, h, r, false, true);
                    let _ = gtf(w, h, r, GTF_DEFAULT);
                    for curve in [
                        GtfCurve {
                            m: 65535,
                            c2: 255,
                            k: 255,
                            j2: 0,
                        },
                        GtfCurve {
                            m: 0,
                            c2: 0,
                            k: 0,
                            j2: 255,
                        },
                    ] {
                        let _ = gtf(w, h, r, curve);
                    }
                }
            }
        }
    }
}
