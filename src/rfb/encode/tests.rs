use super::decode::Decoder;
use super::*;
use crate::device::sim::desktop;
use crate::image::RgbaImage;
use crate::rfb::tiles::changed_rects;

/// Decodes a JPEG for the reference decoder.
fn jpeg(data: &[u8]) -> Result<(usize, usize, Vec<u8>), String> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    let rgb = decoder.decode().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no JPEG header")?;
    Ok((usize::from(info.width), usize::from(info.height), rgb))
}

/// A desktop-like picture: flat areas, two-colour text-like stripes, a gradient and noise.
fn picture(width: u32, height: u32) -> RgbaImage {
    let mut img = RgbaImage::new(width, height);
    let mut seed = 12345u32;
    for y in 0..height {
        for x in 0..width {
            let px = if y < height / 4 {
                [30, 60, 90, 255]
            } else if y < height / 2 {
                if (x / 3 + y) % 5 == 0 {
                    [255, 255, 255, 255]
                } else {
                    [0, 0, 0, 255]
                }
            } else if x < width / 2 {
                [(x * 255 / width) as u8, (y * 255 / height) as u8, 128, 255]
            } else {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let b = seed.to_be_bytes();
                [b[0], b[1], b[2], 255]
            };
            let i = ((y * width + x) * 4) as usize;
            img.data[i..i + 4].copy_from_slice(&px);
        }
    }
    img
}

fn formats() -> Vec<PixelFormat> {
    let bgr233 = PixelFormat {
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
    };
    let rgb565 = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
        ..PixelFormat::SERVER
    };
    vec![
        PixelFormat::SERVER,
        PixelFormat {
            big_endian: true,
            ..PixelFormat::SERVER
        },
        PixelFormat {
            red_shift: 0,
            blue_shift: 16,
            ..PixelFormat::SERVER
        },
        PixelFormat {
            red_shift: 24,
            green_shift: 16,
            blue_shift: 8,
            ..PixelFormat::SERVER
        },
        rgb565,
        PixelFormat {
            big_endian: true,
            ..rgb565
        },
        bgr233,
    ]
}

/// What a client shows for `img` in `format`: each pixel packed and unpacked.
fn quantized(img: &RgbaImage, format: &PixelFormat) -> RgbaImage {
    let mut out = img.clone();
    for px in out.data.chunks_exact_mut(4) {
        px.copy_from_slice(&format.unpack(format.pack([px[0], px[1], px[2], px[3]])));
    }
    out
}

#[test]
fn every_encoding_round_trips_in_every_format() {
    let img = picture(200, 150);
    for format in formats() {
        for enc in [Encoding::Raw, Encoding::Zrle, Encoding::Tight] {
            let mut encoder = Encoder::new(format, 6);
            let mut decoder = Decoder::new(format);
            let mut shown = RgbaImage::new(200, 150);
            // Two updates on the same streams: the whole picture, then a part of it.
            for rect in [Rect::new(0, 0, 200, 150), Rect::new(13, 70, 150, 61)] {
                let mut out = Vec::new();
                let n = encoder.encode(enc, &img, rect, &mut out).unwrap();
                let used = decoder.apply(n as usize, &out, &mut shown).unwrap();
                assert_eq!(used, out.len(), "{enc:?} {format:?}");
            }
            assert!(
                shown == quantized(&img, &format),
                "{enc:?} in {format:?} differs"
            );
        }
    }
}

#[test]
fn compressed_encodings_shrink_a_desktop() {
    let img = picture(640, 480);
    let full = Rect::new(0, 0, 640, 480);
    let mut sizes = Vec::new();
    for enc in [Encoding::Raw, Encoding::Zrle, Encoding::Tight] {
        let mut out = Vec::new();
        Encoder::new(PixelFormat::SERVER, 6)
            .encode(enc, &img, full, &mut out)
            .unwrap();
        sizes.push(out.len());
    }
    assert!(
        sizes[1] < sizes[0] / 2 && sizes[2] < sizes[0] / 2,
        "{sizes:?}"
    );
}

