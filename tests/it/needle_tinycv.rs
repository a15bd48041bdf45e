//! The `needle` module against os-autoinst's own matcher: generated needles and screens
//! (exact, shifted within and beyond the margin, near-miss colours, exclude areas, screens
//! larger and smaller than the needle, text-like and noisy pictures) searched by both, which
//! must agree on the similarity (within 0.005), on pass or fail, and on where the area was
//! found. tinycv is Debian's build (common/tinycv.rs says how it is found).

#![allow(clippy::disallowed_macros)] // a test prints its comparison table in the log

use std::path::{Path, PathBuf};

use vfio_display::image::RgbaImage;
use vfio_display::needle::{Needle, match_needle, search};

use crate::common::tinycv::{Case, Tinycv};

/// A deterministic pseudo-random sequence (xorshift), so every run draws the same pictures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// RGB8 pictures, rows packed.
#[derive(Clone)]
struct Pic {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

impl Pic {
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                let i = ((yy * self.w + xx) * 3) as usize;
                self.rgb[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// A desktop-like picture: a gradient, windows and buttons of flat colour, and lines of
    /// text-like strokes.
    fn desktop(w: u32, h: u32, seed: u64) -> Pic {
        let mut rng = Rng(seed);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(&[(x * 60 / w) as u8 + 20, (y * 90 / h) as u8 + 40, 120]);
            }
        }
        let mut p = Pic { w, h, rgb };
        for _ in 0..40 {
            let (x, y) = (rng.below(w), rng.below(h));
            let (ww, hh) = (20 + rng.below(300), 10 + rng.below(200));
            let c = [
                rng.below(256) as u8,
                rng.below(256) as u8,
                rng.below(256) as u8,
            ];
            p.fill(x, y, ww, hh, c);
        }
        p.text(0, 0, w, h, &mut rng, 400);
        p
    }

    /// Dark glyph-like strokes on lines of text within the rectangle.
    fn text(&mut self, x: u32, y: u32, w: u32, h: u32, rng: &mut Rng, words: u32) {
        for _ in 0..words {
            let wx = x + rng.below(w.saturating_sub(60).max(1));
            let wy = y + rng.below(h.saturating_sub(14).max(1)) / 16 * 16;
            let mut cx = wx;
            for _ in 0..2 + rng.below(7) {
                // One glyph: a few vertical and horizontal strokes in a 6x10 cell.
                for _ in 0..3 {
                    if rng.below(2) == 0 {
                        self.fill(cx + rng.below(5), wy, 1, 10, [10, 10, 10]);
                    } else {
                        self.fill(cx, wy + rng.below(10), 6, 1, [10, 10, 10]);
                    }
                }
                cx += 7;
            }
        }
    }

    /// Gaussian-ish noise of up to `amp` levels on every channel.
    fn noisy(&self, amp: i32, seed: u64) -> Pic {
        let mut rng = Rng(seed);
        let mut p = self.clone();
        for v in &mut p.rgb {
            let n = (rng.below(2 * amp as u32 + 1) as i32 - amp
                + rng.below(2 * amp as u32 + 1) as i32
                - amp)
                / 2;
            *v = (i32::from(*v) + n).clamp(0, 255) as u8;
        }
        p
    }

    /// Every channel moved by `d` levels.
    fn tinted(&self, d: i32) -> Pic {
        let mut p = self.clone();
        for v in &mut p.rgb {
            *v = (i32::from(*v) + d).clamp(0, 255) as u8;
        }
        p
    }

    /// The content moved `dx, dy` (what it uncovers is gray).
    fn shifted(&self, dx: i32, dy: i32) -> Pic {
        let mut p = Pic {
            w: self.w,
            h: self.h,
            rgb: vec![128; self.rgb.len()],
        };
        for y in 0..self.h as i32 {
            for x in 0..self.w as i32 {
                let (sx, sy) = (x - dx, y - dy);
                if sx >= 0 && sy >= 0 && sx < self.w as i32 && sy < self.h as i32 {
                    let s = ((sy as u32 * self.w + sx as u32) * 3) as usize;
                    let d = ((y as u32 * self.w + x as u32) * 3) as usize;
                    p.rgb[d..d + 3].copy_from_slice(&self.rgb[s..s + 3]);
                }
            }
        }
        p
    }

    /// Resampled to `w`x`h` by nearest neighbour (a screen at another resolution).
    fn resampled(&self, w: u32, h: u32) -> Pic {
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let s = (((y * self.h / h) * self.w + x * self.w / w) * 3) as usize;
                rgb.extend_from_slice(&self.rgb[s..s + 3]);
            }
        }
        Pic { w, h, rgb }
    }

    /// The top-left `w`x`h`.
    fn cropped(&self, w: u32, h: u32) -> Pic {
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            let s = ((y * self.w) * 3) as usize;
            rgb.extend_from_slice(&self.rgb[s..s + (w * 3) as usize]);
        }
        Pic { w, h, rgb }
    }

    fn write(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.w, self.h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()
            .unwrap()
            .write_image_data(&self.rgb)
            .unwrap();
    }

    fn rgba(&self) -> RgbaImage {
        let mut img = RgbaImage::new(self.w, self.h);
        for (d, s) in img.data.chunks_exact_mut(4).zip(self.rgb.chunks_exact(3)) {
            d.copy_from_slice(&[s[0], s[1], s[2], 255]);
        }
        img
    }
}

