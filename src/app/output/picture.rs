//! PNG encoding of captured frames.

use anyhow::{Context, Result};
use vfio_display::frame::RgbaImage;

/// Encodes `image` as PNG (fast compression). With `keep_alpha` false, the alpha channel is
/// dropped (RGB), which is what opaque framebuffer formats need.
pub fn encode_png(image: &RgbaImage, keep_alpha: bool) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(image.data.len() / 2);
    {
        let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let data: std::borrow::Cow<[u8]> = if keep_alpha {
            encoder.set_color(png::ColorType::Rgba);
            (&image.data[..]).into()
        } else {
            encoder.set_color(png::ColorType::Rgb);
            image
                .data
                .chunks_exact(4)
                .flat_map(|px| [px[0], px[1], px[2]])
                .collect::<Vec<u8>>()
                .into()
        };
        let mut writer = encoder.write_header().context("PNG encoder")?;
        writer.write_image_data(&data).context("PNG encoder")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_rgb_and_rgba() {
        let mut image = RgbaImage::new(3, 2);
        for (i, b) in image.data.iter_mut().enumerate() {
            *b = (i * 11) as u8;
        }
        for keep_alpha in [true, false] {
            let bytes = encode_png(&image, keep_alpha).unwrap();
            let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            let channels = if keep_alpha { 4 } else { 3 };
            assert_eq!(info.buffer_size(), 6 * channels);
            for px in 0..6 {
                assert_eq!(
                    buf[px * channels..px * channels + 3],
                    image.data[px * 4..px * 4 + 3]
                );
            }
        }
    }
}
