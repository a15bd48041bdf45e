//! The viewer's counters: what the overlay shows while the window is open and what the exit
//! summary reports. Accounting a presented frame is the last step of each redraw.

use std::time::{Duration, Instant};

/// How many latencies and frame times are kept: enough for hours at 60 Hz of refreshes that
/// change something, bounded so that a viewer left open for days does not grow.
const KEPT_SAMPLES: usize = 100_000;

/// Frames, rates and times of one viewer run.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames presented.
    pub presented: u64,
    /// Redraws that queried the device.
    pub refreshes: u64,
    /// CPU time of the last redraw.
    pub frame_ms: f64,
    /// Frames presented per second, over the last whole second.
    pub fps: f64,
    fps_window_start: Option<Instant>,
    fps_window_frames: u64,
    /// Pump wake to picture on screen, per refresh (bounded).
    pub latencies_ms: Vec<f64>,
    /// CPU time of each redraw (bounded).
    pub frame_times_ms: Vec<f64>,
    /// When the first frame was shown and the process's CPU time then: the steady-state cost
    /// (idle CPU) is measured from there, without the start-up.
    pub first_shown: Option<(Instant, Duration)>,
}

impl Counters {
    /// Counts a frame presented at `now` whose redraw began at `began`; `woken_at` is the pump's
    /// wake when this redraw answered one (its latency is then recorded).
    pub fn presented(&mut self, began: Instant, now: Instant, woken_at: Option<Instant>) {
        if let Some(wake) = woken_at
            && self.latencies_ms.len() < KEPT_SAMPLES
        {
            let latency = now.saturating_duration_since(wake);
            self.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        }
        self.presented += 1;
        self.frame_ms = now.saturating_duration_since(began).as_secs_f64() * 1000.0;
        if self.frame_times_ms.len() < KEPT_SAMPLES {
            self.frame_times_ms.push(self.frame_ms);
        }
        let start = *self.fps_window_start.get_or_insert(now);
        self.fps_window_frames += 1;
        let window = now.saturating_duration_since(start);
        if window >= Duration::from_secs(1) {
            self.fps = self.fps_window_frames as f64 / window.as_secs_f64();
            self.fps_window_start = Some(now);
            self.fps_window_frames = 0;
        }
    }

    /// Records the first guest frame on screen (once); returns whether this was it.
    pub fn first_frame(&mut self, now: Instant, cpu: Duration) -> bool {
        if self.first_shown.is_some() {
            return false;
        }
        self.first_shown = Some((now, cpu));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_counted_over_whole_seconds() {
        let mut counters = Counters::default();
        let t0 = Instant::now();
        for i in 0..=60u64 {
            let at = t0 + Duration::from_millis(i * 1000 / 60);
            counters.presented(at, at + Duration::from_millis(2), None);
        }
        assert_eq!(counters.presented, 61);
        assert!((counters.fps - 60.0).abs() < 1.5, "fps {}", counters.fps);
        assert!((counters.frame_ms - 2.0).abs() < 1e-9);
        assert!(counters.latencies_ms.is_empty());
    }

    #[test]
    fn latency_is_recorded_only_for_refreshes() {
        let mut counters = Counters::default();
        let wake = Instant::now();
        let now = wake + Duration::from_millis(7);
        counters.presented(wake, now, Some(wake));
        counters.presented(now, now, None);
        assert_eq!(counters.latencies_ms, vec![7.0]);
        assert_eq!(counters.frame_times_ms.len(), 2);
    }

    #[test]
    fn the_first_frame_is_recorded_once() {
        let mut counters = Counters::default();
        let now = Instant::now();
        assert!(counters.first_frame(now, Duration::from_millis(5)));
        assert!(!counters.first_frame(now, Duration::from_millis(9)));
        assert_eq!(counters.first_shown, Some((now, Duration::from_millis(5))));
    }
}