/// One comparison: a needle (its picture, one match area, excludes) and a screen.
struct Check {
    what: &'static str,
    needle: PathBuf,
    screen: Pic,
    screen_png: PathBuf,
    area: (u32, u32, u32, u32),
    margin: u32,
    excludes: Vec<(u32, u32, u32, u32)>,
}

struct Fixture {
    dir: tempfile::TempDir,
    checks: Vec<Check>,
}

impl Fixture {
    /// Writes a needle named `name` for picture `pic` with one match area (and excludes).
    fn needle(
        &self,
        name: &str,
        pic: &Pic,
        area: (u32, u32, u32, u32),
        margin: u32,
        excludes: &[(u32, u32, u32, u32)],
        properties: &str,
    ) -> PathBuf {
        let (x, y, w, h) = area;
        let mut areas = vec![format!(
            r#"{{"xpos":{x},"ypos":{y},"width":{w},"height":{h},"type":"match","margin":{margin}}}"#
        )];
        for (x, y, w, h) in excludes {
            areas.push(format!(
                r#"{{"xpos":{x},"ypos":{y},"width":{w},"height":{h},"type":"exclude"}}"#
            ));
        }
        let json = self.dir.path().join(format!("{name}.json"));
        std::fs::write(
            &json,
            format!(
                r#"{{"tags":["t"],"properties":[{properties}],"area":[{}]}}"#,
                areas.join(",")
            ),
        )
        .unwrap();
        pic.write(&self.dir.path().join(format!("{name}.png")));
        json
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        what: &'static str,
        needle_pic: &Pic,
        screen: Pic,
        area: (u32, u32, u32, u32),
        margin: u32,
        excludes: &[(u32, u32, u32, u32)],
    ) {
        let n = self.checks.len();
        let needle = self.needle(&format!("n{n}"), needle_pic, area, margin, excludes, "");
        let screen_png = self.dir.path().join(format!("s{n}.png"));
        screen.write(&screen_png);
        self.checks.push(Check {
            what,
            needle,
            screen,
            screen_png,
            area,
            margin,
            excludes: excludes.to_vec(),
        });
    }
}

