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
}
