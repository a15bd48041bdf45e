//! The refresh pump against the simulator: its flip interrupt drives wakes end to end, bursts
//! coalesce, and the timer backs off while nothing changes.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::frame::{IrqChoice, Pump, RefreshSource, choose_source};

fn animated() -> SimDevice {
    SimDevice::new(SimConfig::default().with_mode(320, 240)).unwrap()
}

#[test]
fn auto_picks_the_simulators_flip_interrupt() {
    let dev = animated();
    let source = choose_source(&dev, IrqChoice::Auto, 60.0).unwrap();
    assert_eq!(
        source,
        RefreshSource::Irq {
            index: 0,
            automasked: true
        }
    );
    assert_eq!(
        choose_source(&dev, IrqChoice::None, 30.0).unwrap(),
        RefreshSource::Timer { hz: 30.0 }
    );
    let err = choose_source(&dev, IrqChoice::Index(3), 60.0).unwrap_err();
    assert!(
        err.to_string().contains("IRQ") || err.to_string().contains("EINVAL"),
        "{err}"
    );
}

#[test]
fn flip_interrupts_wake_the_consumer_at_the_guests_rate() {
    let dev = animated();
    let pump = Pump::new(choose_source(&dev, IrqChoice::Auto, 60.0).unwrap()).unwrap();
    let woken = AtomicU64::new(0);
    std::thread::scope(|s| {
        let runner = s.spawn(|| {
            pump.run(&dev, &|| {
                woken.fetch_add(1, Ordering::Relaxed);
            })
        });
        // The consumer presents whatever it was woken for, 50 times a second.
        for _ in 0..25 {
            std::thread::sleep(Duration::from_millis(20));
            pump.presented(true);
        }
        pump.stop();
        runner.join().unwrap().unwrap();
    });
    let wakes = woken.load(Ordering::Relaxed);
    let interrupts = pump.stats.interrupts.load(Ordering::Relaxed);
    // 0.5 s of a 60 fps guest: about 30 flips; the consumer presented 25 times.
    assert!((5..=26).contains(&wakes), "{wakes} wakes");
    assert!(
        interrupts >= wakes,
        "{interrupts} interrupts for {wakes} wakes"
    );
    assert_eq!(wakes, pump.stats.wakes.load(Ordering::Relaxed));
}

#[test]
fn a_consumer_that_does_not_present_gets_one_wake_and_the_rest_coalesce() {
    let dev = animated();
    let pump = Pump::new(choose_source(&dev, IrqChoice::Auto, 60.0).unwrap()).unwrap();
    std::thread::scope(|s| {
        let runner = s.spawn(|| pump.run(&dev, &|| {}));
        std::thread::sleep(Duration::from_millis(300));
        pump.stop();
        runner.join().unwrap().unwrap();
    });
    assert_eq!(pump.stats.wakes.load(Ordering::Relaxed), 1);
    assert!(pump.stats.coalesced.load(Ordering::Relaxed) >= 5);
}

#[test]
fn the_timer_backs_off_while_nothing_changes_and_recovers() {
    let pump = Pump::new(RefreshSource::Timer { hz: 200.0 }).unwrap();
    let dev = animated();
    std::thread::scope(|s| {
        let runner = s.spawn(|| pump.run(&dev, &|| {}));
        // Present "unchanged" frames as fast as woken: the interval grows to 4x (20 ms) after
        // 30 idle ticks at 5 ms and 30 at 10 ms; allow a loaded machine up to 5 s for that.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pump.stats.interval_us.load(Ordering::Relaxed) != 20_000
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
            pump.presented(false);
        }
        let idle = pump.stats.interval_us.load(Ordering::Relaxed);
        for _ in 0..60 {
            std::thread::sleep(Duration::from_millis(1));
            pump.presented(true);
        }
        let busy = pump.stats.interval_us.load(Ordering::Relaxed);
        pump.stop();
        runner.join().unwrap().unwrap();
        assert_eq!(idle, 20_000, "idle interval");
        assert_eq!(busy, 5_000, "interval after changes");
    });
}

#[test]
fn a_server_timer_backs_off_further() {
    let pump = Pump::new(RefreshSource::Timer { hz: 400.0 })
        .unwrap()
        .with_max_backoff(10);
    let dev = animated();
    std::thread::scope(|s| {
        let runner = s.spawn(|| pump.run(&dev, &|| {}));
        // 10 rounds down to 8: 2.5 ms grows to 20 ms after 30 idle ticks at each of 2.5, 5 and
        // 10 ms, and no further.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pump.stats.interval_us.load(Ordering::Relaxed) < 20_000
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
            pump.presented(false);
        }
        // 40 more idle ticks at 20 ms: past the 30 that would double it again were it allowed.
        let end = std::time::Instant::now() + Duration::from_millis(800);
        while std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
            pump.presented(false);
        }
        let idle = pump.stats.interval_us.load(Ordering::Relaxed);
        pump.stop();
        runner.join().unwrap().unwrap();
        assert_eq!(idle, 20_000, "idle interval: 8x the base, not more");
    });
}

#[test]
fn a_storm_is_judged_over_a_second_not_by_one_close_pair() {
    use vfio_display::frame::{STORM_THROTTLES, StormDetector};
    let t0 = std::time::Instant::now();
    let ms = std::time::Duration::from_millis;
    // A 60 Hz guest that now and then flips twice 1 ms apart: a held-back interrupt every few
    // frames, for a minute, is never a storm.
    let mut normal = StormDetector::default();
    for i in 0..600u64 {
        assert!(!normal.held_back(t0 + ms(i * 100)), "not a storm at {i}");
    }
    // A stuck line held back every 2 ms: a storm within the first second, reported once while
    // it lasts.
    let mut stuck = StormDetector::default();
    let starts: Vec<u64> = (0..2000u64)
        .filter(|i| stuck.held_back(t0 + ms(i * 2)))
        .collect();
    assert_eq!(starts, [u64::from(STORM_THROTTLES) - 1]);
    // Quiet for a second, then a new storm is a new episode.
    let later = t0 + ms(10_000);
    assert!(!stuck.held_back(later));
    let again = (1..2000u64)
        .filter(|i| stuck.held_back(later + ms(1000 + i * 2)))
        .count();
    assert_eq!(again, 1);
}
