//! Errors of the render layer.

use super::ImportPath;
use crate::frame::FrameError;

/// Why the GPU could not show a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    #[error("{plane} plane {buffer}: {path} import failed: {failure}")]
    /// An import failed.
    Import {
        /// The path.
        path: ImportPath,
        /// The plane.
        plane: crate::vfio::PlaneType,
        /// Its buffer.
        buffer: String,
        /// Why.
        failure: ImportFailure,
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

/// Why a dma-buf could not be imported into Vulkan: the call that failed and what it answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportFailure {
    /// The dma-buf has no whole 32-bit word to import.
    #[error("the dma-buf is empty")]
    Empty,
    /// The fd could not be duplicated for Vulkan (which takes ownership of what it imports).
    #[error("dup of the dma-buf fd: {0}")]
    Dup(#[source] std::io::Error),
    /// The wgpu device is not backed by Vulkan.
    #[error("not a Vulkan device")]
    NotVulkan,
    /// A Vulkan call failed.
    #[error("{call}: {result}")]
    Vulkan {
        /// The call ("vkAllocateMemory (dma-buf import)").
        call: &'static str,
        /// What it returned.
        result: ash::vk::Result,
    },
    /// wgpu-hal refused to wrap the dma-buf as a texture.
    #[error("texture_from_dmabuf_fd: {0}")]
    Texture(String),
    /// The buffer needs more memory than the dma-buf holds.
    #[error("the buffer needs {needed} bytes of memory but the dma-buf has {size}")]
    TooSmall {
        /// What Vulkan asks for.
        needed: u64,
        /// What the dma-buf has.
        size: u64,
    },
    /// No memory type suits both the buffer and the dma-buf.
    #[error(
        "no memory type fits both the buffer ({buffer_types:#x}) and the dma-buf ({dmabuf_types:#x})"
    )]
    NoMemoryType {
        /// The buffer's memory type bits.
        buffer_types: u32,
        /// The dma-buf's memory type bits.
        dmabuf_types: u32,
    },
    /// The frame's texture is gone (a renderer used before its first import).
    #[error("no frame texture")]
    NoTexture,
}
