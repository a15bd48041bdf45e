//! The simulator's time: when its scheduled events fall due (a mode change, the device going
//! away, a removal request) and when an interrupt reached its eventfd. A test gives the
//! simulator a `ManualClock` and moves it, instead of sleeping until the events happen; every
//! other simulator reads the monotonic clock.
//!
//! The animated guest's frame pacing is not on this clock: it is a thread sleeping in real time,
//! and a test that steps frames uses a frozen guest and `SimDevice::show_frame` instead.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the simulator reads the time.
pub trait SimClock: Debug + Send + Sync {
    /// The time now.
    fn now(&self) -> Instant;
}

/// The monotonic clock (`Instant::now`): the simulator's time unless a test sets another.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl SimClock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until `advance` moves it: the test decides when the simulator's
/// scheduled events fall due.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the moment it is made.
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl SimClock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_millis(1500));
        clock.advance(Duration::from_millis(500));
        assert_eq!(clock.now() - t0, Duration::from_secs(2));
    }
}
