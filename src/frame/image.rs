//! RGBA8 images and cursor compositing.

use crate::uapi::NO_HOTSPOT;
use crate::vfio::PlaneInfo;

/// A row-major RGBA8 image (non-premultiplied alpha).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// RGBA8, rows packed (`width * 4` bytes each).
    pub data: Vec<u8>,
}

impl RgbaImage {
    /// A transparent black image.
    pub fn new(width: u32, height: u32) -> Self {
        RgbaImage {
            width,
            height,
            data: vec![0; width as usize * height as usize * 4],
        }
    }

    /// The RGBA pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// Blends `top` over this image with its top-left corner at (x, y), clipped.
    pub fn composite(&mut self, top: &RgbaImage, x: i64, y: i64) {
        for ty in 0..i64::from(top.height) {
            let dy = y + ty;
            if dy < 0 || dy >= i64::from(self.height) {
                continue;
            }
            for tx in 0..i64::from(top.width) {
                let dx = x + tx;
                if dx < 0 || dx >= i64::from(self.width) {
                    continue;
                }
                let src = top.pixel(tx as u32, ty as u32);
                let i = (dy as usize * self.width as usize + dx as usize) * 4;
                let a = u32::from(src[3]);
                for (dst, s) in self.data[i..i + 3].iter_mut().zip(src) {
                    *dst = ((u32::from(s) * a + u32::from(*dst) * (255 - a) + 127) / 255) as u8;
                }
                let da = u32::from(self.data[i + 3]);
                self.data[i + 3] = (a + (da * (255 - a) + 127) / 255) as u8;
            }
        }
    }
}

/// Where the cursor image's top-left corner goes on the primary plane: the position is where the
/// hotspot points, so the image starts one hotspot up and left of it. Positions are signed (a
/// cursor can hang off the left or top edge); a missing (0xFFFFFFFF) or out-of-image hotspot counts
/// as (0, 0).
pub fn cursor_origin(cursor: &PlaneInfo) -> (i64, i64) {
    let hot = |h: u32, side: u32| {
        if h == NO_HOTSPOT || h >= side {
            0
        } else {
            i64::from(h)
        }
    };
    let x = i64::from(cursor.x_pos as i32) - hot(cursor.x_hot, cursor.width);
    let y = i64::from(cursor.y_pos as i32) - hot(cursor.y_hot, cursor.height);
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfio::{PlaneSource, PlaneType};

    #[test]
    fn opaque_transparent_and_half_alpha() {
        let mut base = RgbaImage::new(3, 1);
        base.data
            .copy_from_slice(&[10, 20, 30, 255, 10, 20, 30, 255, 10, 20, 30, 255]);
        let mut top = RgbaImage::new(3, 1);
        top.data
            .copy_from_slice(&[200, 100, 0, 255, 200, 100, 0, 0, 200, 100, 0, 128]);
        base.composite(&top, 0, 0);
        assert_eq!(base.pixel(0, 0), [200, 100, 0, 255]);
        assert_eq!(base.pixel(1, 0), [10, 20, 30, 255]);
        assert_eq!(base.pixel(2, 0), [105, 60, 15, 255]);
    }

    #[test]
    fn clipping_at_every_edge() {
        let mut base = RgbaImage::new(4, 4);
        let mut top = RgbaImage::new(3, 3);
        top.data.fill(255);
        base.composite(&top, -2, -2);
        assert_eq!(base.pixel(0, 0), [255; 4]);
        assert_eq!(base.pixel(1, 1), [0; 4]);
        base.composite(&top, 3, 3);
        assert_eq!(base.pixel(3, 3), [255; 4]);
        base.composite(&top, i64::MAX / 2, i64::MIN / 2);
    }

    #[test]
    fn origin_subtracts_a_valid_hotspot() {
        let mut c = PlaneInfo::off(PlaneType::Cursor, PlaneSource::DmaBuf);
        c.width = 64;
        c.height = 64;
        c.x_pos = 100;
        c.y_pos = 50;
        c.x_hot = 4;
        c.y_hot = 6;
        assert_eq!(cursor_origin(&c), (96, 44));
        c.x_hot = NO_HOTSPOT;
        c.y_hot = 64;
        assert_eq!(cursor_origin(&c), (100, 50));
        c.x_pos = (-5i32) as u32;
        assert_eq!(cursor_origin(&c).0, -5);
    }
}
