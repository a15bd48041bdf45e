//! The simulator's display interrupt: one INTx-like line (index 0) that fires on every page flip,
//! with VFIO's eventfd, mask, unmask and automask semantics.

use super::clock::SimClock;
use crate::uapi::{VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE};
use crate::vfio::{IrqAction, IrqInfo};
use nix::errno::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

/// The index of the flip interrupt.
pub const FLIP_IRQ: u32 = 0;

/// The simulated display interrupt: an eventfd with mask, unmask and automask.
#[derive(Debug)]
pub struct SimIrq {
    eventfd: Option<OwnedFd>,
    masked: bool,
    /// A flip happened while masked: it fires on unmask, like a level-triggered line.
    pending: bool,
    /// Interrupts signalled on the eventfd.
    pub delivered: u64,
    /// The line is stuck asserted (the `irq-storm` fault): it fires again on every unmask.
    pub stuck: bool,
    /// When the last interrupt reached the eventfd (the start of the refresh latency), on
    /// `clock`.
    pub last_delivered: Option<Instant>,
    /// The simulator's clock.
    clock: Arc<dyn SimClock>,
}

impl SimIrq {
    /// An unbound line that stamps its interrupts with `clock`'s time.
    pub fn new(clock: Arc<dyn SimClock>) -> Self {
        SimIrq {
            eventfd: None,
            masked: false,
            pending: false,
            delivered: 0,
            stuck: false,
            last_delivered: None,
            clock,
        }
    }

    /// What `GET_IRQ_INFO` says about it.
    pub fn info() -> IrqInfo {
        IrqInfo {
            index: FLIP_IRQ,
            flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
            count: 1,
        }
    }

    /// Sets (or clears) the eventfd.
    pub fn bind(&mut self, eventfd: Option<OwnedFd>) {
        self.eventfd = eventfd;
        self.masked = false;
        self.pending = false;
        if self.stuck {
            self.raise();
        }
    }

    /// The device raises the line (a flip, or a loopback trigger).
    pub fn raise(&mut self) {
        let Some(fd) = &self.eventfd else {
            return;
        };
        if self.masked {
            self.pending = true;
            return;
        }
        // An eventfd write only fails when the counter would overflow, which a reader prevents;
        // a lost signal then is harmless (the counter is already non-zero).
        let _ = nix::unistd::write(fd.as_fd(), &1u64.to_ne_bytes());
        self.delivered += 1;
        self.last_delivered = Some(self.clock.now());
        self.masked = true; // AUTOMASKED
    }

    /// `SET_IRQS` with an action on vectors `start..start + count`.
    pub fn action(&mut self, action: IrqAction, start: u32, count: u32) -> Result<(), Errno> {
        if start != 0 || count != 1 {
            return Err(Errno::EINVAL);
        }
        match action {
            IrqAction::Trigger => self.raise(),
            IrqAction::Mask => self.masked = true,
            IrqAction::Unmask => {
                self.masked = false;
                if std::mem::take(&mut self.pending) || self.stuck {
                    self.raise();
                }
            }
        }
        Ok(())
    }
}
