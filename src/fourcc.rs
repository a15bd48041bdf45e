//! DRM fourcc pixel formats: sizes, names, and conversion to and from RGBA8.
//!
//! Pure data, no I/O: the simulator encodes its desktop with it and the frame layer decodes guest
//! framebuffers with it. Every format is little-endian as DRM defines it; the X formats decode
//! with alpha 255 whatever the padding bits hold.

use drm_fourcc::DrmFourcc;

/// How the bits of one pixel are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 4 bytes; the byte offsets of R, G, B and (if any) A in memory.
    Bytes4 {
        r: usize,
        g: usize,
        b: usize,
        a: Option<usize>,
    },
    /// 3 bytes; the byte offsets of R, G and B.
    Bytes3 { r: usize, g: usize, b: usize },
    /// A little-endian 16-bit word with 5:6:5 fields; `red_high` says whether red is the top field.
    Packed565 { red_high: bool },
    /// A little-endian 32-bit word with 2:10:10:10 fields; `red_high` as above.
    Packed2101010 { red_high: bool, alpha: bool },
    /// Packed YUV 4:2:2: two pixels in 4 bytes sharing one chroma pair; the byte offsets of the
    /// first pixel's luma, Cb (U), the second pixel's luma and Cr (V). BT.601 limited range.
    Yuv422 {
        y0: usize,
        u: usize,
        y1: usize,
        v: usize,
    },
}

/// A pixel format we can decode and encode.
#[derive(Debug, PartialEq, Eq)]
pub struct Format {
    /// The DRM fourcc.
    pub fourcc: u32,
    /// The DRM name, e.g. "XRGB8888".
    pub name: &'static str,
    /// Bytes per pixel.
    pub bytes_per_pixel: u32,
    /// Whether the format carries alpha (the X formats do not).
    pub has_alpha: bool,
    layout: Layout,
}

const fn code(c: &[u8; 4]) -> u32 {
    (c[0] as u32) | (c[1] as u32) << 8 | (c[2] as u32) << 16 | (c[3] as u32) << 24
}

const fn f4(
    c: &[u8; 4],
    name: &'static str,
    r: usize,
    g: usize,
    b: usize,
    a: Option<usize>,
    has_alpha: bool,
) -> Format {
    Format {
        fourcc: code(c),
        name,
        bytes_per_pixel: 4,
        has_alpha,
        layout: Layout::Bytes4 { r, g, b, a },
    }
}

const fn yuv(c: &[u8; 4], name: &'static str, y0: usize, u: usize, y1: usize, v: usize) -> Format {
    Format {
        fourcc: code(c),
        name,
        bytes_per_pixel: 2,
        has_alpha: false,
        layout: Layout::Yuv422 { y0, u, y1, v },
    }
}

/// DRM's C8: 8-bit indexed colour, whose palette the plane query does not carry.
pub const C8: u32 = code(b"C8  ");

