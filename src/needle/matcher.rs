//! tinycv's matcher, pixel for pixel: os-autoinst/os-autoinst `ppmclibs/tinycv_impl.cc`
//! (`Image::prep`, `search_TEMPLATE`, `minVec`, `SortByClose`, `enhancedMSE`,
//! `image_replacerect`, `image_scale`) on the OpenCV calls it makes (`cvtColor(BGR2GRAY)`,
//! `GaussianBlur(3x3, 0)`, `matchTemplate(TM_SQDIFF)`, `resize(INTER_LINEAR)`).
//!
//! tinycv blurs the whole picture; this blurs only the searched rectangle (plus the one pixel
//! the 3x3 kernel reads around it) with the same border rule, which gives the same values.
//! OpenCV computes the squared differences in `float` through a DFT; this computes them
//! exactly in integers, cutting a position short as soon as its partial sum shows that
//! `minVec` would not keep it, which changes nothing `minVec` returns except where OpenCV's
//! own rounding noise (a few units on sums of millions) decides between near-equal places.

use crate::image::RgbaImage;

use super::file::{Area, AreaKind, Prepared};

/// An 8-bit grayscale picture, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gray {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

/// OpenCV's `cvtColor(BGR2GRAY)` on 8 bits: the fixed-point coefficients of
/// `imgproc/src/color.hpp` (`R2Y` 4899, `G2Y` 9617, `B2Y` 1868, `yuv_shift` 14), rounded
/// half up.
#[inline]
pub(crate) fn gray(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(b) * 1868 + u32::from(g) * 9617 + u32::from(r) * 4899 + (1 << 13)) >> 14) as u8
}

/// The gray of `replacerect`'s colour, `CV_RGB(0, 255, 0)`.
pub(crate) const EXCLUDE_GRAY: u8 = 150;

/// The gray of `image_scale`'s padding, `Scalar(120, 120, 120)`.
const PAD_GRAY: u8 = 120;

/// OpenCV's `BORDER_REFLECT_101` for one step outside `0..n` (`-1` reads 1, `n` reads `n-2`).
#[inline]
fn reflect101(i: isize, n: usize) -> usize {
    if n == 1 {
        0
    } else if i < 0 {
        (-i) as usize
    } else if i as usize >= n {
        2 * n - 2 - i as usize
    } else {
        i as usize
    }
}

/// How OpenCV rounds the 3x3 Gaussian blur of an 8-bit picture: the sum `s` of the pixels
/// weighted 1 2 1 by 1 2 1, divided by 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// A whole picture (`GaussianBlurFixedPoint`, `ufixedpoint16` kernels): `(s + 8) >> 4`.
    HalfUp,
    /// Part of a picture (`GaussianBlur` on a sub-matrix, which OpenCV 4 sends through the
    /// generic separable filter in floating point, then `cvRound`): halves to even.
    HalfEven,
}

/// Which [`Rounding`] tinycv's `Image::prep` gets: it blurs the bounding box of every
/// rectangle asked of that picture so far, or the whole picture once that box covers half of
/// it (`img.total() * 0.5 <= _prep_roi.area()`).
pub(crate) fn rounding_for(union: (usize, usize, usize, usize), w: usize, h: usize) -> Rounding {
    let (x0, y0, x1, y1) = union;
    if 2 * (x1 - x0) * (y1 - y0) >= w * h {
        Rounding::HalfUp
    } else {
        Rounding::HalfEven
    }
}

/// The bounding box of two rectangles (OpenCV's `Rect |=`).
pub(crate) fn union(
    a: Option<(usize, usize, usize, usize)>,
    b: (usize, usize, usize, usize),
) -> (usize, usize, usize, usize) {
    match a {
        None => b,
        Some(a) => (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3)),
    }
}

