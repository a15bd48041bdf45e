//! Torn captures: how often a capture of the animated simulator is no whole frame of the guest,
//! per import path. The simulated guest draws each frame as a pure function of its number, so a
//! capture is whole exactly when it equals, pixel for pixel, one of the frames the guest showed
//! while it was taken; anything else mixes two frames (bands of one frame beside bands of the
//! next, as when a frame is read while the guest draws into its buffer).

use super::figure::Figure;
use super::frames::offered_paths;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::Duration;
use vfio_display::device::sim::SimDevice;
use vfio_display::device::sim::desktop;
use vfio_display::frame::RgbaImage;
use vfio_display::render::{FrameRenderer, GpuContext, ImportChoice, ImportPath};

/// The guest's frames drawn so far, by number, for the comparisons (a few at a time).
struct Frames {
    size: (u32, u32),
    drawn: BTreeMap<u64, Vec<u8>>,
}

impl Frames {
    /// Whether `image` is one whole frame among `first..=last`.
    fn whole(&mut self, image: &RgbaImage, first: u64, last: u64) -> bool {
        // Older frames cannot come again: the guest only moves forward.
        self.drawn = self.drawn.split_off(&first);
        let (width, height) = self.size;
        (first..=last).any(|frame| {
            let pixels = self
                .drawn
                .entry(frame)
                .or_insert_with(|| desktop::render(width, height, frame).pixels);
            (image.width, image.height) == self.size && image.data == *pixels
        })
    }
}

/// The share of torn captures per path, `captures` each, on `sim` (animated, XRGB8888 dma-buf
/// planes, so that every path applies and a capture equals the guest's RGBA exactly). The
/// CPU path is the reference: the others should tear no more often.
pub fn torn_captures(
    ctx: &GpuContext,
    sim: &SimDevice,
    label: &str,
    captures: usize,
) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut cpu_rate = None;
    let mode = sim.mode();
    let mut frames = Frames {
        size: (mode.width, mode.height),
        drawn: BTreeMap::new(),
    };
    for path in offered_paths(ctx, vfio_display::vfio::PlaneSource::DmaBuf) {
        let mut renderer = FrameRenderer::new(ctx, sim, ImportChoice::Only(path))?;
        let mut torn = 0usize;
        for n in 0..captures {
            // Captures at every phase of the guest's 60 Hz flips: 0 to 16 ms apart.
            std::thread::sleep(Duration::from_millis((n as u64 * 7) % 17));
            // Half of them import afresh, as `screenshot` does; half reuse the import, as the
            // viewer does.
            if n % 2 == 0 {
                renderer.clear_cache();
            }
            let first = sim.frame();
            let (image, _) = renderer
                .render_offscreen(false)
                .with_context(|| format!("capturing through the {path} path"))?
                .context("the simulated guest shows no primary plane")?;
            let last = sim.frame();
            if !frames.whole(&image, first, last) {
                torn += 1;
            }
        }
        let rate = torn as f64 * 100.0 / captures.max(1) as f64;
        let figure = Figure::new(
            format!("{path} path: torn captures of the animated guest, {label}"),
            rate,
            "%",
        )
        .samples(captures)
        .detail(format!(
            "{torn} of {captures} captures were no whole frame of the guest (half with a fresh \
             import, as screenshot; half cached, as the viewer)"
        ));
        figures.push(match (path, cpu_rate) {
            (ImportPath::Cpu, _) => {
                cpu_rate = Some(rate);
                figure
            }
            (_, Some(cpu)) => figure.at_most(cpu, "<= the cpu path"),
            (_, None) => figure,
        });
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, frame: u64) -> RgbaImage {
        RgbaImage {
            width,
            height,
            data: desktop::render(width, height, frame).pixels,
        }
    }

    #[test]
    fn a_whole_frame_is_whole_and_a_mix_of_two_is_torn() {
        let mut frames = Frames {
            size: (160, 120),
            drawn: BTreeMap::new(),
        };
        assert!(frames.whole(&image(160, 120, 41), 40, 42));
        // Frame 43 was not on screen while the capture was taken.
        assert!(!frames.whole(&image(160, 120, 43), 40, 42));
        // The top half of frame 40 over the bottom half of frame 42: a torn capture.
        let mut mixed = image(160, 120, 40);
        let next = image(160, 120, 42);
        let half = mixed.data.len() / 2;
        mixed.data[half..].copy_from_slice(&next.data[half..]);
        assert_ne!(mixed, image(160, 120, 40), "the two frames differ below");
        assert!(!frames.whole(&mixed, 40, 42));
        // Another size is never whole.
        assert!(!frames.whole(&image(160, 100, 41), 40, 42));
    }
}
