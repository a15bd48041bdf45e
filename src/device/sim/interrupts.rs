//! The simulator's interrupt indexes as `VFIO_DEVICE_GET_IRQ_INFO` and `VFIO_DEVICE_SET_IRQS`
//! see them: the flip interrupt (modelled in `irq`) and the PCI request IRQ through which the
//! driver asks for the device back.

use super::fault::SimFault;
use super::irq::{FLIP_IRQ, SimIrq};
use super::state::{SimState, sim_errno};
use crate::device::Result;
use crate::uapi::VFIO_PCI_REQ_IRQ_INDEX;
use crate::vfio::{IrqAction, IrqInfo};
use nix::errno::Errno;
use std::os::fd::BorrowedFd;

/// What a shared device refuses when asked to change its interrupts.
const SET_IRQS: &str = "changes its interrupts (VFIO_DEVICE_SET_IRQS)";

impl SimState {
    /// Whether the device offers the request IRQ.
    pub(super) fn offers_request_irq(&self) -> bool {
        self.cfg.request_irq || self.cfg.fault == SimFault::RemovalRequested
    }

    /// The `num_irqs` of the device info: the PCI indexes up to the request IRQ's, when it has
    /// one.
    pub(super) fn num_irqs(&self) -> u32 {
        if self.offers_request_irq() {
            VFIO_PCI_REQ_IRQ_INDEX + 1
        } else {
            1
        }
    }

    /// Signals the request IRQ, as the kernel does when the device is being removed while a
    /// process holds it (`vfio_pci_core_request`).
    pub(super) fn request_removal(&mut self) {
        self.removal_requests += 1;
        self.signal_request();
    }

    fn signal_request(&self) {
        if let Some(fd) = &self.request_trigger {
            // As in `SimIrq::raise`: an eventfd write only fails when its counter would
            // overflow, and then the signal is already pending.
            let _ = nix::unistd::write(fd, &1u64.to_ne_bytes());
        }
    }

    /// `VFIO_DEVICE_GET_IRQ_INFO`.
    pub(super) fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        let offers_request = self.offers_request_irq();
        if index == VFIO_PCI_REQ_IRQ_INDEX && offers_request {
            return Ok(IrqInfo {
                index,
                flags: crate::uapi::VFIO_IRQ_INFO_EVENTFD,
                count: 1,
            });
        }
        // The PCI indexes between the flip IRQ and the request IRQ: listed, unused.
        let unused = IrqInfo {
            index,
            flags: 0,
            count: 0,
        };
        if index != FLIP_IRQ && index < VFIO_PCI_REQ_IRQ_INDEX && offers_request {
            return Ok(unused);
        }
        if index == FLIP_IRQ && !self.cfg.display_irq {
            // Like a device whose only interrupt lines are not the display's: nothing to bind.
            return Ok(unused);
        }
        if index == FLIP_IRQ {
            Ok(SimIrq::info())
        } else {
            Err(sim_errno(
                "VFIO_DEVICE_GET_IRQ_INFO",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ))
        }
    }

    /// `VFIO_DEVICE_SET_IRQS` with `DATA_EVENTFD`: binds (or unbinds) an eventfd.
    pub(super) fn set_irq_eventfds(
        &mut self,
        index: u32,
        start: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<()> {
        self.refuse_if_shared(SET_IRQS)?;
        let target = format!("IRQ index {index}");
        let request = index == VFIO_PCI_REQ_IRQ_INDEX && self.offers_request_irq();
        let flip = index == FLIP_IRQ && self.cfg.display_irq;
        if !(request || flip) || start != 0 || fds.len() != 1 {
            return Err(sim_errno("VFIO_DEVICE_SET_IRQS", target, Errno::EINVAL));
        }
        // Our own duplicate of the eventfd, as the kernel takes a reference to it.
        let fd = match fds[0] {
            Some(fd) => Some(fd.try_clone_to_owned().map_err(|e| {
                sim_errno(
                    "VFIO_DEVICE_SET_IRQS",
                    target,
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                )
            })?),
            None => None,
        };
        if request {
            self.request_trigger = fd;
        } else {
            self.irq.bind(fd);
        }
        Ok(())
    }

    /// Unbinds the eventfd of `index` (`VFIO_DEVICE_SET_IRQS` with no vectors).
    pub(super) fn disable_irq(&mut self, index: u32) -> Result<()> {
        self.refuse_if_shared(SET_IRQS)?;
        if index == VFIO_PCI_REQ_IRQ_INDEX && self.offers_request_irq() {
            self.request_trigger = None;
            return Ok(());
        }
        if index != FLIP_IRQ {
            return Err(sim_errno(
                "VFIO_DEVICE_SET_IRQS",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ));
        }
        self.irq.bind(None);
        Ok(())
    }

    /// `VFIO_DEVICE_SET_IRQS` with an action (trigger, mask, unmask) and no data.
    pub(super) fn irq_action(
        &mut self,
        action: IrqAction,
        index: u32,
        start: u32,
        count: u32,
    ) -> Result<()> {
        self.refuse_if_shared(SET_IRQS)?;
        // The request IRQ takes a loopback trigger, as vfio-pci's does; it cannot be masked.
        if index == VFIO_PCI_REQ_IRQ_INDEX
            && action == IrqAction::Trigger
            && (start, count) == (0, 1)
            && self.offers_request_irq()
        {
            self.signal_request();
            return Ok(());
        }
        if index != FLIP_IRQ {
            return Err(sim_errno(
                "VFIO_DEVICE_SET_IRQS",
                format!("IRQ index {index}"),
                Errno::EINVAL,
            ));
        }
        self.irq.action(action, start, count).map_err(|errno| {
            sim_errno(
                "VFIO_DEVICE_SET_IRQS",
                format!("IRQ index {index} ({})", action.name()),
                errno,
            )
        })
    }
}