/// `GaussianBlur(Size(3,3), 0)` on 8 bits, for the rectangle `x0..x1, y0..y1` of a `w`x`h`
/// picture whose gray values `src` holds for the rectangle grown by one pixel and clipped to
/// the picture (`ex0, ey0` its corner, `ew` its width): the weights 1 2 1 by 1 2 1, the
/// picture's edges mirrored (`BORDER_REFLECT_101`), pixels beyond the rectangle but inside the
/// picture read as they are (as OpenCV filters a sub-matrix), rounded as `rounding` says.
#[allow(clippy::too_many_arguments)]
fn blur(
    src: &[u8],
    ex0: usize,
    ey0: usize,
    ew: usize,
    (w, h): (usize, usize),
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    rounding: Rounding,
) -> Gray {
    let bw = x1 - x0;
    let at = |x: usize, y: usize| u16::from(src[(y - ey0) * ew + (x - ex0)]);
    // Horizontal pass over the rows the vertical pass reads.
    let rows: Vec<usize> = (y0 as isize - 1..y1 as isize + 1)
        .map(|y| reflect101(y, h))
        .collect();
    let mut hsum = vec![0u16; rows.len() * bw];
    for (r, &y) in rows.iter().enumerate() {
        let out = &mut hsum[r * bw..(r + 1) * bw];
        for (i, x) in (x0..x1).enumerate() {
            let l = reflect101(x as isize - 1, w);
            let rr = reflect101(x as isize + 1, w);
            out[i] = at(l, y) + 2 * at(x, y) + at(rr, y);
        }
    }
    let mut data = vec![0u8; bw * (y1 - y0)];
    for r in 0..y1 - y0 {
        let (a, b, c) = (
            &hsum[r * bw..(r + 1) * bw],
            &hsum[(r + 1) * bw..(r + 2) * bw],
            &hsum[(r + 2) * bw..(r + 3) * bw],
        );
        for (i, o) in data[r * bw..(r + 1) * bw].iter_mut().enumerate() {
            let sum = a[i] + 2 * b[i] + c[i];
            *o = match rounding {
                Rounding::HalfUp => (sum + 8) >> 4,
                // Down on an exact half whose lower neighbour is even (`sum & 31 == 8`).
                Rounding::HalfEven => (sum + 8 - u16::from(sum & 31 == 8)) >> 4,
            } as u8;
        }
    }
    Gray {
        w: bw,
        h: y1 - y0,
        data,
    }
}

/// The needle's templates: gray of the whole picture, exclude areas painted, blurred, then
/// each match area cut out (`needle.pm` `_load_image` paints the excludes on the needle too).
pub(crate) fn prepare_needle(w: u32, h: u32, rgb: &[u8], areas: &[Area]) -> Prepared {
    let (w, h) = (w as usize, h as usize);
    let mut g: Vec<u8> = rgb
        .chunks_exact(3)
        .map(|p| gray(p[0], p[1], p[2]))
        .collect();
    paint_excludes(&mut g, 0, 0, w, areas);
    // needle.pm caches needle pictures, and tinycv their blur: once every match area was
    // asked for, the blurred box is the one around all of them.
    let boxed = areas
        .iter()
        .filter(|a| a.kind == AreaKind::Match)
        .fold(None, |u, a| Some(union(u, rect(a))));
    let rounding = boxed.map_or(Rounding::HalfUp, |b| rounding_for(b, w, h));
    let templates = areas
        .iter()
        .map(|a| {
            (a.kind == AreaKind::Match).then(|| {
                let (x, y) = (a.x as usize, a.y as usize);
                blur(
                    &g,
                    0,
                    0,
                    w,
                    (w, h),
                    (x, y, x + a.width as usize, y + a.height as usize),
                    rounding,
                )
            })
        })
        .collect();
    Prepared { templates }
}

fn rect(a: &Area) -> (usize, usize, usize, usize) {
    let (x, y) = (a.x as usize, a.y as usize);
    (x, y, x + a.width as usize, y + a.height as usize)
}

/// Paints the exclude areas (`replacerect`) on `g`, which holds the rectangle at `ox, oy` of
/// width `gw` of the picture.
fn paint_excludes(g: &mut [u8], ox: usize, oy: usize, gw: usize, areas: &[Area]) {
    let gh = g.len().checked_div(gw).unwrap_or(0);
    for a in areas.iter().filter(|a| a.kind == AreaKind::Exclude) {
        let x0 = (a.x as usize).max(ox);
        let y0 = (a.y as usize).max(oy);
        let x1 = ((a.x + a.width) as usize).min(ox + gw);
        let y1 = ((a.y + a.height) as usize).min(oy + gh);
        for y in y0..y1 {
            for x in x0..x1 {
                g[(y - oy) * gw + (x - ox)] = EXCLUDE_GRAY;
            }
        }
    }
}

