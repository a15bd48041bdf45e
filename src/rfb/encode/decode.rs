//! A client's side of the encodings served: what a client shows for the bytes the encoders
//! write. It is written from the protocol's text (RFC 6143 for Raw and ZRLE, the community
//! registry's Tight), apart from the encoders, so that round trips through it check them: the
//! tests and the fuzz targets decode every update the encoders write and compare pixels.
//!
//! It is strict where the protocol is: a palette index past the palette, a run past its tile,
//! a subencoding or control byte the protocol does not define, a rectangle outside the screen
//! or data left over are errors, never a panic. What it inflates is bounded by what the
//! rectangle can hold.

use super::super::error::RfbError;
use super::super::messages::encoding;
use super::super::pixel::PixelFormat;
use crate::image::RgbaImage;
use flate2::{Decompress, FlushDecompress, Status};

/// Decodes one JPEG: its width, height and RGB8 pixels. The library has no JPEG decoder of its
/// own; a caller that asks for Tight's JPEG blocks gives one.
pub type JpegDecoder = fn(&[u8]) -> Result<(usize, usize, Vec<u8>), String>;

/// Side of a ZRLE tile.
const ZRLE_TILE: usize = 64;
/// Tight sends data shorter than this uncompressed.
const TIGHT_MIN_TO_COMPRESS: usize = 12;

/// A client's side of one connection: its pixel format and its zlib streams, which carry over
/// from one rectangle to the next as the server's do.
#[derive(Debug)]
pub struct Decoder {
    format: PixelFormat,
    jpeg: Option<JpegDecoder>,
    zrle: Decompress,
    tight: [Decompress; 4],
}

fn bad(what: impl Into<String>) -> RfbError {
    RfbError::Protocol(what.into())
}

/// Inflates all of `data` (ending with a sync flush) from the stream `z`; more than `limit`
/// bytes out is an error.
fn inflate(z: &mut Decompress, data: &[u8], limit: usize) -> Result<Vec<u8>, RfbError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).max(256).min(limit + 1));
    let start = z.total_in();
    loop {
        let taken = (z.total_in() - start) as usize;
        let status = z
            .decompress_vec(&data[taken..], &mut out, FlushDecompress::Sync)
            .map_err(|e| RfbError::Zlib(e.to_string()))?;
        if out.len() > limit {
            return Err(bad(format!("zlib data inflates past {limit} bytes")));
        }
        if status == Status::StreamEnd {
            return Err(bad(
                "the zlib stream ended (it lasts as long as the connection)",
            ));
        }
        let taken = (z.total_in() - start) as usize;
        if out.len() < out.capacity() {
            if taken == data.len() {
                return Ok(out);
            }
            if status == Status::BufError {
                return Err(bad("zlib data that inflates to nothing"));
            }
        } else {
            out.reserve(out.len().min(limit + 1 - out.len()).max(1));
        }
    }
}

