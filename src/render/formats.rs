//! Which DRM formats the unpack shader handles, and the code it knows each by.

use crate::fourcc::{self, Format};

/// The formats in the shader's `decode()` order: the index is the shader's format code.
pub const SHADER_FORMATS: [&str; 20] = [
    "XRGB8888",
    "ARGB8888",
    "XBGR8888",
    "ABGR8888",
    "RGBX8888",
    "RGBA8888",
    "BGRX8888",
    "BGRA8888",
    "RGB565",
    "BGR565",
    "XRGB2101010",
    "XBGR2101010",
    "ARGB2101010",
    "ABGR2101010",
    "RGB888",
    "BGR888",
    "YUYV",
    "YVYU",
    "UYVY",
    "VYUY",
];

/// The shader's code for a fourcc, with the format; None for formats it cannot unpack.
pub fn shader_code(drm_format: u32) -> Option<(u32, &'static Format)> {
    let format = fourcc::lookup(drm_format)?;
    let code = SHADER_FORMATS.iter().position(|n| *n == format.name)?;
    Some((code as u32, format))
}

/// The wgpu texture format a dma-buf of this fourcc can be imported as directly (the dmabuf
/// path), and whether its alpha must be ignored (the X formats).
pub fn texture_format(drm_format: u32) -> Option<(wgpu::TextureFormat, bool)> {
    let format = fourcc::lookup(drm_format)?;
    Some(match format.name {
        "XRGB8888" => (wgpu::TextureFormat::Bgra8Unorm, true),
        "ARGB8888" => (wgpu::TextureFormat::Bgra8Unorm, false),
        "XBGR8888" => (wgpu::TextureFormat::Rgba8Unorm, true),
        "ABGR8888" => (wgpu::TextureFormat::Rgba8Unorm, false),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_format_has_a_shader_code() {
        for format in fourcc::FORMATS {
            let (code, f) = shader_code(format.fourcc).unwrap();
            assert_eq!(SHADER_FORMATS[code as usize], f.name);
        }
        assert_eq!(fourcc::FORMATS.len(), SHADER_FORMATS.len());
        assert!(shader_code(0x3231_5559).is_none()); // YU12
    }
}