/// How the screen becomes a picture of the needle's size: `tinycv_impl.cc` `image_scale`,
/// which os-autoinst applies to every screenshot (`backend/baseclass.pm`
/// `enqueue_screenshot`, to the backend's resolution, which its needles are made at).
#[derive(Debug)]
enum Scale {
    /// Not larger in either direction: copied to the top-left corner of a picture painted
    /// gray 120 (the same size is this case too: a plain copy).
    Pad,
    /// Larger in either direction: `cv::resize` with `INTER_LINEAR`, to exactly the needle's
    /// size.
    Resize {
        xofs: Vec<usize>,
        alpha: Vec<[i32; 2]>,
        yofs: Vec<usize>,
        beta: Vec<[i32; 2]>,
    },
}

/// One axis of OpenCV's `resize` (`imgproc/src/resize.cpp`, `resize()` coefficient set-up for
/// `INTER_LINEAR`): source index and the two weights in 1/2048, per destination index.
fn linear_axis(src: usize, dst: usize) -> (Vec<usize>, Vec<[i32; 2]>) {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as isize;
            f -= s as f32;
            if s < 0 {
                f = 0.0;
                s = 0;
            }
            if s as usize >= src - 1 {
                f = 0.0;
                s = src as isize - 1;
            }
            let w0 = ((1.0 - f) * 2048.0).round_ties_even() as i32;
            let w1 = (f * 2048.0).round_ties_even() as i32;
            (s as usize, [w0, w1])
        })
        .unzip()
}

/// The screen seen at the needle's size, with the needle's exclude areas painted.
#[derive(Debug)]
pub(crate) struct ScreenView<'a> {
    screen: &'a RgbaImage,
    /// The needle's picture size.
    pub w: usize,
    /// The needle's picture size.
    pub h: usize,
    scale: Scale,
}

impl<'a> ScreenView<'a> {
    pub(crate) fn new(screen: &'a RgbaImage, w: u32, h: u32) -> Self {
        let (sw, sh) = (screen.width as usize, screen.height as usize);
        let (w, h) = (w as usize, h as usize);
        let scale = if sw <= w && sh <= h {
            Scale::Pad
        } else {
            let (xofs, alpha) = linear_axis(sw, w);
            let (yofs, beta) = linear_axis(sh, h);
            Scale::Resize {
                xofs,
                alpha,
                yofs,
                beta,
            }
        };
        ScreenView {
            screen,
            w,
            h,
            scale,
        }
    }