/// Bytes read front to back; reading past the end is an error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RfbError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| bad(format!("{n} bytes wanted, {} left", self.left())))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn u8(&mut self) -> Result<u8, RfbError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, RfbError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, RfbError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Tight's compact length: 7 bits a byte, low first, all 8 bits of a third byte.
    fn compact_len(&mut self) -> Result<usize, RfbError> {
        let mut len = 0usize;
        for i in 0..3 {
            let b = self.u8()?;
            len |= usize::from(if i == 2 { b } else { b & 0x7f }) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        Ok(len)
    }

    /// A PIXEL: `bytes_per_pixel` bytes in the format's byte order.
    fn pixel(&mut self, f: &PixelFormat) -> Result<u32, RfbError> {
        let b = self.take(f.bytes_per_pixel())?;
        Ok(match (b.len(), f.big_endian) {
            (1, _) => u32::from(b[0]),
            (2, false) => u32::from(u16::from_le_bytes([b[0], b[1]])),
            (2, true) => u32::from(u16::from_be_bytes([b[0], b[1]])),
            (_, false) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            (_, true) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        })
    }

    /// A ZRLE CPIXEL (RFC 6143 7.7.6): three bytes when the format is true colour, 32 bits, of
    /// depth 24 or less, and every bit of red, green and blue lies in the least or the most
    /// significant three bytes; otherwise a PIXEL.
    fn cpixel(&mut self, f: &PixelFormat) -> Result<u32, RfbError> {
        let Some(low) = cpixel_in_low_bytes(f) else {
            return self.pixel(f);
        };
        let b = self.take(3)?;
        // Where the three bytes sat in the pixel's four, in memory order.
        let mut v = [0u8; 4];
        let at = usize::from(low == f.big_endian);
        v[at..at + 3].copy_from_slice(b);
        Ok(if f.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        })
    }

    /// A Tight TPIXEL: R, G, B bytes when the format is 32 bits of depth 24 with 8-bit
    /// channels; otherwise a PIXEL.
    fn tpixel(&mut self, f: &PixelFormat) -> Result<u32, RfbError> {
        if f.bits_per_pixel == 32
            && f.depth == 24
            && (f.red_max, f.green_max, f.blue_max) == (255, 255, 255)
        {
            let b = self.take(3)?;
            Ok((u32::from(b[0]) << f.red_shift)
                | (u32::from(b[1]) << f.green_shift)
                | (u32::from(b[2]) << f.blue_shift))
        } else {
            self.pixel(f)
        }
    }
}

/// For a format with 3-byte CPIXELs, whether they are the pixel value's least significant
/// three bytes (else its most significant); `None` when CPIXELs are whole PIXELs.
fn cpixel_in_low_bytes(f: &PixelFormat) -> Option<bool> {
    if !f.true_colour || f.bits_per_pixel != 32 || f.depth > 24 {
        return None;
    }
    // Every bit a channel's values can set, not just the bits of its maximum.
    let bits = |max: u16, shift: u8| {
        let width = 16 - max.leading_zeros();
        (((1u64 << width) - 1) << shift) as u32
    };
    let used = bits(f.red_max, f.red_shift)
        | bits(f.green_max, f.green_shift)
        | bits(f.blue_max, f.blue_shift);
    if used & 0xff00_0000 == 0 {
        Some(true)
    } else if used & 0x0000_00ff == 0 {
        Some(false)
    } else {
        None
    }
}

/// Where a rectangle's pixels go.
struct Target<'a> {
    image: &'a mut RgbaImage,
    format: PixelFormat,
    x: usize,
    y: usize,
}

impl Target<'_> {
    fn put(&mut self, px: usize, py: usize, value: u32) {
        let i = ((self.y + py) * self.image.width as usize + self.x + px) * 4;
        self.image.data[i..i + 4].copy_from_slice(&self.format.unpack(value));
    }
}

impl Decoder {
    /// A client that asked for `format`, taking no JPEG.
    pub fn new(format: PixelFormat) -> Self {
        Decoder {
            format,
            jpeg: None,
            zrle: Decompress::new(true),
            tight: std::array::from_fn(|_| Decompress::new(true)),
        }
    }

    /// The same, decoding Tight's JPEG blocks with `jpeg`.
    pub fn with_jpeg(mut self, jpeg: JpegDecoder) -> Self {
        self.jpeg = Some(jpeg);
        self
    }

    /// Its pixel format.
    pub fn format(&self) -> &PixelFormat {
        &self.format
    }

    /// A new pixel format for what follows (the zlib streams go on).
    pub fn set_format(&mut self, format: PixelFormat) {
        self.format = format;
    }

