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
    /// No Vulkan adapter.
    NoAdapter,
    #[error("cannot open the GPU device {adapter}")]
    /// The adapter refused a device.
    RequestDevice {
        /// The adapter.
        adapter: String,
        #[source]
        /// Why.
        source: wgpu::RequestDeviceError,
    },
    #[error("the {path} import path is not available on {adapter}: {reason}")]
    /// The import path asked for is not available.
    PathUnavailable {
        /// The path.
        path: ImportPath,
        /// The adapter.
        adapter: String,
        /// Why.
        reason: String,
    },
    #[error("{plane} plane {buffer}: {path} import failed: {reason}")]
    /// An import failed.
    Import {
        /// The path.
        path: ImportPath,
        /// The plane.
        plane: crate::vfio::PlaneType,
        /// Its buffer.
        buffer: String,
        /// Why.
        reason: String,
    },
    #[error(
        "format {format} with modifier {modifier} has no GPU unpacker (supported: the formats \
         of the format table, linear or in Intel's X, Y or Yf tiles)"
    )]
    /// The shader cannot unpack this format.
    UnsupportedFormat {
        /// The format.
        format: String,
        /// The modifier.
        modifier: String,
    },
    #[error("{what} is {value}, beyond this GPU's limit of {limit}")]
    /// A size beyond the GPU's limits.
    Limit {
        /// What.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The GPU's limit.
        limit: u64,
    },
    #[error("the GPU cannot be opened: {reason}")]
    /// Opening the GPU failed (remembered from the first try).
    GpuUnavailable {
        /// Why, with its causes.
        reason: String,
    },
    #[error(
        "the CPU cannot map this device's frames ({cpu}), and the GPU that would read them \
         instead cannot be used"
    )]
    /// A frame needs the GPU (its dma-buf has no CPU mapping) and the GPU failed to open.
    GpuNeeded {
        /// Why the CPU could not read it.
        cpu: String,
        /// Why the GPU could not be opened.
        #[source]
        gpu: Box<RenderError>,
    },
    #[error("reading the rendered frame back from the GPU failed")]
    /// Reading the frame back failed.
    Readback(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    /// Reading the plane failed.
    Frame(#[from] FrameError),
}

impl From<crate::device::DeviceError> for RenderError {
    fn from(err: crate::device::DeviceError) -> Self {
        RenderError::Frame(FrameError::Device(err))
    }
}
