//! Plane validation on arbitrary plane fields and buffer lengths, as a guest sets them through
//! its display registers: a plane that passes must be readable row by row inside a buffer of
//! exactly the length it was checked against, and its pixels must convert.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_display::frame::validate;
use vfio_display::tiling::{Tiling, detile_band};
use vfio_display::vfio::{PlaneInfo, PlaneSource, PlaneType};

/// Buffers beyond this are not allocated (the checks are the same at any size).
const MAX_BUFFER: u64 = 1 << 22;

fn u32_at(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = data.get(at + i).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from(u32_at(data, at)) | (u64::from(u32_at(data, at + 4)) << 32)
}

// The input's layout (little endian): format selector u32 at 0, width 4, height 8, stride 12,
// size 16, offset u64 at 20, buffer length u64 at 28, buffer id u32 at 36, modifier u64 at 40, and
// a byte at 48 that picks the modifier: LINEAR, the u64 at 40, or Intel's X, Y or Yf tiling (so
// that fuzzing reaches the tiled geometry checks).
fuzz_target!(|data: &[u8]| {
    // A format from the table most of the time, so that fuzzing reaches the geometry checks.
    let formats = vfio_display::fourcc::FORMATS;
    let selector = u32_at(data, 0);
    let drm_format = if selector & 0x8000_0000 == 0 {
        formats[selector as usize % formats.len()].fourcc
    } else {
        selector
    };
    let plane = PlaneInfo {
        drm_format,
        modifier: match data.get(48).copied().unwrap_or(0) % 5 {
            0 => 0,
            1 => u64_at(data, 40),
            2 => Tiling::X.modifier(),
            3 => Tiling::Y.modifier(),
            _ => Tiling::Yf.modifier(),
        },
        width: u32_at(data, 4) % 4096,
        height: u32_at(data, 8) % 4096,
        stride: u32_at(data, 12),
        size: u32_at(data, 16),
        offset: u64_at(data, 20),
        buffer_id: u32_at(data, 36),
        ..PlaneInfo::off(PlaneType::Primary, PlaneSource::DmaBuf)
    };
    let buffer_len = u64_at(data, 28);
    let Ok(valid) = validate(&plane, buffer_len) else {
        return;
    };
    assert!(valid.info.offset + valid.span <= buffer_len);
    assert!(valid.row_bytes as u64 <= u64::from(valid.info.stride));
    if buffer_len > MAX_BUFFER {
        return;
    }
    // Read every row the way the readers do, out of a buffer of exactly buffer_len bytes:
    // slicing panics if validation let a row out of bounds.
    let buffer: Vec<u8> = (0..buffer_len).map(|i| i as u8).collect();
    let mut out = vec![0u8; plane.width as usize * 4];
    if valid.tiling == Tiling::Linear {
        for y in 0..u64::from(plane.height) {
            let at = (plane.offset + u64::from(plane.stride) * y) as usize;
            valid
                .format
                .decode_row(&buffer[at..at + valid.row_bytes], &mut out);
        }
        return;
    }
    // A tiled plane: one row of tiles at a time, as the CPU reader copies it.
    let stride = plane.stride as usize;
    let tile_rows = valid.tiling.tile_size().rows as usize;
    let band_len = stride * tile_rows;
    let height = plane.height as usize;
    let mut rows = vec![0u8; valid.row_bytes * tile_rows];
    for (n, first) in (0..height).step_by(tile_rows).enumerate() {
        let at = plane.offset as usize + n * band_len;
        let count = (height - first).min(tile_rows);
        let band = &buffer[at..at + band_len];
        let rows = &mut rows[..valid.row_bytes * count];
        detile_band(valid.tiling, band, stride, first, valid.row_bytes, valid.row_bytes, rows);
        for row in rows.chunks_exact(valid.row_bytes) {
            valid.format.decode_row(row, &mut out);
        }
    }
});