    /// Decodes the `rects` rectangles of one FramebufferUpdate body (after its 4-byte header)
    /// onto `image`, the screen; returns the bytes they took.
    pub fn apply(
        &mut self,
        rects: usize,
        body: &[u8],
        image: &mut RgbaImage,
    ) -> Result<usize, RfbError> {
        let mut r = Reader::new(body);
        for _ in 0..rects {
            let (x, y) = (usize::from(r.u16()?), usize::from(r.u16()?));
            let (w, h) = (usize::from(r.u16()?), usize::from(r.u16()?));
            let enc = r.u32()? as i32;
            if x + w > image.width as usize || y + h > image.height as usize {
                return Err(bad(format!(
                    "a {w}x{h} rectangle at ({x}, {y}) outside the {}x{} screen",
                    image.width, image.height
                )));
            }
            let mut to = Target {
                image: &mut *image,
                format: self.format,
                x,
                y,
            };
            match enc {
                encoding::RAW => {
                    for py in 0..h {
                        for px in 0..w {
                            let v = r.pixel(&self.format)?;
                            to.put(px, py, v);
                        }
                    }
                }
                encoding::ZRLE => self.zrle(&mut r, w, h, &mut to)?,
                encoding::TIGHT => self.tight(&mut r, w, h, &mut to)?,
                other => return Err(bad(format!("encoding {other} is not decoded here"))),
            }
        }
        Ok(r.at)
    }

    fn zrle(
        &mut self,
        r: &mut Reader,
        w: usize,
        h: usize,
        to: &mut Target,
    ) -> Result<(), RfbError> {
        let f = self.format;
        let len = r.u32()? as usize;
        let cp = if cpixel_in_low_bytes(&f).is_some() {
            3
        } else {
            f.bytes_per_pixel()
        };
        // The largest tile is a palette of 127 colours and a byte and a run length per pixel.
        let tiles = w.div_ceil(ZRLE_TILE) * h.div_ceil(ZRLE_TILE);
        let limit = tiles * (1 + 127 * cp) + w * h * (cp + 1);
        let data = inflate(&mut self.zrle, r.take(len)?, limit)?;
        let mut d = Reader::new(&data);
        let mut tile = Vec::with_capacity(ZRLE_TILE * ZRLE_TILE);
        for ty in (0..h).step_by(ZRLE_TILE) {
            for tx in (0..w).step_by(ZRLE_TILE) {
                let (tw, th) = (ZRLE_TILE.min(w - tx), ZRLE_TILE.min(h - ty));
                zrle_tile(&mut d, &f, tw * th, tw, &mut tile)
                    .map_err(|e| bad(format!("ZRLE tile at ({tx}, {ty}): {e}")))?;
                for (i, &v) in tile.iter().enumerate() {
                    to.put(tx + i % tw, ty + i / tw, v);
                }
            }
        }
        if d.left() > 0 {
            return Err(bad(format!("{} bytes after the last ZRLE tile", d.left())));
        }
        Ok(())
    }

    fn tight(
        &mut self,
        r: &mut Reader,
        w: usize,
        h: usize,
        to: &mut Target,
    ) -> Result<(), RfbError> {
        let f = self.format;
        let control = r.u8()?;
        // The low four bits reset streams, before anything is read from them.
        for (i, stream) in self.tight.iter_mut().enumerate() {
            if control & (1 << i) != 0 {
                stream.reset(true);
            }
        }
        match control >> 4 {
            0x8 => {
                let v = r.tpixel(&f)?;
                for py in 0..h {
                    for px in 0..w {
                        to.put(px, py, v);
                    }
                }
                return Ok(());
            }
            0x9 => {
                let len = r.compact_len()?;
                let jpeg = r.take(len)?;
                let decode = self
                    .jpeg
                    .ok_or_else(|| bad("a Tight JPEG block, which this client did not ask for"))?;
                let (jw, jh, rgb) = decode(jpeg).map_err(|e| bad(format!("JPEG: {e}")))?;
                if (jw, jh) != (w, h) || rgb.len() != w * h * 3 {
                    return Err(bad(format!("a {jw}x{jh} JPEG in a {w}x{h} rectangle")));
                }
                for (i, px) in rgb.chunks_exact(3).enumerate() {
                    to.put(i % w, i / w, f.pack([px[0], px[1], px[2], 255]));
                }
                return Ok(());
            }
            basic if basic & 0x8 == 0 => {}
            other => return Err(bad(format!("Tight compression {other:#x}"))),
        }
        let stream = usize::from((control >> 4) & 3);
        let filter = if control & 0x40 != 0 { r.u8()? } else { 0 };
        let palette: Vec<u32> = match filter {
            0 => Vec::new(),
            1 => {
                let n = usize::from(r.u8()?) + 1;
                (0..n).map(|_| r.tpixel(&f)).collect::<Result<_, _>>()?
            }
            other => return Err(bad(format!("Tight filter {other}"))),
        };
        let tp = if f.bits_per_pixel == 32
            && f.depth == 24
            && (f.red_max, f.green_max, f.blue_max) == (255, 255, 255)
        {
            3
        } else {
            f.bytes_per_pixel()
        };
        // Two colours (or one) take a bit a pixel, rows padded to bytes; more take a byte.
        let raw_len = match palette.len() {
            0 => w * h * tp,
            1..=2 => w.div_ceil(8) * h,
            _ => w * h,
        };
        let data = if raw_len < TIGHT_MIN_TO_COMPRESS {
            r.take(raw_len)?.to_vec()
        } else {
            let len = r.compact_len()?;
            inflate(&mut self.tight[stream], r.take(len)?, raw_len)?
        };
        if data.len() != raw_len {
            return Err(bad(format!(
                "Tight data of {} bytes for {raw_len}",
                data.len()
            )));
        }
        let index = |i: u8| {
            palette
                .get(usize::from(i))
                .copied()
                .ok_or_else(|| bad(format!("palette index {i} of {}", palette.len())))
        };
        let mut d = Reader::new(&data);
        for py in 0..h {
            for px in 0..w {
                let v = match palette.len() {
                    0 => d.tpixel(&f)?,
                    1..=2 => index((data[py * w.div_ceil(8) + px / 8] >> (7 - px % 8)) & 1)?,
                    _ => index(data[py * w + px])?,
                };
                to.put(px, py, v);
            }
        }
        Ok(())
    }
}

