//! Exit codes beyond success and failure.

/// An error that carries its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Bad usage: the arguments do not make sense together (or a guest test's script or
    /// needles cannot be used).
    Usage = 2,
    /// The primary plane is off, or stayed off until --timeout expired.
    NoPlane = 3,
    /// `attach`: the VM (QEMU) ended, so the command was stopped and the device released.
    VmEnded = 4,
    /// The device's driver asked for it back through its request IRQ (the mdev is being
    /// removed), so the command was stopped and the device released.
    DeviceRemoved = 5,
}

const _: () = assert!(ExitStatus::DeviceRemoved as u8 == crate::app::removal::EXIT_CODE);

pub use crate::app::screenshot::NoPlane;

/// Bad usage that clap cannot see (arguments that depend on each other), exit code 2 like
/// clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit code for an error: its own where it has one, else 1.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<NoPlane>().is_some() {
        ExitStatus::NoPlane as u8
    } else if let Some(qemu) = err.downcast_ref::<crate::app::vmm::qemu::QemuFailed>() {
        qemu.code()
    } else if err
        .downcast_ref::<crate::app::vmm::lifetime::VmEnded>()
        .is_some()
    {
        ExitStatus::VmEnded as u8
    } else if err
        .downcast_ref::<crate::app::removal::DeviceRemoved>()
        .is_some()
    {
        ExitStatus::DeviceRemoved as u8
    } else if err.downcast_ref::<Usage>().is_some()
        || err
            .downcast_ref::<crate::app::guest_ci::BadTest>()
            .is_some()
    {
        ExitStatus::Usage as u8
    } else {
        1
    }
}
