//! The render layer: guest frames on the GPU with wgpu (Vulkan).
//!
//! A frame gets to the GPU one of three ways (ARCHITECTURE.md, section 6), chosen per frame:
//! - `dmabuf`: the dma-buf imported as a texture with its DRM modifier (wgpu-hal's
//!   `texture_from_dmabuf_fd`; needs VK_EXT_image_drm_format_modifier, and for a tiled frame
//!   a driver that knows its modifier);
//! - `buffer`: the dma-buf imported as a storage buffer (VK_EXT_external_memory_dma_buf), the
//!   frame copied out of it on the GPU and unpacked by the shader from the copy: no CPU copy,
//!   any stride and offset, linear or tiled (the shader detiles);
//! - `cpu`: the mapping copied and uploaded with `queue.write_texture`.
//!
//! Every path ends in the same RGBA8 frame texture, which the compositor draws with the cursor
//! into any target. Imports are cached by buffer identity (as QEMU does, the 5 most recent).

mod compositor;
// unsafe: asking the Vulkan instance for its extensions
#[allow(unsafe_code)]
mod context;
mod error;
mod formats;
mod plane_reader;
mod readback;
mod renderer;
mod report;
mod unpack;
// unsafe: importing dma-bufs into Vulkan through wgpu-hal
#[allow(unsafe_code)]
mod vulkan;

// What an embedder uses: the renderer and its reader, the context, the draw target, the
// reports and the errors. The pieces inside (the unpack pass, the compositor, the readback)
// stay the layer's own.
pub use compositor::{DrawTarget, Filter, Rect};
pub use context::{AdapterReport, GpuContext, ImportCaps};
pub use error::{ImportFailure, RenderError};
pub use plane_reader::{LazyGpu, PlaneReader, ReadChoice, ReadPath, needs_gpu};
pub(crate) use readback::read_rgba;
pub use renderer::{FrameRenderer, GpuFrame, IMPORT_CACHE};
pub use report::{GpuReport, InfoReport, gpu_report};
pub use unpack::shader_modules;

use serde::Serialize;

/// How a frame reached the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportPath {
    /// The dma-buf as a Vulkan image with its modifier.
    Dmabuf,
    /// The dma-buf as a Vulkan buffer, unpacked by the shader.
    Buffer,
    /// Mapped on the CPU and uploaded.
    Cpu,
}

impl std::fmt::Display for ImportPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImportPath::Dmabuf => "dmabuf",
            ImportPath::Buffer => "buffer",
            ImportPath::Cpu => "cpu",
        })
    }
}

/// Which import path to use: the best the adapter and the frame allow, or one forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportChoice {
    /// The best the adapter and the frame allow.
    Auto,
    /// This path or an error.
    Only(ImportPath),
}
