//! The simulated guest's desktop, drawn in RGBA: a gradient wallpaper, two windows that move, a
//! taskbar with a clock, and a test pattern with known pixels in the top-left corner.
//!
//! Drawing is a pure function of (size, frame number), so a frozen frame is reproducible and the
//! pattern can be checked pixel for pixel after any format round trip.

use crate::geometry::Point;

/// Side of the square test pattern at (0, 0).
pub const PATTERN_SIZE: u32 = 64;

/// Colours of the pattern's bars: only 0 and 255 per channel, so every format (RGB565 and the
/// 10-bit ones included) reproduces them exactly.
pub const BARS: [[u8; 4]; 8] = [
    [255, 255, 255, 255],
    [255, 255, 0, 255],
    [0, 255, 255, 255],
    [0, 255, 0, 255],
    [255, 0, 255, 255],
    [255, 0, 0, 255],
    [0, 0, 255, 255],
    [0, 0, 0, 255],
];

/// The pattern's pixel at (x, y), both below `PATTERN_SIZE`: eight 8-pixel colour bars in the top
/// half, a one-pixel black and white checkerboard in the bottom half.
pub fn pattern_pixel(x: u32, y: u32) -> [u8; 4] {
    if y < PATTERN_SIZE / 2 {
        BARS[(x / 8) as usize % 8]
    } else if (x + y).is_multiple_of(2) {
        [255, 255, 255, 255]
    } else {
        [0, 0, 0, 255]
    }
}

/// Frames per second of the simulated guest's animation and clock.
pub const GUEST_FPS: u64 = 60;

/// An RGBA8 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Row-major RGBA8, `width * height * 4` bytes.
    pub pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `fill`.
    pub fn new(width: u32, height: u32, fill: [u8; 4]) -> Self {
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 4);
        for _ in 0..width as usize * height as usize {
            pixels.extend_from_slice(&fill);
        }
        Canvas {
            width,
            height,
            pixels,
        }
    }

    /// The RGBA pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Sets a pixel; outside the canvas it does nothing.
    pub fn put(&mut self, x: i64, y: i64, rgba: [u8; 4]) {
        if x >= 0
            && y >= 0
            && (x as u64) < u64::from(self.width)
            && (y as u64) < u64::from(self.height)
        {
            let i = (y as usize * self.width as usize + x as usize) * 4;
            self.pixels[i..i + 4].copy_from_slice(&rgba);
        }
    }

    /// Fills a rectangle, clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, rgba: [u8; 4]) {
        let x0 = x.clamp(0, i64::from(self.width));
        let y0 = y.clamp(0, i64::from(self.height));
        let x1 = (x + w).clamp(0, i64::from(self.width));
        let y1 = (y + h).clamp(0, i64::from(self.height));
        for yy in y0..y1 {
            let row = yy as usize * self.width as usize * 4;
            for xx in x0..x1 {
                let i = row + xx as usize * 4;
                self.pixels[i..i + 4].copy_from_slice(&rgba);
            }
        }
    }
}

/// 5x7 glyphs for the clock: digits and ':'. Each row is 5 bits, most significant on the left.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        _ => [0; 7],
    }
}

/// Draws `text` with the 5x7 font, each font pixel `scale` canvas pixels wide.
pub fn draw_text(canvas: &mut Canvas, x: i64, y: i64, scale: i64, text: &str, rgba: [u8; 4]) {
    for (n, c) in text.chars().enumerate() {
        let gx = x + n as i64 * 6 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    canvas.fill_rect(gx + col * scale, y + row as i64 * scale, scale, scale, rgba);
                }
            }
        }
    }
}

/// The clock text for a frame: the guest's uptime as HH:MM:SS.
pub fn clock_text(frame: u64) -> String {
    let secs = frame / GUEST_FPS;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 100,
        secs / 60 % 60,
        secs % 60
    )
}

/// A triangle wave over `0..=span` with the given period, for smooth back-and-forth motion.
fn bounce(frame: u64, period: u64, span: i64) -> i64 {
    if span <= 0 || period == 0 {
        return 0;
    }
    let phase = (frame % period) as i64;
    let half = period as i64 / 2;
    let t = if phase < half {
        phase
    } else {
        period as i64 - phase
    };
    t * span / half.max(1)
}

fn draw_window(c: &mut Canvas, x: i64, y: i64, w: i64, h: i64, title: [u8; 4]) {
    c.fill_rect(x + 6, y + 6, w, h, [20, 30, 40, 255]); // shadow
    c.fill_rect(x, y, w, h, [90, 90, 90, 255]); // border
    c.fill_rect(x + 2, y + 2, w - 4, 22, title);
    c.fill_rect(x + 2, y + 24, w - 4, h - 26, [236, 236, 232, 255]);
    c.fill_rect(x + w - 20, y + 6, 14, 14, [200, 60, 60, 255]); // close button
    // A few lines of "text" in the body.
    for line in 0..((h - 40) / 14).max(0) {
        let len = (w - 30) * (3 + (line * 7) % 5) / 8;
        c.fill_rect(x + 12, y + 34 + line * 14, len, 6, [150, 150, 160, 255]);
    }
}

/// Where the simulated pointer is at `frame`: a slow loop around the middle of the screen.
pub fn pointer_position(width: u32, height: u32, frame: u64) -> Point {
    let cx = i64::from(width) / 2;
    let cy = i64::from(height) / 2;
    let x = cx - i64::from(width) / 4 + bounce(frame, 600, i64::from(width) / 2);
    let y = cy - i64::from(height) / 4 + bounce(frame + 150, 420, i64::from(height) / 2);
    Point::new(
        x.clamp(0, i64::from(width) - 1) as u32,
        y.clamp(0, i64::from(height) - 1) as u32,
    )
}

