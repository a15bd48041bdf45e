//! Order statistics of measured times (latencies), for the reports of `edid hotswap` and
//! `view`.

use serde::{Deserialize, Serialize};

/// What `view --stats-json` writes and `bench` reads: one type for both sides of the file.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ViewerSummary {
    /// From the first frame shown to exit: the steady state, without start-up.
    pub after_first_frame: Option<SteadyState>,
    /// The whole run, in seconds.
    pub seconds: f64,
    /// Frames presented.
    pub presented: u64,
    /// Pump wakes, interrupts, coalesced wakes and held-back interrupts.
    pub wakes: u64,
    pub interrupts: u64,
    pub coalesced: u64,
    pub throttled: u64,
    /// CPU time per redraw.
    pub frame_ms: Option<Stats>,
    /// Pump wake to picture on screen.
    pub refresh_to_picture_ms: Option<Stats>,
}

/// Wall and CPU time after the first frame.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SteadyState {
    pub seconds: f64,
    pub cpu_seconds: f64,
}

/// The spread of a set of times in milliseconds.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub min_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    pub fn of(mut values: Vec<f64>) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some(Stats {
            min_ms: values[0],
            median_ms: at(0.5),
            p95_ms: at(0.95),
            max_ms: values[values.len() - 1],
        })
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            self.min_ms, self.median_ms, self.p95_ms, self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_pick_order_statistics() {
        let s = Stats::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((s.min_ms, s.max_ms), (1.0, 100.0));
        assert_eq!(s.median_ms, 51.0);
        assert_eq!(s.p95_ms, 95.0);
        assert!(Stats::of(Vec::new()).is_none());
    }

    #[test]
    fn the_viewer_summary_round_trips() {
        let summary = ViewerSummary {
            after_first_frame: Some(SteadyState {
                seconds: 4.5,
                cpu_seconds: 0.25,
            }),
            seconds: 5.0,
            presented: 300,
            wakes: 290,
            interrupts: 301,
            coalesced: 11,
            throttled: 0,
            frame_ms: Stats::of(vec![1.0, 2.0, 3.0]),
            refresh_to_picture_ms: None,
        };
        let text = serde_json::to_string_pretty(&summary).unwrap();
        let back: ViewerSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, summary);
    }
}