    /// Gray values of the rectangle `x0..x1, y0..y1`, rows packed.
    fn gray_rect(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<u8> {
        let s = self.screen;
        let (sw, sh) = (s.width as usize, s.height as usize);
        let mut out = Vec::with_capacity((x1 - x0) * (y1 - y0));
        match &self.scale {
            Scale::Pad => {
                for y in y0..y1 {
                    for x in x0..x1 {
                        out.push(if x < sw && y < sh {
                            let i = (y * sw + x) * 4;
                            gray(s.data[i], s.data[i + 1], s.data[i + 2])
                        } else {
                            PAD_GRAY
                        });
                    }
                }
            }
            Scale::Resize {
                xofs,
                alpha,
                yofs,
                beta,
            } => {
                let px = |x: usize, y: usize, c: usize| i32::from(s.data[(y * sw + x) * 4 + c]);
                for y in y0..y1 {
                    let sy0 = yofs[y];
                    let sy1 = (sy0 + 1).min(sh - 1);
                    let [b0, b1] = beta[y];
                    for x in x0..x1 {
                        let sx0 = xofs[x];
                        let sx1 = (sx0 + 1).min(sw - 1);
                        let [a0, a1] = alpha[x];
                        let mut rgb = [0u8; 3];
                        for (c, v) in rgb.iter_mut().enumerate() {
                            let h0 = px(sx0, sy0, c) * a0 + px(sx1, sy0, c) * a1;
                            let h1 = px(sx0, sy1, c) * a0 + px(sx1, sy1, c) * a1;
                            // OpenCV's vector path (`VResizeLinearVec_32s8u`): 16-bit
                            // products' high halves, then a rounding shift by 2.
                            let t = (((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16);
                            *v = ((t + 2) >> 2).clamp(0, 255) as u8;
                        }
                        out.push(gray(rgb[0], rgb[1], rgb[2]));
                    }
                }
            }
        }
        out
    }

    /// The blurred gray rectangle `x0..x1, y0..y1`, exclude areas painted before the blur.
    pub(crate) fn prepped(
        &self,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        areas: &[Area],
        rounding: Rounding,
    ) -> Gray {
        let ex0 = x0.saturating_sub(1);
        let ey0 = y0.saturating_sub(1);
        let ex1 = (x1 + 1).min(self.w);
        let ey1 = (y1 + 1).min(self.h);
        let mut g = self.gray_rect(ex0, ey0, ex1, ey1);
        paint_excludes(&mut g, ex0, ey0, ex1 - ex0, areas);
        blur(
            &g,
            ex0,
            ey0,
            ex1 - ex0,
            (self.w, self.h),
            (x0, y0, x1, y1),
            rounding,
        )
    }
}

/// What `search_TEMPLATE` returns for one area: where the area was found (in the needle
/// picture's pixels) and how similar it is there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Found {
    pub x: u32,
    pub y: u32,
    pub similarity: f64,
}

/// `tinycv_impl.cc` `search_TEMPLATE` for the match area `area` of the needle (template
/// `object`), `margin` pixels around it on `view`. `blurred` is the box tinycv has blurred on
/// this screen so far (see [`rounding_for`]), which this grows.
pub(crate) fn search_area(
    view: &ScreenView<'_>,
    object: &Gray,
    area: &Area,
    margin: u32,
    areas: &[Area],
    blurred: &mut Option<(usize, usize, usize, usize)>,
) -> Found {
    let (x, y) = (area.x as usize, area.y as usize);
    let (w, h) = (area.width as usize, area.height as usize);
    if x + w > view.w || y + h > view.h {
        // tinycv's "out of range": position 0,0 and similarity 0.
        return Found {
            x: 0,
            y: 0,
            similarity: 0.0,
        };
    }
    let m = margin as usize;
    let sx = x.saturating_sub(m);
    let sy = y.saturating_sub(m);
    let sx1 = (x + w + m).min(view.w);
    let sy1 = (y + h + m).min(view.h);
    let boxed = union(*blurred, (sx, sy, sx1, sy1));
    *blurred = Some(boxed);
    let roi = view.prepped(
        (sx, sy, sx1, sy1),
        areas,
        rounding_for(boxed, view.w, view.h),
    );
    let (mx, my) = min_positions(&roi, object, (x - sx, y - sy), x as i64, y as i64);
    let (bx, by) = (mx + sx, my + sy);
    let mse = mse(&roi, mx, my, object);
    let similarity = (0.9 + (40.0 - mse) / 380.0).clamp(0.0, 1.0);
    Found {
        x: bx as u32,
        y: by as u32,
        similarity,
    }
}

/// The squared difference of the template at `(px, py)` of `roi`, its rows taken in
/// `order`, or `None` as soon as it exceeds `limit` (the sums only grow, so the rest cannot
/// bring it back).
#[inline]
fn ssd_at(roi: &Gray, t: &Gray, order: &[usize], px: usize, py: usize, limit: u64) -> Option<u64> {
    let mut sum = 0u64;
    for &r in order {
        let a = &roi.data[(py + r) * roi.w + px..][..t.w];
        let b = &t.data[r * t.w..(r + 1) * t.w];
        sum += row_ssd(a, b);
        if sum > limit {
            return None;
        }
    }
    Some(sum)
}

/// The template's rows, those with the most contrast first: a wrong position then shows its
/// difference in the first rows summed, and is cut short there.
fn row_order(t: &Gray) -> Vec<usize> {
    let mut spread: Vec<(u64, usize)> = (0..t.h)
        .map(|r| {
            let row = &t.data[r * t.w..(r + 1) * t.w];
            let mean = row.iter().map(|&v| u64::from(v)).sum::<u64>() / t.w as u64;
            let var = row
                .iter()
                .map(|&v| u64::from(v).abs_diff(mean).pow(2))
                .sum::<u64>();
            (var, r)
        })
        .collect();
    spread.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    spread.into_iter().map(|(_, r)| r).collect()
}

/// An upper bound of the least difference, to prune with from the start, and a lower bound of
/// each position's: a few template pixels compared at every position (their sum is part of
/// the position's whole), and the whole difference at the few positions where they differ
/// least (where the needle most likely is).
fn seed_bound(
    roi: &Gray,
    t: &Gray,
    order: &[usize],
    rw: usize,
    rh: usize,
    own: u64,
) -> (u64, Vec<u32>) {
    const KEEP: usize = 24;
    let mut samples: Vec<(usize, usize)> = Vec::new();
    for &r in order.iter().take(4) {
        for k in 0..16 {
            samples.push((r, k * (t.w - 1) / 15));
        }
    }
    samples.dedup();
    let mut scores = vec![0u32; rw * rh];
    for &(r, c) in &samples {
        let tv = i32::from(t.data[r * t.w + c]);
        for py in 0..rh {
            let src = &roi.data[(py + r) * roi.w + c..][..rw];
            for (s, &v) in scores[py * rw..(py + 1) * rw].iter_mut().zip(src) {
                let d = i32::from(v) - tv;
                *s += (d * d) as u32;
            }
        }
    }
    let mut idx: Vec<(u32, usize)> = scores.iter().copied().zip(0..).collect();
    let keep = KEEP.min(idx.len());
    if keep < idx.len() {
        idx.select_nth_unstable(keep);
    }
    let mut best = own;
    for &(_, i) in &idx[..keep] {
        if let Some(v) = ssd_at(roi, t, order, i % rw, i / rw, best) {
            best = best.min(v);
        }
    }
    (best, scores)
}

/// `matchTemplate(TM_SQDIFF)`, then `minVec` and `SortByClose` as tinycv runs them since
/// os-autoinst 4.4 (2017, "Use reasonable upper error bound"): the difference at the area's
/// own place `own` is the first bound (0 there: found there); scanning row by row, a position
/// at most `bound + 10` joins the list, one more than 10 below the bound starts a new list and
/// lowers the bound; of the list, the one nearest to `(ox, oy)` wins. tinycv measures that
/// distance from the searched rectangle's own coordinates to the area's place in the whole
/// picture (a slip kept here, since it decides between equal positions).
///
/// That scan keeps, when some position beats the own place, the first position of the least
/// difference `m` and the later ones within `m + 10`; otherwise every position within the own
/// place's difference plus 10. This bounds `m` first ([`seed_bound`]), then lists the
/// positions within `m + 10`, cutting every other one short.
fn min_positions(roi: &Gray, t: &Gray, own: (usize, usize), ox: i64, oy: i64) -> (usize, usize) {
    let rw = roi.w - t.w + 1;
    let rh = roi.h - t.h + 1;
    let order = row_order(t);
    let own_v = ssd_at(roi, t, &order, own.0, own.1, u64::MAX).unwrap_or(u64::MAX);
    if own_v == 0 {
        return own;
    }
    let (mut best, lower) = seed_bound(roi, t, &order, rw, rh, own_v);
    // A second lower bound, from row sums: (sum of a row's differences)^2 / width is at most
    // that row's squared differences (Cauchy-Schwarz), and costs one subtraction per row.
    let prefix: Vec<u32> = roi
        .data
        .chunks_exact(roi.w)
        .flat_map(|row| {
            std::iter::once(0).chain(row.iter().scan(0u32, |acc, &v| {
                *acc += u32::from(v);
                Some(*acc)
            }))
        })
        .collect();
    let t_rows: Vec<i64> = t
        .data
        .chunks_exact(t.w)
        .map(|row| row.iter().map(|&v| i64::from(v)).sum())
        .collect();
    let pw = roi.w + 1;
    let row_bound = |px: usize, py: usize| -> u64 {
        let mut sum = 0u64;
        for (r, &tr) in t_rows.iter().enumerate() {
            let base = (py + r) * pw;
            let s = i64::from(prefix[base + px + t.w] - prefix[base + px]);
            sum += ((s - tr) * (s - tr)) as u64;
        }
        sum / t.w as u64
    };
    // The same on 16-pixel pieces of each row: closer to the whole, at 1/16 of its cost.
    const PIECE: usize = 16;
    let pieces: Vec<(usize, usize)> = (0..t.w)
        .step_by(PIECE)
        .map(|x| (x, (x + PIECE).min(t.w)))
        .collect();
    let t_pieces: Vec<i64> = (0..t.h)
        .flat_map(|r| {
            let row = &t.data[r * t.w..(r + 1) * t.w];
            pieces
                .iter()
                .map(move |&(a, b)| row[a..b].iter().map(|&v| i64::from(v)).sum::<i64>())
        })
        .collect();
    let piece_bound = |px: usize, py: usize, limit: u64| -> bool {
        let mut sum = 0u64;
        for r in 0..t.h {
            let base = (py + r) * pw + px;
            for (k, &(a, b)) in pieces.iter().enumerate() {
                let s = i64::from(prefix[base + b] - prefix[base + a]);
                let d = s - t_pieces[r * pieces.len() + k];
                sum += (d * d) as u64 / (b - a) as u64;
            }
            if sum > limit {
                return true;
            }
        }
        false
    };
    let mut listed: Vec<(usize, u64)> = Vec::new();
    for (i, &low) in lower.iter().enumerate() {
        let (px, py) = (i % rw, i / rw);
        if u64::from(low) > best + 10
            || row_bound(px, py) > best + 10
            || piece_bound(px, py, best + 10)
        {
            continue;
        }
        if let Some(v) = ssd_at(roi, t, &order, px, py, best + 10) {
            best = best.min(v);
            listed.push((i, v));
        }
    }
    let from = if best < own_v {
        listed.iter().position(|&(_, v)| v == best).unwrap_or(0)
    } else {
        0
    };
    let mut mins: Vec<(usize, usize)> = listed[from..]
        .iter()
        .filter(|&&(_, v)| v <= best + 10)
        .map(|&(i, _)| (i % rw, i / rw))
        .collect();
    // std::sort on few points is an insertion sort, which keeps equal ones in order; a
    // stable sort does the same.
    mins.sort_by_key(|&(px, py)| {
        let dx = px as i64 - ox;
        let dy = py as i64 - oy;
        dx * dx + dy * dy
    });
    mins.first().copied().unwrap_or((0, 0))
}

#[inline]
fn row_ssd(a: &[u8], b: &[u8]) -> u64 {
    // u32 lanes vectorise; a row of 16384 pixels stays below 2^32.
    let s: u32 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i32::from(x) - i32::from(y);
            (d * d) as u32
        })
        .sum();
    u64::from(s)
}

