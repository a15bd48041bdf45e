//! Solid-colour areas of a picture, found before Tight's palette analysis so that they go as
//! one fill each instead of palette indices through zlib. The search is TigerVNC's
//! (`common/rfb/EncodeManager.cxx`: `findSolidRect`, `extendSolidAreaByBlock`,
//! `extendSolidAreaByPixel`, with `SolidSearchBlock = 16` and `SolidBlockMinArea = 2048`):
//! look for a solid 16x16 block on a grid, grow it block by block to the largest rectangle of
//! its colour, then pixel by pixel, and search what is left around it the same way.
//!
//! Pixels are compared as the picture's RGBA bytes: two pixels equal there are equal in every
//! pixel format the client may have asked for, so a solid area found here is solid on the wire
//! (the converse need not hold; such an area is then simply sent by the palette path).

use super::Rect;
use crate::image::RgbaImage;

/// The side of the blocks tested when looking for solid areas (TigerVNC's `SolidSearchBlock`).
const SEARCH_BLOCK: u32 = 16;
/// Solid areas smaller than this, in pixels, are not worth a rectangle of their own, unless
/// they are the whole rectangle searched (TigerVNC's `SolidBlockMinArea`).
const MIN_AREA: u64 = 2048;

/// A rectangle by its edges, right and bottom exclusive: the search's arithmetic on edges
/// stays in `u32` and cannot overflow `u16` coordinates on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Area {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Area {
    fn of(r: Rect) -> Self {
        Area {
            x0: u32::from(r.x),
            y0: u32::from(r.y),
            x1: u32::from(r.x) + u32::from(r.width),
            y1: u32::from(r.y) + u32::from(r.height),
        }
    }

    /// Back to a `Rect`; the search only ever makes areas inside the `Rect` it started from.
    fn rect(self) -> Rect {
        Rect::new(
            self.x0 as u16,
            self.y0 as u16,
            (self.x1 - self.x0) as u16,
            (self.y1 - self.y0) as u16,
        )
    }

    fn area(self) -> u64 {
        u64::from(self.x1 - self.x0) * u64::from(self.y1 - self.y0)
    }

    fn is_empty(self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }
}

/// The picture being searched, its pixels read as native-endian `u32` RGBA.
struct Picture<'a> {
    data: &'a [u8],
    stride: usize,
}

impl Picture<'_> {
    fn pixel(&self, x: u32, y: u32) -> u32 {
        let i = y as usize * self.stride + x as usize * 4;
        let p = &self.data[i..i + 4];
        u32::from_ne_bytes([p[0], p[1], p[2], p[3]])
    }

    /// Whether every pixel of `a` (not empty) is `colour`.
    fn is_solid(&self, a: Area, colour: u32) -> bool {
        (a.y0..a.y1).all(|y| {
            let start = y as usize * self.stride + a.x0 as usize * 4;
            row_is(
                &self.data[start..start + (a.x1 - a.x0) as usize * 4],
                colour,
            )
        })
    }
}

/// Whether every pixel of `row` (RGBA bytes) is `colour`. Sixteen pixels are compared at a
/// time without stopping early inside them, a loop the compiler turns into vector compares;
/// the check between them stops at the first difference, which in a busy picture is at once.
fn row_is(row: &[u8], colour: u32) -> bool {
    let same = |p: &[u8]| u32::from_ne_bytes([p[0], p[1], p[2], p[3]]) ^ colour;
    let mut chunks = row.chunks_exact(64);
    for chunk in &mut chunks {
        if chunk.chunks_exact(4).fold(0, |acc, p| acc | same(p)) != 0 {
            return false;
        }
    }
    chunks.remainder().chunks_exact(4).all(|p| same(p) == 0)
}

/// The colour of every pixel of `rect` (inside `image`, not empty) when they are all one,
/// as RGBA bytes.
pub fn colour(image: &RgbaImage, rect: Rect) -> Option<[u8; 4]> {
    if rect.is_empty() || rect.clip(image.width, image.height) != rect {
        return None;
    }
    let picture = Picture {
        data: &image.data,
        stride: image.width as usize * 4,
    };
    let area = Area::of(rect);
    let colour = picture.pixel(area.x0, area.y0);
    picture
        .is_solid(area, colour)
        .then_some(colour.to_ne_bytes())
}