/// Every supported format.
pub static FORMATS: &[Format] = &[
    // Memory byte order is the little-endian reading of the DRM bit layout:
    // XRGB8888 = [31:0] x:R:G:B -> bytes B, G, R, X.
    f4(b"XR24", "XRGB8888", 2, 1, 0, None, false),
    f4(b"AR24", "ARGB8888", 2, 1, 0, Some(3), true),
    f4(b"XB24", "XBGR8888", 0, 1, 2, None, false),
    f4(b"AB24", "ABGR8888", 0, 1, 2, Some(3), true),
    f4(b"RX24", "RGBX8888", 3, 2, 1, None, false),
    f4(b"RA24", "RGBA8888", 3, 2, 1, Some(0), true),
    f4(b"BX24", "BGRX8888", 1, 2, 3, None, false),
    f4(b"BA24", "BGRA8888", 1, 2, 3, Some(0), true),
    Format {
        fourcc: code(b"RG16"),
        name: "RGB565",
        bytes_per_pixel: 2,
        has_alpha: false,
        layout: Layout::Packed565 { red_high: true },
    },
    Format {
        fourcc: code(b"BG16"),
        name: "BGR565",
        bytes_per_pixel: 2,
        has_alpha: false,
        layout: Layout::Packed565 { red_high: false },
    },
    Format {
        fourcc: code(b"XR30"),
        name: "XRGB2101010",
        bytes_per_pixel: 4,
        has_alpha: false,
        layout: Layout::Packed2101010 {
            red_high: true,
            alpha: false,
        },
    },
    Format {
        fourcc: code(b"XB30"),
        name: "XBGR2101010",
        bytes_per_pixel: 4,
        has_alpha: false,
        layout: Layout::Packed2101010 {
            red_high: false,
            alpha: false,
        },
    },
    Format {
        fourcc: code(b"AR30"),
        name: "ARGB2101010",
        bytes_per_pixel: 4,
        has_alpha: true,
        layout: Layout::Packed2101010 {
            red_high: true,
            alpha: true,
        },
    },
    Format {
        fourcc: code(b"AB30"),
        name: "ABGR2101010",
        bytes_per_pixel: 4,
        has_alpha: true,
        layout: Layout::Packed2101010 {
            red_high: false,
            alpha: true,
        },
    },
    Format {
        fourcc: code(b"RG24"),
        name: "RGB888",
        bytes_per_pixel: 3,
        has_alpha: false,
        layout: Layout::Bytes3 { r: 2, g: 1, b: 0 },
    },
    Format {
        fourcc: code(b"BG24"),
        name: "BGR888",
        bytes_per_pixel: 3,
        has_alpha: false,
        layout: Layout::Bytes3 { r: 0, g: 1, b: 2 },
    },
    // Packed YUV 4:2:2, as drm_fourcc.h lays them out: YUYV is [31:0] Cr0:Y1:Cb0:Y0, so the
    // bytes in memory are Y0, Cb, Y1, Cr; the others permute them.
    yuv(b"YUYV", "YUYV", 0, 1, 2, 3),
    yuv(b"YVYU", "YVYU", 0, 3, 2, 1),
    yuv(b"UYVY", "UYVY", 1, 0, 3, 2),
    yuv(b"VYUY", "VYUY", 1, 2, 3, 0),
];

/// Looks a format up by its fourcc.
pub fn lookup(fourcc: u32) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.fourcc == fourcc)
}

/// The table's entry for a DRM format, by its typed code (what the program's own choices use;
/// names are for what the user types).
pub fn by_code(code: DrmFourcc) -> Option<&'static Format> {
    lookup(code as u32)
}

/// Parses a user's format name: the DRM name ("XRGB8888") or the fourcc ("XR24"), any case.
pub fn parse(name: &str) -> Option<&'static Format> {
    FORMATS.iter().find(|f| {
        f.name.eq_ignore_ascii_case(name) || fourcc_string(f.fourcc).eq_ignore_ascii_case(name)
    })
}

/// The four characters of a fourcc, with non-printable bytes escaped.
pub fn fourcc_string(fourcc: u32) -> String {
    fourcc
        .to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// "XR24 (XRGB8888)" for known formats, "'ABCD' (0x44434241)" otherwise, for messages.
pub fn describe(fourcc: u32) -> String {
    match lookup(fourcc) {
        Some(f) => format!("{} ({})", fourcc_string(fourcc), f.name),
        None => match DrmFourcc::try_from(fourcc) {
            Ok(known) => format!("{} ({known:?}, {fourcc:#010x})", fourcc_string(fourcc)),
            Err(_) => format!("'{}' ({fourcc:#010x})", fourcc_string(fourcc)),
        },
    }
}

/// The name of a format modifier, for messages.
pub fn describe_modifier(modifier: u64) -> String {
    match modifier {
        0 => "LINEAR".to_string(),
        0x00ff_ffff_ffff_ffff => "INVALID (implicit)".to_string(),
        m => match drm_fourcc::DrmModifier::from(m) {
            drm_fourcc::DrmModifier::Unrecognized(_) => format!("{m:#018x}"),
            known => format!("{known:?} ({m:#018x})"),
        },
    }
}

fn expand5(v: u32) -> u8 {
    ((v << 3) | (v >> 2)) as u8
}
fn expand6(v: u32) -> u8 {
    ((v << 2) | (v >> 4)) as u8
}
fn expand10(v: u32) -> u8 {
    (v >> 2) as u8
}
fn narrow10(v: u8) -> u32 {
    (u32::from(v) << 2) | (u32::from(v) >> 6)
}

/// BT.601 limited range to RGB, in the 8-bit fixed point of ITU-R BT.601's usual integer
/// form (the same arithmetic as the unpack shader, so both paths agree bit for bit).
#[inline]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = i32::from(y) - 16;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| (x >> 8).clamp(0, 255) as u8;
    [
        clamp(298 * c + 409 * e + 128),
        clamp(298 * c - 100 * d - 208 * e + 128),
        clamp(298 * c + 516 * d + 128),
    ]
}

