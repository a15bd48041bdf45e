//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test
#![allow(dead_code)]

pub mod cli;
pub mod clients;
pub mod control;
pub mod edid;
pub mod edid_corpus;
pub mod edid_ddc;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod json;
pub mod logged;
pub mod nova;
pub mod novnc;
pub mod pki;
pub mod qemu;
pub mod serve;
pub mod tigervnc;
pub mod tinycv;
pub mod websockify;
pub mod wire;
pub mod xvfb;

use vfio_display::device::sim::desktop::{self, Canvas};
use vfio_display::fourcc::Format;
use vfio_display::frame::RgbaImage;

/// Starts a named helper thread (a reader of a child's output, a slow client): the name shows
/// in a hung test's backtrace.
pub fn spawn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name("test helper".into())
        .spawn(work)
        .expect("a test helper thread")
}

/// The picture the simulator's guest drew for `frame`, as it looks after a round trip through
/// `format` (exact for 8-bit formats; RGB565 and 10-bit lose precision the same way every time).
pub fn expected_frame(width: u32, height: u32, frame: u64, format: &Format) -> RgbaImage {
    let canvas = desktop::render(width, height, frame);
    quantized(&canvas, format)
}

/// The canvas after a round trip through `format`, row by row as the simulator encodes it (YUV
/// formats pair neighbouring pixels).
pub fn quantized(canvas: &Canvas, format: &Format) -> RgbaImage {
    let mut image = RgbaImage::new(canvas.width, canvas.height);
    let mut raw = vec![0u8; format.row_bytes(canvas.width) as usize];
    let row = canvas.width as usize * 4;
    for (src, dst) in canvas
        .pixels
        .chunks_exact(row)
        .zip(image.data.chunks_exact_mut(row))
    {
        format.encode_row(src, &mut raw);
        format.decode_row(&raw, dst);
    }
    image
}

/// Asserts two images are equal, naming the first differing pixel.
pub fn assert_same_image(actual: &RgbaImage, expected: &RgbaImage, what: &str) {
    assert_eq!(
        (actual.width, actual.height),
        (expected.width, expected.height),
        "{what}: size"
    );
    if actual.data != expected.data {
        let i = actual
            .data
            .chunks_exact(4)
            .zip(expected.data.chunks_exact(4))
            .position(|(a, e)| a != e)
            .unwrap_or(0);
        let (x, y) = (i as u32 % actual.width, i as u32 / actual.width);
        panic!(
            "{what}: pixel ({x},{y}) is {:?}, expected {:?}",
            actual.pixel(x, y),
            expected.pixel(x, y)
        );
    }
}

/// Asserts the known test pattern in the top-left corner, pixel for pixel.
pub fn assert_pattern(image: &RgbaImage, what: &str) {
    for y in 0..desktop::PATTERN_SIZE {
        for x in 0..desktop::PATTERN_SIZE {
            assert_eq!(
                image.pixel(x, y),
                desktop::pattern_pixel(x, y),
                "{what}: pattern pixel ({x},{y})"
            );
        }
    }
}

/// Reads a PNG (RGB or RGBA, 8-bit) into RGBA.
pub fn read_png(path: &std::path::Path) -> RgbaImage {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let mut image = RgbaImage::new(info.width, info.height);
    match info.color_type {
        png::ColorType::Rgba => image.data.copy_from_slice(&buf[..info.buffer_size()]),
        png::ColorType::Rgb => {
            for (src, dst) in buf[..info.buffer_size()]
                .chunks_exact(3)
                .zip(image.data.chunks_exact_mut(4))
            {
                dst.copy_from_slice(&[src[0], src[1], src[2], 255]);
            }
        }
        other => panic!("unexpected PNG colour type {other:?}"),
    }
    image
}