/// `enhancedMSE`: the mean squared difference of the blurred grays. (Until 2021 it compared
/// 16 levels and ignored differences under 16; os-autoinst's "No longer convert to 16
/// colours" made it the plain mean.)
fn mse(roi: &Gray, mx: usize, my: usize, t: &Gray) -> f64 {
    let mut sse = 0u64;
    for r in 0..t.h {
        let a = &roi.data[(my + r) * roi.w + mx..][..t.w];
        let b = &t.data[r * t.w..(r + 1) * t.w];
        sse += row_ssd(a, b);
    }
    sse as f64 / (t.w * t.h) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_matches_opencv_fixed_point() {
        assert_eq!(gray(0, 255, 0), EXCLUDE_GRAY);
        assert_eq!(gray(255, 255, 255), 255);
        assert_eq!(gray(120, 120, 120), 120);
        // 4899*255 = 1249245, +8192 >> 14 = 76.
        assert_eq!(gray(255, 0, 0), 76);
        assert_eq!(gray(0, 0, 255), 29);
    }

    #[test]
    fn blur_reflects_at_the_border() {
        // A 3x1 row 0 160 0: the border rule reads 160 beside each edge.
        let g = [0u8, 160, 0];
        let b = blur(&g, 0, 0, 3, (3, 1), (0, 0, 3, 1), Rounding::HalfUp);
        // Vertically the single row reflects to itself (weights 1+2+1 = 4): (0*4 + 160*2*4
        // ... per column: left = (160 + 0*2 + 160)*4 / 16 = 80; middle = (0+320+0)*4/16 = 80.
        assert_eq!(b.data, vec![80, 80, 80]);
    }

    #[test]
    fn blur_rounds_halves_as_opencv() {
        // One pixel 2 above a field of 104: its blur is 104.5 (sum 1672).
        let mut g = vec![104u8; 9];
        g[4] = 106;
        let up = blur(&g, 0, 0, 3, (3, 3), (1, 1, 2, 2), Rounding::HalfUp);
        let even = blur(&g, 0, 0, 3, (3, 3), (1, 1, 2, 2), Rounding::HalfEven);
        assert_eq!((up.data[0], even.data[0]), (105, 104));
        // 105.5 goes up either way; 104.75 rounds to 105 either way.
        g = vec![105; 9];
        g[4] = 107;
        assert_eq!(
            blur(&g, 0, 0, 3, (3, 3), (1, 1, 2, 2), Rounding::HalfEven).data,
            [106]
        );
        g = vec![104; 9];
        g[4] = 107;
        assert_eq!(
            blur(&g, 0, 0, 3, (3, 3), (1, 1, 2, 2), Rounding::HalfEven).data,
            [105]
        );
        assert_eq!(rounding_for((0, 0, 10, 5), 10, 10), Rounding::HalfUp);
        assert_eq!(rounding_for((0, 0, 10, 4), 10, 10), Rounding::HalfEven);
    }

    #[test]
    fn mse_is_the_plain_mean() {
        let a = Gray {
            w: 2,
            h: 1,
            data: vec![100, 100],
        };
        let b = Gray {
            w: 2,
            h: 1,
            data: vec![106, 92],
        };
        assert_eq!(mse(&a, 0, 0, &b), 50.0);
    }

    #[test]
    fn min_positions_follow_min_vec() {
        let roi = Gray {
            w: 5,
            h: 1,
            data: vec![10, 30, 14, 13, 40],
        };
        // Template 10: differences 0 400 16 9 900. The own place (index 2, 16) is beaten by
        // index 0 (0), which starts the list; index 3 (9, within 0 + 10) joins it.
        let t = Gray {
            w: 1,
            h: 1,
            data: vec![10],
        };
        assert_eq!(min_positions(&roi, &t, (2, 0), 3, 0), (3, 0));
        assert_eq!(min_positions(&roi, &t, (2, 0), 0, 0), (0, 0));
        // Template 16: differences 36 196 4 9 576. The own place (index 3, 9) is beaten by
        // index 2 (4); index 3 (within 14) joins; the nearer to `ox` wins.
        let t = Gray {
            w: 1,
            h: 1,
            data: vec![16],
        };
        assert_eq!(min_positions(&roi, &t, (3, 0), 4, 0), (3, 0));
        assert_eq!(min_positions(&roi, &t, (3, 0), 0, 0), (2, 0));
        // Template 12: differences 4 324 4 1 784. Nothing beats the own place (index 3, 1):
        // every place within 11 is listed, those before it too.
        let t = Gray {
            w: 1,
            h: 1,
            data: vec![12],
        };
        assert_eq!(min_positions(&roi, &t, (3, 0), 0, 0), (0, 0));
        // A perfect own place is taken at once.
        let t = Gray {
            w: 1,
            h: 1,
            data: vec![13],
        };
        assert_eq!(min_positions(&roi, &t, (3, 0), 0, 0), (3, 0));
    }

    #[test]
    fn linear_axis_halves_and_keeps() {
        let (ofs, w) = linear_axis(4, 4);
        assert_eq!(ofs, vec![0, 1, 2, 3]);
        assert!(w.iter().all(|w| *w == [2048, 0]));
        // 3 -> 2: scale 1.5, d=0: 0.25 -> s 0, f .25; d=1: 1.75 -> s 1, f .75.
        let (ofs, w) = linear_axis(3, 2);
        assert_eq!(ofs, vec![0, 1]);
        assert_eq!(w, vec![[1536, 512], [512, 1536]]);
    }
}
