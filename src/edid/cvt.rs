//! VESA CVT reduced-blanking (version 1) timings, as a monitor would advertise them.

/// A full video timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Visible pixels per line.
    pub h_active: u32,
    /// Horizontal front porch, pixels.
    pub h_front: u32,
    /// Horizontal sync width, pixels.
    pub h_sync: u32,
    /// Pixels per line, blanking included.
    pub h_total: u32,
    /// Visible lines.
    pub v_active: u32,
    /// Vertical front porch, lines.
    pub v_front: u32,
    /// Vertical sync width, lines.
    pub v_sync: u32,
    /// Lines per frame, blanking included.
    pub v_total: u32,
    /// Pixel clock in kHz.
    pub pixel_clock_khz: u32,
}

const H_BLANK: u32 = 160;
const H_SYNC: u32 = 32;
const H_FRONT: u32 = 48;
const V_FRONT: u32 = 3;
const MIN_V_BACK: u32 = 6;
const MIN_VBLANK_US: f64 = 460.0;
const CLOCK_STEP_KHZ: u32 = 250;

/// The vertical sync width CVT assigns by aspect ratio.
fn v_sync_for(width: u32, height: u32) -> u32 {
    let is = |w: u32, h: u32| width * h == height * w;
    if is(4, 3) {
        4
    } else if is(16, 9) {
        5
    } else if is(16, 10) {
        6
    } else if is(5, 4) || is(15, 9) {
        7
    } else {
        10
    }
}

/// CVT-RB timing for `width` x `height` at `refresh_mhz` millihertz.
pub fn cvt_reduced_blanking(width: u32, height: u32, refresh_mhz: u32) -> Timing {
    // CVT computes on 8-pixel cells, but a panel of 1366 pixels must still say 1366.
    let h_active = width;
    let refresh = f64::from(refresh_mhz.max(1000)) / 1000.0;
    let v_sync = v_sync_for(width, height);
    let h_period_est = (1_000_000.0 / refresh - MIN_VBLANK_US) / f64::from(height);
    let vbi =
        ((MIN_VBLANK_US / h_period_est).floor() as u32 + 1).max(V_FRONT + v_sync + MIN_V_BACK);
    let v_total = height + vbi;
    let h_total = h_active + H_BLANK;
    let ideal_khz = refresh * f64::from(v_total) * f64::from(h_total) / 1000.0;
    let pixel_clock_khz = (ideal_khz / f64::from(CLOCK_STEP_KHZ)).floor() as u32 * CLOCK_STEP_KHZ;
    Timing {
        h_active,
        h_front: H_FRONT,
        h_sync: H_SYNC,
        h_total,
        v_active: height,
        v_front: V_FRONT,
        v_sync,
        v_total,
        pixel_clock_khz,
    }
}

/// CVT standard-blanking timing (the VESA formula a CVT 3-byte code names), progressive and
/// without margins: the line period estimated from the 550 us minimum of vertical sync and
/// back porch, a blanking duty cycle of C' - M' x period (at least 20%), an 8% sync, and the
/// clock rounded down to 250 kHz.
pub fn cvt_standard(width: u32, height: u32, refresh_hz: u32) -> Timing {
    const MIN_VSYNC_BP_US: f64 = 550.0;
    const MIN_V_PORCH: u32 = 3;
    const MIN_V_BPORCH: u32 = 7;
    const CELL: u32 = 8;
    let h_active = width / CELL * CELL;
    let refresh = f64::from(refresh_hz.max(1));
    let v_sync = v_sync_for(width, height);
    let h_period_est =
        (1.0 / refresh - MIN_VSYNC_BP_US / 1e6) / f64::from(height + MIN_V_PORCH) * 1e6;
    let v_sync_bp =
        ((MIN_VSYNC_BP_US / h_period_est).floor() as u32 + 1).max(v_sync + MIN_V_BPORCH);
    let v_total = height + v_sync_bp + MIN_V_PORCH;
    let duty = (30.0 - 300.0 * h_period_est / 1000.0).max(20.0);
    let h_blank = ((f64::from(h_active) * duty / (100.0 - duty) / f64::from(2 * CELL)).floor()
        as u32)
        * 2
        * CELL;
    let h_total = h_active + h_blank;
    let h_sync = (f64::from(h_total) * 0.08 / f64::from(CELL)).floor() as u32 * CELL;
    let ideal_khz = f64::from(h_total) / h_period_est * 1000.0;
    let pixel_clock_khz = (ideal_khz / f64::from(CLOCK_STEP_KHZ)).floor() as u32 * CLOCK_STEP_KHZ;
    Timing {
        h_active,
        h_front: h_blank / 2 - h_sync,
        h_sync,
        h_total,
        v_active: height,
        v_front: MIN_V_PORCH,
        v_sync,
        v_total,
        pixel_clock_khz,
    }
}