#[test]
fn cursor_carries_pixels_and_a_mask() {
    let mut img = RgbaImage::new(10, 2);
    img.data[3] = 255; // (0,0) opaque black
    let i = (9 * 4) + 3;
    img.data[i] = 200; // (9,0) opaque
    let mut out = Vec::new();
    Encoder::new(PixelFormat::SERVER, 6).cursor(&img, 1, 2, &mut out);
    assert_eq!(
        &out[..12],
        &[0, 1, 0, 2, 0, 10, 0, 2, 0xff, 0xff, 0xff, 0x11]
    );
    let mask = &out[12 + 10 * 2 * 4..];
    assert_eq!(mask, &[0x80, 0x40, 0, 0]);
}

#[test]
fn rect_clip_and_intersect() {
    assert_eq!(
        Rect::new(10, 10, 100, 100).clip(50, 60),
        Rect::new(10, 10, 40, 50)
    );
    assert!(Rect::new(60, 0, 10, 10).clip(50, 60).is_empty());
    assert_eq!(
        Rect::new(0, 0, 10, 10).intersect(&Rect::new(5, 5, 10, 10)),
        Rect::new(5, 5, 5, 5)
    );
    assert!(
        Rect::new(0, 0, 5, 5)
            .intersect(&Rect::new(5, 5, 1, 1))
            .is_empty()
    );
}

#[test]
fn tight_sends_jpeg_only_when_asked_and_only_for_24_bit_colour() {
    // Noise: more than 256 colours in every block, so only full colour or JPEG fit.
    let img = picture(256, 256);
    let noisy = Rect::new(128, 128, 128, 128);
    let encode = |format: PixelFormat, quality: Option<u8>| {
        let mut e = Encoder::new(format, 6);
        e.set_quality(quality);
        let mut out = Vec::new();
        let n = e.encode(Encoding::Tight, &img, noisy, &mut out).unwrap();
        let mut shown = RgbaImage::new(256, 256);
        Decoder::new(format)
            .with_jpeg(jpeg)
            .apply(n as usize, &out, &mut shown)
            .unwrap();
        (out, shown)
    };
    let (lossless, shown) = encode(PixelFormat::SERVER, None);
    assert_eq!(lossless[12], 0x00, "full colour through zlib stream 0");
    let region = |img: &RgbaImage| {
        let mut out = RgbaImage::new(128, 128);
        for y in 0..128 {
            for x in 0..128 {
                let i = ((y * 128 + x) * 4) as usize;
                out.data[i..i + 4].copy_from_slice(&img.pixel(128 + x, 128 + y));
            }
        }
        out
    };
    assert!(
        region(&shown) == region(&img),
        "lossless without a quality level"
    );
    let (best, shown) = encode(PixelFormat::SERVER, Some(9));
    assert_eq!(best[12], 0x90, "a JPEG block");
    let error: u64 = region(&shown)
        .data
        .iter()
        .zip(&region(&img).data)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = error as f64 / (128.0 * 128.0 * 4.0);
    assert!(
        mean < 6.0,
        "quality 9 is close to the picture: mean error {mean}"
    );
    let (worst, _) = encode(PixelFormat::SERVER, Some(0));
    assert!(
        worst.len() < best.len() / 2,
        "{} vs {}",
        worst.len(),
        best.len()
    );
    // 16-bit clients cannot take JPEG (the protocol's rule): their blocks stay exact.
    let rgb565 = formats()[4];
    let (out, shown) = encode(rgb565, Some(5));
    assert_ne!(out[12], 0x90);
    assert!(region(&shown) == region(&quantized(&img, &rgb565)));
}

/// The first pixel where `shown` differs from `want`, and how many differ.
fn differences(shown: &RgbaImage, want: &RgbaImage) -> Option<((u32, u32), usize)> {
    let mut first = None;
    let mut count = 0;
    for (i, (a, b)) in shown
        .data
        .chunks_exact(4)
        .zip(want.data.chunks_exact(4))
        .enumerate()
    {
        if a != b {
            count += 1;
            let i = i as u32;
            first.get_or_insert((i % want.width, i / want.width));
        }
    }
    first.map(|at| (at, count))
}

/// Frames of the simulator's animated desktop, as `serve --sim` captures them: moving windows
/// over a gradient, a clock, the test pattern.
fn animation(width: u32, height: u32, frames: u64, step: u64) -> Vec<RgbaImage> {
    (0..frames)
        .map(|i| {
            let canvas = desktop::render(width, height, i * step);
            RgbaImage {
                width,
                height,
                data: canvas.pixels,
            }
        })
        .collect()
}

