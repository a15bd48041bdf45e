//! ZRLE (RFC 6143 section 7.7.6): 64x64 tiles, each the smallest of solid, packed palette,
//! plain RLE, palette RLE and raw, all through the connection's zlib stream.

use super::super::error::RfbError;
use super::super::pixel::PixelFormat;
use super::palette::Palette;
use super::zlib::Stream;

const TILE: usize = 64;

/// Appends a ZRLE rectangle's data (after its header): a 4-byte length and the compressed tiles.
/// `palette` is the connection's colour table, emptied for each tile.
#[allow(clippy::too_many_arguments)]
pub fn encode(
    format: &PixelFormat,
    pixels: &[u32],
    width: usize,
    height: usize,
    stream: &mut Stream,
    palette: &mut Palette,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), RfbError> {
    scratch.clear();
    let mut tile_pixels = Vec::with_capacity(TILE * TILE);
    let mut runs = Vec::new();
    for ty in (0..height).step_by(TILE) {
        for tx in (0..width).step_by(TILE) {
            let tw = TILE.min(width - tx);
            let th = TILE.min(height - ty);
            tile_pixels.clear();
            for y in ty..ty + th {
                tile_pixels.extend_from_slice(&pixels[y * width + tx..y * width + tx + tw]);
            }
            put_tile(format, &tile_pixels, tw, &mut runs, palette, scratch);
        }
    }
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    stream.compress(scratch, out)?;
    let len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Bytes a run length takes: (len - 1) as 255s and a remainder.
fn run_len_bytes(len: usize) -> usize {
    (len - 1) / 255 + 1
}

fn put_run_len(len: usize, out: &mut Vec<u8>) {
    let mut rest = len - 1;
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    out.push(rest as u8);
}

fn put_tile(
    format: &PixelFormat,
    px: &[u32],
    width: usize,
    runs: &mut Vec<(u32, usize)>,
    table: &mut Palette,
    out: &mut Vec<u8>,
) {
    runs.clear();
    table.clear();
    // Palette RLE takes up to 127 colours; past that only plain RLE and raw remain.
    let mut palette_full = false;
    for &p in px {
        match runs.last_mut() {
            Some((v, n)) if *v == p => *n += 1,
            _ => {
                runs.push((p, 1));
                if !palette_full && !table.insert(p, 127) {
                    palette_full = true;
                }
            }
        }
    }
    let palette = table.colours();
    let cp = format.cpixel_len();
    if !palette_full && palette.len() == 1 {
        out.push(1);
        format.put_cpixel(palette[0], out);
        return;
    }
    let raw = px.len() * cp;
    let plain_rle: usize = runs.iter().map(|&(_, n)| cp + run_len_bytes(n)).sum();
    let colours = palette.len();
    let packed_bits = match colours {
        2 => 1,
        3..=4 => 2,
        _ => 4,
    };
    let height = px.len() / width;
    let packed = (!palette_full && colours <= 16)
        .then(|| colours * cp + (width * packed_bits).div_ceil(8) * height);
    let palette_rle = (!palette_full).then(|| {
        colours * cp
            + runs
                .iter()
                .map(|&(_, n)| if n == 1 { 1 } else { 1 + run_len_bytes(n) })
                .sum::<usize>()
    });
    let best = [Some(raw), Some(plain_rle), packed, palette_rle]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(raw);
    if packed == Some(best) {
        out.push(colours as u8);
        for &p in palette {
            format.put_cpixel(p, out);
        }
        for row in px.chunks_exact(width) {
            let mut byte = 0u8;
            let mut used = 0;
            for &p in row {
                byte = (byte << packed_bits) | table.index(p);
                used += packed_bits;
                if used == 8 {
                    out.push(byte);
                    byte = 0;
                    used = 0;
                }
            }
            if used > 0 {
                out.push(byte << (8 - used));
            }
        }
    } else if palette_rle == Some(best) {
        out.push(128 + colours as u8);
        for &p in palette {
            format.put_cpixel(p, out);
        }
        for &(v, n) in runs.iter() {
            let index = table.index(v);
            if n == 1 {
                out.push(index);
            } else {
                out.push(index | 128);
                put_run_len(n, out);
            }
        }
    } else if plain_rle == best {
        out.push(128);
        for &(v, n) in runs.iter() {
            format.put_cpixel(v, out);
            put_run_len(n, out);
        }
    } else {
        out.push(0);
        for &p in px {
            format.put_cpixel(p, out);
        }
    }
}
