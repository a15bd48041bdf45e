//! Order statistics of measured times (latencies), for the reports of `edid hotswap` and
//! `view`.

use serde::Serialize;

/// The spread of a set of times in milliseconds.
#[derive(Debug, Serialize)]
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
    use super::Stats;

    #[test]
    fn stats_pick_order_statistics() {
        let s = Stats::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((s.min_ms, s.max_ms), (1.0, 100.0));
        assert_eq!(s.median_ms, 51.0);
        assert_eq!(s.p95_ms, 95.0);
        assert!(Stats::of(Vec::new()).is_none());
    }
}