/// GTF timing by the default curve (the VESA formula a standard timing of an EDID 1.3 names
/// when no DMT mode has its code), progressive and without margins, in floating point as the
/// spreadsheet computes it: the line period from the 550 us minimum of vertical sync and back
/// porch, corrected to the rate asked for, a blanking duty cycle of 30% - 300 x period, and the
/// clock rounded to the kHz.
pub fn gtf_default(width: u32, height: u32, refresh_hz: u32) -> Timing {
    const CELL: f64 = 8.0;
    const MIN_PORCH: f64 = 1.0;
    const V_SYNC: u32 = 3;
    const MIN_VSYNC_BP_US: f64 = 550.0;
    let rate = f64::from(refresh_hz.max(1));
    let h_active = ((f64::from(width) / CELL).round() * CELL) as u32;
    let lines = f64::from(height);
    let h_period_est = (1.0 / rate - MIN_VSYNC_BP_US / 1e6) / (lines + MIN_PORCH) * 1e6;
    let v_sync_bp = (MIN_VSYNC_BP_US / h_period_est).round();
    let total_lines = lines + v_sync_bp + MIN_PORCH;
    let v_rate_est = 1.0 / h_period_est / total_lines * 1e6;
    let h_period = h_period_est / (rate / v_rate_est);
    let duty = 30.0 - 300.0 * h_period / 1000.0;
    let h_blank =
        ((f64::from(h_active) * duty / (100.0 - duty) / (2.0 * CELL)).round() * 2.0 * CELL) as u32;
    let h_total = h_active + h_blank;
    let h_sync = ((0.08 * f64::from(h_total) / CELL).round() * CELL) as u32;
    Timing {
        h_active,
        h_front: (h_blank / 2).saturating_sub(h_sync),
        h_sync,
        h_total,
        v_active: height,
        v_front: MIN_PORCH as u32,
        v_sync: V_SYNC,
        v_total: total_lines as u32,
        pixel_clock_khz: (f64::from(h_total) / h_period * 1000.0).round() as u32,
    }
}

impl Timing {
    /// The refresh rate in millihertz, rounded.
    pub fn refresh_mhz(&self) -> u32 {
        let total = u64::from(self.h_total) * u64::from(self.v_total);
        if total == 0 {
            return 0;
        }
        ((u64::from(self.pixel_clock_khz) * 1_000_000 + total / 2) / total) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_cvt_rb_modes() {
        // VESA DMT lists these CVT-RB modes: 1920x1080R 138.500 MHz, 2080x1111 total;
        // 1280x800R 71.000 MHz, 1440x823 total.
        let t = cvt_reduced_blanking(1920, 1080, 60_000);
        assert_eq!(
            (t.h_total, t.v_total, t.pixel_clock_khz),
            (2080, 1111, 138_500)
        );
        let t = cvt_reduced_blanking(1280, 800, 60_000);
        assert_eq!(
            (t.h_total, t.v_total, t.pixel_clock_khz),
            (1440, 823, 71_000)
        );
    }

    #[test]
    fn matches_published_cvt_modes() {
        // X.Org's `cvt 1920 1080` gives 2576x1120 at 173.000 MHz; edid-decode names a
        // 1008x568 50 Hz code 36.500 MHz, 49.739 Hz.
        let t = cvt_standard(1920, 1080, 60);
        assert_eq!(
            (t.h_total, t.v_total, t.pixel_clock_khz),
            (2576, 1120, 173_000)
        );
        let t = cvt_standard(1008, 568, 50);
        assert_eq!((t.pixel_clock_khz, t.refresh_mhz()), (36_500, 49_739));
    }

    #[test]
    fn matches_published_gtf_modes() {
        // edid-decode's GTF for a 1600x1000 60 Hz standard timing: 133.142 MHz, 2144x1035.
        let t = gtf_default(1600, 1000, 60);
        assert_eq!(
            (t.h_total, t.v_total, t.pixel_clock_khz),
            (2144, 1035, 133_142)
        );
        assert_eq!(t.refresh_mhz(), 60_000);
    }
}
