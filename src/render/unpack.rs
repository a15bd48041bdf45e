//! The unpack pass: raw framebuffer bytes (or a natively imported texture) into an RGBA8 frame
//! texture, by one compute shader for every supported format.

use crate::geometry::Size;

/// Where the raw framebuffer is.
#[derive(Debug)]
pub enum RawSource<'a> {
    /// A storage buffer of `words` u32 (the buffer path's copy of the dma-buf).
    Buffer {
        /// The buffer.
        buffer: &'a wgpu::Buffer,
        /// Its length in u32 words.
        words: u32,
    },
    /// An R32Uint texture, one row per framebuffer row (the CPU upload).
    Words {
        /// The texture.
        view: &'a wgpu::TextureView,
        /// Its width in words.
        words_per_row: u32,
        /// The words in use.
        words: u32,
    },
    /// A texture the GPU reads natively (the dmabuf path); `opaque` forces alpha to 1.
    Image {
        /// The texture.
        view: &'a wgpu::TextureView,
        /// Alpha is forced to 1.
        opaque: bool,
    },
}

/// The plane geometry the shader needs.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes per row.
    pub stride: u32,
    /// Where the frame starts, bytes.
    pub offset: u32,
    /// The shader's code for the format.
    pub format_code: u32,
    /// The shader's code for the layout (`Tiling::shader_code`).
    pub tiling: u32,
    /// Bytes from `offset` to the end of the frame (validated): what the buffer path copies.
    pub span: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Params {
    width: u32,
    height: u32,
    stride: u32,
    offset: u32,
    format: u32,
    words: u32,
    words_per_row: u32,
    tiling: u32,
}