/// Sends `frames` to one client through one encoder, as a connection does: the whole first
/// frame, then each frame's changed tiles; returns every frame whose decoded picture differs
/// from what the client should show (`expected`, the frames in `format`), with the first wrong
/// pixel and how many are wrong.
fn play(
    frames: &[RgbaImage],
    expected: &[RgbaImage],
    format: PixelFormat,
    enc: Encoding,
) -> Vec<(usize, (u32, u32), usize)> {
    let (width, height) = (frames[0].width, frames[0].height);
    let whole = Rect::new(0, 0, width as u16, height as u16);
    let mut encoder = Encoder::new(format, 6);
    let mut decoder = Decoder::new(format);
    let mut shown = RgbaImage::new(width, height);
    let mut wrong = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let rects = match i {
            0 => vec![whole],
            _ => changed_rects(&frames[i - 1], frame, whole),
        };
        let mut out = Vec::new();
        let mut count = 0;
        for rect in rects {
            count += encoder.encode(enc, frame, rect, &mut out).unwrap();
        }
        let used = decoder
            .apply(count as usize, &out, &mut shown)
            .unwrap_or_else(|e| panic!("{enc:?} in {format:?}, frame {i}: {e}"));
        assert_eq!(used, out.len());
        if let Some((at, count)) = differences(&shown, &expected[i]) {
            wrong.push((i, at, count));
        }
    }
    wrong
}

