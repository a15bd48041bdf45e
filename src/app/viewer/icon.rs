//! The window icon, shipped in the top-level `assets/` folder and built into the binary.

use vfio_display::image::RgbaImage;
use winit::window::Icon;

/// The icon as the PNG file in the repository.
const ICON_PNG: &[u8] = include_bytes!("../../../assets/icon.png");

/// The icon as 8-bit RGBA.
pub fn icon_rgba() -> Result<RgbaImage, String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(ICON_PNG));
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("the icon is too large")?;
    let mut pixels = vec![0; size];
    let info = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "the icon is {:?} {:?}, not 8-bit RGBA",
            info.color_type, info.bit_depth
        ));
    }
    pixels.truncate(info.buffer_size());
    Ok(RgbaImage {
        width: info.width,
        height: info.height,
        data: pixels,
    })
}

/// The window icon; a broken icon costs only the icon (it is logged), never the window.
pub fn window_icon() -> Option<Icon> {
    let icon = icon_rgba().and_then(|image| {
        Icon::from_rgba(image.data, image.width, image.height).map_err(|e| e.to_string())
    });
    icon.map_err(|e| tracing::warn!("no window icon: {e}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_icon_is_a_square_rgba_picture_winit_takes() {
        let icon = icon_rgba().unwrap();
        assert_eq!((icon.width, icon.height), (64, 64));
        let pixels = icon.data;
        assert_eq!(pixels.len(), 64 * 64 * 4);
        // Transparent corners, an opaque screen in the middle.
        assert_eq!(pixels[3], 0);
        assert_eq!(pixels[(32 * 64 + 32) * 4 + 3], 255);
        assert!(window_icon().is_some());
    }
}