/// One ZRLE tile of `pixels` pixels, `width` a row, into `tile`.
fn zrle_tile(
    d: &mut Reader,
    f: &PixelFormat,
    pixels: usize,
    width: usize,
    tile: &mut Vec<u32>,
) -> Result<(), RfbError> {
    tile.clear();
    let sub = d.u8()?;
    let colours = match sub {
        1..=16 => usize::from(sub),
        130..=255 => usize::from(sub - 128),
        0 | 128 => 0,
        other => return Err(bad(format!("subencoding {other}"))),
    };
    let palette: Vec<u32> = (0..colours)
        .map(|_| d.cpixel(f))
        .collect::<Result<_, _>>()?;
    let index = |i: u8| {
        palette
            .get(usize::from(i))
            .copied()
            .ok_or_else(|| bad(format!("palette index {i} of {}", palette.len())))
    };
    let run = |d: &mut Reader| -> Result<usize, RfbError> {
        let mut n = 1;
        loop {
            let b = d.u8()?;
            n += usize::from(b);
            if b != 255 {
                return Ok(n);
            }
        }
    };
    let push_run = |tile: &mut Vec<u32>, v: u32, n: usize| {
        if tile.len() + n > pixels {
            return Err(bad(format!("a run of {n} past the tile's end")));
        }
        tile.extend(std::iter::repeat_n(v, n));
        Ok(())
    };
    match sub {
        0 => {
            for _ in 0..pixels {
                tile.push(d.cpixel(f)?);
            }
        }
        1 => tile.resize(pixels, palette[0]),
        2..=16 => {
            let bits = match sub {
                2 => 1,
                3..=4 => 2,
                _ => 4,
            };
            for _ in 0..pixels / width {
                let row = d.take((width * bits).div_ceil(8))?;
                for px in 0..width {
                    let bit = px * bits;
                    let i = (row[bit / 8] >> (8 - bits - bit % 8)) & ((1 << bits) - 1);
                    tile.push(index(i)?);
                }
            }
        }
        128 => {
            while tile.len() < pixels {
                let v = d.cpixel(f)?;
                let n = run(d)?;
                push_run(tile, v, n)?;
            }
        }
        _ => {
            while tile.len() < pixels {
                let i = d.u8()?;
                let n = if i & 128 != 0 { run(d)? } else { 1 };
                push_run(tile, index(i & 127)?, n)?;
            }
        }
    }
    Ok(())
}
