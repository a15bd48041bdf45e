//! One screen against several needles, as os-autoinst's `ppmclibs/tinycv.pm` `search` and
//! `search_` do, with candidates ordered by `cmp_by_error_type_`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::geometry::{Point, Size};
use crate::image::RgbaImage;

use super::error::NeedleError;
use super::file::{AreaKind, ClickPoint, Needle};
use super::matcher::{self, ScreenView};

/// A rectangle as `x0, y0, x1, y1`.
type Rect = (usize, usize, usize, usize);

/// One match area's result, named as os-autoinst names it in a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaResult {
    /// Where the area was found, in the needle picture's pixels.
    pub x: u32,
    /// Where the area was found, in the needle picture's pixels.
    pub y: u32,
    /// The area's width.
    pub w: u32,
    /// The area's height.
    pub h: u32,
    /// From 0 to 1, as tinycv computes it (`.9 + (40 - mse) / 380`, clamped).
    pub similarity: f64,
    /// `"ok"` or `"fail"`.
    pub result: &'static str,
    /// The area's click point, when the needle gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_point: Option<ClickPoint>,
}

/// One needle's result against the screen (`tinycv.pm` `search_`'s hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The needle's name.
    pub needle: String,
    /// Whether every match area passed.
    pub ok: bool,
    /// The mean of `(1 - similarity)^2` over the match areas (`mean_square_error`).
    pub error: f64,
    /// One result per match area, in the needle's order.
    pub area: Vec<AreaResult>,
    /// The needle's JSON file.
    pub json: PathBuf,
    /// The needle's tags.
    pub tags: Vec<String>,
    /// Whether the needle has the `workaround` property (it wins ties).
    #[serde(skip)]
    pub workaround: bool,
    /// The needle picture's size, which the screen was scaled to.
    #[serde(skip)]
    pub image_size: (u32, u32),
}

impl Candidate {
    /// Where a click goes, in the screen's pixels: openQA's `click_lastmatch` (testapi.pm)
    /// takes the last area with a click point, else the last area, and
    /// `_calculate_clickpoint` adds the click point (or half the area's size, for none or
    /// `"center"`) to where the area was found, truncated. The screen was scaled to the
    /// needle's size as `image_scale` does; this undoes that: a screen no larger than the
    /// needle was copied unscaled, a larger one resized.
    pub fn click_position(&self, screen: Size) -> Option<Point> {
        let (screen_w, screen_h) = (screen.width, screen.height);
        let area = self
            .area
            .iter()
            .rev()
            .find(|a| a.click_point.is_some())
            .or_else(|| self.area.last())?;
        let (dx, dy) = match area.click_point {
            Some(ClickPoint::At { xpos, ypos }) => (xpos, ypos),
            None | Some(ClickPoint::Center) => (f64::from(area.w) / 2.0, f64::from(area.h) / 2.0),
        };
        let nx = (f64::from(area.x) + dx).trunc();
        let ny = (f64::from(area.y) + dy).trunc();
        let (iw, ih) = self.image_size;
        let (sx, sy) = if screen_w <= iw && screen_h <= ih {
            (nx, ny)
        } else {
            (
                nx * f64::from(screen_w) / f64::from(iw),
                ny * f64::from(screen_h) / f64::from(ih),
            )
        };
        let cx = (sx.trunc() as u32).min(screen_w.saturating_sub(1));
        let cy = (sy.trunc() as u32).min(screen_h.saturating_sub(1));
        Some(Point::new(cx, cy))
    }
}

/// What a search found: the best candidate if it passed, and the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Search {
    /// The first candidate in order, when it passed.
    pub best: Option<Candidate>,
    /// The other candidates, in order: as in `tinycv.pm` `search`, the failed ones and any
    /// passing needle that ranked after the best.
    pub candidates: Vec<Candidate>,
}

/// `tinycv.pm` `cmp_by_error_type_`: passing first, then smaller error, then a `workaround`
/// needle, then the name.
pub fn cmp_candidates(a: &Candidate, b: &Candidate) -> Ordering {
    b.ok.cmp(&a.ok)
        .then(a.error.partial_cmp(&b.error).unwrap_or(Ordering::Equal))
        .then(b.workaround.cmp(&a.workaround))
        .then_with(|| a.needle.as_bytes().cmp(b.needle.as_bytes()))
}

/// Matches `screen` against `needles` as os-autoinst's `assert_screen` does between full
/// searches (`search_ratio` 0: each area within its margin). `threshold` is subtracted from
/// each area's required similarity (os-autoinst passes 0).
pub fn search(
    screen: &RgbaImage,
    needles: &[&Needle],
    threshold: f64,
) -> Result<Search, NeedleError> {
    search_with_ratio(screen, needles, threshold, 0.0)
}

