//! RFB pixel formats: what the client asks for (SetPixelFormat) and packing RGBA into it.

use super::error::RfbError;

/// An RFB PIXEL_FORMAT (RFC 6143 section 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits in a pixel.
    pub depth: u8,
    /// Multi-byte pixels are big-endian.
    pub big_endian: bool,
    /// Pixels carry colour values (colour maps are not supported).
    pub true_colour: bool,
    /// Largest red value.
    pub red_max: u16,
    /// Largest green value.
    pub green_max: u16,
    /// Largest blue value.
    pub blue_max: u16,
    /// Bit position of red.
    pub red_shift: u8,
    /// Bit position of green.
    pub green_shift: u8,
    /// Bit position of blue.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// The server's own format: 32 bits, depth 24, little-endian, 0x00RRGGBB.
    pub const SERVER: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// Reads the 16 bytes of a PIXEL_FORMAT.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        }
    }

    /// The 16 bytes of this PIXEL_FORMAT (three padding bytes at the end).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        b
    }

    /// Checks that pixels in this format can be produced: 8, 16 or 32 bits, true colour, and
    /// each channel's bits inside the pixel.
    pub fn validate(&self) -> Result<(), RfbError> {
        if !matches!(self.bits_per_pixel, 8 | 16 | 32) {
            return Err(RfbError::PixelFormat(format!(
                "{} bits per pixel (8, 16 or 32 are allowed)",
                self.bits_per_pixel
            )));
        }
        if !self.true_colour {
            return Err(RfbError::PixelFormat(
                "colour-map pixels (only true colour is served)".into(),
            ));
        }
        let mut used = 0u32;
        for (name, max, shift) in self.channels() {
            let bits = 16 - max.leading_zeros();
            if max == 0 || u32::from(shift) + bits > u32::from(self.bits_per_pixel) {
                return Err(RfbError::PixelFormat(format!(
                    "{name} max {max} at shift {shift} does not fit in {} bits",
                    self.bits_per_pixel
                )));
            }
            // RFC 6143 7.4: a max is 2^n - 1 for the n bits of its channel. Any other value
            // leaves values whose bits fall outside the channel's mask, which no client reads
            // back as they were packed.
            if !(u32::from(max) + 1).is_power_of_two() {
                return Err(RfbError::PixelFormat(format!(
                    "{name} max {max} is not 2^n - 1"
                )));
            }
            // Channels sharing bits would mix their colours in every pixel.
            let mask = u32::from(max) << shift;
            if used & mask != 0 {
                return Err(RfbError::PixelFormat(format!(
                    "{name} at shift {shift} overlaps another channel's bits"
                )));
            }
            used |= mask;
        }
        Ok(())
    }

    fn channels(&self) -> [(&'static str, u16, u8); 3] {
        [
            ("red", self.red_max, self.red_shift),
            ("green", self.green_max, self.green_shift),
            ("blue", self.blue_max, self.blue_shift),
        ]
    }

    /// Bytes in one pixel.
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Whether pixels are 0x00RRGGBB-like: 32 bits with 8-bit channels on byte boundaries, so
    /// packing is byte moves.
    fn is_byte_aligned_rgb(&self) -> bool {
        self.bits_per_pixel == 32
            && self.red_max == 255
            && self.green_max == 255
            && self.blue_max == 255
            && self.red_shift.is_multiple_of(8)
            && self.green_shift.is_multiple_of(8)
            && self.blue_shift.is_multiple_of(8)
    }

    /// Packs an RGBA pixel into this format's value (alpha is dropped); each channel is scaled
    /// to its max with rounding.
    pub fn pack(&self, rgba: [u8; 4]) -> u32 {
        let scale = |c: u8, max: u16| (u32::from(c) * u32::from(max) + 127) / 255;
        (scale(rgba[0], self.red_max) << self.red_shift)
            | (scale(rgba[1], self.green_max) << self.green_shift)
            | (scale(rgba[2], self.blue_max) << self.blue_shift)
    }

    /// The RGBA pixel a client shows for `value` (each channel scaled back to 0..=255).
    pub fn unpack(&self, value: u32) -> [u8; 4] {
        let channel = |max: u16, shift: u8| {
            let v = (value >> shift) & u32::from(max);
            ((v * 255 + u32::from(max) / 2) / u32::from(max)) as u8
        };
        [
            channel(self.red_max, self.red_shift),
            channel(self.green_max, self.green_shift),
            channel(self.blue_max, self.blue_shift),
            255,
        ]
    }

    /// Packs a row-major RGBA region (`width` pixels per row, `stride` bytes between rows of
    /// `rgba`) into pixel values.
    pub fn pack_region(&self, rgba: &[u8], stride: usize, width: usize, out: &mut Vec<u32>) {
        out.clear();
        let fast = self.is_byte_aligned_rgb();
        for row in rgba.chunks(stride) {
            let row = &row[..width * 4];
            if fast {
                out.extend(row.chunks_exact(4).map(|p| {
                    (u32::from(p[0]) << self.red_shift)
                        | (u32::from(p[1]) << self.green_shift)
                        | (u32::from(p[2]) << self.blue_shift)
                }));
            } else {
                out.extend(
                    row.chunks_exact(4)
                        .map(|p| self.pack([p[0], p[1], p[2], p[3]])),
                );
            }
        }
    }

    /// Appends a PIXEL: `bytes_per_pixel` bytes in the format's byte order.
    pub fn put_pixel(&self, value: u32, out: &mut Vec<u8>) {
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(value as u8),
            (16, false) => out.extend_from_slice(&(value as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(value as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&value.to_le_bytes()),
            (_, true) => out.extend_from_slice(&value.to_be_bytes()),
        }
    }

    /// Which three bytes of a 32-bit pixel carry its colour, when ZRLE may send CPIXELs of three
    /// bytes: `Some(0)` for the low three of the pixel's bytes in memory order, `Some(1)` for the
    /// high three; `None` when CPIXELs are whole pixels.
    fn cpixel_offset(&self) -> Option<usize> {
        if self.bits_per_pixel != 32 || self.depth > 24 || !self.true_colour {
            return None;
        }
        let used = self.channels().iter().fold(0u32, |acc, &(_, max, shift)| {
            acc | (u32::from(max) << shift)
        });
        let in_low = used & 0xff00_0000 == 0;
        let in_high = used & 0x0000_00ff == 0;
        match (in_low, in_high, self.big_endian) {
            (true, _, false) | (false, true, true) => Some(0),
            (true, _, true) | (false, true, false) => Some(1),
            _ => None,
        }
    }

    /// Bytes in a ZRLE CPIXEL.
    pub fn cpixel_len(&self) -> usize {
        match self.cpixel_offset() {
            Some(_) => 3,
            None => self.bytes_per_pixel(),
        }
    }

    /// Appends a ZRLE CPIXEL.
    pub fn put_cpixel(&self, value: u32, out: &mut Vec<u8>) {
        match self.cpixel_offset() {
            Some(at) => {
                let bytes = if self.big_endian {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                out.extend_from_slice(&bytes[at..at + 3]);
            }
            None => self.put_pixel(value, out),
        }
    }

    /// Whether Tight's TPIXEL is three bytes R, G, B (32 bits, depth 24, 8-bit channels).
    pub fn tight_rgb24(&self) -> bool {
        self.bits_per_pixel == 32
            && self.depth == 24
            && self.red_max == 255
            && self.green_max == 255
            && self.blue_max == 255
    }

    /// Appends a Tight TPIXEL.
    pub fn put_tpixel(&self, value: u32, out: &mut Vec<u8>) {
        if self.tight_rgb24() {
            out.extend_from_slice(&[
                (value >> self.red_shift) as u8,
                (value >> self.green_shift) as u8,
                (value >> self.blue_shift) as u8,
            ]);
        } else {
            self.put_pixel(value, out);
        }
    }

    /// Bytes in a Tight TPIXEL.
    pub fn tpixel_len(&self) -> usize {
        if self.tight_rgb24() {
            3
        } else {
            self.bytes_per_pixel()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_server_format_is_xrgb() {
        let f = PixelFormat::SERVER;
        assert_eq!(PixelFormat::from_bytes(&f.to_bytes()), f);
        assert_eq!(f.pack([0x12, 0x34, 0x56, 0]), 0x0012_3456);
        let mut out = Vec::new();
        f.put_pixel(0x0012_3456, &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12, 0]);
        out.clear();
        f.put_cpixel(0x0012_3456, &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12]);
        out.clear();
        f.put_tpixel(0x0012_3456, &mut out);
        assert_eq!(out, [0x12, 0x34, 0x56]);
    }

    #[test]
    fn rgb565_big_endian_packs_and_unpacks() {
        let f = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            red_max: 31,
            green_max: 63,
            blue_max: 31,
            red_shift: 11,
            green_shift: 5,
            blue_shift: 0,
        };
        f.validate().unwrap();
        let v = f.pack([255, 0, 255, 255]);
        assert_eq!(v, 0xf81f);
        let mut out = Vec::new();
        f.put_pixel(v, &mut out);
        assert_eq!(out, [0xf8, 0x1f]);
        assert_eq!(f.unpack(v), [255, 0, 255, 255]);
        assert_eq!(f.cpixel_len(), 2);
    }

    #[test]
    fn cpixel_takes_the_bytes_that_hold_the_colour() {
        // 0xRRGGBB00 little-endian: the colour is in the high three bytes in memory.
        let f = PixelFormat {
            red_shift: 24,
            green_shift: 16,
            blue_shift: 8,
            ..PixelFormat::SERVER
        };
        let mut out = Vec::new();
        f.put_cpixel(f.pack([1, 2, 3, 0]), &mut out);
        assert_eq!(out, [3, 2, 1]);
        let be = PixelFormat {
            big_endian: true,
            ..PixelFormat::SERVER
        };
        out.clear();
        be.put_cpixel(be.pack([1, 2, 3, 0]), &mut out);
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn impossible_formats_are_refused() {
        for bad in [
            PixelFormat {
                bits_per_pixel: 24,
                ..PixelFormat::SERVER
            },
            PixelFormat {
                true_colour: false,
                ..PixelFormat::SERVER
            },
            PixelFormat {
                red_shift: 30,
                ..PixelFormat::SERVER
            },
            PixelFormat {
                bits_per_pixel: 8,
                ..PixelFormat::SERVER
            },
            PixelFormat {
                green_max: 0,
                ..PixelFormat::SERVER
            },
            // Not 2^n - 1: 3 packs as 0b11, which a mask of 0b110 reads as 2.
            PixelFormat {
                red_max: 6,
                ..PixelFormat::SERVER
            },
            // Red and green share bits 8 to 15.
            PixelFormat {
                red_shift: 8,
                ..PixelFormat::SERVER
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
