//! Planes into RGBA for the consumers that want pixels in memory (`screenshot`, `serve`,
//! `bench`, the library's users): read on the CPU where the buffer can be mapped, through the
//! GPU (import, unpack, read back) where it cannot.
//!
//! Intel GVT-g's dma-bufs are i915 objects without a shmem file, whose mmap i915 refuses with
//! ENODEV; a GPU import still reaches their pixels. The reader notices the refusal on the first
//! frame and reads every later frame of the device through the GPU, opened only then.

use super::{FrameRenderer, GpuContext, ImportChoice, ImportPath, RenderError};
use crate::device::DisplayDevice;
use crate::frame::{CpuFrame, FrameError, FrameReader};
use crate::vfio::PlaneInfo;
use std::sync::OnceLock;

/// Where frames are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadChoice {
    /// On the CPU where the buffer maps, else through the GPU.
    Auto,
    /// On the CPU only (no GPU is opened).
    Cpu,
    /// Through the GPU only.
    Gpu,
}

/// How one frame was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Mapped and converted on the CPU.
    Cpu,
    /// Imported into the GPU this way, unpacked there and read back.
    Gpu(ImportPath),
}

impl std::fmt::Display for ReadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadPath::Cpu => f.write_str("cpu"),
            ReadPath::Gpu(path) => write!(f, "GPU {path} import"),
        }
    }
}

/// A headless GPU context opened on first use, so that a device whose frames the CPU reads
/// never pays for one. Shared by reference with the readers that may need it.
#[derive(Debug, Default)]
pub struct LazyGpu {
    context: OnceLock<Result<GpuContext, String>>,
}

impl LazyGpu {
    /// Nothing opened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context, opened now if it was not; the first failure is remembered.
    pub fn get(&self) -> Result<&GpuContext, RenderError> {
        match self
            .context
            .get_or_init(|| GpuContext::headless().map_err(|e| error_text(&e)))
        {
            Ok(ctx) => Ok(ctx),
            Err(text) => Err(RenderError::GpuUnavailable {
                reason: text.clone(),
            }),
        }
    }

    /// Whether a context was opened.
    pub fn is_open(&self) -> bool {
        matches!(self.context.get(), Some(Ok(_)))
    }
}

fn error_text(err: &dyn std::error::Error) -> String {
    crate::frame::session::error_chain(err)
}

/// Whether a CPU read failed because the exporter gives its buffers no CPU mapping by design
/// (mmap answers ENODEV, as i915 does for GVT-g's objects), which a GPU import gets around. Any
/// other failure, a refused mmap of another kind included (stock mbochs's EINVAL for an export
/// whose size is not whole pages), is the frame's or the driver's, and is reported as it is.
pub fn needs_gpu(err: &FrameError) -> bool {
    matches!(err, FrameError::CpuMap { error, .. } if error.no_cpu_mapping())
}

/// Reads the planes of one device into RGBA, on the CPU or through the GPU.
#[derive(Debug)]
pub struct PlaneReader<'d> {
    cpu: FrameReader<'d>,
    gpu: &'d LazyGpu,
    choice: ReadChoice,
    import: ImportChoice,
    renderer: Option<FrameRenderer<'d>>,
    /// Set once a CPU mapping was refused: the device's frames go through the GPU from then on.
    through_gpu: bool,
    /// Why the CPU could not read the frames, once it could not (for the GPU's errors).
    cpu_cause: Option<String>,
}

impl<'d> PlaneReader<'d> {
    /// A reader of `dev`'s planes; `gpu` is opened only when a frame needs it (or at once for
    /// `ReadChoice::Gpu`), and imports as `import` says.
    pub fn new(
        dev: &'d dyn DisplayDevice,
        gpu: &'d LazyGpu,
        choice: ReadChoice,
        import: ImportChoice,
    ) -> Result<Self, RenderError> {
        let mut reader = Self::with_reader(FrameReader::new(dev)?, gpu, choice, import);
        if choice == ReadChoice::Gpu {
            // A GPU the user asked for fails now, not at the first frame.
            reader.renderer()?;
        }
        Ok(reader)
    }

    /// As `new`, around a CPU reader made already; opens nothing until a frame needs it.
    pub fn with_reader(
        cpu: FrameReader<'d>,
        gpu: &'d LazyGpu,
        choice: ReadChoice,
        import: ImportChoice,
    ) -> Self {
        PlaneReader {
            cpu,
            gpu,
            choice,
            import,
            renderer: None,
            through_gpu: choice == ReadChoice::Gpu,
            cpu_cause: None,
        }
    }

    /// The CPU reader (queries, raw reads).
    pub fn cpu(&self) -> &FrameReader<'d> {
        &self.cpu
    }

    /// Whether frames now go through the GPU.
    pub fn through_gpu(&self) -> bool {
        self.through_gpu
    }

    /// The GPU renderer, made on first use.
    pub fn renderer(&mut self) -> Result<&mut FrameRenderer<'d>, RenderError> {
        if self.renderer.is_none() {
            let ctx = self.gpu.get()?;
            let mut renderer = FrameRenderer::new(ctx, self.cpu.device(), self.import)?;
            renderer.set_cpu_readable(self.cpu_cause.is_none());
            self.renderer = Some(renderer);
        }
        Ok(self.renderer.as_mut().expect("just made"))
    }

    /// Notes that a CPU read failed with `err`: true when the frame should be read through the
    /// GPU instead (auto mode, and a refused mapping), and from then on every frame is.
    pub fn fall_back(&mut self, err: &FrameError) -> bool {
        if self.choice == ReadChoice::Auto && needs_gpu(err) {
            if !self.through_gpu {
                tracing::info!(
                    "{}; reading frames through the GPU instead",
                    error_text(err)
                );
                self.cpu_cause = Some(error_text(err));
                if let Some(renderer) = &mut self.renderer {
                    renderer.set_cpu_readable(false);
                }
            }
            self.through_gpu = true;
            return true;
        }
        false
    }

    /// Reads a queried plane into RGBA.
    pub fn read(&mut self, plane: &PlaneInfo) -> Result<(CpuFrame, ReadPath), RenderError> {
        if !self.through_gpu {
            match self.cpu.read(plane) {
                Ok(frame) => return Ok((frame, ReadPath::Cpu)),
                Err(err) if self.fall_back(&err) => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.read_on_gpu(plane)
    }

    /// Reads through the GPU; when the GPU cannot be opened and the CPU could not read the frame
    /// either, the error says both.
    pub fn read_on_gpu(&mut self, plane: &PlaneInfo) -> Result<(CpuFrame, ReadPath), RenderError> {
        let read = self.renderer().and_then(|r| r.read_plane(plane));
        let (image, frame) = read.map_err(|err| match (err, &self.cpu_cause) {
            (gpu @ RenderError::GpuUnavailable { .. }, Some(cpu)) => RenderError::GpuNeeded {
                cpu: cpu.clone(),
                gpu: Box::new(gpu),
            },
            (err, _) => err,
        })?;
        Ok((
            CpuFrame {
                plane: frame.plane,
                format: frame.format,
                image,
            },
            ReadPath::Gpu(frame.path),
        ))
    }
}
