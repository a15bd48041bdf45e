//! Tight (the community registry's encoding 7): each block a solid fill, a palette of 2 to 256
//! colours, or full-colour pixels through zlib, or, when the client asked for a JPEG quality
//! level and takes 24-bit colour, full-colour blocks as JPEG.

use super::super::error::RfbError;
use super::super::pixel::PixelFormat;
use super::Rect;
use super::palette::Palette;
use super::zlib::Stream;

/// Blocks are at most this wide (the protocol's limit for Tight rectangles) and hold at most
/// `BLOCK_PIXELS` pixels: big enough that a palette's cost is shared by many pixels and headers
/// stay a small share, as TigerVNC's server splits them.
pub const BLOCK_WIDTH: u16 = 2048;
pub const BLOCK_PIXELS: u32 = 65536;
/// Data shorter than this is sent as it is (the protocol's rule).
const MIN_TO_COMPRESS: usize = 12;
/// Which of the four zlib streams each kind of block uses: full colour, two colours, indexed.
const STREAM_FULL: usize = 0;
const STREAM_MONO: usize = 1;
const STREAM_INDEXED: usize = 2;

/// Splits `rect` into blocks at most `BLOCK_WIDTH` wide of at most `BLOCK_PIXELS` pixels.
pub fn blocks(rect: Rect) -> impl Iterator<Item = Rect> {
    let width = BLOCK_WIDTH.min(rect.width.max(1));
    let rows = (BLOCK_PIXELS / u32::from(width)).clamp(1, u32::from(u16::MAX)) as u16;
    rect.grid(width, rows)
}

/// Appends the compact length: 7 bits a byte, low first, the top bit saying another follows.
fn put_compact_len(n: usize, out: &mut Vec<u8>) {
    out.push((n & 0x7f) as u8 | if n > 0x7f { 0x80 } else { 0 });
    if n > 0x7f {
        out.push(((n >> 7) & 0x7f) as u8 | if n > 0x3fff { 0x80 } else { 0 });
        if n > 0x3fff {
            out.push((n >> 14) as u8);
        }
    }
}

/// Appends a fill: the whole rectangle is the one pixel `value`.
pub fn put_fill(format: &PixelFormat, value: u32, out: &mut Vec<u8>) {
    out.push(0x80);
    format.put_tpixel(value, out);
}

/// JPEG quality for each of the client's quality levels 0-9 (TigerVNC's table).
const JPEG_QUALITY: [u8; 10] = [15, 29, 41, 42, 62, 77, 79, 86, 92, 100];

/// Blocks smaller than this on a side stay lossless: JPEG's 8x8 blocks would cost more.
const MIN_JPEG_SIDE: usize = 8;

/// Appends a JPEG block: control byte, compact length, the JPEG.
fn put_jpeg(
    format: &PixelFormat,
    pixels: &[u32],
    width: usize,
    level: u8,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), RfbError> {
    scratch.clear();
    for &p in pixels {
        scratch.extend_from_slice(&[
            (p >> format.red_shift) as u8,
            (p >> format.green_shift) as u8,
            (p >> format.blue_shift) as u8,
        ]);
    }
    let height = pixels.len() / width;
    let quality = JPEG_QUALITY[usize::from(level.min(9))];
    let mut jpeg = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, quality);
    // Full chroma at the top levels, as TigerVNC does: text edges stay clean.
    if level < 8 {
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    }
    encoder
        .encode(
            scratch,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| RfbError::Protocol(format!("JPEG encoding: {e}")))?;
    out.push(0x90);
    put_compact_len(jpeg.len(), out);
    out.extend_from_slice(&jpeg);
    Ok(())
}

/// Tight's side of one connection: its four zlib streams (three used: full colour, two
/// colours, indexed), started on first use and kept for the connection's life, and the
/// settings the client chose. The streams live here, not with the caller, because the client
/// decodes each one with a dictionary that carries over from block to block.
#[derive(Debug)]
pub struct Tight {
    streams: [Option<Stream>; 4],
    level: u32,
    quality: Option<u8>,
}

impl Tight {
    /// No stream started yet; streams start at zlib `level` and blocks are lossless.
    pub fn new(level: u32) -> Self {
        Tight {
            streams: [None, None, None, None],
            level,
            quality: None,
        }
    }

    /// The zlib level of streams not started yet.
    pub fn set_level(&mut self, level: u32) {
        self.level = level;
    }

    /// The client's JPEG quality level (`None`: every block lossless).
    pub fn set_quality(&mut self, quality: Option<u8>) {
        self.quality = quality;
    }

