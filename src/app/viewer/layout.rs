//! Where the guest picture goes in the window, per scale mode.

use clap::ValueEnum;
use vfio_display::geometry::Size;
use vfio_display::render::{Filter, Rect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaleMode {
    /// Fit the window, keeping the aspect ratio (letterboxed), smoothly scaled.
    Fit,
    /// One guest pixel per window pixel, centered (top-left when the window is smaller).
    #[value(name = "1:1")]
    OneToOne,
    /// The largest whole-number scale that fits, sharp.
    Integer,
}

impl ScaleMode {
    pub fn next(self) -> Self {
        match self {
            ScaleMode::Fit => ScaleMode::OneToOne,
            ScaleMode::OneToOne => ScaleMode::Integer,
            ScaleMode::Integer => ScaleMode::Fit,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScaleMode::Fit => "fit",
            ScaleMode::OneToOne => "1:1",
            ScaleMode::Integer => "integer",
        }
    }
}

/// The rectangle of the window the frame is drawn into, and how it is sampled.
pub fn place(mode: ScaleMode, frame: Size, window: Size) -> (Rect, Filter) {
    let (fw, fh) = (frame.width.max(1) as f32, frame.height.max(1) as f32);
    let (ww, wh) = (window.width as f32, window.height as f32);
    let fit = (ww / fw).min(wh / fh);
    let scale = match mode {
        ScaleMode::Fit => fit,
        ScaleMode::OneToOne => 1.0,
        ScaleMode::Integer => fit.floor().max(1.0),
    };
    let (w, h) = (fw * scale, fh * scale);
    // Whole pixels, so that 1:1 and integer scaling stay exact.
    let center = |outer: f32, inner: f32| ((outer - inner) / 2.0).max(0.0).floor();
    let rect = Rect {
        x: center(ww, w),
        y: center(wh, h),
        width: w,
        height: h,
    };
    let filter = if scale.fract() == 0.0 {
        Filter::Nearest
    } else {
        Filter::Linear
    };
    (rect, filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: f32, y: f32, width: f32, height: f32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn fit_letterboxes_and_pillarboxes() {
        // A 4:3 frame in a 16:9 window: bars left and right.
        let (rect, filter) = place(ScaleMode::Fit, Size::new(1024, 768), Size::new(1920, 1080));
        assert_eq!(rect, r(240.0, 0.0, 1440.0, 1080.0));
        assert_eq!(filter, Filter::Linear);
        // A 16:9 frame in a 4:3 window: bars top and bottom.
        let (rect, _) = place(ScaleMode::Fit, Size::new(1920, 1080), Size::new(1024, 768));
        assert_eq!(rect, r(0.0, 96.0, 1024.0, 576.0));
        // The same size: exact.
        assert_eq!(
            place(ScaleMode::Fit, Size::new(800, 600), Size::new(800, 600)),
            (r(0.0, 0.0, 800.0, 600.0), Filter::Nearest)
        );
    }

    #[test]
    fn one_to_one_and_integer() {
        assert_eq!(
            place(
                ScaleMode::OneToOne,
                Size::new(640, 480),
                Size::new(1000, 800)
            )
            .0,
            r(180.0, 160.0, 640.0, 480.0)
        );
        assert_eq!(
            place(
                ScaleMode::OneToOne,
                Size::new(1920, 1080),
                Size::new(800, 600)
            )
            .0,
            r(0.0, 0.0, 1920.0, 1080.0)
        );
        assert_eq!(
            place(
                ScaleMode::Integer,
                Size::new(320, 240),
                Size::new(1000, 800)
            ),
            (r(20.0, 40.0, 960.0, 720.0), Filter::Nearest)
        );
        // Never below 1x.
        assert_eq!(
            place(
                ScaleMode::Integer,
                Size::new(1920, 1080),
                Size::new(800, 600)
            )
            .0
            .width,
            1920.0
        );
    }
}
