//! The round trip shared by the encoder targets: an arbitrary picture in an arbitrary pixel
//! format, sent as several updates of arbitrary rectangles through one long-lived `Encoder` (its
//! palette table and zlib streams carried from rectangle to rectangle and update to update, as
//! a connection's are), decoded by the library's reference decoder, and compared pixel for
//! pixel with what the client should show. The encoders are lossless (no JPEG quality is set),
//! so any difference is an encoder defect, and so is any error the decoder reports.
//!
//! The input's layout, every field a byte unless said, missing bytes read as 0:
//! - format: below 0xf0 a common format from `FORMATS`; otherwise 16 more bytes are an RFB
//!   PIXEL_FORMAT, used if the server would accept it;
//! - zlib level; width and height, two bytes each (1 to `MAX_SIDE`);
//! - colours: a count (1 to 64), then R, G, B for each: pictures are painted with few colours,
//!   so that palettes, runs and hash collisions in the palette table are common;
//! - updates: a count (1 to 4), then for each: a count of paint strokes and each stroke's
//!   colour and length, then a count of rectangles (1 to 4) and each one's x, y, width and
//!   height as fractions of the screen (a byte each, /255).
//!   The first update's strokes repeat to fill the whole picture; later ones go on from where
//!   the last stopped.

use vfio_display::frame::RgbaImage;
use vfio_display::rfb::encode::decode::Decoder;
use vfio_display::rfb::{Encoder, Encoding, PixelFormat, Rect};

/// Pictures are at most this many pixels a side: over a ZRLE tile's 64 and big enough that
/// Tight splits a rectangle (at 65536 pixels), small enough to run fast.
const MAX_SIDE: u32 = 320;

const FORMATS: [PixelFormat; 6] = [
    PixelFormat::SERVER,
    PixelFormat {
        big_endian: true,
        ..PixelFormat::SERVER
    },
    // 0xRRGGBB00: three-byte CPIXELs are the most significant bytes.
    PixelFormat {
        red_shift: 24,
        green_shift: 16,
        blue_shift: 8,
        ..PixelFormat::SERVER
    },
    // RGB565.
    PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    },
    // BGR233.
    PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: true,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    },
    // 10 bits a channel: CPIXELs are whole pixels, TPIXELs too.
    PixelFormat {
        bits_per_pixel: 32,
        depth: 30,
        big_endian: true,
        true_colour: true,
        red_max: 1023,
        green_max: 1023,
        blue_max: 1023,
        red_shift: 20,
        green_shift: 10,
        blue_shift: 0,
    },
];

struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
}

/// What a client shows for `rgba` in `format`.
fn shown(format: &PixelFormat, rgba: &[u8]) -> [u8; 4] {
    format.unpack(format.pack([rgba[0], rgba[1], rgba[2], rgba[3]]))
}

/// Runs the round trip of `data` through `encoding`.
pub fn run(data: &[u8], encoding: Encoding) {
    let mut input = Input { data, at: 0 };
    let selector = input.byte();
    let format = if selector < 0xf0 {
        FORMATS[usize::from(selector) % FORMATS.len()]
    } else {
        let mut bytes = [0u8; 16];
        bytes.iter_mut().for_each(|b| *b = input.byte());
        let format = PixelFormat::from_bytes(&bytes);
        if format.validate().is_err() {
            return;
        }
        format
    };
    let level = u32::from(input.byte() % 10);
    let width = 1 + u32::from(input.u16()) % MAX_SIDE;
    let height = 1 + u32::from(input.u16()) % MAX_SIDE;
    let colours: Vec<[u8; 4]> = (0..1 + input.byte() % 64)
        .map(|_| [input.byte(), input.byte(), input.byte(), 255])
        .collect();
    let pixels = (width * height) as usize;
    let mut picture = RgbaImage::new(width, height);
    let mut client = RgbaImage::new(width, height);
    let mut expected = RgbaImage::new(width, height);
    let mut encoder = Encoder::new(format, level);
    let mut decoder = Decoder::new(format);
    let mut cursor = 0usize;
    let updates = 1 + input.byte() % 4;
    for update in 0..updates {
        let strokes: Vec<([u8; 4], usize)> = (0..input.byte())
            .map(|_| {
                let colour = colours[usize::from(input.byte()) % colours.len()];
                (colour, 1 + usize::from(input.byte()))
            })
            .collect();
        if update == 0 {
            // The first picture is filled: its strokes repeat (one colour when there are none).
            for p in picture.data.chunks_exact_mut(4) {
                p.copy_from_slice(&colours[0]);
            }
        }
        let mut paint = |cursor: &mut usize| {
            for &(colour, len) in &strokes {
                for _ in 0..len {
                    let i = *cursor % pixels * 4;
                    picture.data[i..i + 4].copy_from_slice(&colour);
                    *cursor += 1;
                }
            }
        };
        if update == 0 {
            while !strokes.is_empty() && cursor < pixels {
                paint(&mut cursor);
            }
        } else {
            paint(&mut cursor);
        }
        let mut out = Vec::new();
        let mut count = 0usize;
        for _ in 0..1 + input.byte() % 4 {
            let part = |b: u8, side: u32| (u32::from(b) * side / 255) as u16;
            let (x, y) = (part(input.byte(), width), part(input.byte(), height));
            let (w, h) = (part(input.byte(), width), part(input.byte(), height));
            let rect = Rect::new(x, y, w, h).clip(width, height);
            count += encoder
                .encode(encoding, &picture, rect, &mut out)
                .expect("encoding a valid rectangle") as usize;
            for row in u32::from(rect.y)..u32::from(rect.y) + u32::from(rect.height) {
                for col in u32::from(rect.x)..u32::from(rect.x) + u32::from(rect.width) {
                    let i = ((row * width + col) * 4) as usize;
                    let want = shown(&format, &picture.data[i..i + 4]);
                    expected.data[i..i + 4].copy_from_slice(&want);
                }
            }
        }
        let used = decoder
            .apply(count, &out, &mut client)
            .unwrap_or_else(|e| panic!("update {update} in {format:?}: {e}"));
        assert_eq!(
            used,
            out.len(),
            "update {update}: bytes after the rectangles"
        );
        if let Some(i) =
            (0..pixels).find(|&i| client.data[i * 4..i * 4 + 4] != expected.data[i * 4..i * 4 + 4])
        {
            panic!(
                "update {update} in {format:?}: pixel ({}, {}) shows {:?}, not {:?}",
                i as u32 % width,
                i as u32 / width,
                &client.data[i * 4..i * 4 + 4],
                &expected.data[i * 4..i * 4 + 4]
            );
        }
    }
}