/// A pointer that sweeps the whole screen, edges and corners included, so that the cursor
/// image hangs past the left and top edges (its origin, the position less the hotspot, is
/// negative there): the GVT-g profile's pointer.
pub fn pointer_position_to_edges(width: u32, height: u32, frame: u64) -> Point {
    let x = bounce(frame, 600, i64::from(width) - 1);
    let y = bounce(frame + 150, 420, i64::from(height) - 1);
    Point::new(
        x.clamp(0, i64::from(width) - 1) as u32,
        y.clamp(0, i64::from(height) - 1) as u32,
    )
}

/// Draws the whole desktop for `frame`.
pub fn render(width: u32, height: u32, frame: u64) -> Canvas {
    let mut c = Canvas::new(width, height, [0, 0, 0, 255]);
    let (w, h) = (i64::from(width), i64::from(height));
    // Wallpaper: a vertical gradient from deep blue to teal.
    for y in 0..height {
        let t = (u64::from(y) * 255 / u64::from(height.max(1))) as u8;
        c.fill_rect(0, i64::from(y), w, 1, [16, 40 + t / 3, 90 + t / 2, 255]);
    }
    let taskbar = 32.min(h / 4);
    let win_w = (w / 2).max(80);
    let win_h = (h / 2).max(60);
    draw_window(
        &mut c,
        bounce(frame, 480, w - win_w),
        h / 8 + bounce(frame, 720, (h - taskbar - win_h - h / 8).max(0)),
        win_w,
        win_h,
        [60, 110, 200, 255],
    );
    draw_window(
        &mut c,
        w - win_w * 3 / 4 - bounce(frame + 200, 900, w - win_w * 3 / 4),
        h / 3,
        win_w * 3 / 4,
        win_h * 3 / 4,
        [200, 120, 40, 255],
    );
    c.fill_rect(0, h - taskbar, w, taskbar, [30, 30, 36, 255]);
    let scale = (taskbar / 12).max(1);
    let text = clock_text(frame);
    let text_w = text.len() as i64 * 6 * scale;
    draw_text(
        &mut c,
        w - text_w - 10,
        h - taskbar + (taskbar - 7 * scale) / 2,
        scale,
        &text,
        [230, 230, 230, 255],
    );
    // The pattern goes last so nothing covers its known pixels.
    for y in 0..PATTERN_SIZE.min(height) {
        for x in 0..PATTERN_SIZE.min(width) {
            c.put(i64::from(x), i64::from(y), pattern_pixel(x, y));
        }
    }
    c
}

/// Side of the simulated cursor image.
pub const CURSOR_SIZE: u32 = 64;
/// Where the arrow's tip is inside the cursor image: the hotspot.
pub const CURSOR_HOTSPOT: Point = Point::new(4, 4);
/// The colour of the arrow's tip pixel (at the hotspot).
pub const CURSOR_TIP: [u8; 4] = [255, 255, 255, 255];

/// The cursor image: a white arrow with a black outline, tip at `CURSOR_HOTSPOT`, on transparent.
pub fn cursor_image() -> Canvas {
    let mut c = Canvas::new(CURSOR_SIZE, CURSOR_SIZE, [0, 0, 0, 0]);
    let (hx, hy) = (i64::from(CURSOR_HOTSPOT.x), i64::from(CURSOR_HOTSPOT.y));
    for row in 0..20i64 {
        let span = row * 2 / 3;
        for col in 0..=span {
            let edge = col == 0 || col == span || row == 19;
            c.put(
                hx + col,
                hy + row,
                if edge {
                    [0, 0, 0, 255]
                } else {
                    [255, 255, 255, 255]
                },
            );
        }
    }
    c.put(hx, hy, CURSOR_TIP);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_in_the_corner_of_every_frame() {
        for frame in [0, 1, 777, 123_456] {
            let c = render(320, 200, frame);
            for y in 0..PATTERN_SIZE {
                for x in 0..PATTERN_SIZE {
                    assert_eq!(
                        c.pixel(x, y),
                        pattern_pixel(x, y),
                        "({x},{y}) frame {frame}"
                    );
                }
            }
        }
    }

    #[test]
    fn frames_differ_and_repeat() {
        assert_ne!(render(320, 200, 0), render(320, 200, 90));
        assert_eq!(render(320, 200, 42), render(320, 200, 42));
    }

    #[test]
    fn clock_counts_seconds() {
        assert_eq!(clock_text(0), "00:00:00");
        assert_eq!(clock_text(61 * GUEST_FPS), "00:01:01");
        assert_eq!(clock_text(3600 * GUEST_FPS + 59), "01:00:00");
    }

    #[test]
    fn tiny_and_odd_sizes_draw() {
        for (w, h) in [(64, 64), (1, 1), (1366, 7), (5, 900)] {
            let c = render(w, h, 3);
            assert_eq!(c.pixels.len(), (w * h * 4) as usize);
        }
    }

    #[test]
    fn cursor_tip_is_at_the_hotspot() {
        let c = cursor_image();
        assert_eq!(c.pixel(CURSOR_HOTSPOT.x, CURSOR_HOTSPOT.y), CURSOR_TIP);
        assert_eq!(c.pixel(0, 0), [0, 0, 0, 0]);
    }
}
