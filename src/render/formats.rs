//! Which DRM formats the unpack shader handles, and the code it knows each by.

use crate::fourcc::{self, Format};
use drm_fourcc::DrmFourcc;

/// The formats in the shader's `decode()` order: the index is the shader's format code. Keyed
/// by the DRM code itself, so a format's name can change without the shader noticing.
pub const SHADER_FORMATS: [DrmFourcc; 20] = [
    DrmFourcc::Xrgb8888,
    DrmFourcc::Argb8888,
    DrmFourcc::Xbgr8888,
    DrmFourcc::Abgr8888,
    DrmFourcc::Rgbx8888,
    DrmFourcc::Rgba8888,
    DrmFourcc::Bgrx8888,
    DrmFourcc::Bgra8888,
    DrmFourcc::Rgb565,
    DrmFourcc::Bgr565,
    DrmFourcc::Xrgb2101010,
    DrmFourcc::Xbgr2101010,
    DrmFourcc::Argb2101010,
    DrmFourcc::Abgr2101010,
    DrmFourcc::Rgb888,
    DrmFourcc::Bgr888,
    DrmFourcc::Yuyv,
    DrmFourcc::Yvyu,
    DrmFourcc::Uyvy,
    DrmFourcc::Vyuy,
];

/// The shader's code for a fourcc, with the format; None for formats it cannot unpack.
pub fn shader_code(drm_format: u32) -> Option<(u32, &'static Format)> {
    let format = fourcc::lookup(drm_format)?;
    let code = SHADER_FORMATS
        .iter()
        .position(|c| *c as u32 == format.fourcc)?;
    Some((code as u32, format))
}

/// The wgpu texture format a dma-buf of this fourcc can be imported as directly (the dmabuf
/// path), and whether its alpha must be ignored (the X formats).
pub fn texture_format(drm_format: u32) -> Option<(wgpu::TextureFormat, bool)> {
    Some(match DrmFourcc::try_from(drm_format).ok()? {
        DrmFourcc::Xrgb8888 => (wgpu::TextureFormat::Bgra8Unorm, true),
        DrmFourcc::Argb8888 => (wgpu::TextureFormat::Bgra8Unorm, false),
        DrmFourcc::Xbgr8888 => (wgpu::TextureFormat::Rgba8Unorm, true),
        DrmFourcc::Abgr8888 => (wgpu::TextureFormat::Rgba8Unorm, false),
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
            assert_eq!(SHADER_FORMATS[code as usize] as u32, f.fourcc, "{}", f.name);
        }
        assert_eq!(fourcc::FORMATS.len(), SHADER_FORMATS.len());
        assert!(shader_code(0x3231_5559).is_none()); // YU12
    }
}
