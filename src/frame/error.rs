//! The error type of the `frame` layer.

use super::validate::PlaneError;
use crate::device::DeviceError;
use crate::vfio::{PlaneSource, PlaneType, VfioError};

#[derive(Debug, thiserror::Error)]
/// The errors of the `frame` layer.
#[non_exhaustive]
pub enum FrameError {
    #[error(transparent)]
    /// The device failed.
    Device(#[from] DeviceError),
    /// A plane the device described cannot be read safely.
    #[error("{plane} plane ({source_kind} {buffer_id}): {error}")]
    InvalidPlane {
        /// Which plane.
        plane: PlaneType,
        /// dma-buf or region.
        source_kind: PlaneSource,
        /// Its `dmabuf_id` or region index.
        buffer_id: u32,
        /// What is wrong with it.
        error: PlaneError,
    },
    /// The exported dma-buf refuses CPU mapping (stock mbochs exports read-only, unmappable).
    #[error(
        "the dma-buf of the {plane} plane (dmabuf_id {dmabuf_id}) cannot be mapped by the CPU: \
         {error}; this driver exports buffers without CPU access, so the frame cannot be read on \
         the CPU path"
    )]
    CpuMap {
        /// Which plane.
        plane: PlaneType,
        /// Its `dmabuf_id`.
        dmabuf_id: u32,
        /// What the mapping said.
        error: VfioError,
    },
    #[error("IRQ index {index} of {device} has no vectors or does not take eventfds")]
    /// The IRQ index cannot be used for refreshes.
    IrqUnusable {
        /// The device.
        device: String,
        /// The IRQ index.
        index: u32,
    },
    #[error(
        "{device} is shared with the VMM that runs the guest: its interrupts are the guest's, so it refreshes by timer"
    )]
    /// An IRQ refresh was asked for on a shared device.
    IrqShared {
        /// The device.
        device: String,
    },
    #[error("{device} describes no planes: both PROBE queries (dma-buf and region) were refused")]
    /// Neither plane probe succeeded.
    NoPlaneSupport {
        /// The device.
        device: String,
    },
    #[error("{device} does not describe planes as {wanted} (it supports: {supported})")]
    /// Planes were asked for in a way the device does not describe.
    SourceUnsupported {
        /// The device.
        device: String,
        /// The source asked for.
        wanted: PlaneSource,
        /// The sources it has.
        supported: String,
    },
}

impl FrameError {
    /// The errno behind this error, where the kernel gave one.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            FrameError::Device(e) => e.errno(),
            FrameError::CpuMap { error, .. } => error.errno(),
            _ => None,
        }
    }
}
