//! What changed between two pictures, in tiles: what a client already has is compared with the
//! current frame so that only changed tiles are sent.

use super::encode::Rect;
use crate::image::RgbaImage;

/// Tiles are this many pixels square.
pub const TILE: u32 = 64;

/// The most rectangles one comparison returns; past it, their bounding box is sent instead
/// (one big rectangle costs less than thousands of headers).
pub const MAX_RECTS: usize = 2048;

fn tile_differs(old: &RgbaImage, new: &RgbaImage, x0: u32, y0: u32, x1: u32, y1: u32) -> bool {
    let stride = new.width as usize * 4;
    (y0..y1).any(|y| {
        let a = y as usize * stride + x0 as usize * 4;
        let b = y as usize * stride + x1 as usize * 4;
        old.data[a..b] != new.data[a..b]
    })
}

/// The parts of `area` (inside both pictures, which have the same size) where `new` differs
/// from `old`, as rectangles on the tile grid clipped to `area`: runs of changed tiles in a row
/// of tiles joined, then equal runs in consecutive rows joined.
pub fn changed_rects(old: &RgbaImage, new: &RgbaImage, area: Rect) -> Vec<Rect> {
    debug_assert_eq!((old.width, old.height), (new.width, new.height));
    let area = area.clip(new.width, new.height);
    if area.is_empty() {
        return Vec::new();
    }
    let (ax0, ay0) = (u32::from(area.x), u32::from(area.y));
    let (ax1, ay1) = (ax0 + u32::from(area.width), ay0 + u32::from(area.height));
    let mut rects: Vec<Rect> = Vec::new();
    // Runs of the previous tile row, by index into `rects`, to extend downwards.
    let mut above: Vec<usize> = Vec::new();
    let mut ty = ay0 / TILE * TILE;
    while ty < ay1 {
        let (y0, y1) = (ty.max(ay0), (ty + TILE).min(ay1));
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut tx = ax0 / TILE * TILE;
        while tx < ax1 {
            let (x0, x1) = (tx.max(ax0), (tx + TILE).min(ax1));
            if tile_differs(old, new, x0, y0, x1, y1) {
                match runs.last_mut() {
                    Some((_, end)) if *end == x0 => *end = x1,
                    _ => runs.push((x0, x1)),
                }
            }
            tx += TILE;
        }
        let mut now = Vec::with_capacity(runs.len());
        for (x0, x1) in runs {
            let joined = above.iter().copied().find(|&i| {
                let r = rects[i];
                u32::from(r.x) == x0
                    && u32::from(r.x) + u32::from(r.width) == x1
                    && u32::from(r.y) + u32::from(r.height) == y0
            });
            match joined {
                Some(i) => {
                    rects[i].height += (y1 - y0) as u16;
                    now.push(i);
                }
                None => {
                    now.push(rects.len());
                    rects.push(Rect::new(
                        x0 as u16,
                        y0 as u16,
                        (x1 - x0) as u16,
                        (y1 - y0) as u16,
                    ));
                }
            }
        }
        above = now;
        ty += TILE;
    }
    if rects.len() > MAX_RECTS {
        return vec![bounding_box(&rects)];
    }
    rects
}

fn bounding_box(rects: &[Rect]) -> Rect {
    let x0 = rects.iter().map(|r| r.x).min().unwrap_or(0);
    let y0 = rects.iter().map(|r| r.y).min().unwrap_or(0);
    let x1 = rects
        .iter()
        .map(|r| u32::from(r.x) + u32::from(r.width))
        .max()
        .unwrap_or(0);
    let y1 = rects
        .iter()
        .map(|r| u32::from(r.y) + u32::from(r.height))
        .max()
        .unwrap_or(0);
    Rect::new(
        x0,
        y0,
        (x1 - u32::from(x0)) as u16,
        (y1 - u32::from(y0)) as u16,
    )
}

/// Copies `rect` of `from` into `to` (same size): what the client has after an update.
pub fn copy_rect(from: &RgbaImage, to: &mut RgbaImage, rect: Rect) {
    let stride = from.width as usize * 4;
    for y in u32::from(rect.y)..u32::from(rect.y) + u32::from(rect.height) {
        let a = y as usize * stride + usize::from(rect.x) * 4;
        let b = a + usize::from(rect.width) * 4;
        to.data[a..b].copy_from_slice(&from.data[a..b]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(img: &mut RgbaImage, x: u32, y: u32) {
        let i = ((y * img.width + x) * 4) as usize;
        img.data[i] ^= 0xff;
    }

    #[test]
    fn equal_pictures_have_no_changes() {
        let a = RgbaImage::new(300, 200);
        assert!(changed_rects(&a, &a.clone(), Rect::new(0, 0, 300, 200)).is_empty());
    }

    #[test]
    fn changed_tiles_join_into_rectangles() {
        let old = RgbaImage::new(300, 200);
        let mut new = old.clone();
        // A 2x2 block of tiles (64..192, 64..192 after clipping) and one lone tile at the edge.
        for (x, y) in [(70, 70), (130, 70), (70, 130), (130, 130), (299, 199)] {
            put(&mut new, x, y);
        }
        let rects = changed_rects(&old, &new, Rect::new(0, 0, 300, 200));
        assert_eq!(
            rects,
            vec![Rect::new(64, 64, 128, 128), Rect::new(256, 192, 44, 8)]
        );
        // Only the asked area counts, clipped to it.
        let rects = changed_rects(&old, &new, Rect::new(100, 100, 50, 50));
        assert_eq!(rects, vec![Rect::new(128, 128, 22, 22)]);
        assert!(changed_rects(&old, &new, Rect::new(0, 0, 60, 60)).is_empty());
        let mut copy = old.clone();
        for r in changed_rects(&old, &new, Rect::new(0, 0, 300, 200)) {
            copy_rect(&new, &mut copy, r);
        }
        assert!(copy == new);
    }

    #[test]
    fn too_many_rectangles_become_their_bounding_box() {
        let old = RgbaImage::new(64 * 100, 64 * 50);
        let mut new = old.clone();
        // A checkerboard of changed tiles: 2500 runs, none joinable.
        for ty in 0..50 {
            for tx in 0..100 {
                if (tx + ty) % 2 == 0 {
                    put(&mut new, tx * 64, ty * 64);
                }
            }
        }
        let rects = changed_rects(&old, &new, Rect::new(0, 0, 6400, 3200));
        assert_eq!(rects, vec![Rect::new(0, 0, 6400, 3200)]);
    }
}
