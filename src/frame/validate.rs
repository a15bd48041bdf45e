//! Validation of untrusted plane descriptions. A plane that passes can be read with the bounds
//! it states: every row lies inside the buffer whose length we measured ourselves.

use crate::fourcc::{self, Format};
use crate::tiling::Tiling;
use crate::vfio::PlaneInfo;

/// The largest plane side we accept (DRM's usual maximum framebuffer size).
pub const MAX_SIDE: u32 = 16384;

/// Why a plane cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    #[error("the plane is off (format 0 or size 0)")]
    /// The plane is off.
    Off,
    #[error(
        "format {} with modifier {} is not supported; supported formats: {}",
        fourcc::describe(*fourcc), fourcc::describe_modifier(*modifier), supported_names()
    )]
    /// No converter for this format.
    UnknownFormat {
        /// The DRM fourcc.
        fourcc: u32,
        /// The modifier.
        modifier: u64,
    },
    #[error(
        "modifier {} (format {}) cannot be read: the layouts read here are LINEAR and Intel's \
         X, Y and Yf tiling (not compressed or other vendors' layouts)",
        fourcc::describe_modifier(*modifier), fourcc::describe(*fourcc)
    )]
    /// A modifier whose layout we do not know (compression, another vendor's tiling).
    UnsupportedModifier {
        /// The DRM fourcc.
        fourcc: u32,
        /// The modifier.
        modifier: u64,
    },
    #[error(
        "format {} cannot be read with modifier {}: tiled frames are read for 2- and 4-byte \
         pixels, Yf tiling for 4-byte pixels only (its layout for other sizes is not proven here)",
        fourcc::describe(*fourcc), fourcc::describe_modifier(*modifier)
    )]
    /// A tiling this format's pixel size cannot be read in.
    TilingFormat {
        /// The DRM fourcc.
        fourcc: u32,
        /// The modifier.
        modifier: u64,
    },
    #[error("format C8 (8-bit indexed colour) cannot be shown: the plane query carries no palette")]
    /// An indexed format, whose colours the device does not tell us.
    Indexed,
    #[error(
        "stride {stride} is not a whole number of {tile_width}-byte tiles (modifier {})",
        fourcc::describe_modifier(*modifier)
    )]
    /// A tiled plane whose rows of tiles are not made of whole tiles.
    StrideNotWholeTiles {
        /// The stride given.
        stride: u32,
        /// The tile's width in bytes.
        tile_width: u32,
        /// The modifier.
        modifier: u64,
    },
    #[error("size {width}x{height} is outside 1..={MAX_SIDE} pixels per side")]
    /// Zero or absurd width or height.
    BadDimensions {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
    #[error("stride {stride} is smaller than a row of {width} pixels ({row_bytes} bytes)")]
    /// Rows would overlap.
    StrideTooSmall {
        /// The stride given.
        stride: u32,
        /// Pixels per row.
        width: u32,
        /// The bytes a row needs.
        row_bytes: u64,
    },
    #[error("declared size {size} is smaller than the {needed} bytes its rows span")]
    /// The declared size is smaller than the frame.
    SizeTooSmall {
        /// The size given.
        size: u32,
        /// The bytes the frame needs.
        needed: u64,
    },
    #[error(
        "declared size {size} is smaller than the {needed} bytes of its {rows} rows (the height \
         rounded up to whole {tile_rows}-row tiles)"
    )]
    /// A tiled plane whose size does not hold its whole tile rows.
    TiledSizeTooSmall {
        /// The size given.
        size: u32,
        /// The bytes the tile rows need.
        needed: u64,
        /// The height rounded up to whole tile rows.
        rows: u64,
        /// Rows per tile.
        tile_rows: u32,
    },
    #[error("rows end at byte {end}, past the end of the {buffer_len}-byte buffer")]
    /// The frame runs past the end of its buffer.
    BeyondBuffer {
        /// Where the frame ends.
        end: u64,
        /// The buffer's real length.
        buffer_len: u64,
    },
}

