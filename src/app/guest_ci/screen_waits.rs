//! The steps that watch the screen change: `wait-still` and `wait-change`, judged by tinycv's
//! PSNR on every new picture instead of every half second.

use super::psnr::psnr;
use super::runner::{Outcome, Runner};
use anyhow::Result;
use std::time::{Duration, Instant};

impl Runner<'_, '_> {
    /// Until no picture differs from the last different one (PSNR below `similarity`) for
    /// `still`; os-autoinst's `_check_for_still_screen`, judged at each new picture and at the
    /// moment the still time is up rather than every half second.
    pub(super) fn wait_still(
        &mut self,
        still: Duration,
        timeout: Duration,
        similarity: f64,
    ) -> Result<Outcome> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut reference = self
            .now_or_first(deadline)?
            .map(|s| s.picture(self.opts.with_cursor));
        let mut changed_at = start;
        let mut last_psnr = None;
        loop {
            let still_at = changed_at + still;
            if Instant::now() >= still_at && reference.is_some() {
                return Ok(Outcome {
                    psnr: last_psnr,
                    ..Outcome::ok(format!(
                        "still for {:.1} s after {:.2} s",
                        still.as_secs_f64(),
                        (changed_at - start).as_secs_f64()
                    ))
                });
            }
            if Instant::now() >= deadline {
                if reference.is_none() {
                    return Ok(Outcome::failed(format!(
                        "the display stayed {} for {:.1} s: no picture to hold still",
                        self.display_state(),
                        timeout.as_secs_f64()
                    )));
                }
                return Ok(Outcome {
                    psnr: last_psnr,
                    ..Outcome::failed(format!(
                        "the screen kept changing for {:.1} s (last change {:.2} s before the end)",
                        timeout.as_secs_f64(),
                        changed_at.elapsed().as_secs_f64()
                    ))
                });
            }
            let wake_at = if reference.is_some() {
                still_at.min(deadline)
            } else {
                deadline
            };
            let Some(shot) = self.next_shot(wake_at)? else {
                continue;
            };
            let picture = shot.picture(self.opts.with_cursor);
            let differs = match &reference {
                Some(r) => {
                    let p = psnr(r, &picture);
                    last_psnr = Some(p);
                    p < similarity
                }
                None => true,
            };
            if differs {
                changed_at = shot.at;
                reference = Some(picture);
            }
        }
    }

    /// Until a picture differs from the one at the step's start (PSNR below `similarity`).
    pub(super) fn wait_change(&mut self, timeout: Duration, similarity: f64) -> Result<Outcome> {
        let start = Instant::now();
        let deadline = start + timeout;
        let reference = self
            .now_or_first(deadline)?
            .map(|s| s.picture(self.opts.with_cursor));
        let mut last_psnr = None;
        while let Some(shot) = self.next_shot(deadline)? {
            let picture = shot.picture(self.opts.with_cursor);
            let p = reference.as_ref().map_or(0.0, |r| psnr(r, &picture));
            last_psnr = Some(p);
            if p < similarity {
                return Ok(Outcome {
                    psnr: Some(p),
                    ..Outcome::ok(format!(
                        "changed after {:.2} s (PSNR {p:.1} dB)",
                        (shot.at - start).as_secs_f64()
                    ))
                });
            }
        }
        Ok(Outcome {
            psnr: last_psnr,
            ..Outcome::failed(format!("no change in {:.1} s", timeout.as_secs_f64()))
        })
    }
}
