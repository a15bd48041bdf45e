//! RGBA8 pictures and alpha compositing: pure data that every layer which holds pixels on the
//! CPU shares. It sits at the bottom of the library so that the pure-data modules (`rfb`) can
//! take pictures without depending on the frame path that produces them.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
