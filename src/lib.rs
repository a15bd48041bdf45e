//! vfio-display: a front end for Linux VFIO mediated display devices (vGPU mdevs).
//!
//! The library reads a display device's planes (exported dma-bufs or device regions), validates
//! every field the device or guest gives before a byte is read, and turns them into pictures.
//! What each module does and which modules it may use: ARCHITECTURE.md, section 1 ("Layers"),
//! in the repository.
//!
//! # Reading frames
//!
//! A [`frame::FrameReader`] reads the planes of any [`device::DisplayDevice`]: a
//! [`device::RealDevice`] (an mdev opened by name, or a device fd handed over by the VMM that
//! owns it) or the simulated vGPU, which behaves like the kernel's sample drivers and needs no
//! hardware. This example runs against the simulator:
//!
//! ```
//! use std::os::fd::OwnedFd;
//! use vfio_display::device::sim::{SimConfig, SimDevice};
//! use vfio_display::device::{DisplayDevice, RealDevice};
//! use vfio_display::frame::{CpuFrame, FrameReader};
//! use vfio_display::vfio::{HostPaths, PlaneType};
//!
//! /// One picture of the primary plane, or `None` while the guest's display is off.
//! fn capture(device: &dyn DisplayDevice) -> Result<Option<CpuFrame>, Box<dyn std::error::Error>> {
//!     let reader = FrameReader::new(device)?; // probes dma-buf and region support
//!     Ok(reader.capture(PlaneType::Primary)?)
//! }
//!
//! /// A VMM that owns the device hands over its VFIO device fd.
//! fn from_vmm(fd: OwnedFd) -> Result<Option<CpuFrame>, Box<dyn std::error::Error>> {
//!     capture(&RealDevice::from_fd(fd)?)
//! }
//!
//! /// A program that owns the mdev opens it by UUID or sysfs path.
//! fn from_host(uuid: &str) -> Result<Option<CpuFrame>, Box<dyn std::error::Error>> {
//!     capture(&RealDevice::open(uuid, &HostPaths::default())?)
//! }
//!
//! let sim = SimDevice::new(SimConfig::default())?;
//! let frame = capture(&sim)?.expect("the simulated display is on");
//! // `frame.image` is RGBA8; `frame.plane` the validated plane description; `frame.format`
//! // the pixel format the guest used.
//! assert_eq!((frame.image.width, frame.image.height), (1024, 768));
//! assert_eq!((frame.plane.width, frame.plane.height), (1024, 768));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `cargo run --example capture` does the same in a loop. To follow a device over time (display
//! off, device lost and back, mode changes, waiting for the guest), use [`frame::Session`]:
//! `refresh()`, `status()`, `wait_for(...)`. `render::PlaneReader` (feature `gpu`) reads frames
//! through the GPU where the CPU cannot map them (Intel GVT-g).
//!
//! # Features
//!
//! `cargo build --lib --no-default-features` builds the library without the GPU, window and CLI
//! crates (about 25 crates instead of 260), for a VMM that embeds the frame path; the features
//! `gpu` (the `render` module), `remote` (the `rfb` module), `viewer` and `cli` (the default)
//! add them back.

pub mod conformance;
pub mod device;
pub mod edid;
pub mod fourcc;
pub mod frame;
pub mod geometry;
pub mod image;
pub mod input;
pub mod inspect;
#[cfg(feature = "needle")]
pub mod needle;
#[cfg(feature = "gpu")]
pub mod render;
#[cfg(feature = "remote")]
pub mod rfb;
pub mod tiling;
pub mod uapi;
pub mod vfio;
pub mod vmm;