impl Params {
    fn bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, v) in [
            self.width,
            self.height,
            self.stride,
            self.offset,
            self.format,
            self.words,
            self.words_per_row,
            self.tiling,
        ]
        .iter()
        .enumerate()
        {
            out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// The unpacker: every format to RGBA, after one of the source preludes below (the WGSL lives
/// in the top-level `shaders/` folder).
const SHADER: &str = include_str!("../../shaders/unpack.wgsl");
/// Reads the frame's words from a storage buffer (the buffer import path).
const SOURCE_BUFFER: &str = include_str!("../../shaders/source_buffer.wgsl");
/// Reads the frame's words from an R32Uint texture (the cpu path).
const SOURCE_TEXTURE: &str = include_str!("../../shaders/source_texture.wgsl");
/// Reads a sampled image (the dmabuf import path).
const SOURCE_IMAGE: &str = include_str!("../../shaders/source_image.wgsl");

/// A complete unpack module, as it is compiled: a source prelude, then the unpacker.
fn unpack_module(prelude: &str) -> String {
    format!("{prelude}\n{SHADER}")
}

/// Every shader module the renderer compiles, by name, exactly as compiled (for validation).
pub fn shader_modules() -> Vec<(&'static str, String)> {
    vec![
        ("unpack from buffer", unpack_module(SOURCE_BUFFER)),
        ("unpack from texture", unpack_module(SOURCE_TEXTURE)),
        ("convert from image", unpack_module(SOURCE_IMAGE)),
        ("composite", super::compositor::COMPOSITE_SHADER.to_string()),
    ]
}

#[derive(Debug)]
struct Variant {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

fn variant(
    device: &wgpu::Device,
    name: &str,
    prelude: &str,
    source: wgpu::BindingType,
    entry: &str,
) -> Variant {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(unpack_module(prelude).into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(name),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::StorageTexture {
                    access: wgpu::StorageTextureAccess::WriteOnly,
                    format: wgpu::TextureFormat::Rgba8Unorm,
                    view_dimension: wgpu::TextureViewDimension::D2,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: source,
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    Variant { layout, pipeline }
}

/// The unpack pipelines: one per kind of source, all from the same shader.
#[derive(Debug)]
pub struct Unpacker {
    buffer: Variant,
    words: Variant,
    image: Variant,
}

/// A frame texture and the uniform buffer of the unpack pass that fills it.
#[derive(Debug)]
pub struct FrameSlot {
    /// The RGBA texture the unpack pass fills.
    pub texture: wgpu::Texture,
    /// Its view.
    pub view: wgpu::TextureView,
    params: wgpu::Buffer,
    /// Tells slots apart for cached bind groups (a new slot comes with every new size).
    id: u64,
    /// What `params` holds: a cached frame whose geometry did not change writes nothing.
    written: Option<[u8; 32]>,
    /// The buffer path's copy of the guest's frame, which the unpack reads instead of the live
    /// import (ARCHITECTURE.md, section 6).
    copy: Option<wgpu::Buffer>,
}

/// An unpack bind group kept with its import, valid for one frame slot: a cached frame binds
/// the same three resources every time, and creating the group costs more front-end CPU than
/// the rest of the frame's recording.
#[derive(Debug)]
pub struct UnpackBinding {
    slot_id: u64,
    bind_group: wgpu::BindGroup,
}

static NEXT_SLOT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl FrameSlot {
    /// A slot of this size.
    pub fn new(device: &wgpu::Device, label: &str, width: u32, height: u32) -> Self {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::STORAGE_BINDING
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: 32,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        FrameSlot {
            texture,
            view,
            params,
            id: NEXT_SLOT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            written: None,
            copy: None,
        }
    }

    /// A buffer of at least `bytes` for the copy of a guest frame (a storage buffer the unpack
    /// reads). A larger one replaces a smaller one, and then the slot takes a new id so that
    /// the bind groups made for the old buffer are made again.
    pub fn copy_buffer(&mut self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        match &self.copy {
            Some(buffer) if buffer.size() >= bytes => buffer.clone(),
            _ => {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("frame copy"),
                    size: bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                self.copy = Some(buffer.clone());
                self.id = NEXT_SLOT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                buffer
            }
        }
    }

    /// Its size.
    pub fn size(&self) -> Size {
        Size::new(self.texture.width(), self.texture.height())
    }
}

impl Unpacker {
    /// The unpack pipelines for `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        Unpacker {
            buffer: variant(
                device,
                "unpack from buffer",
                SOURCE_BUFFER,
                wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: true },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                "unpack",
            ),
            words: variant(
                device,
                "unpack from texture",
                SOURCE_TEXTURE,
                wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Uint,
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                "unpack",
            ),
            image: variant(
                device,
                "convert from image",
                SOURCE_IMAGE,
                wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                "convert",
            ),
        }
    }

    /// Records the unpack of `source` into `slot` (whose size is the plane's). `binding` is the
    /// source's cached bind group: used when it was made for this slot, replaced otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        source: RawSource<'_>,
        geometry: Geometry,
        slot: &mut FrameSlot,
        binding: &mut Option<UnpackBinding>,
    ) {
        let (variant, words, words_per_row, format, resource) = match &source {
            RawSource::Buffer { buffer, words } => (
                &self.buffer,
                *words,
                0,
                geometry.format_code,
                buffer.as_entire_binding(),
            ),
            RawSource::Words {
                view,
                words_per_row,
                words,
            } => (
                &self.words,
                *words,
                *words_per_row,
                geometry.format_code,
                wgpu::BindingResource::TextureView(view),
            ),
            RawSource::Image { view, opaque } => (
                &self.image,
                0,
                0,
                u32::from(*opaque),
                wgpu::BindingResource::TextureView(view),
            ),
        };
        let params = Params {
            width: geometry.width,
            height: geometry.height,
            stride: geometry.stride,
            offset: geometry.offset,
            format,
            words,
            words_per_row,
            tiling: geometry.tiling,
        };
        let bytes = params.bytes();
        if slot.written != Some(bytes) {
            queue.write_buffer(&slot.params, 0, &bytes);
            slot.written = Some(bytes);
        }
        if binding.as_ref().is_none_or(|b| b.slot_id != slot.id) {
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("unpack"),
                layout: &variant.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: slot.params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(&slot.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource,
                    },
                ],
            });
            *binding = Some(UnpackBinding {
                slot_id: slot.id,
                bind_group,
            });
        }
        let bind_group = &binding.as_ref().expect("just ensured").bind_group;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("unpack"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&variant.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(geometry.width.div_ceil(8), geometry.height.div_ceil(8), 1);
    }
}
