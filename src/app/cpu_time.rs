//! CPU clocks: the calling thread's, this process's, and finished children's (for `bench` and
//! the viewer's idle figures).

use nix::sys::resource::{UsageWho, getrusage};
use nix::time::{ClockId, clock_gettime};
use std::time::Duration;

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
    use std::time::Instant;

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
