//! Rectangle encoders: Raw, ZRLE and Tight, and the Cursor pseudo-encoding. An `Encoder` belongs
//! to one connection: ZRLE and Tight keep zlib streams across the whole connection.

pub mod decode;
mod palette;
mod solid;
mod tight;
mod zlib;
mod zrle;

use super::error::RfbError;
use super::messages::{encoding, put_rect_header};
use super::pixel::PixelFormat;
use crate::image::RgbaImage;
use palette::Palette;
use tight::Tight;
use zlib::Stream;

/// A rectangle of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
}

impl Rect {
    /// A rectangle.
    pub fn new(x: u16, y: u16, width: u16, height: u16) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// Its area in pixels.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// It cut into a grid of cells `width` wide and `rows` high (at least 1 each), row by
    /// row; the last cell of a row or column is what is left.
    pub fn grid(self, width: u16, rows: u16) -> impl Iterator<Item = Rect> {
        let (width, rows) = (width.max(1), rows.max(1));
        (0..self.height)
            .step_by(usize::from(rows))
            .flat_map(move |dy| {
                (0..self.width).step_by(usize::from(width)).map(move |dx| {
                    Rect::new(
                        self.x + dx,
                        self.y + dy,
                        width.min(self.width - dx),
                        rows.min(self.height - dy),
                    )
                })
            })
    }

    /// Whether it has no pixels.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// The part of it inside a `width` x `height` screen (possibly empty).
    pub fn clip(&self, width: u32, height: u32) -> Rect {
        let x0 = u32::from(self.x).min(width);
        let y0 = u32::from(self.y).min(height);
        let x1 = (u32::from(self.x) + u32::from(self.width)).min(width);
        let y1 = (u32::from(self.y) + u32::from(self.height)).min(height);
        Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16)
    }

    /// The part shared with `other` (possibly empty).
    pub fn intersect(&self, other: &Rect) -> Rect {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (u32::from(self.x) + u32::from(self.width))
            .min(u32::from(other.x) + u32::from(other.width));
        let y1 = (u32::from(self.y) + u32::from(self.height))
            .min(u32::from(other.y) + u32::from(other.height));
        if x1 <= u32::from(x0) || y1 <= u32::from(y0) {
            return Rect::default();
        }
        Rect::new(
            x0,
            y0,
            (x1 - u32::from(x0)) as u16,
            (y1 - u32::from(y0)) as u16,
        )
    }
}

/// A pixel encoding the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    /// Raw pixels.
    Raw,
    /// zlib run-length in 64x64 tiles.
    Zrle,
    /// Tight: fill, palette, zlib-compressed and (when the client asks) JPEG blocks.
    Tight,
}

impl Encoding {
    /// Its RFB number.
    pub fn number(self) -> i32 {
        match self {
            Encoding::Raw => encoding::RAW,
            Encoding::Zrle => encoding::ZRLE,
            Encoding::Tight => encoding::TIGHT,
        }
    }

    /// The encoding with RFB number `n`, if served.
    pub fn from_number(n: i32) -> Option<Self> {
        match n {
            encoding::RAW => Some(Encoding::Raw),
            encoding::ZRLE => Some(Encoding::Zrle),
            encoding::TIGHT => Some(Encoding::Tight),
            _ => None,
        }
    }

    /// Its name, as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Zrle => "zrle",
            Encoding::Tight => "tight",
        }
    }
}

/// `rect` of `image` cut into the rectangles Tight sends, each of which `Encoder::encode_one`
/// writes as one: first the solid areas worth a fill of their own, found as TigerVNC's
/// `EncodeManager` finds them (see `solid`), cut only to Tight's width; then the rest in
/// Tight's blocks. Sending those areas as fills is what makes a desktop cheap: their pixels
/// are neither packed nor indexed nor compressed. A rectangle outside the image is cut into
/// blocks unsearched (encoding it is then the error).
pub fn tight_pieces(image: &RgbaImage, rect: Rect) -> Vec<Rect> {
    let (solid, rest) = solid::split(image, rect);
    let mut pieces: Vec<Rect> = solid
        .into_iter()
        .flat_map(|r| r.grid(tight::BLOCK_WIDTH, u16::MAX))
        .collect();
    pieces.extend(rest.into_iter().flat_map(tight::blocks));
    pieces
}

