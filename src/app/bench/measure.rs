//! Repeated samples under a time budget, for the benchmarks.

use std::time::{Duration, Instant};

/// How long and how often one figure is measured.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop sampling after this long (the first sample always runs).
    pub time: Duration,
    /// At least this many samples, even past `time`.
    pub min_samples: usize,
    /// At most this many samples.
    pub max_samples: usize,
}

/// Runs `f` until the budget is spent; returns each run's result. One untimed run comes first
/// so that first-use costs (pipeline creation, page faults, imports) stay out of the samples.
pub fn sample<T>(budget: Budget, mut f: impl FnMut() -> T) -> Vec<T> {
    f();
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < budget.max_samples
        && (out.len() < budget.min_samples || start.elapsed() < budget.time)
    {
        out.push(f());
    }
    out
}

/// Wall time of `f` in milliseconds, per sample.
pub fn wall_ms(budget: Budget, mut f: impl FnMut()) -> Vec<f64> {
    sample(budget, || {
        let t0 = Instant::now();
        f();
        t0.elapsed().as_secs_f64() * 1000.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_respects_the_budget() {
        let mut calls = 0;
        let budget = Budget {
            time: Duration::ZERO,
            min_samples: 3,
            max_samples: 10,
        };
        let samples = sample(budget, || {
            calls += 1;
            calls
        });
        // One warm-up call, then exactly the minimum when the time is already spent.
        assert_eq!(samples, vec![2, 3, 4]);
        let budget = Budget {
            time: Duration::from_secs(60),
            min_samples: 1,
            max_samples: 5,
        };
        assert_eq!(sample(budget, || 0).len(), 5);
    }
}
