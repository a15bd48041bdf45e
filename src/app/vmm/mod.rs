//! Beside a running VM: `run` starts QEMU with the device and shares it; `attach` takes the
//! device from a QEMU that is already running. Either way the device this process then uses is
//! shared (the guest keeps its interrupts and state) and the command the user named (view,
//! screenshot, info, edid, check) runs on it.

pub mod attach;
pub mod beside;
pub mod lifetime;
pub mod qemu;
pub mod qmp;
pub mod qmp_input;
