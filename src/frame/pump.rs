//! The refresh pump: tells the consumer (the viewer) when the guest may have a new frame.
//!
//! With a device interrupt, a thread waits on an eventfd bound to the IRQ, unmasks automasked
//! lines after each interrupt, and wakes the consumer; bursts coalesce, because a wake is only
//! sent when the previous one was consumed. Without one, a timer wakes at the monitor's rate and
//! backs off (up to 4x slower) while nothing changes. Either way the pump never wakes faster than
//! the consumer presents.

use super::FrameError;
use crate::device::DisplayDevice;
use crate::vfio::IrqAction;
use crate::vfio::VfioError;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use serde::Serialize;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the user asked for (`--irq auto|none|INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqChoice {
    /// The display IRQ the device declares, else the timer.
    Auto,
    /// The timer.
    None,
    /// This IRQ index.
    Index(u32),
}

/// Where refreshes come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefreshSource {
    /// An IRQ index's eventfd.
    Irq {
        /// The IRQ index.
        index: u32,
        /// Unmask after each interrupt.
        automasked: bool,
    },
    /// A timer.
    Timer {
        /// Its rate.
        hz: f64,
    },
}

impl std::fmt::Display for RefreshSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefreshSource::Irq { index, .. } => write!(f, "IRQ index {index}"),
            RefreshSource::Timer { hz } => write!(f, "timer at {hz:.0} Hz"),
        }
    }
}

/// Picks the refresh source: a named IRQ (which must accept eventfds), the first IRQ index a
/// device declares with vectors and eventfd support (`auto`), or the timer.
pub fn choose_source(
    dev: &dyn DisplayDevice,
    choice: IrqChoice,
    timer_hz: f64,
) -> Result<RefreshSource, FrameError> {
    let timer = RefreshSource::Timer { hz: timer_hz };
    // A shared device's interrupts are the guest's: binding an eventfd would take them from
    // the VMM, so a shared device is always refreshed by the timer.
    if dev.shared() {
        return match choice {
            IrqChoice::Index(_) => Err(FrameError::IrqShared { device: dev.name() }),
            IrqChoice::None | IrqChoice::Auto => Ok(timer),
        };
    }
    let usable = |index: u32| -> Result<Option<RefreshSource>, FrameError> {
        let info = dev.irq_info(index)?;
        Ok(
            (info.count > 0 && info.eventfd()).then_some(RefreshSource::Irq {
                index,
                automasked: info.automasked(),
            }),
        )
    };
    match choice {
        IrqChoice::None => Ok(timer),
        IrqChoice::Index(index) => usable(index)?.ok_or_else(|| FrameError::IrqUnusable {
            device: dev.name(),
            index,
        }),
        IrqChoice::Auto => {
            let count = dev.info().num_irqs;
            for index in 0..count.min(16) {
                // The error and request IRQs are the kernel's messages, never a frame's.
                if index == crate::uapi::VFIO_PCI_ERR_IRQ_INDEX
                    || index == crate::uapi::VFIO_PCI_REQ_IRQ_INDEX
                {
                    continue;
                }
                // A device may refuse to describe an index it does not use: skip it.
                if let Ok(Some(source)) = usable(index) {
                    return Ok(source);
                }
            }
            Ok(timer)
        }
    }
}

/// Counters the overlay shows.
#[derive(Debug, Default)]
pub struct PumpStats {
    /// Wakes sent to the consumer.
    pub wakes: AtomicU64,
    /// Interrupts (eventfd counts) received.
    pub interrupts: AtomicU64,
    /// Interrupts or ticks that found a wake still pending, folded into it.
    pub coalesced: AtomicU64,
    /// The timer's current interval in microseconds (0 with an IRQ).
    pub interval_us: AtomicU32,
    /// Interrupts that came sooner than `MIN_IRQ_INTERVAL` after the one before and were held
    /// back. A pair of flips close together does this now and then; only many in a row are a
    /// storm.
    pub throttled: AtomicU64,
    /// Interrupt storms: seconds in which more than `STORM_THROTTLES` interrupts were held back.
    pub storms: AtomicU64,
}

/// The state shared by the pump thread and the consumer.
#[derive(Debug)]
pub struct Pump {
    /// Where refreshes come from.
    pub source: RefreshSource,
    /// What the pump counted.
    pub stats: PumpStats,
    pending: AtomicBool,
    changed: AtomicBool,
    stop: AtomicBool,
    stop_fd: EventFd,
    started: Instant,
    /// When the last wake was sent, in microseconds since `started`.
    last_wake_us: AtomicU64,
    /// Whether the timer slows down while nothing changes.
    backoff: bool,
    /// How far it slows down: the interval grows to this many times the base (a power of two).
    max_backoff: u32,
}

fn sys(what: &str, errno: nix::errno::Errno) -> FrameError {
    FrameError::Device(VfioError::sys(what.to_string(), errno).into())
}

/// Timer backoff: after this many unchanged frames the interval doubles, up to `MAX_BACKOFF`.
const IDLE_FRAMES: u32 = 30;
const MAX_BACKOFF: u32 = 4;

/// The shortest time between two handled interrupts: at most 500 per second, several times any
/// display's refresh rate. A line stuck asserted (or a device raising its eventfd in a loop)
/// then costs a bounded, small amount of CPU instead of a whole core.
pub const MIN_IRQ_INTERVAL: Duration = Duration::from_millis(2);

/// Held-back interrupts within one second that make a storm: a quarter of the most a second can
/// hold back (`1 s / MIN_IRQ_INTERVAL`). A guest that flips twice in quick succession now and
/// then stays far below it; a stuck line reaches it within a fraction of a second.
pub const STORM_THROTTLES: u32 = 125;

/// Judges interrupt storms over a one-second window rather than by a single close pair.
#[derive(Debug, Default)]
pub struct StormDetector {
    window_start: Option<Instant>,
    held_back: u32,
    in_storm: bool,
}

impl StormDetector {
    /// Notes one held-back interrupt at `now`; true when this starts a new storm (the window
    /// crossed `STORM_THROTTLES`).
    pub fn held_back(&mut self, now: Instant) -> bool {
        let fresh = self
            .window_start
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1));
        if fresh {
            // A window that ended below the threshold ends any storm.
            if self.held_back < STORM_THROTTLES {
                self.in_storm = false;
            }
            self.window_start = Some(now);
            self.held_back = 0;
        }
        self.held_back += 1;
        if self.held_back == STORM_THROTTLES && !self.in_storm {
            self.in_storm = true;
            return true;
        }
        false
    }
}

impl Pump {
    /// A pump for `source`; `run` starts it on the calling thread.
    pub fn new(source: RefreshSource) -> Result<Self, FrameError> {
        let stop_fd = EventFd::new().map_err(|e| sys("the pump's stop eventfd", e))?;
        Ok(Pump {
            source,
            stats: PumpStats::default(),
            pending: AtomicBool::new(false),
            changed: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            stop_fd,
            started: Instant::now(),
            last_wake_us: AtomicU64::new(0),
            backoff: true,
            max_backoff: MAX_BACKOFF,
        })
    }

    /// A timer that slows down further while nothing changes: to `1 / factor` of its rate
    /// (rounded down to a power of two, 1 to 64). A server for remote clients trades the first
    /// change's delay after a long idle spell for idle CPU, as QEMU's VNC server does.
    pub fn with_max_backoff(mut self, factor: u32) -> Self {
        let factor = factor.clamp(1, 64);
        self.max_backoff = 1 << (31 - factor.leading_zeros());
        self
    }

    /// A timer that keeps its rate while nothing changes (plain polling, as QEMU's display
    /// refresh does), for comparisons.
    pub fn without_backoff(mut self) -> Self {
        self.backoff = false;
        self
    }

    /// The consumer took the wake and presented: the next one may come. `changed` says whether
    /// the frame differed from the one before (the timer backs off while it does not).
    pub fn presented(&self, changed: bool) {
        if changed {
            self.changed.store(true, Ordering::Relaxed);
        }
        self.pending.store(false, Ordering::Release);
    }

    /// When the pump sent its last wake (for the interrupt-to-picture latency).
    pub fn last_wake(&self) -> Instant {
        self.started + Duration::from_micros(self.last_wake_us.load(Ordering::Acquire))
    }

    /// Ends `run` (from any thread).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.stop_fd.write(1);
    }

    fn wake(&self, wake: &dyn Fn()) {
        if self.pending.swap(true, Ordering::AcqRel) {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
        } else {
            let us = self.started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
            self.last_wake_us.store(us, Ordering::Release);
            self.stats.wakes.fetch_add(1, Ordering::Relaxed);
            wake();
        }
    }

    /// The pump loop; returns when `stop` is called or the device fails. Run it on its own
    /// thread; `wake` must be cheap and thread-safe (it posts an event to the UI).
    pub fn run(&self, dev: &dyn DisplayDevice, wake: &dyn Fn()) -> Result<(), FrameError> {
        match self.source {
            RefreshSource::Irq { index, automasked } => self.run_irq(dev, index, automasked, wake),
            RefreshSource::Timer { hz } => {
                self.run_timer(hz, wake);
                Ok(())
            }
        }
    }

    fn run_irq(
        &self,
        dev: &dyn DisplayDevice,
        index: u32,
        automasked: bool,
        wake: &dyn Fn(),
    ) -> Result<(), FrameError> {
        let efd = EventFd::new().map_err(|e| sys("the IRQ eventfd", e))?;
        dev.set_irq_eventfds(index, 0, &[Some(efd.as_fd())])?;
        let mut last_irq: Option<Instant> = None;
        let mut storms = StormDetector::default();
        let result = (|| {
            while !self.stop.load(Ordering::Acquire) {
                let mut fds = [
                    PollFd::new(efd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.stop_fd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::from(1000u16)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                    Ok(_) => {}
                    Err(e) => return Err(sys("poll on the IRQ eventfd", e)),
                }
                let ready = fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN));
                if !ready {
                    continue;
                }
                let count = efd.read().map_err(|e| sys("reading the IRQ eventfd", e))?;
                self.stats.interrupts.fetch_add(count, Ordering::Relaxed);
                if let Some(since) = last_irq.map(|t| t.elapsed())
                    && since < MIN_IRQ_INTERVAL
                {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    if storms.held_back(Instant::now())
                        && self.stats.storms.fetch_add(1, Ordering::Relaxed) == 0
                    {
                        tracing::warn!(
                            "IRQ index {index} fires faster than {} Hz (an interrupt storm?); \
                             handling it at most that often",
                            1000 / MIN_IRQ_INTERVAL.as_millis()
                        );
                    }
                    self.sleep_unless_stopped(MIN_IRQ_INTERVAL - since);
                }
                last_irq = Some(Instant::now());
                // The line stays masked after an automasked interrupt until we unmask it.
                if automasked {
                    dev.irq_action(IrqAction::Unmask, index, 0, 1)?;
                }
                self.wake(wake);
            }
            Ok(())
        })();
        let _ = dev.disable_irq(index);
        result
    }

    /// Sleeps for `duration`, or less when `stop` is called meanwhile.
    fn sleep_unless_stopped(&self, duration: Duration) {
        let mut fds = [PollFd::new(self.stop_fd.as_fd(), PollFlags::POLLIN)];
        // Rounded up: poll's millisecond timeout must not cut the sleep short.
        let ms = duration
            .as_micros()
            .div_ceil(1000)
            .clamp(1, u128::from(u16::MAX)) as u16;
        let _ = poll(&mut fds, PollTimeout::from(ms));
    }

    fn run_timer(&self, hz: f64, wake: &dyn Fn()) {
        let base = Duration::from_secs_f64(1.0 / hz.clamp(1.0, 1000.0));
        let mut backoff = 1u32;
        let mut idle = 0u32;
        let mut next = Instant::now() + base;
        while !self.stop.load(Ordering::Acquire) {
            let interval = base * backoff;
            self.stats.interval_us.store(
                interval.as_micros().min(u128::from(u32::MAX)) as u32,
                Ordering::Relaxed,
            );
            let wait = next.saturating_duration_since(Instant::now());
            let mut fds = [PollFd::new(self.stop_fd.as_fd(), PollFlags::POLLIN)];
            let ms = wait.as_millis().min(u128::from(u16::MAX)) as u16;
            if ms > 0 {
                let _ = poll(&mut fds, PollTimeout::from(ms));
            }
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            next = (next + interval).max(Instant::now());
            if self.changed.swap(false, Ordering::AcqRel) {
                idle = 0;
                backoff = 1;
            } else {
                idle += 1;
                if self.backoff && idle >= IDLE_FRAMES && backoff < self.max_backoff {
                    backoff *= 2;
                    idle = 0;
                }
            }
            self.wake(wake);
        }
    }
}