/// RGB to BT.601 limited-range luma.
#[inline]
fn rgb_to_y(r: i32, g: i32, b: i32) -> u8 {
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

/// RGB to BT.601 limited-range chroma (Cb, Cr).
#[inline]
fn rgb_to_uv(r: i32, g: i32, b: i32) -> (u8, u8) {
    (
        (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8,
        (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8,
    )
}

impl Format {
    /// Whether this is a packed YUV 4:2:2 format (two pixels share 4 bytes).
    pub fn is_yuv(&self) -> bool {
        matches!(self.layout, Layout::Yuv422 { .. })
    }

    /// The bytes a row of `width` pixels occupies: a YUV row holds whole pixel pairs.
    pub fn row_bytes(&self, width: u32) -> u64 {
        if self.is_yuv() {
            u64::from(width.div_ceil(2)) * 4
        } else {
            u64::from(width) * u64::from(self.bytes_per_pixel)
        }
    }

    /// Decodes one pixel (`px` holds `bytes_per_pixel` bytes; a YUV pixel pair's 4 bytes,
    /// of which the first pixel is decoded) to RGBA8.
    #[inline]
    pub fn decode(&self, px: &[u8]) -> [u8; 4] {
        match self.layout {
            Layout::Bytes4 { r, g, b, a } => [px[r], px[g], px[b], a.map_or(255, |a| px[a])],
            Layout::Bytes3 { r, g, b } => [px[r], px[g], px[b], 255],
            Layout::Packed565 { red_high } => {
                let v = u32::from(u16::from_le_bytes([px[0], px[1]]));
                let (hi, mid, lo) = (
                    expand5(v >> 11),
                    expand6((v >> 5) & 0x3f),
                    expand5(v & 0x1f),
                );
                if red_high {
                    [hi, mid, lo, 255]
                } else {
                    [lo, mid, hi, 255]
                }
            }
            Layout::Packed2101010 { red_high, alpha } => {
                let v = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
                let hi = expand10((v >> 20) & 0x3ff);
                let mid = expand10((v >> 10) & 0x3ff);
                let lo = expand10(v & 0x3ff);
                let a = if alpha { ((v >> 30) * 85) as u8 } else { 255 };
                if red_high {
                    [hi, mid, lo, a]
                } else {
                    [lo, mid, hi, a]
                }
            }
            Layout::Yuv422 { y0, u, v, .. } => {
                let [r, g, b] = yuv_to_rgb(px[y0], px[u], px[v]);
                [r, g, b, 255]
            }
        }
    }

    /// Encodes one RGBA8 pixel into `out` (`bytes_per_pixel` bytes). X formats write 0xff (or
    /// all-ones bits) into the padding, as most drivers do.
    #[inline]
    pub fn encode(&self, rgba: [u8; 4], out: &mut [u8]) {
        let [r8, g8, b8, a8] = rgba;
        match self.layout {
            Layout::Bytes4 { r, g, b, a } => {
                out[..4].fill(0xff);
                out[r] = r8;
                out[g] = g8;
                out[b] = b8;
                if let Some(a) = a {
                    out[a] = a8;
                }
            }
            Layout::Bytes3 { r, g, b } => {
                out[r] = r8;
                out[g] = g8;
                out[b] = b8;
            }
            Layout::Packed565 { red_high } => {
                let (hi, lo) = if red_high { (r8, b8) } else { (b8, r8) };
                let v = (u16::from(hi) >> 3) << 11 | (u16::from(g8) >> 2) << 5 | u16::from(lo) >> 3;
                out[..2].copy_from_slice(&v.to_le_bytes());
            }
            Layout::Packed2101010 { red_high, alpha } => {
                let (hi, lo) = if red_high { (r8, b8) } else { (b8, r8) };
                let a = if alpha { u32::from(a8) >> 6 } else { 3 };
                let v = a << 30 | narrow10(hi) << 20 | narrow10(g8) << 10 | narrow10(lo);
                out[..4].copy_from_slice(&v.to_le_bytes());
            }
            // One pixel alone fills its pair (both lumas the same); rows go through
            // `encode_row`, which pairs real neighbours.
            Layout::Yuv422 { .. } => self.encode_pair(rgba, rgba, out),
        }
    }

    /// Encodes two neighbouring pixels into a YUV pair: a luma each, their mean colour's chroma.
    fn encode_pair(&self, left: [u8; 4], right: [u8; 4], out: &mut [u8]) {
        let Layout::Yuv422 { y0, u, y1, v } = self.layout else {
            return;
        };
        let rgb = |p: [u8; 4]| (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        let ((r0, g0, b0), (r1, g1, b1)) = (rgb(left), rgb(right));
        out[y0] = rgb_to_y(r0, g0, b0);
        out[y1] = rgb_to_y(r1, g1, b1);
        let (cb, cr) = rgb_to_uv((r0 + r1 + 1) / 2, (g0 + g1 + 1) / 2, (b0 + b1 + 1) / 2);
        out[u] = cb;
        out[v] = cr;
    }

    /// Encodes a row of RGBA8 pixels into `out` (`row_bytes(width)` bytes).
    pub fn encode_row(&self, rgba: &[u8], out: &mut [u8]) {
        if self.is_yuv() {
            for (pair, dst) in rgba.chunks(8).zip(out.chunks_exact_mut(4)) {
                let left = [pair[0], pair[1], pair[2], pair[3]];
                // An odd last pixel pairs with itself.
                let right = pair.get(4..8).map_or(left, |p| [p[0], p[1], p[2], p[3]]);
                self.encode_pair(left, right, dst);
            }
            return;
        }
        let bpp = self.bytes_per_pixel as usize;
        for (px, dst) in rgba.chunks_exact(4).zip(out.chunks_exact_mut(bpp)) {
            self.encode([px[0], px[1], px[2], px[3]], dst);
        }
    }

    /// What `decode(encode(rgba))` gives: the colour after the format's precision loss.
    pub fn quantize(&self, rgba: [u8; 4]) -> [u8; 4] {
        let mut buf = [0u8; 4];
        self.encode(rgba, &mut buf);
        self.decode(&buf)
    }

    /// Decodes packed rows (`width` pixels each, no padding) into RGBA8 pixels in `out`.
    pub fn decode_row(&self, src: &[u8], out: &mut [u8]) {
        let bpp = self.bytes_per_pixel as usize;
        match self.layout {
            // The common case gets a loop the compiler can vectorise.
            Layout::Bytes4 {
                r: 2,
                g: 1,
                b: 0,
                a,
            } => {
                for (px, o) in src.chunks_exact(4).zip(out.chunks_exact_mut(4)) {
                    o[0] = px[2];
                    o[1] = px[1];
                    o[2] = px[0];
                    o[3] = if a.is_some() { px[3] } else { 255 };
                }
            }
            Layout::Yuv422 { y0, u, y1, v } => {
                // `out` may end in the first pixel of a pair (an odd width).
                for (pair, o) in src.chunks_exact(4).zip(out.chunks_mut(8)) {
                    let [r, g, b] = yuv_to_rgb(pair[y0], pair[u], pair[v]);
                    o[..4].copy_from_slice(&[r, g, b, 255]);
                    if o.len() == 8 {
                        let [r, g, b] = yuv_to_rgb(pair[y1], pair[u], pair[v]);
                        o[4..].copy_from_slice(&[r, g, b, 255]);
                    }
                }
            }
            _ => {
                for (px, o) in src.chunks_exact(bpp).zip(out.chunks_exact_mut(4)) {
                    o.copy_from_slice(&self.decode(px));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_codes_match_drm() {
        assert_eq!(lookup(DrmFourcc::Xrgb8888 as u32).unwrap().name, "XRGB8888");
        assert_eq!(by_code(DrmFourcc::Argb8888).unwrap().name, "ARGB8888");
        assert!(
            by_code(DrmFourcc::Nv12).is_none(),
            "planar YUV is not in the table"
        );
        assert_eq!(lookup(DrmFourcc::Argb8888 as u32).unwrap().name, "ARGB8888");
        assert_eq!(lookup(DrmFourcc::Xbgr8888 as u32).unwrap().name, "XBGR8888");
        assert_eq!(lookup(DrmFourcc::Abgr8888 as u32).unwrap().name, "ABGR8888");
        assert_eq!(lookup(DrmFourcc::Rgbx8888 as u32).unwrap().name, "RGBX8888");
        assert_eq!(lookup(DrmFourcc::Rgba8888 as u32).unwrap().name, "RGBA8888");
        assert_eq!(lookup(DrmFourcc::Bgrx8888 as u32).unwrap().name, "BGRX8888");
        assert_eq!(lookup(DrmFourcc::Bgra8888 as u32).unwrap().name, "BGRA8888");
        assert_eq!(lookup(DrmFourcc::Rgb565 as u32).unwrap().name, "RGB565");
        assert_eq!(lookup(DrmFourcc::Bgr565 as u32).unwrap().name, "BGR565");
        assert_eq!(
            lookup(DrmFourcc::Xrgb2101010 as u32).unwrap().name,
            "XRGB2101010"
        );
        assert_eq!(
            lookup(DrmFourcc::Xbgr2101010 as u32).unwrap().name,
            "XBGR2101010"
        );
        assert_eq!(
            lookup(DrmFourcc::Argb2101010 as u32).unwrap().name,
            "ARGB2101010"
        );
        assert_eq!(
            lookup(DrmFourcc::Abgr2101010 as u32).unwrap().name,
            "ABGR2101010"
        );
        assert_eq!(lookup(DrmFourcc::Rgb888 as u32).unwrap().name, "RGB888");
        assert_eq!(lookup(DrmFourcc::Bgr888 as u32).unwrap().name, "BGR888");
        assert_eq!(lookup(DrmFourcc::Yuyv as u32).unwrap().name, "YUYV");
        assert_eq!(lookup(DrmFourcc::Yvyu as u32).unwrap().name, "YVYU");
        assert_eq!(lookup(DrmFourcc::Uyvy as u32).unwrap().name, "UYVY");
        assert_eq!(lookup(DrmFourcc::Vyuy as u32).unwrap().name, "VYUY");
        assert_eq!(C8, DrmFourcc::C8 as u32);
        assert_eq!(FORMATS.len(), 20);
    }

    /// Known bytes for the colour (R, G, B, A) = (0x12, 0x34, 0x56, 0x78), written out by hand
    /// from the DRM bit layouts.
    #[test]
    fn decodes_hand_written_pixels() {
        let cases: &[(&str, &[u8], [u8; 4])] = &[
            (
                "XRGB8888",
                &[0x56, 0x34, 0x12, 0x00],
                [0x12, 0x34, 0x56, 255],
            ),
            (
                "ARGB8888",
                &[0x56, 0x34, 0x12, 0x78],
                [0x12, 0x34, 0x56, 0x78],
            ),
            (
                "XBGR8888",
                &[0x12, 0x34, 0x56, 0x00],
                [0x12, 0x34, 0x56, 255],
            ),
            (
                "ABGR8888",
                &[0x12, 0x34, 0x56, 0x78],
                [0x12, 0x34, 0x56, 0x78],
            ),
            (
                "RGBX8888",
                &[0x00, 0x56, 0x34, 0x12],
                [0x12, 0x34, 0x56, 255],
            ),
            (
                "RGBA8888",
                &[0x78, 0x56, 0x34, 0x12],
                [0x12, 0x34, 0x56, 0x78],
            ),
            (
                "BGRX8888",
                &[0x00, 0x12, 0x34, 0x56],
                [0x12, 0x34, 0x56, 255],
            ),
            (
                "BGRA8888",
                &[0x78, 0x12, 0x34, 0x56],
                [0x12, 0x34, 0x56, 0x78],
            ),
            ("RGB888", &[0x56, 0x34, 0x12], [0x12, 0x34, 0x56, 255]),
            ("BGR888", &[0x12, 0x34, 0x56], [0x12, 0x34, 0x56, 255]),
            // RGB565 0xF800 = pure red; BGR565 0xF800 = pure blue.
            ("RGB565", &[0x00, 0xf8], [255, 0, 0, 255]),
            ("BGR565", &[0x00, 0xf8], [0, 0, 255, 255]),
            ("RGB565", &[0xe0, 0x07], [0, 255, 0, 255]),
            // XRGB2101010: R = 0x3ff at bits 29:20 -> 0x3ff00000.
            ("XRGB2101010", &[0x00, 0x00, 0xf0, 0x3f], [255, 0, 0, 255]),
            ("XBGR2101010", &[0x00, 0x00, 0xf0, 0x3f], [0, 0, 255, 255]),
            ("ARGB2101010", &[0xff, 0x03, 0x00, 0x80], [0, 0, 255, 170]),
            ("ABGR2101010", &[0x00, 0xfc, 0x0f, 0xc0], [0, 255, 0, 255]),
        ];
        for (name, bytes, want) in cases {
            let format = parse(name).unwrap();
            assert_eq!(format.decode(bytes), *want, "{name}");
            let mut row = vec![0u8; 4];
            format.decode_row(bytes, &mut row);
            assert_eq!(row, want, "{name} row");
        }
    }

    /// Hand-computed BT.601 limited-range pairs: (Y, Cb, Cr) = (81, 90, 240) is the standard's
    /// red, (145, 54, 34) its green, (41, 240, 110) its blue; black and white are 16 and 235.
    #[test]
    fn yuv_pairs_decode_as_bt601_limited_range() {
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(yuv_to_rgb(81, 90, 240), [255, 0, 0]);
        assert_eq!(yuv_to_rgb(145, 54, 34), [0, 255, 1]);
        assert_eq!(yuv_to_rgb(41, 240, 110), [0, 0, 255]);
        // Y0=16 (black), Y1=235 (white), neutral chroma, in each byte order.
        let cases: &[(&str, [u8; 4])] = &[
            ("YUYV", [16, 128, 235, 128]),
            ("YVYU", [16, 128, 235, 128]),
            ("UYVY", [128, 16, 128, 235]),
            ("VYUY", [128, 16, 128, 235]),
        ];
        for (name, bytes) in cases {
            let format = parse(name).unwrap();
            let mut out = [0u8; 8];
            format.decode_row(bytes, &mut out);
            assert_eq!(out, [0, 0, 0, 255, 255, 255, 255, 255], "{name}");
            // An odd width decodes the pair's first pixel only.
            let mut odd = [0u8; 4];
            format.decode_row(bytes, &mut odd);
            assert_eq!(odd, [0, 0, 0, 255], "{name} odd");
        }
        // Where each format keeps Cb and Cr: a pure-blue pair.
        for (name, bytes) in [
            ("YUYV", [41, 240, 41, 110]),
            ("YVYU", [41, 110, 41, 240]),
            ("UYVY", [240, 41, 110, 41]),
            ("VYUY", [110, 41, 240, 41]),
        ] {
            let format = parse(name).unwrap();
            let mut out = [0u8; 8];
            format.decode_row(&bytes, &mut out);
            assert_eq!(out, [0, 0, 255, 255, 0, 0, 255, 255], "{name}");
        }
    }

    #[test]
    fn yuv_rows_round_trip_within_two_levels() {
        let format = parse("YUYV").unwrap();
        for r in (0..=255u8).step_by(15) {
            for g in (0..=255u8).step_by(17) {
                for b in (0..=255u8).step_by(51) {
                    let rgba = [r, g, b, 255, r, g, b, 255];
                    let mut yuv = [0u8; 4];
                    format.encode_row(&rgba, &mut yuv);
                    let mut back = [0u8; 8];
                    format.decode_row(&yuv, &mut back);
                    for (got, want) in back.iter().zip(rgba) {
                        assert!(got.abs_diff(want) <= 2, "{rgba:?} -> {yuv:?} -> {back:?}");
                    }
                }
            }
        }
        assert_eq!(format.row_bytes(5), 12);
        assert_eq!(format.row_bytes(6), 12);
    }

    #[test]
    fn full_and_zero_channels_survive_every_format() {
        // YUV keeps only black and white exactly; its colours are checked above.
        for format in FORMATS.iter().filter(|f| !f.is_yuv()) {
            for rgba in [
                [0, 0, 0, 255],
                [255, 255, 255, 255],
                [255, 0, 255, 255],
                [0, 255, 0, 255],
            ] {
                assert_eq!(format.quantize(rgba), rgba, "{}", format.name);
            }
        }
    }

    #[test]
    fn eight_bit_formats_are_lossless() {
        for format in FORMATS
            .iter()
            .filter(|f| matches!(f.layout, Layout::Bytes4 { .. } | Layout::Bytes3 { .. }))
        {
            for v in 0..=255u8 {
                let a = if format.has_alpha { v } else { 255 };
                let rgba = [v, v.wrapping_mul(3), v.wrapping_add(7), a];
                assert_eq!(format.quantize(rgba), rgba, "{}", format.name);
            }
        }
        // 10-bit channels hold every 8-bit value too.
        let x30 = parse("XR30").unwrap();
        for v in 0..=255u8 {
            assert_eq!(x30.quantize([v, v, v, 255]), [v, v, v, 255]);
        }
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(parse("xr24").unwrap().name, "XRGB8888");
        assert_eq!(
            parse("argb8888").unwrap().fourcc,
            DrmFourcc::Argb8888 as u32
        );
        assert!(parse("NV12").is_none());
        assert_eq!(describe(DrmFourcc::Xrgb8888 as u32), "XR24 (XRGB8888)");
        assert!(describe(DrmFourcc::Nv12 as u32).contains("NV12"));
        assert!(describe(0x0102_0304).contains("0x01020304"));
        assert_eq!(describe_modifier(0), "LINEAR");
    }
}