fn supported_names() -> String {
    fourcc::FORMATS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A plane whose every field has been checked against its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidPlane {
    /// The plane as the device described it.
    pub info: PlaneInfo,
    /// Its format, from the table.
    pub format: &'static Format,
    /// How its bytes are arranged (from the modifier).
    pub tiling: Tiling,
    /// Bytes of pixels in one row (width x bytes per pixel; YUV rows hold whole pairs).
    pub row_bytes: usize,
    /// Bytes from the first pixel to the end of the last row's pixels; for a tiled plane, to
    /// the end of its last whole row of tiles.
    pub span: u64,
}

/// Checks `plane` against a buffer of `buffer_len` bytes. All arithmetic is in u64 and checked,
/// so no field value, however large, can wrap around into a small in-bounds number.
pub fn validate(plane: &PlaneInfo, buffer_len: u64) -> Result<ValidPlane, PlaneError> {
    if plane.is_off() {
        return Err(PlaneError::Off);
    }
    if plane.drm_format == fourcc::C8 {
        return Err(PlaneError::Indexed);
    }
    let format = fourcc::lookup(plane.drm_format).ok_or(PlaneError::UnknownFormat {
        fourcc: plane.drm_format,
        modifier: plane.modifier,
    })?;
    let tiling = Tiling::from_modifier(plane.modifier).ok_or(PlaneError::UnsupportedModifier {
        fourcc: plane.drm_format,
        modifier: plane.modifier,
    })?;
    if !tiling.supports(format.bytes_per_pixel) {
        return Err(PlaneError::TilingFormat {
            fourcc: plane.drm_format,
            modifier: plane.modifier,
        });
    }
    if !(1..=MAX_SIDE).contains(&plane.width) || !(1..=MAX_SIDE).contains(&plane.height) {
        return Err(PlaneError::BadDimensions {
            width: plane.width,
            height: plane.height,
        });
    }
    // width and height are at most 2^14 here, so these products fit easily in u64.
    let row_bytes = format.row_bytes(plane.width);
    if u64::from(plane.stride) < row_bytes {
        return Err(PlaneError::StrideTooSmall {
            stride: plane.stride,
            width: plane.width,
            row_bytes,
        });
    }
    let span = match tiling {
        Tiling::Linear => {
            let span = u64::from(plane.stride) * u64::from(plane.height - 1) + row_bytes;
            if u64::from(plane.size) < span {
                return Err(PlaneError::SizeTooSmall {
                    size: plane.size,
                    needed: span,
                });
            }
            span
        }
        tiled => {
            let tile = tiled.tile_size();
            let (tile_width, tile_rows) = (tile.width_bytes, tile.rows);
            if !plane.stride.is_multiple_of(tile_width) {
                return Err(PlaneError::StrideNotWholeTiles {
                    stride: plane.stride,
                    tile_width,
                    modifier: plane.modifier,
                });
            }
            // GVT-g states the size of whole tile rows; the last tile row is read whole.
            let rows = u64::from(plane.height.next_multiple_of(tile_rows));
            let span = u64::from(plane.stride) * rows;
            if u64::from(plane.size) < span {
                return Err(PlaneError::TiledSizeTooSmall {
                    size: plane.size,
                    needed: span,
                    rows,
                    tile_rows,
                });
            }
            span
        }
    };
    let end = plane
        .offset
        .checked_add(span)
        .ok_or(PlaneError::BeyondBuffer {
            end: u64::MAX,
            buffer_len,
        })?;
    if end > buffer_len {
        return Err(PlaneError::BeyondBuffer { end, buffer_len });
    }
    Ok(ValidPlane {
        info: *plane,
        format,
        tiling,
        row_bytes: row_bytes as usize,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfio::{PlaneSource, PlaneType};

    fn plane(width: u32, height: u32, stride: u32) -> PlaneInfo {
        PlaneInfo {
            drm_format: drm_fourcc::DrmFourcc::Xrgb8888 as u32,
            width,
            height,
            stride,
            size: stride.wrapping_mul(height),
            ..PlaneInfo::off(PlaneType::Primary, PlaneSource::DmaBuf)
        }
    }

    #[test]
    fn a_good_plane_passes_with_its_span() {
        let v = validate(&plane(1366, 768, 5504), 5504 * 768).unwrap();
        assert_eq!(v.row_bytes, 1366 * 4);
        assert_eq!(v.span, 5504 * 767 + 1366 * 4);
        assert_eq!(v.format.name, "XRGB8888");
    }

    #[test]
    fn the_last_row_needs_no_padding() {
        // A buffer that ends right after the last pixel is enough.
        let mut p = plane(10, 2, 64);
        p.size = 64 + 40;
        assert!(validate(&p, 64 + 40).is_ok());
        assert!(matches!(
            validate(&p, 64 + 39),
            Err(PlaneError::BeyondBuffer { .. })
        ));
    }

    #[test]
    fn off_planes_are_not_errors_of_content() {
        assert_eq!(
            validate(&PlaneInfo::off(PlaneType::Primary, PlaneSource::Region), 0),
            Err(PlaneError::Off)
        );
        let mut p = plane(10, 10, 40);
        p.size = 0;
        assert_eq!(validate(&p, 4096), Err(PlaneError::Off));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut p = plane(100, 100, 396);
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::StrideTooSmall { stride: 396, .. })
        ));
        p = plane(100, 100, 400);
        p.size = 400 * 99;
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::SizeTooSmall { .. })
        ));
        p = plane(100, 100, 400);
        p.drm_format = drm_fourcc::DrmFourcc::Nv12 as u32;
        let err = validate(&p, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("NV12"), "{err}");
        p = plane(100, 100, 400);
        p.modifier = 0x0100_0000_0000_0004; // Y_TILED_CCS: compressed
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::UnsupportedModifier { .. })
        ));
        p = plane(100, 100, 400);
        p.drm_format = fourcc::C8;
        let err = validate(&p, 1 << 20).unwrap_err();
        assert_eq!(err, PlaneError::Indexed);
        assert!(err.to_string().contains("no palette"), "{err}");
        p = plane(100, 100, 400);
        p.width = 0;
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::BadDimensions { .. })
        ));
    }

    #[test]
    fn tiled_planes_need_whole_tiles_and_whole_tile_rows() {
        use crate::tiling::{I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED};
        // 1366x768 X-tiled: stride 5632 (11 tiles), 768 rows = 96 tile rows exactly.
        let mut p = plane(1366, 768, 5632);
        p.modifier = I915_FORMAT_MOD_X_TILED;
        let v = validate(&p, 5632 * 768).unwrap();
        assert_eq!((v.tiling, v.span), (Tiling::X, 5632 * 768));
        // A stride that is not whole tiles names the field.
        p.stride = 5504;
        let err = validate(&p, 1 << 24).unwrap_err();
        assert!(matches!(
            err,
            PlaneError::StrideNotWholeTiles {
                tile_width: 512,
                ..
            }
        ));
        assert!(err.to_string().contains("stride 5504"), "{err}");
        // Y-tiled 1366x766 needs 768 rows (24 tile rows of 32): a size of 766 rows is short.
        let mut p = plane(1366, 766, 5504);
        p.modifier = I915_FORMAT_MOD_Y_TILED;
        p.size = 5504 * 766;
        let err = validate(&p, 1 << 24).unwrap_err();
        assert!(
            matches!(
                err,
                PlaneError::TiledSizeTooSmall {
                    rows: 768,
                    tile_rows: 32,
                    ..
                }
            ),
            "{err}"
        );
        p.size = 5504 * 768;
        assert_eq!(validate(&p, 5504 * 768).unwrap().span, 5504 * 768);
        assert!(matches!(
            validate(&p, 5504 * 768 - 1),
            Err(PlaneError::BeyondBuffer { .. })
        ));
        // RGB888 cannot be tiled; Yf takes only 4-byte pixels.
        let mut p = plane(64, 32, 256);
        p.drm_format = drm_fourcc::DrmFourcc::Rgb888 as u32;
        p.modifier = I915_FORMAT_MOD_Y_TILED;
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::TilingFormat { .. })
        ));
        p.drm_format = drm_fourcc::DrmFourcc::Rgb565 as u32;
        assert!(validate(&p, 1 << 20).is_ok());
        p.modifier = crate::tiling::I915_FORMAT_MOD_YF_TILED;
        assert!(matches!(
            validate(&p, 1 << 20),
            Err(PlaneError::TilingFormat { .. })
        ));
    }

    #[test]
    fn exhaustive_small_tiled_values_never_pass_out_of_bounds() {
        for tiling in [Tiling::X, Tiling::Y, Tiling::Yf] {
            let tile = tiling.tile_size();
            let (tw, th) = (tile.width_bytes, tile.rows);
            for width in [1u32, 100, 128, 129] {
                for height in [1u32, 7, 8, 9, 33] {
                    for stride in [0, 100, tw, tw * 2, tw * 3 + 4] {
                        for size in [0u32, 4096, 8192, 65536, 1 << 20] {
                            for buffer_len in [4096u64, 65536, 1 << 20] {
                                let mut p = plane(width, height, stride);
                                p.size = size;
                                p.modifier = tiling.modifier();
                                if let Ok(v) = validate(&p, buffer_len) {
                                    let rows = u64::from(height.next_multiple_of(th));
                                    let last = u64::from(stride) * rows;
                                    assert!(last <= buffer_len && last <= u64::from(size));
                                    assert_eq!(stride % tw, 0);
                                    // The largest address the layout can produce is inside.
                                    let max = tiling.offset(
                                        v.row_bytes as u64 - 1,
                                        u64::from(height - 1),
                                        u64::from(stride),
                                    );
                                    assert!(max < buffer_len);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn overflowing_values_are_refused() {
        let mut p = plane(100, 100, 400);
        p.width = 0x4000_0000;
        p.height = 0x4000_0000;
        p.stride = 0xffff_fff0;
        p.size = 0xffff_f000;
        assert!(matches!(
            validate(&p, u64::MAX),
            Err(PlaneError::BadDimensions { .. })
        ));
        let mut p = plane(16384, 16384, u32::MAX);
        p.size = u32::MAX;
        assert!(
            validate(&p, u64::MAX).is_err(),
            "span exceeds the 4 GiB size field"
        );
        let mut p = plane(100, 100, 400);
        p.offset = u64::MAX - 10;
        assert!(matches!(
            validate(&p, u64::MAX),
            Err(PlaneError::BeyondBuffer { .. })
        ));
    }

    #[test]
    fn exhaustive_small_values_never_pass_out_of_bounds() {
        // Every combination of small fields: whatever passes must fit its buffer.
        for width in 0..6u32 {
            for height in 0..6u32 {
                for stride in 0..30u32 {
                    for size in [0, 7, 16, 40, 100] {
                        for buffer_len in [0u64, 16, 64, 100] {
                            let mut p = plane(width, height, stride);
                            p.size = size;
                            if let Ok(v) = validate(&p, buffer_len) {
                                let last_row = u64::from(stride) * u64::from(height - 1);
                                assert!(last_row + v.row_bytes as u64 <= buffer_len);
                                assert!(u64::from(stride) >= u64::from(width) * 4);
                            }
                        }
                    }
                }
            }
        }
    }
}
