//! Errors of the render layer.

use super::ImportPath;
use crate::frame::FrameError;

/// Why the GPU could not show a frame.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "no Vulkan GPU adapter found (on a machine without a GPU, install Mesa's lavapipe: \
         the mesa-vulkan-drivers package)"
    )]
    NoAdapter,
    #[error("cannot open the GPU device {adapter}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error("the {path} import path is not available on {adapter}: {reason}")]
    PathUnavailable {
        path: ImportPath,
        adapter: String,
        reason: String,
    },
    #[error("{plane} plane {buffer}: {path} import failed: {reason}")]
    Import {
        path: ImportPath,
        plane: crate::vfio::PlaneType,
        buffer: String,
        reason: String,
    },
    #[error(
        "format {format} with modifier {modifier} has no GPU unpacker (supported: the 16 formats \
         of the format table, linear; tiled modifiers only through the dmabuf path)"
    )]
    UnsupportedFormat { format: String, modifier: String },
    #[error("{what} is {value}, beyond this GPU's limit of {limit}")]
    Limit {
        what: &'static str,
        value: u64,
        limit: u64,
    },
    #[error("reading the rendered frame back from the GPU failed")]
    Readback(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl From<crate::device::DeviceError> for RenderError {
    fn from(err: crate::device::DeviceError) -> Self {
        RenderError::Frame(FrameError::Device(err))
    }
}
