//! vfio-display: a front end for Linux VFIO mediated display devices (vGPU mdevs).
//!
//! Layers, each depending only on those above it in this list:
//! `uapi` (ABI numbers and layouts) → `vfio` (safe ioctl/mmap wrappers) → `device` (the
//! `DisplayDevice` trait, real and simulated) → `frame` (validated planes, CPU frames).
//! `image` (the RGBA8 picture every layer shares), `edid`, `rfb` (the VNC protocol, feature
//! `remote`) and `input` (keys and pointer events for the VMM) are pure data and import none
//! of those layers; `conformance` (the `check` catalogue) sits beside `frame`, over `device`.
//! Nothing here but `render` knows a GPU or a window system.

pub mod conformance;
pub mod device;
pub mod edid;
pub mod fourcc;
pub mod frame;
pub mod image;
pub mod input;
pub mod inspect;
#[cfg(feature = "gpu")]
pub mod render;
#[cfg(feature = "remote")]
pub mod rfb;
pub mod tiling;
pub mod uapi;
pub mod vfio;
pub mod vmm;
