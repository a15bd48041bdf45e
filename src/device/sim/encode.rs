//! How the simulated guest lays its pixels out in memory: row pitches, tile rows, and the
//! encoding of an RGBA canvas into a plane's format and tiling.

use super::desktop::Canvas;
use crate::fourcc::Format;
use crate::tiling::Tiling;

/// The row pitch the simulated guest uses: rows padded to 64 bytes, as GPUs commonly do, so
/// that strides wider than the pixels are exercised.
pub fn stride_for(width: u32, format: &Format) -> u32 {
    (format.row_bytes(width) as u32).div_ceil(64) * 64
}

/// The row pitch of a tiled plane: whole tiles, as the hardware needs.
pub fn tiled_stride_for(width: u32, format: &Format, tiling: Tiling) -> u32 {
    stride_for(width, format).next_multiple_of(tiling.tile_size().width_bytes)
}

/// The rows a plane's buffer holds: the height rounded up to whole tile rows.
pub fn buffer_rows(height: u32, tiling: Tiling) -> u32 {
    height.next_multiple_of(tiling.tile_size().rows)
}

/// Encodes an RGBA canvas into a plane of `format` and `tiling`, `stride` bytes per row (of
/// tiles): `buffer_rows` rows of it.
pub fn encode_plane(canvas: &Canvas, format: &Format, stride: u32, tiling: Tiling) -> Vec<u8> {
    let linear = encode_canvas(canvas, format, stride);
    if tiling == Tiling::Linear {
        return linear;
    }
    let row_bytes = format.row_bytes(canvas.width) as usize;
    crate::tiling::tile(
        tiling,
        &linear,
        stride as usize,
        row_bytes,
        canvas.height as usize,
        stride as usize,
    )
}

/// Encodes an RGBA canvas into `format` rows of `stride` bytes.
pub fn encode_canvas(canvas: &Canvas, format: &Format, stride: u32) -> Vec<u8> {
    let mut out = vec![0u8; stride as usize * canvas.height as usize];
    for (y, row) in out.chunks_exact_mut(stride as usize).enumerate() {
        let src =
            &canvas.pixels[y * canvas.width as usize * 4..(y + 1) * canvas.width as usize * 4];
        format.encode_row(src, row);
    }
    out
}
