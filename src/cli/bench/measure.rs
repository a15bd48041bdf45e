//! Timing primitives for the benchmarks: repeated samples under a time budget, the calling
//! thread's CPU time, and the CPU time of finished child processes.

use nix::sys::resource::{UsageWho, getrusage};
use nix::time::{ClockId, clock_gettime};
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

/// The CPU time the calling thread has used. Work that a driver runs on its own threads (a
/// software rasterizer's workers, a GPU) is not in it: that is what separates the front end's
/// CPU cost from the rendering.
pub fn thread_cpu() -> Duration {
    // CLOCK_THREAD_CPUTIME_ID exists on every Linux; a failure reads as zero time.
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// User plus system CPU time of every child process waited for so far.
pub fn children_cpu() -> Duration {
    rusage(UsageWho::RUSAGE_CHILDREN)
}

/// User plus system CPU time of this process, all threads.
pub fn process_cpu() -> Duration {
    rusage(UsageWho::RUSAGE_SELF)
}

fn rusage(who: UsageWho) -> Duration {
    getrusage(who).map_or(Duration::ZERO, |u| {
        let tv = |t: nix::sys::time::TimeVal| {
            Duration::from_secs(t.tv_sec().max(0) as u64)
                + Duration::from_micros(t.tv_usec().max(0) as u64)
        };
        tv(u.user_time()) + tv(u.system_time())
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

    #[test]
    fn thread_cpu_counts_work_not_sleep() {
        let t0 = thread_cpu();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu() - t0;
        let t1 = thread_cpu();
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let worked = thread_cpu() - t1;
        assert!(slept < Duration::from_millis(20), "{slept:?}");
        assert!(worked > Duration::from_millis(20), "{worked:?}");
    }
}