    /// Appends one Tight rectangle's data (after its header): `pixels`, `width` a row, packed
    /// in `format`. `table` is the connection's colour table and `scratch` its buffer, both
    /// emptied here.
    pub fn encode(
        &mut self,
        format: &PixelFormat,
        pixels: &[u32],
        width: usize,
        table: &mut Palette,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), RfbError> {
        let palette = if fill_palette(table, pixels) {
            table.colours()
        } else {
            &[][..]
        };
        scratch.clear();
        let stream = match palette.len() {
            1 => {
                put_fill(format, palette[0], out);
                return Ok(());
            }
            // A palette pays when the indices are much smaller than the pixels.
            n @ 2..=256 if n * 2 <= pixels.len() => {
                let id = if n == 2 { STREAM_MONO } else { STREAM_INDEXED };
                out.push(0x40 | ((id as u8) << 4));
                out.push(1);
                out.push((n - 1) as u8);
                for &p in palette {
                    format.put_tpixel(p, out);
                }
                put_indices(table, pixels, width, scratch);
                id
            }
            _ if self.quality.is_some()
                && format.tight_rgb24()
                && width >= MIN_JPEG_SIDE
                && pixels.len() / width >= MIN_JPEG_SIDE =>
            {
                let level = self.quality.unwrap_or(9);
                return put_jpeg(format, pixels, width, level, scratch, out);
            }
            _ => {
                out.push((STREAM_FULL as u8) << 4);
                scratch.reserve(pixels.len() * format.tpixel_len());
                for &p in pixels {
                    format.put_tpixel(p, scratch);
                }
                STREAM_FULL
            }
        };
        self.put_data(stream, scratch, out)
    }

    /// Appends `data`, as it is when short (the protocol's rule), else compressed by stream
    /// `id` after its compact length.
    fn put_data(&mut self, id: usize, data: &[u8], out: &mut Vec<u8>) -> Result<(), RfbError> {
        if data.len() < MIN_TO_COMPRESS {
            out.extend_from_slice(data);
            return Ok(());
        }
        // The length goes before the data: compress after a placeholder of the longest form,
        // then close the gap.
        let at = out.len();
        out.extend_from_slice(&[0; 3]);
        let level = self.level;
        self.streams[id]
            .get_or_insert_with(|| Stream::new(level))
            .compress(data, out)?;
        let len = out.len() - at - 3;
        let mut prefix = Vec::with_capacity(3);
        put_compact_len(len, &mut prefix);
        out.splice(at..at + 3, prefix);
        Ok(())
    }
}

/// Empties `table` and fills it with the colours of `pixels`; false when there are more
/// than 256 (the table then holds only some of them).
fn fill_palette(table: &mut Palette, pixels: &[u32]) -> bool {
    table.clear();
    let mut last = None;
    for &p in pixels {
        if last == Some(p) {
            continue;
        }
        last = Some(p);
        if !table.insert(p, 256) {
            return false;
        }
    }
    true
}

/// Appends each pixel's index in `table`: one bit a pixel, rows padded to whole bytes, for two
/// colours; a byte a pixel for more.
fn put_indices(table: &Palette, pixels: &[u32], width: usize, out: &mut Vec<u8>) {
    let index = |v: u32| table.index(v);
    if table.colours().len() == 2 {
        for row in pixels.chunks_exact(width) {
            for bits in row.chunks(8) {
                let mut byte = 0u8;
                for (i, &p) in bits.iter().enumerate() {
                    byte |= index(p) << (7 - i);
                }
                out.push(byte);
            }
        }
        return;
    }
    let Some(&first) = pixels.first() else {
        return;
    };
    let mut cached = (first, index(first));
    for &p in pixels {
        if p != cached.0 {
            cached = (p, index(p));
        }
        out.push(cached.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_lengths() {
        for (n, want) in [
            (5usize, vec![5u8]),
            (0x80, vec![0x80, 0x01]),
            (10000, vec![0x90, 0x4e]),
            (0x4000, vec![0x80, 0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            put_compact_len(n, &mut out);
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn blocks_cover_the_rect_once() {
        let r = Rect::new(10, 20, 300, 500);
        let b: Vec<Rect> = blocks(r).collect();
        // 65536 / 300 = 218 rows a block.
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().map(Rect::area).sum::<u64>(), r.area());
        assert_eq!(b[2], Rect::new(10, 20 + 436, 300, 64));
        let wide = Rect::new(0, 0, 5000, 20);
        let b: Vec<Rect> = blocks(wide).collect();
        assert!(b.iter().all(|r| r.width <= 2048 && r.area() <= 65536));
        assert_eq!(b.iter().map(Rect::area).sum::<u64>(), wide.area());
    }
}
