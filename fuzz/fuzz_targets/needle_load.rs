//! An openQA needle from arbitrary bytes: its JSON and its PNG as a hostile test repository
//! could write them (areas outside the picture, absurd margins, wrong types, a PNG header that
//! lies about its size, a truncated PNG). Loading must refuse or accept with a reason, never
//! panic or allocate without bound; a needle that loads must then match against screens of its
//! own size and of another size (the scaling path) without panicking, and every candidate's
//! similarity must lie in [0, 1].
//!
//! Input layout: two bytes (little-endian) giving the JSON's length, the JSON, then the PNG.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use vfio_display::image::RgbaImage;
use vfio_display::needle::{Needle, match_needle, search};

/// One scratch directory per fuzzing process: the loader reads needles from files only.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vfio-display-fuzz-needle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory for the needle files");
        dir
    })
}

/// A screen with some structure (a gradient and a bright square), so that searches find
/// minima in different places.
fn screen(width: u32, height: u32) -> RgbaImage {
    let mut image = RgbaImage::new(width, height);
    for y in 0..height {
        for x in 0..width {
            let i = (y as usize * width as usize + x as usize) * 4;
            let square = (x / 7 + y / 5) % 3 == 0;
            image.data[i] = (x * 255 / width.max(1)) as u8;
            image.data[i + 1] = if square { 250 } else { (y * 255 / height.max(1)) as u8 };
            image.data[i + 2] = (x ^ y) as u8;
            image.data[i + 3] = 255;
        }
    }
    image
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let json_len = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let rest = &data[2..];
    let (json, png) = rest.split_at(json_len.min(rest.len()));
    let dir = scratch();
    let json_path = dir.join("needle.json");
    std::fs::write(&json_path, json).expect("the scratch JSON is written");
    std::fs::write(dir.join("needle.png"), png).expect("the scratch PNG is written");
    let needle = match Needle::load(&json_path) {
        Ok(needle) => needle,
        Err(e) => {
            // Every refusal explains itself.
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let size = needle.image_size();
    let (w, h) = (size.width, size.height);
    // Keep each run quick: the sizes the loader accepts are bounded, but a large needle makes
    // a slow input rather than a finding.
    if u64::from(w) * u64::from(h) > 1 << 16 {
        return;
    }
    for (sw, sh) in [(w, h), (w / 2 + 1, h + 3)] {
        let shot = screen(sw, sh);
        if let Ok(found) = search(&shot, &[&needle, &needle], 0.0) {
            for c in found.best.iter().chain(&found.candidates) {
                for area in &c.area {
                    assert!((0.0..=1.0).contains(&area.similarity), "similarity {}", area.similarity);
                }
            }
        }
        let _ = match_needle(&shot, &needle, 0.0, 1.0);
    }
});
