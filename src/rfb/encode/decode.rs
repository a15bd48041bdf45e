//! A client's decoders for the encodings served, for round-trip tests: what a client would show
//! for the bytes the encoders write.

use super::super::pixel::PixelFormat;
use crate::frame::RgbaImage;
use flate2::{Decompress, FlushDecompress};

/// A client's side of one connection.
pub struct Decoder {
    pub format: PixelFormat,
    zrle: Decompress,
    tight: [Decompress; 4],
}

fn inflate(z: &mut Decompress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 8 + 1024);
    let start = z.total_in();
    loop {
        let taken = (z.total_in() - start) as usize;
        z.decompress_vec(&data[taken..], &mut out, FlushDecompress::Sync)
            .unwrap();
        if (z.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity());
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    /// Tight's compact length: 7 bits a byte, low first, at most three bytes.
    fn compact_len(&mut self) -> usize {
        let mut len = 0usize;
        for i in 0..3 {
            let b = self.u8();
            len |= usize::from(if i == 2 { b } else { b & 0x7f }) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        len
    }
    fn pixel(&mut self, f: &PixelFormat, n: usize) -> u32 {
        let b = self.take(n);
        let mut v = [0u8; 4];
        match (n, f.big_endian) {
            (1, _) => return u32::from(b[0]),
            (2, false) => return u32::from(u16::from_le_bytes([b[0], b[1]])),
            (2, true) => return u32::from(u16::from_be_bytes([b[0], b[1]])),
            (3, _) => {
                // A CPIXEL: put it back where its bytes came from.
                let low = {
                    let used = (u32::from(f.red_max) << f.red_shift)
                        | (u32::from(f.green_max) << f.green_shift)
                        | (u32::from(f.blue_max) << f.blue_shift);
                    used & 0xff00_0000 == 0
                };
                let at = match (low, f.big_endian) {
                    (true, false) | (false, true) => 0,
                    _ => 1,
                };
                v[at..at + 3].copy_from_slice(b);
            }
            _ => v.copy_from_slice(b),
        }
        if f.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
}

impl Decoder {
    pub fn new(format: PixelFormat) -> Self {
        Decoder {
            format,
            zrle: Decompress::new(true),
            tight: std::array::from_fn(|_| Decompress::new(true)),
        }
    }

    /// Decodes the rectangles of one update body (after its 4-byte header) onto `image`;
    /// returns the bytes taken.
    pub fn apply(&mut self, rects: usize, body: &[u8], image: &mut RgbaImage) -> usize {
        let mut r = Reader { b: body, at: 0 };
        for _ in 0..rects {
            let h = r.take(12).to_vec();
            let be16 = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
            let (x, y, w, hgt) = (be16(0), be16(2), be16(4), be16(6));
            let enc = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            let f = self.format;
            let bpp = f.bytes_per_pixel();
            let mut put = |px: usize, py: usize, v: u32| {
                let i = ((y + py) * image.width as usize + x + px) * 4;
                image.data[i..i + 4].copy_from_slice(&f.unpack(v));
            };
            match enc {
                0 => {
                    for py in 0..hgt {
                        for px in 0..w {
                            let v = r.pixel(&f, bpp);
                            put(px, py, v);
                        }
                    }
                }
                16 => {
                    let len = u32::from_be_bytes(r.take(4).try_into().unwrap()) as usize;
                    let data = inflate(&mut self.zrle, r.take(len));
                    let mut d = Reader { b: &data, at: 0 };
                    let cp = f.cpixel_len();
                    for ty in (0..hgt).step_by(64) {
                        for tx in (0..w).step_by(64) {
                            let (tw, th) = (64.min(w - tx), 64.min(hgt - ty));
                            let mut tile = Vec::with_capacity(tw * th);
                            let sub = d.u8();
                            let palette: Vec<u32> = match sub {
                                1..=16 | 130..=255 => {
                                    let n = usize::from(if sub >= 128 { sub - 128 } else { sub });
                                    (0..n).map(|_| d.pixel(&f, cp)).collect()
                                }
                                _ => Vec::new(),
                            };
                            let run = |d: &mut Reader| {
                                let mut n = 1;
                                loop {
                                    let b = d.u8();
                                    n += usize::from(b);
                                    if b != 255 {
                                        return n;
                                    }
                                }
                            };
                            match sub {
                                0 => (0..tw * th).for_each(|_| tile.push(d.pixel(&f, cp))),
                                1 => tile.resize(tw * th, palette[0]),
                                2..=16 => {
                                    let bits = match sub {
                                        2 => 1,
                                        3..=4 => 2,
                                        _ => 4,
                                    };
                                    for _ in 0..th {
                                        let row = d.take((tw * bits).div_ceil(8)).to_vec();
                                        for px in 0..tw {
                                            let bit = px * bits;
                                            let idx = (row[bit / 8] >> (8 - bits - bit % 8))
                                                & ((1 << bits) - 1);
                                            tile.push(palette[usize::from(idx)]);
                                        }
                                    }
                                }
                                128 => {
                                    while tile.len() < tw * th {
                                        let v = d.pixel(&f, cp);
                                        let n = run(&mut d);
                                        tile.extend(std::iter::repeat_n(v, n));
                                    }
                                }
                                _ => {
                                    while tile.len() < tw * th {
                                        let i = d.u8();
                                        let n = if i & 128 != 0 { run(&mut d) } else { 1 };
                                        tile.extend(std::iter::repeat_n(
                                            palette[usize::from(i & 127)],
                                            n,
                                        ));
                                    }
                                }
                            }
                            assert_eq!(tile.len(), tw * th, "tile overran");
                            for (i, &v) in tile.iter().enumerate() {
                                put(tx + i % tw, ty + i / tw, v);
                            }
                        }
                    }
                }
                7 => {
                    let control = r.u8();
                    let tp = f.tpixel_len();
                    let tpixel = |r: &mut Reader| {
                        if f.tight_rgb24() {
                            let b = r.take(3);
                            f.pack([b[0], b[1], b[2], 255])
                        } else {
                            r.pixel(&f, bpp)
                        }
                    };
                    if control == 0x90 {
                        let len = r.compact_len();
                        let jpeg = r.take(len).to_vec();
                        let mut d = jpeg_decoder::Decoder::new(&jpeg[..]);
                        let rgb = d.decode().unwrap();
                        let info = d.info().unwrap();
                        assert_eq!(
                            (usize::from(info.width), usize::from(info.height)),
                            (w, hgt)
                        );
                        for (i, px) in rgb.chunks_exact(3).enumerate() {
                            put(i % w, i / w, f.pack([px[0], px[1], px[2], 255]));
                        }
                        continue;
                    }
                    if control == 0x80 {
                        let v = tpixel(&mut r);
                        for py in 0..hgt {
                            for px in 0..w {
                                put(px, py, v);
                            }
                        }
                        continue;
                    }
                    assert_eq!(control & 0x8f, 0, "no JPEG, no resets");
                    let stream = usize::from((control >> 4) & 3);
                    let palette: Vec<u32> = if control & 0x40 != 0 {
                        assert_eq!(r.u8(), 1, "palette filter");
                        let n = usize::from(r.u8()) + 1;
                        (0..n).map(|_| tpixel(&mut r)).collect()
                    } else {
                        Vec::new()
                    };
                    let raw_len = match palette.len() {
                        0 => w * hgt * tp,
                        2 => w.div_ceil(8) * hgt,
                        _ => w * hgt,
                    };
                    let data = if raw_len < 12 {
                        r.take(raw_len).to_vec()
                    } else {
                        let len = r.compact_len();
                        inflate(&mut self.tight[stream], r.take(len))
                    };
                    assert_eq!(data.len(), raw_len);
                    let mut d = Reader { b: &data, at: 0 };
                    for py in 0..hgt {
                        for px in 0..w {
                            let v = match palette.len() {
                                0 => tpixel(&mut d),
                                2 => {
                                    palette[usize::from(
                                        (data[py * w.div_ceil(8) + px / 8] >> (7 - px % 8)) & 1,
                                    )]
                                }
                                _ => palette[usize::from(data[py * w + px])],
                            };
                            put(px, py, v);
                        }
                    }
                }
                other => panic!("encoding {other}"),
            }
        }
        r.at
    }
}
