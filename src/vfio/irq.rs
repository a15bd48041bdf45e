//! IRQ info and the `VFIO_DEVICE_SET_IRQS` argument buffers (eventfd binding, loopback trigger,
//! mask and unmask).

use crate::uapi::{
    VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
    VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER,
    VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE,
};
use serde::Serialize;
use std::os::fd::{AsRawFd, BorrowedFd};

/// What `VFIO_DEVICE_GET_IRQ_INFO` said about one IRQ index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IrqInfo {
    /// The IRQ index.
    pub index: u32,
    /// `VFIO_IRQ_INFO_*` bits.
    pub flags: u32,
    /// Vectors.
    pub count: u32,
}

impl IrqInfo {
    /// It signals through eventfds.
    pub fn eventfd(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_EVENTFD != 0
    }
    /// It can be masked and unmasked.
    pub fn maskable(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_MASKABLE != 0
    }
    /// The kernel masks it when it fires (level-triggered, like INTx).
    pub fn automasked(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_AUTOMASKED != 0
    }
    /// The vector count cannot change once set.
    pub fn noresize(&self) -> bool {
        self.flags & VFIO_IRQ_INFO_NORESIZE != 0
    }

    /// The flag names, for humans.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        for (set, name) in [
            (self.eventfd(), "EVENTFD"),
            (self.maskable(), "MASKABLE"),
            (self.automasked(), "AUTOMASKED"),
            (self.noresize(), "NORESIZE"),
        ] {
            if set {
                names.push(name);
            }
        }
        names
    }
}

/// The action of a `VFIO_DEVICE_SET_IRQS` call that carries no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqAction {
    /// Loopback: the kernel signals the bound eventfds as if the device had interrupted.
    Trigger,
    /// Mask the vectors.
    Mask,
    /// Unmask them.
    Unmask,
}

impl IrqAction {
    /// The action's name for messages.
    pub fn name(self) -> &'static str {
        match self {
            IrqAction::Trigger => "trigger",
            IrqAction::Mask => "mask",
            IrqAction::Unmask => "unmask",
        }
    }

    fn flag(self) -> u32 {
        match self {
            IrqAction::Trigger => VFIO_IRQ_SET_ACTION_TRIGGER,
            IrqAction::Mask => VFIO_IRQ_SET_ACTION_MASK,
            IrqAction::Unmask => VFIO_IRQ_SET_ACTION_UNMASK,
        }
    }
}

const IRQ_SET_HEADER: usize = 20;

fn header(flags: u32, index: u32, start: u32, count: u32, data_len: usize) -> Vec<u8> {
    let argsz = (IRQ_SET_HEADER + data_len) as u32;
    let mut out = Vec::with_capacity(IRQ_SET_HEADER + data_len);
    for field in [argsz, flags, index, start, count] {
        out.extend_from_slice(&field.to_ne_bytes());
    }
    out
}

/// The `struct vfio_irq_set` bytes that bind `fds` (None unbinds) to vectors `start..`.
/// An empty `fds` with `count` 0 disables the index.
pub fn eventfd_set_bytes(index: u32, start: u32, fds: &[Option<BorrowedFd<'_>>]) -> Vec<u8> {
    if fds.is_empty() {
        return header(
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
            index,
            0,
            0,
            0,
        );
    }
    let mut out = header(
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index,
        start,
        fds.len() as u32,
        fds.len() * 4,
    );
    for fd in fds {
        let raw: i32 = fd.map_or(-1, |fd| fd.as_raw_fd());
        out.extend_from_slice(&raw.to_ne_bytes());
    }
    out
}

/// The `struct vfio_irq_set` bytes of a data-less action on vectors `start..start + count`.
pub fn action_set_bytes(action: IrqAction, index: u32, start: u32, count: u32) -> Vec<u8> {
    header(
        VFIO_IRQ_SET_DATA_NONE | action.flag(),
        index,
        start,
        count,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn eventfd_binding_layout() {
        let efd = nix::sys::eventfd::EventFd::new().unwrap();
        let bytes = eventfd_set_bytes(1, 0, &[Some(efd.as_fd()), None]);
        assert_eq!(bytes.len(), 28);
        assert_eq!(u32_at(&bytes, 0), 28);
        assert_eq!(
            u32_at(&bytes, 4),
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER
        );
        assert_eq!(u32_at(&bytes, 8), 1);
        assert_eq!(u32_at(&bytes, 16), 2);
        assert_eq!(u32_at(&bytes, 20) as i32, efd.as_fd().as_raw_fd());
        assert_eq!(u32_at(&bytes, 24) as i32, -1);
    }

    #[test]
    fn disable_and_actions_layout() {
        let off = eventfd_set_bytes(0, 0, &[]);
        assert_eq!(off.len(), 20);
        assert_eq!(
            u32_at(&off, 4),
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER
        );
        assert_eq!(u32_at(&off, 16), 0);
        let unmask = action_set_bytes(IrqAction::Unmask, 0, 0, 1);
        assert_eq!(
            u32_at(&unmask, 4),
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK
        );
        assert_eq!(u32_at(&unmask, 16), 1);
    }

    #[test]
    fn flag_names() {
        let info = IrqInfo {
            index: 0,
            flags: 0b111,
            count: 1,
        };
        assert_eq!(info.flag_names(), ["EVENTFD", "MASKABLE", "AUTOMASKED"]);
    }
}