/// An error unless `rect` is inside `image` (an empty one too: it has a place).
fn inside(image: &RgbaImage, rect: Rect) -> Result<(), RfbError> {
    if rect.clip(image.width, image.height) != rect {
        return Err(RfbError::protocol(format!(
            "a {}x{} rectangle at ({}, {}) outside the {}x{} picture",
            rect.width, rect.height, rect.x, rect.y, image.width, image.height
        )));
    }
    Ok(())
}

/// Encodes rectangles for one connection.
#[derive(Debug)]
pub struct Encoder {
    format: PixelFormat,
    /// The zlib level of ZRLE's stream, when it starts.
    level: u32,
    /// ZRLE's one stream, started by the first ZRLE rectangle.
    zrle: Option<Stream>,
    /// Tight's streams and the client's Tight settings.
    tight: Tight,
    /// The colour table of ZRLE's tiles and Tight's blocks, emptied for each one.
    palette: Palette,
    pixels: Vec<u32>,
    scratch: Vec<u8>,
}

impl Encoder {
    /// An encoder producing `format` pixels, zlib at `level` (0-9).
    pub fn new(format: PixelFormat, level: u32) -> Self {
        Encoder {
            format,
            level: level.min(9),
            zrle: None,
            tight: Tight::new(level.min(9)),
            palette: Palette::new(),
            pixels: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The pixel format of what follows. A running zlib stream keeps going: the format changes
    /// what is compressed, not the stream.
    pub fn set_format(&mut self, format: PixelFormat) {
        self.format = format;
    }

    /// The zlib level of streams not started yet (a running stream keeps its own: the client
    /// could not follow a change of level mid-stream anyway, but it needs none).
    pub fn set_level(&mut self, level: u32) {
        self.level = level.min(9);
        self.tight.set_level(self.level);
    }

    /// The client's JPEG quality level (0-9): Tight then sends full-colour blocks as JPEG
    /// when the pixel format is 24-bit colour. `None` keeps every encoding lossless.
    pub fn set_quality(&mut self, quality: Option<u8>) {
        self.tight.set_quality(quality.map(|q| q.min(9)));
    }

    /// The pixel format.
    pub fn format(&self) -> &PixelFormat {
        &self.format
    }

    /// Appends `rect` of `image` in `enc`; returns the rectangles written (Tight cuts it into
    /// the pieces `tight_pieces` gives). A rectangle outside the image is an error.
    pub fn encode(
        &mut self,
        enc: Encoding,
        image: &RgbaImage,
        rect: Rect,
        out: &mut Vec<u8>,
    ) -> Result<u32, RfbError> {
        inside(image, rect)?;
        if enc != Encoding::Tight {
            self.encode_one(enc, image, rect, out)?;
            return Ok(1);
        }
        let pieces = tight_pieces(image, rect);
        for &piece in &pieces {
            self.encode_one(enc, image, piece, out)?;
        }
        Ok(pieces.len() as u32)
    }

    /// Appends `rect` of `image` in `enc` as exactly one rectangle. For Tight it must be one of
    /// `tight_pieces`' pieces (or within a Tight block), else this is an error, as is a
    /// rectangle outside the image.
    pub fn encode_one(
        &mut self,
        enc: Encoding,
        image: &RgbaImage,
        rect: Rect,
        out: &mut Vec<u8>,
    ) -> Result<(), RfbError> {
        inside(image, rect)?;
        match enc {
            Encoding::Raw => {
                self.pack(image, rect);
                put_rect_header(out, rect.x, rect.y, rect.width, rect.height, encoding::RAW);
                out.reserve(self.pixels.len() * self.format.bytes_per_pixel());
                for &p in &self.pixels {
                    self.format.put_pixel(p, out);
                }
            }
            Encoding::Zrle => {
                self.pack(image, rect);
                let level = self.level;
                let stream = self.zrle.get_or_insert_with(|| Stream::new(level));
                put_rect_header(out, rect.x, rect.y, rect.width, rect.height, encoding::ZRLE);
                zrle::encode(
                    &self.format,
                    &self.pixels,
                    usize::from(rect.width),
                    usize::from(rect.height),
                    stream,
                    &mut self.palette,
                    &mut self.scratch,
                    out,
                )?;
            }
            Encoding::Tight => self.tight_one(image, rect, out)?,
        }
        Ok(())
    }

    /// One Tight rectangle: a fill when all of it is one colour, which needs neither packing
    /// nor a palette (the solid areas `tight_pieces` finds come here, whatever their size),
    /// else a block within Tight's limits through the palette, zlib or JPEG.
    fn tight_one(
        &mut self,
        image: &RgbaImage,
        rect: Rect,
        out: &mut Vec<u8>,
    ) -> Result<(), RfbError> {
        if let Some(rgba) = solid::colour(image, rect) {
            if rect.width > tight::BLOCK_WIDTH {
                return Err(RfbError::protocol(format!(
                    "a {}-pixel-wide Tight fill, wider than Tight's {}",
                    rect.width,
                    tight::BLOCK_WIDTH
                )));
            }
            put_rect_header(
                out,
                rect.x,
                rect.y,
                rect.width,
                rect.height,
                encoding::TIGHT,
            );
            tight::put_fill(&self.format, self.format.pack(rgba), out);
            return Ok(());
        }
        if rect.width > tight::BLOCK_WIDTH || rect.area() > u64::from(tight::BLOCK_PIXELS) {
            return Err(RfbError::protocol(format!(
                "a {}x{} Tight rectangle, larger than Tight's blocks",
                rect.width, rect.height
            )));
        }
        self.pack(image, rect);
        put_rect_header(
            out,
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            encoding::TIGHT,
        );
        self.tight.encode(
            &self.format,
            &self.pixels,
            usize::from(rect.width),
            &mut self.palette,
            &mut self.scratch,
            out,
        )
    }

    /// Packs `rect` of `image` into `self.pixels`.
    fn pack(&mut self, image: &RgbaImage, rect: Rect) {
        let stride = image.width as usize * 4;
        let start = usize::from(rect.y) * stride + usize::from(rect.x) * 4;
        let end =
            start + (usize::from(rect.height).max(1) - 1) * stride + usize::from(rect.width) * 4;
        let rows = if rect.is_empty() {
            &[][..]
        } else {
            &image.data[start..end]
        };
        self.format
            .pack_region(rows, stride, usize::from(rect.width), &mut self.pixels);
    }

    /// Appends a Cursor pseudo-rectangle: `image` as the client's cursor, its hotspot at
    /// (`hot_x`, `hot_y`), pixels where alpha is at least half opaque.
    pub fn cursor(&mut self, image: &RgbaImage, hot_x: u16, hot_y: u16, out: &mut Vec<u8>) {
        let (w, h) = (image.width as u16, image.height as u16);
        put_rect_header(out, hot_x, hot_y, w, h, encoding::CURSOR);
        self.pack(image, Rect::new(0, 0, w, h));
        for &p in &self.pixels {
            self.format.put_pixel(p, out);
        }
        let row_bytes = usize::from(w).div_ceil(8);
        for row in image.data.chunks_exact(usize::from(w).max(1) * 4) {
            let mut mask = vec![0u8; row_bytes];
            for (x, px) in row.chunks_exact(4).enumerate() {
                if px[3] >= 128 {
                    mask[x / 8] |= 0x80 >> (x % 8);
                }
            }
            out.extend_from_slice(&mask);
        }
    }
}

#[cfg(test)]
mod tests;