/// `rect` of `image` (inside it) cut into solid areas worth a fill each and the rest, which
/// together cover `rect` once: returns (solid areas, rest).
pub fn split(image: &RgbaImage, rect: Rect) -> (Vec<Rect>, Vec<Rect>) {
    let (mut solid, mut rest) = (Vec::new(), Vec::new());
    if rect.is_empty() || rect.clip(image.width, image.height) != rect {
        rest.push(rect);
        return (solid, rest);
    }
    let picture = Picture {
        data: &image.data,
        stride: image.width as usize * 4,
    };
    // A list of areas still to search rather than TigerVNC's recursion: a picture of many
    // solid areas would otherwise nest as deep as it has areas.
    let mut todo = vec![Area::of(rect)];
    while let Some(r) = todo.pop() {
        let Some(found) = find(&picture, r) else {
            bands(&picture, r, &mut solid, &mut rest);
            continue;
        };
        solid.push(found.rect());
        // Above the area, the whole width was searched for blocks already (the grid is
        // scanned row by row) and held none worth a fill, but may hold bands of rows; beside
        // and below it may hold either.
        let above = Area { y1: found.y0, ..r };
        let left = Area {
            x1: found.x0,
            y0: found.y0,
            y1: found.y1,
            ..r
        };
        let right = Area {
            x0: found.x1,
            y0: found.y0,
            y1: found.y1,
            ..r
        };
        let below = Area { y0: found.y1, ..r };
        if !above.is_empty() {
            bands(&picture, above, &mut solid, &mut rest);
        }
        todo.extend([left, right, below].into_iter().filter(|a| !a.is_empty()));
    }
    (solid, rest)
}

/// `r`, where no solid block was found, cut into bands of whole rows: runs of rows all of one
/// colour worth a fill go to `solid`, the rows between to `rest`. A gradient's rows are each
/// one colour but change too often for a 16x16 block to be solid (the desktop's wallpaper);
/// TigerVNC sends them through palette and zlib, this sends them as fills. A row that is not
/// one colour is usually told at its first pixels, so the search costs little elsewhere.
fn bands(picture: &Picture, r: Area, solid: &mut Vec<Rect>, rest: &mut Vec<Rect>) {
    let mut plain_from = r.y0;
    let mut y = r.y0;
    while y < r.y1 {
        let colour = picture.pixel(r.x0, y);
        let row = |y: u32| Area {
            y0: y,
            y1: y + 1,
            ..r
        };
        let mut end = y;
        while end < r.y1 && picture.pixel(r.x0, end) == colour && picture.is_solid(row(end), colour)
        {
            end += 1;
        }
        let band = Area {
            y0: y,
            y1: end,
            ..r
        };
        if end > y && band.area() >= MIN_AREA {
            if plain_from < y {
                rest.push(
                    Area {
                        y0: plain_from,
                        y1: y,
                        ..r
                    }
                    .rect(),
                );
            }
            solid.push(band.rect());
            plain_from = end;
        }
        y = end.max(y + 1);
    }
    if plain_from < r.y1 {
        rest.push(
            Area {
                y0: plain_from,
                ..r
            }
            .rect(),
        );
    }
}

/// The first solid area in `r` worth a fill, scanning a grid of 16x16 blocks row by row (as
/// TigerVNC's `findSolidRect`).
fn find(picture: &Picture, r: Area) -> Option<Area> {
    let mut y = r.y0;
    while y < r.y1 {
        let y_end = (y + SEARCH_BLOCK).min(r.y1);
        let mut x = r.x0;
        while x < r.x1 {
            let x_end = (x + SEARCH_BLOCK).min(r.x1);
            let colour = picture.pixel(x, y);
            let block = Area {
                x0: x,
                y0: y,
                x1: x_end,
                y1: y_end,
            };
            if picture.is_solid(block, colour) {
                let from = Area { x0: x, y0: y, ..r };
                let grown = grow_by_blocks(picture, from, colour);
                if grown == r {
                    return Some(grown);
                }
                if grown.area() >= MIN_AREA {
                    return Some(grow_by_pixels(picture, r, grown, colour));
                }
            }
            x = x_end;
        }
        y = y_end;
    }
    None
}

/// The largest rectangle of `colour` from `r`'s top-left corner in whole blocks: as wide as
/// it goes in the first row of blocks, narrowing as each next row of blocks stops sooner,
/// keeping the width and height of the largest area seen (TigerVNC's
/// `extendSolidAreaByBlock`). The first block must be solid.
fn grow_by_blocks(picture: &Picture, r: Area, colour: u32) -> Area {
    let mut width = r.x1 - r.x0;
    let (mut best_w, mut best_h) = (0, 0);
    let mut y = r.y0;
    while y < r.y1 {
        let y_end = (y + SEARCH_BLOCK).min(r.y1);
        let mut x = r.x0;
        while x < r.x0 + width {
            let x_end = (x + SEARCH_BLOCK).min(r.x0 + width);
            let block = Area {
                x0: x,
                y0: y,
                x1: x_end,
                y1: y_end,
            };
            if !picture.is_solid(block, colour) {
                break;
            }
            x = x_end;
        }
        if x == r.x0 {
            break;
        }
        width = x - r.x0;
        let height = y_end - r.y0;
        if u64::from(width) * u64::from(height) > u64::from(best_w) * u64::from(best_h) {
            (best_w, best_h) = (width, height);
        }
        y = y_end;
    }
    Area {
        x1: r.x0 + best_w,
        y1: r.y0 + best_h,
        ..r
    }
}