#[test]
fn needle_matching_agrees_with_tinycv() {
    let Some(tinycv) = Tinycv::find() else { return };
    let mut f = Fixture {
        dir: tempfile::tempdir().unwrap(),
        checks: Vec::new(),
    };
    let desk = Pic::desktop(1024, 768, 0x9e37_79b9_7f4a_7c15);
    let area = (300, 200, 300, 100);
    f.check("exact", &desk, desk.clone(), area, 50, &[]);
    f.check(
        "shifted within the margin",
        &desk,
        desk.shifted(13, -9),
        area,
        50,
        &[],
    );
    f.check(
        "shifted to the margin's edge",
        &desk,
        desk.shifted(-50, 50),
        area,
        50,
        &[],
    );
    f.check(
        "shifted beyond the margin",
        &desk,
        desk.shifted(80, 0),
        area,
        50,
        &[],
    );
    f.check("tinted by 6 levels", &desk, desk.tinted(6), area, 50, &[]);
    f.check("tinted by 20 levels", &desk, desk.tinted(20), area, 50, &[]);
    f.check(
        "tinted by 40 levels",
        &desk,
        desk.tinted(-40),
        area,
        50,
        &[],
    );
    let mut spoiled = desk.clone();
    spoiled.fill(320, 210, 60, 40, [250, 0, 250]);
    f.check("a part repainted", &desk, spoiled.clone(), area, 50, &[]);
    f.check(
        "the repainted part excluded",
        &desk,
        spoiled.clone(),
        area,
        50,
        &[(315, 205, 70, 50)],
    );
    f.check(
        "excluded, and shifted",
        &desk,
        spoiled.shifted(-7, 4),
        area,
        50,
        &[(315, 205, 70, 50), (700, 600, 100, 100)],
    );
    f.check(
        "a larger screen (resized)",
        &desk,
        desk.resampled(1280, 960),
        area,
        50,
        &[],
    );
    f.check(
        "a 1920x1080 screen (resized)",
        &desk,
        desk.resampled(1920, 1080),
        area,
        50,
        &[],
    );
    f.check(
        "a smaller screen (padded)",
        &desk,
        desk.cropped(800, 600),
        area,
        50,
        &[],
    );
    f.check(
        "the area at the corner",
        &desk,
        desk.shifted(3, 2),
        (0, 0, 120, 60),
        50,
        &[],
    );
    f.check(
        "the area at the far corner",
        &desk,
        desk.shifted(-2, -1),
        (904, 708, 120, 60),
        30,
        &[],
    );
    f.check("margin 300", &desk, desk.shifted(-120, 90), area, 300, &[]);
    let mut text = Pic {
        w: 1024,
        h: 768,
        rgb: vec![235; 1024 * 768 * 3],
    };
    text.text(0, 0, 1024, 768, &mut Rng(42), 3000);
    let text_area = (200, 300, 240, 64);
    f.check("text, exact", &text, text.clone(), text_area, 50, &[]);
    f.check(
        "text, shifted",
        &text,
        text.shifted(5, 3),
        text_area,
        50,
        &[],
    );
    f.check(
        "text with noise",
        &text,
        text.noisy(30, 7).shifted(-4, 1),
        text_area,
        50,
        &[],
    );
    f.check(
        "desktop with noise",
        &desk,
        desk.noisy(60, 9),
        area,
        50,
        &[],
    );
    let other = Pic::desktop(1024, 768, 77);
    f.check("another picture", &desk, other, area, 50, &[]);

    let cases: Vec<Case> = f
        .checks
        .iter()
        .map(|c| Case {
            screen: c.screen_png.clone(),
            needle: c.dir_png(),
            area: c.area,
            margin: c.margin,
            excludes: c.excludes.clone(),
        })
        .collect();
    let theirs = tinycv.search(&cases);
    assert_eq!(theirs.len(), cases.len());
    let mut worst = 0.0f64;
    let mut report = String::new();
    for (c, t) in f.checks.iter().zip(&theirs) {
        let needle = Needle::load(&c.needle).unwrap();
        let ours = match_needle(&c.screen.rgba(), &needle, 0.0, 0.0).unwrap();
        let a = &ours.area[0];
        let diff = (a.similarity - t.similarity).abs();
        worst = worst.max(diff);
        report += &format!(
            "{}: ours {:.6} at {},{} ({}), tinycv {:.6} at {},{}\n",
            c.what, a.similarity, a.x, a.y, a.result, t.similarity, t.x, t.y
        );
        let pass_theirs = t.similarity >= 0.96;
        assert!(
            diff <= 0.005,
            "{}: similarity {diff} apart\n{report}",
            c.what
        );
        assert_eq!(ours.ok, pass_theirs, "{}: pass or fail\n{report}", c.what);
        assert_eq!(
            (i64::from(a.x), i64::from(a.y)),
            (t.x, t.y),
            "{}: position\n{report}",
            c.what
        );
    }
    eprintln!("{report}largest similarity difference from tinycv: {worst}");
}

impl Check {
    fn dir_png(&self) -> PathBuf {
        self.needle.with_extension("png")
    }
}

/// Two needles that match equally: the one with the `workaround` property wins
/// (`cmp_by_error_type_`), whatever the names; tinycv gives both the same similarity.
#[test]
fn a_workaround_needle_wins_a_tie_as_in_tinycv_pm() {
    let Some(tinycv) = Tinycv::find() else { return };
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
        checks: Vec::new(),
    };
    let desk = Pic::desktop(1024, 768, 5);
    let area = (500, 400, 200, 80);
    let screen = desk.shifted(4, 4);
    let plain = f.needle("a-plain", &desk, area, 50, &[], "");
    let work = f.needle("b-workaround", &desk, area, 50, &[], r#""workaround""#);
    let other = f.needle("c-other", &Pic::desktop(1024, 768, 6), area, 50, &[], "");
    let screen_png = f.dir.path().join("screen.png");
    screen.write(&screen_png);
    let needles: Vec<Needle> = [&plain, &work, &other]
        .iter()
        .map(|p| Needle::load(p).unwrap())
        .collect();
    let refs: Vec<&Needle> = needles.iter().collect();
    let r = search(&screen.rgba(), &refs, 0.0).unwrap();
    let best = r.best.unwrap();
    assert_eq!(best.needle, "b-workaround");
    assert_eq!((best.area[0].x, best.area[0].y), (504, 404));
    let names: Vec<&str> = r.candidates.iter().map(|c| c.needle.as_str()).collect();
    assert_eq!(names, ["a-plain", "c-other"]);
    assert!(r.candidates[0].ok && !r.candidates[1].ok);

    let cases: Vec<Case> = [&plain, &work, &other]
        .iter()
        .map(|p| Case {
            screen: screen_png.clone(),
            needle: p.with_extension("png"),
            area,
            margin: 50,
            excludes: Vec::new(),
        })
        .collect();
    let theirs = tinycv.search(&cases);
    assert_eq!(
        (theirs[0].similarity, theirs[0].x, theirs[0].y),
        (1.0, 504, 404)
    );
    assert_eq!(theirs[0], theirs[1]);
    assert!((theirs[2].similarity - r.candidates[1].area[0].similarity).abs() <= 0.005);
    assert!(theirs[2].similarity < 0.96);
}