/// [`search`] with os-autoinst's `search_ratio`: each margin grows to
/// `int(margin + ratio * (1024 - margin))`; os-autoinst uses 1 (the whole screen) on its
/// last try and every few seconds (`backend/baseclass.pm` `check_asserted_screen`).
pub fn search_with_ratio(
    screen: &RgbaImage,
    needles: &[&Needle],
    threshold: f64,
    search_ratio: f64,
) -> Result<Search, NeedleError> {
    let done = search_while(screen, needles, threshold, search_ratio, &mut || true)?;
    // Never cut short: `keep_going` always says yes.
    Ok(done.unwrap_or(Search {
        best: None,
        candidates: Vec::new(),
    }))
}

/// [`search_with_ratio`], asking `keep_going` before each needle after the first: `None` when
/// it said no (a deadline passed, a signal came), so that thousands of needles never hold a
/// caller past its timeout.
pub fn search_while(
    screen: &RgbaImage,
    needles: &[&Needle],
    threshold: f64,
    search_ratio: f64,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<Option<Search>, NeedleError> {
    if screen.width == 0
        || screen.height == 0
        || screen.data.len() != screen.width as usize * screen.height as usize * 4
    {
        return Err(NeedleError::BadScreen {
            width: screen.width,
            height: screen.height,
            len: screen.data.len(),
        });
    }
    let mut candidates = Vec::with_capacity(needles.len());
    // tinycv blurs what it was asked of the screen so far, and rounds differently once that
    // covers half of it: the needles without exclude areas share the screen (per needle
    // size, which this scales the screen to); each with exclude areas gets a fresh copy.
    let mut blurred: HashMap<Size, Option<Rect>> = HashMap::new();
    for (i, n) in needles.iter().enumerate() {
        if i > 0 && !keep_going() {
            return Ok(None);
        }
        let has_excludes = n.areas().iter().any(|a| a.kind == AreaKind::Exclude);
        let mut fresh = None;
        let shared = if has_excludes {
            &mut fresh
        } else {
            blurred.entry(n.image_size()).or_default()
        };
        candidates.push(match_needle_on(screen, n, threshold, search_ratio, shared)?);
    }
    candidates.sort_by(cmp_candidates);
    let best = if candidates.first().is_some_and(|c| c.ok) {
        Some(candidates.remove(0))
    } else {
        None
    };
    Ok(Some(Search { best, candidates }))
}

/// `tinycv.pm` `search_` for one needle, on a fresh screenshot.
pub fn match_needle(
    screen: &RgbaImage,
    needle: &Needle,
    threshold: f64,
    search_ratio: f64,
) -> Result<Candidate, NeedleError> {
    match_needle_on(screen, needle, threshold, search_ratio, &mut None)
}

fn match_needle_on(
    screen: &RgbaImage,
    needle: &Needle,
    threshold: f64,
    search_ratio: f64,
    blurred: &mut Option<Rect>,
) -> Result<Candidate, NeedleError> {
    let areas = needle.areas();
    if areas.iter().any(|a| a.kind == AreaKind::Ocr) {
        return Err(NeedleError::OcrUnsupported {
            needle: needle.name().to_owned(),
            path: needle.json_path().to_path_buf(),
        });
    }
    let prepared = needle.prepared()?;
    let Size {
        width: iw,
        height: ih,
    } = needle.image_size();
    let view = ScreenView::new(screen, iw, ih);
    let mut ok = true;
    let mut results = Vec::new();
    for (area, template) in areas.iter().zip(&prepared.templates) {
        let Some(template) = template else { continue };
        let margin = (f64::from(area.margin) + search_ratio * (1024.0 - f64::from(area.margin)))
            .trunc()
            .max(0.0) as u32;
        let found = matcher::search_area(&view, template, area, margin, areas, blurred);
        let pass = found.similarity >= area.match_level / 100.0 - threshold;
        ok &= pass;
        results.push(AreaResult {
            x: found.x,
            y: found.y,
            w: area.width,
            h: area.height,
            similarity: found.similarity,
            result: if pass { "ok" } else { "fail" },
            click_point: area.click_point,
        });
    }
    let error = results
        .iter()
        .map(|a| (1.0 - a.similarity).powi(2))
        .sum::<f64>()
        / results.len().max(1) as f64;
    Ok(Candidate {
        needle: needle.name().to_owned(),
        ok,
        error,
        area: results,
        json: needle.json_path().to_path_buf(),
        tags: needle.tags().to_vec(),
        workaround: needle.has_property("workaround"),
        image_size: (iw, ih),
    })
}