#[test]
fn zrle_and_tight_stay_exact_over_the_animated_desktop() {
    // A long-lived encoder, as a connection has: ZRLE's palette table and the zlib streams go
    // from tile to tile and update to update. Whether a stale palette entry shows depends on
    // the colours' hashes, so many frames and formats are needed to meet one.
    let frames = animation(1024, 768, 24, 7);
    let mut failures = Vec::new();
    for format in formats() {
        let expected: Vec<RgbaImage> = frames.iter().map(|f| quantized(f, &format)).collect();
        for enc in [Encoding::Zrle, Encoding::Tight] {
            for (frame, at, count) in play(&frames, &expected, format, enc) {
                failures.push(format!(
                    "{enc:?} in {format:?}, frame {frame}: {count} pixels wrong, first at {at:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rectangles_outside_the_picture_are_errors() {
    let img = picture(10, 10);
    // Past the right edge (its rows would wrap into the next), past the bottom, and empty but
    // placed beyond the picture.
    for rect in [
        Rect::new(5, 0, 6, 1),
        Rect::new(0, 8, 10, 3),
        Rect::new(11, 0, 0, 0),
    ] {
        for enc in [Encoding::Raw, Encoding::Zrle, Encoding::Tight] {
            let mut out = Vec::new();
            let result = Encoder::new(PixelFormat::SERVER, 6).encode(enc, &img, rect, &mut out);
            assert!(result.is_err(), "{enc:?} {rect:?}");
        }
    }
}

/// `img` with `area` filled with `px`.
fn with_fill(mut img: RgbaImage, area: Rect, px: [u8; 4]) -> RgbaImage {
    for y in area.y..area.y + area.height {
        for x in area.x..area.x + area.width {
            let i = (usize::from(y) * img.width as usize + usize::from(x)) * 4;
            img.data[i..i + 4].copy_from_slice(&px);
        }
    }
    img
}

/// Encodes `rect` of `img` in Tight in every format and checks the decoded picture is the
/// source's to the pixel; returns how many of the rectangles were fills.
fn tight_round_trip(img: &RgbaImage, rect: Rect) -> usize {
    let mut fills = 0;
    for format in formats() {
        let mut encoder = Encoder::new(format, 2);
        let mut decoder = Decoder::new(format);
        let mut shown = RgbaImage::new(img.width, img.height);
        let mut out = Vec::new();
        let n = encoder
            .encode(Encoding::Tight, img, rect, &mut out)
            .unwrap();
        let used = decoder.apply(n as usize, &out, &mut shown).unwrap();
        assert_eq!(used, out.len(), "{format:?}");
        let mut want = quantized(img, &format);
        if rect != Rect::new(0, 0, img.width as u16, img.height as u16) {
            // Only `rect` was sent: compare it alone.
            for y in 0..img.height {
                for x in 0..img.width {
                    let outside = Rect::new(x as u16, y as u16, 1, 1)
                        .intersect(&rect)
                        .is_empty();
                    if outside {
                        let i = ((y * img.width + x) * 4) as usize;
                        want.data[i..i + 4].copy_from_slice(&shown.data[i..i + 4]);
                    }
                }
            }
        }
        assert_eq!(differences(&shown, &want), None, "{format:?}");
        fills = tight_pieces(img, rect)
            .iter()
            .filter(|r| solid::colour(img, **r).is_some())
            .count();
    }
    fills
}

/// Noise: no two neighbouring pixels alike, so no solid area at all.
fn noise(width: u32, height: u32) -> RgbaImage {
    let mut img = RgbaImage::new(width, height);
    let mut seed = 99u32;
    for px in img.data.chunks_exact_mut(4) {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let b = seed.to_be_bytes();
        px.copy_from_slice(&[b[0], b[1], b[2], 255]);
    }
    img
}

#[test]
fn tight_sends_solid_areas_of_odd_sizes_as_fills_exactly() {
    let img = with_fill(
        noise(333, 211),
        Rect::new(17, 9, 123, 71),
        [200, 10, 10, 255],
    );
    let img = with_fill(img, Rect::new(150, 100, 61, 97), [10, 200, 10, 255]);
    let whole = Rect::new(0, 0, 333, 211);
    assert_eq!(tight_round_trip(&img, whole), 2);
    // A part of the picture cutting through both areas.
    assert!(tight_round_trip(&img, Rect::new(30, 20, 250, 150)) >= 2);
}

#[test]
fn tight_sends_solid_areas_touching_the_edges_exactly() {
    let (w, h) = (301u32, 157u32);
    let img = with_fill(noise(w, h), Rect::new(0, 0, 301, 33), [1, 2, 3, 255]);
    let img = with_fill(img, Rect::new(0, 33, 45, 124), [4, 5, 6, 255]);
    let img = with_fill(img, Rect::new(250, 100, 51, 57), [7, 8, 9, 255]);
    assert_eq!(tight_round_trip(&img, Rect::new(0, 0, 301, 157)), 3);
}

#[test]
fn tight_sends_a_single_colour_frame_as_one_fill_per_width() {
    let img = with_fill(
        RgbaImage::new(1920, 1080),
        Rect::new(0, 0, 1920, 1080),
        [9, 9, 9, 255],
    );
    let whole = Rect::new(0, 0, 1920, 1080);
    assert_eq!(tight_pieces(&img, whole), vec![whole]);
    assert_eq!(tight_round_trip(&img, whole), 1);
    let mut out = Vec::new();
    let n = Encoder::new(PixelFormat::SERVER, 2)
        .encode(Encoding::Tight, &img, whole, &mut out)
        .unwrap();
    assert_eq!(
        (n, out.len()),
        (1, 12 + 1 + 3),
        "one header, a control byte, a TPIXEL"
    );
    // Wider than Tight allows: cut to its width, still one fill a piece.
    let wide = with_fill(
        RgbaImage::new(5000, 20),
        Rect::new(0, 0, 5000, 20),
        [1, 1, 1, 255],
    );
    let pieces = tight_pieces(&wide, Rect::new(0, 0, 5000, 20));
    assert_eq!(pieces.len(), 3);
    assert_eq!(tight_round_trip(&wide, Rect::new(0, 0, 5000, 20)), 3);
}

#[test]
fn tight_without_solid_areas_cuts_only_blocks() {
    let img = noise(700, 300);
    let whole = Rect::new(0, 0, 700, 300);
    assert_eq!(
        tight_pieces(&img, whole),
        tight::blocks(whole).collect::<Vec<_>>()
    );
    assert_eq!(tight_round_trip(&img, whole), 0);
}

#[test]
fn tight_encode_one_refuses_a_piece_larger_than_a_block() {
    let img = noise(700, 300);
    let mut out = Vec::new();
    let mut encoder = Encoder::new(PixelFormat::SERVER, 2);
    let result = encoder.encode_one(Encoding::Tight, &img, Rect::new(0, 0, 700, 300), &mut out);
    assert!(result.is_err());
    assert!(out.is_empty(), "nothing written for a refused piece");
}
