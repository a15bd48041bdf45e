//! The error type of the `frame` layer.

use super::validate::PlaneError;
use crate::device::DeviceError;
use crate::vfio::{PlaneSource, PlaneType, VfioError};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A plane the device described cannot be read safely.
    #[error("{plane} plane ({source_kind} {buffer_id}): {error}")]
    InvalidPlane {
        plane: PlaneType,
        source_kind: PlaneSource,
        buffer_id: u32,
        error: PlaneError,
    },
    /// The exported dma-buf refuses CPU mapping (stock mbochs exports read-only, unmappable).
    #[error(
        "the dma-buf of the {plane} plane (dmabuf_id {dmabuf_id}) cannot be mapped by the CPU: \
         {error}; this driver exports buffers without CPU access, so the frame cannot be read on \
         the CPU path"
    )]
    CpuMap {
        plane: PlaneType,
        dmabuf_id: u32,
        error: VfioError,
    },
    #[error("IRQ index {index} of {device} has no vectors or does not take eventfds")]
    IrqUnusable { device: String, index: u32 },
    #[error("{device} describes no planes: both PROBE queries (dma-buf and region) were refused")]
    NoPlaneSupport { device: String },
    #[error("{device} does not describe planes as {wanted} (it supports: {supported})")]
    SourceUnsupported {
        device: String,
        wanted: PlaneSource,
        supported: String,
    },
}

impl FrameError {
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            FrameError::Device(e) => e.errno(),
            FrameError::CpuMap { error, .. } => error.errno(),
            _ => None,
        }
    }
}