/// `found` grown a row of pixels at a time up and down, then a column at a time left and
/// right, while it stays `colour` and inside `r` (TigerVNC's `extendSolidAreaByPixel`).
fn grow_by_pixels(picture: &Picture, r: Area, found: Area, colour: u32) -> Area {
    let mut a = found;
    while a.y0 > r.y0
        && picture.is_solid(
            Area {
                y0: a.y0 - 1,
                y1: a.y0,
                ..a
            },
            colour,
        )
    {
        a.y0 -= 1;
    }
    while a.y1 < r.y1
        && picture.is_solid(
            Area {
                y0: a.y1,
                y1: a.y1 + 1,
                ..a
            },
            colour,
        )
    {
        a.y1 += 1;
    }
    while a.x0 > r.x0
        && picture.is_solid(
            Area {
                x0: a.x0 - 1,
                x1: a.x0,
                ..a
            },
            colour,
        )
    {
        a.x0 -= 1;
    }
    while a.x1 < r.x1
        && picture.is_solid(
            Area {
                x0: a.x1,
                x1: a.x1 + 1,
                ..a
            },
            colour,
        )
    {
        a.x1 += 1;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(img: &mut RgbaImage, r: Rect, px: [u8; 4]) {
        for y in r.y..r.y + r.height {
            for x in r.x..r.x + r.width {
                let i = (usize::from(y) * img.width as usize + usize::from(x)) * 4;
                img.data[i..i + 4].copy_from_slice(&px);
            }
        }
    }

    /// A picture where no two neighbouring pixels are alike.
    fn noise(width: u32, height: u32) -> RgbaImage {
        let mut img = RgbaImage::new(width, height);
        let mut seed = 7u32;
        for px in img.data.chunks_exact_mut(4) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = seed.to_be_bytes();
            px.copy_from_slice(&[b[0], b[1], b[2], 255]);
        }
        img
    }

    fn covered_once(rect: Rect, parts: &[Rect]) {
        let mut seen = vec![0u8; rect.area() as usize];
        for p in parts {
            assert_eq!(p.intersect(&rect), *p, "{p:?} outside {rect:?}");
            for y in p.y..p.y + p.height {
                for x in p.x..p.x + p.width {
                    seen[usize::from(y - rect.y) * usize::from(rect.width)
                        + usize::from(x - rect.x)] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "not a cover of {rect:?}");
    }

    #[test]
    fn finds_an_odd_sized_area_to_the_pixel() {
        let mut img = noise(300, 200);
        let area = Rect::new(37, 21, 101, 77);
        fill(&mut img, area, [1, 2, 3, 255]);
        let rect = Rect::new(0, 0, 300, 200);
        let (solid, rest) = split(&img, rect);
        assert_eq!(solid, vec![area]);
        covered_once(rect, &[solid, rest].concat());
    }

    #[test]
    fn finds_areas_on_every_edge_and_a_whole_solid_rect() {
        let mut img = noise(256, 128);
        let areas = [
            Rect::new(0, 0, 256, 20),
            Rect::new(0, 20, 40, 108),
            Rect::new(200, 60, 56, 68),
        ];
        for (i, a) in areas.iter().enumerate() {
            fill(&mut img, *a, [10 * i as u8, 0, 0, 255]);
        }
        let rect = Rect::new(0, 0, 256, 128);
        let (mut solid, rest) = split(&img, rect);
        solid.sort_by_key(|r| (r.y, r.x));
        assert_eq!(solid, areas.to_vec());
        covered_once(rect, &[solid, rest].concat());
        // A small rectangle entirely of one colour is one area, however small.
        let small = Rect::new(3, 3, 5, 2);
        assert_eq!(split(&img, small), (vec![small], vec![]));
        assert_eq!(colour(&img, small), Some([0, 0, 0, 255]));
        assert_eq!(colour(&img, Rect::new(190, 60, 20, 2)), None);
    }

    #[test]
    fn sends_a_gradient_as_bands_of_rows() {
        // Rows of one colour, a new colour every 5 rows: no 16x16 block is solid.
        let mut img = noise(600, 40);
        for band in 0..6u16 {
            fill(
                &mut img,
                Rect::new(0, band * 5, 600, 5),
                [band as u8, 9, 9, 255],
            );
        }
        let rect = Rect::new(0, 0, 600, 40);
        let (solid, rest) = split(&img, rect);
        let want: Vec<Rect> = (0..6).map(|b| Rect::new(0, b * 5, 600, 5)).collect();
        assert_eq!(solid, want);
        assert_eq!(rest, vec![Rect::new(0, 30, 600, 10)]);
        // Too narrow for a band of 5 rows to be worth a fill.
        let narrow = Rect::new(0, 0, 100, 40);
        assert_eq!(split(&img, narrow), (vec![], vec![narrow]));
    }

    #[test]
    fn leaves_small_areas_and_noise_alone() {
        let mut img = noise(128, 64);
        // 40x40 is 1600 pixels, under the least worth a fill.
        fill(&mut img, Rect::new(10, 10, 40, 40), [5, 5, 5, 255]);
        let rect = Rect::new(0, 0, 128, 64);
        assert_eq!(split(&img, rect), (vec![], vec![rect]));
    }
}
