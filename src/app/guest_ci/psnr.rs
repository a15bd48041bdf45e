//! How alike two pictures are, as os-autoinst's `wait_still_screen` and `wait_screen_change`
//! judge it: tinycv's `image_similarity` (`ppmclibs/tinycv_impl.cc`, `getPSNR`), the peak
//! signal-to-noise ratio in dB over the three colour channels, 1 000 000 for identical
//! pictures and 0 for pictures of different sizes.

use vfio_display::image::RgbaImage;

/// tinycv's `VERY_SIM`: identical pictures.
pub const IDENTICAL: f64 = 1_000_000.0;

/// The PSNR of `a` against `b` over R, G and B (alpha is not part of a screen).
pub fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
    if (a.width, a.height) != (b.width, b.height) {
        return 0.0;
    }
    let noise: u64 = a
        .data
        .chunks_exact(4)
        .zip(b.data.chunks_exact(4))
        .map(|(p, q)| {
            (0..3)
                .map(|c| {
                    let d = i64::from(p[c]) - i64::from(q[c]);
                    (d * d) as u64
                })
                .sum::<u64>()
        })
        .sum();
    if noise == 0 {
        return IDENTICAL;
    }
    let signal = 255.0 * 255.0 * 3.0 * f64::from(a.width) * f64::from(a.height);
    10.0 * (signal / noise as f64).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(w: u32, h: u32, rgb: [u8; 3]) -> RgbaImage {
        let mut image = RgbaImage::new(w, h);
        for px in image.data.chunks_exact_mut(4) {
            px.copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
        }
        image
    }

    #[test]
    fn psnr_is_tinycvs() {
        let a = filled(4, 4, [10, 20, 30]);
        assert_eq!(psnr(&a, &a), IDENTICAL);
        assert_eq!(psnr(&a, &filled(4, 5, [10, 20, 30])), 0.0);
        // One channel of every pixel off by 1: the noise is 1 a pixel against a signal of
        // 255^2 * 3 a pixel, so PSNR = 10 log10(195075) = 52.902 dB.
        let b = filled(4, 4, [11, 20, 30]);
        assert!((psnr(&a, &b) - 52.9020).abs() < 1e-3, "{}", psnr(&a, &b));
        // Alpha is not compared.
        let mut c = a.clone();
        c.data[3] = 0;
        assert_eq!(psnr(&a, &c), IDENTICAL);
    }
}
