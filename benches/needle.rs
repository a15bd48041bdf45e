//! What matching one needle costs on a 1080p screen: a 300x100 match area searched with
//! margin 50 (os-autoinst's default) and 300, when the screen shows it (moved a little) and
//! when it does not, and with a 1024x768 needle (the screen resized to it, as os-autoinst
//! does). The product matches on every new frame and must report a match within 50 ms on two
//! cores.
//!
//! Run: `cargo bench --bench needle --features needle`.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use vfio_display::image::RgbaImage;
use vfio_display::needle::{Needle, match_needle};

/// A desktop-like picture: gradient, flat boxes, and text-like strokes (xorshift, fixed seed).
fn picture(w: u32, h: u32, seed: u64) -> RgbaImage {
    let mut img = RgbaImage::new(w, h);
    let mut s = seed;
    let mut rnd = move |n: u32| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 32) as u32) % n
    };
    for y in 0..h {
        for x in 0..w {
            let i = ((y * w + x) * 4) as usize;
            img.data[i..i + 4].copy_from_slice(&[(x * 60 / w) as u8, (y * 90 / h) as u8, 120, 255]);
        }
    }
    let fill = |img: &mut RgbaImage, x: u32, y: u32, fw: u32, fh: u32, c: [u8; 4]| {
        for yy in y..(y + fh).min(h) {
            for xx in x..(x + fw).min(w) {
                let i = ((yy * w + xx) * 4) as usize;
                img.data[i..i + 4].copy_from_slice(&c);
            }
        }
    };
    for _ in 0..60 {
        let (x, y, fw, fh) = (rnd(w), rnd(h), 20 + rnd(400), 10 + rnd(250));
        let c = [rnd(256) as u8, rnd(256) as u8, rnd(256) as u8, 255];
        fill(&mut img, x, y, fw, fh, c);
    }
    for _ in 0..3000 {
        let (x, y) = (rnd(w), rnd(h) / 16 * 16);
        if rnd(2) == 0 {
            fill(&mut img, x, y, 1, 10, [10, 10, 10, 255]);
        } else {
            fill(&mut img, x, y + rnd(10), 6, 1, [10, 10, 10, 255]);
        }
    }
    img
}

fn shifted(img: &RgbaImage, dx: i64, dy: i64) -> RgbaImage {
    let mut out = RgbaImage::new(img.width, img.height);
    out.composite(img, dx, dy);
    out
}

fn write_needle(dir: &Path, name: &str, img: &RgbaImage, area: (u32, u32), margin: u32) -> Needle {
    let png = dir.join(format!("{name}.png"));
    let file = std::fs::File::create(&png).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), img.width, img.height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .unwrap()
        .write_image_data(&img.data)
        .unwrap();
    let json = dir.join(format!("{name}.json"));
    std::fs::write(
        &json,
        format!(
            r#"{{"tags":["t"],"area":[{{"xpos":{},"ypos":{},"width":300,"height":100,"margin":{margin}}}]}}"#,
            area.0, area.1
        ),
    )
    .unwrap();
    Needle::load(&json).unwrap()
}

fn downscaled(img: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    let mut out = RgbaImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let s = (((y * img.height / h) * img.width + x * img.width / w) * 4) as usize;
            let d = ((y * w + x) * 4) as usize;
            out.data[d..d + 4].copy_from_slice(&img.data[s..s + 4]);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let desk = picture(1920, 1080, 0x2545_f491_4f6c_dd1d);
    let moved = shifted(&desk, 17, -11);
    let other = picture(1920, 1080, 99);
    let mut g = c.benchmark_group("needle 1080p, 300x100 area");
    for margin in [50, 300] {
        let n = write_needle(dir.path(), &format!("m{margin}"), &desk, (800, 500), margin);
        // The first match decodes the PNG; the bench measures the matches after it.
        assert!(match_needle(&moved, &n, 0.0, 0.0).unwrap().ok);
        g.bench_function(format!("margin {margin}, found"), |b| {
            b.iter(|| match_needle(black_box(&moved), &n, 0.0, 0.0).unwrap())
        });
        assert!(!match_needle(&other, &n, 0.0, 0.0).unwrap().ok);
        g.bench_function(format!("margin {margin}, absent"), |b| {
            b.iter(|| match_needle(black_box(&other), &n, 0.0, 0.0).unwrap())
        });
    }
    let small = write_needle(
        dir.path(),
        "xga",
        &downscaled(&desk, 1024, 768),
        (400, 300),
        50,
    );
    g.bench_function("1024x768 needle (screen resized), margin 50", |b| {
        b.iter(|| match_needle(black_box(&moved), &small, 0.0, 0.0).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
