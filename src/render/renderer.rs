//! Frames of one device on the GPU: the import path for each frame, the import cache, the
//! unpack into frame textures, and offscreen composition for screenshots.

use super::compositor::{Compositor, DrawTarget, Filter, Layer, Rect};
use super::error::ImportFailure;
use super::formats::{shader_code, texture_format};
use super::unpack::{FrameSlot, Geometry, RawSource, UnpackBinding, Unpacker};
use super::{GpuContext, ImportChoice, ImportPath, RenderError, read_rgba, vulkan};
use crate::device::DisplayDevice;
use crate::fourcc::{self, Format};
use crate::frame::{FrameError, FrameReader, RgbaImage, ValidPlane, cursor_origin, validate};
use crate::geometry::{Point, Size};
use crate::vfio::{DmaBuf, PlaneInfo, PlaneSource, PlaneType};
use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::sync::Arc;

/// How many imports the renderer keeps, by buffer identity (QEMU keeps 5 dma-bufs too).
pub const IMPORT_CACHE: usize = 5;

/// What was brought to the GPU.
#[derive(Debug, Clone, Copy)]
pub struct GpuFrame {
    /// The plane imported.
    pub plane: PlaneInfo,
    /// Its format.
    pub format: &'static Format,
    /// The path it took.
    pub path: ImportPath,
    /// Whether this frame needed a new import (a buffer the cache did not hold).
    pub new_import: bool,
}

#[derive(Debug)]
enum Raw {
    /// The dma-buf as a storage buffer.
    Buffer { buffer: wgpu::Buffer, words: u32 },
    /// An R32Uint texture the CPU path uploads into.
    Words {
        texture: wgpu::Texture,
        view: wgpu::TextureView,
    },
    /// The dma-buf as a texture of its own format and layout.
    Image {
        view: wgpu::TextureView,
        layout: ImageLayout,
        opaque: bool,
    },
}

/// What a `dmabuf` import was made for: the same buffer id with any of these changed (the
/// guest reused the id for another layout) needs a new image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ImageLayout {
    drm_format: u32,
    modifier: u64,
    stride: u32,
    offset: u64,
    size: Size,
}

#[derive(Debug)]
struct Import {
    source: PlaneSource,
    buffer_id: u32,
    path: ImportPath,
    raw: Raw,
    /// The export stays open while imported, so the device never exports the id again.
    _export: Option<Arc<DmaBuf>>,
    /// The unpack pass's bind group for this import (dropped with it).
    binding: Option<UnpackBinding>,
}

/// Brings the frames of one device to the GPU.
#[derive(Debug)]
pub struct FrameRenderer<'d> {
    ctx: &'d GpuContext,
    reader: FrameReader<'d>,
    choice: ImportChoice,
    imports: VecDeque<Import>,
    /// Imports that failed, so auto mode does not retry them every frame.
    failed: VecDeque<(PlaneSource, u32, ImportPath)>,
    /// Whether the CPU can map the device's frames. When it cannot (GVT-g's dma-bufs), auto
    /// mode tries the dmabuf path after the buffer path and never falls back to the cpu path,
    /// which would meet the same refusal.
    cpu_readable: bool,
    unpacker: Unpacker,
    compositor: Compositor,
    slots: [Option<FrameSlot>; 2],
    staging: Vec<u8>,
}

fn slot_index(plane_type: PlaneType) -> usize {
    match plane_type {
        PlaneType::Cursor => 1,
        _ => 0,
    }
}

fn describe_buffer(plane: &PlaneInfo) -> String {
    plane.buffer_label()
}

impl<'d> FrameRenderer<'d> {
    /// A renderer for `dev` on `ctx`, importing as `choice` says.
    pub fn new(
        ctx: &'d GpuContext,
        dev: &'d dyn DisplayDevice,
        choice: ImportChoice,
    ) -> Result<Self, RenderError> {
        let reader = FrameReader::new(dev)?;
        if let ImportChoice::Only(path) = choice {
            let missing = match path {
                ImportPath::Dmabuf if !ctx.caps.dmabuf => Some(
                    "it lacks VK_EXT_image_drm_format_modifier or VK_EXT_external_memory_dma_buf",
                ),
                ImportPath::Buffer if !ctx.caps.buffer => {
                    Some("it lacks VK_KHR_external_memory_fd or VK_EXT_external_memory_dma_buf")
                }
                _ => None,
            };
            if let Some(reason) = missing {
                return Err(RenderError::PathUnavailable {
                    path,
                    adapter: ctx.adapter_name(),
                    reason: reason.into(),
                });
            }
        }
        Ok(FrameRenderer {
            ctx,
            reader,
            choice,
            imports: VecDeque::new(),
            failed: VecDeque::new(),
            cpu_readable: true,
            unpacker: Unpacker::new(&ctx.device),
            compositor: Compositor::new(&ctx.device),
            slots: [None, None],
            staging: Vec::new(),
        })
    }

    /// Tells the renderer whether the CPU can map the device's frames (see `cpu_readable`).
    pub fn set_cpu_readable(&mut self, readable: bool) {
        self.cpu_readable = readable;
    }

    /// The CPU reader (and export cache) it imports through.
    pub fn reader(&self) -> &FrameReader<'d> {
        &self.reader
    }

    /// The GPU context.
    pub fn context(&self) -> &'d GpuContext {
        self.ctx
    }

    /// How many imports the cache holds now.
    pub fn cached_imports(&self) -> usize {
        self.imports.len()
    }

    /// The frame texture last filled for `plane_type`.
    pub fn frame_view(&self, plane_type: PlaneType) -> Option<&wgpu::TextureView> {
        self.slots[slot_index(plane_type)].as_ref().map(|s| &s.view)
    }

    /// Drops every import (and the exports they hold).
    pub fn clear_cache(&mut self) {
        self.imports.clear();
        self.failed.clear();
        self.reader.clear_cache();
    }

    fn path_for(&self, plane: &PlaneInfo) -> Result<ImportPath, RenderError> {
        let dmabuf_source = plane.source == PlaneSource::DmaBuf;
        let unavailable = |path, reason: &str| RenderError::PathUnavailable {
            path,
            adapter: self.ctx.adapter_name(),
            reason: reason.to_string(),
        };
        match self.choice {
            ImportChoice::Auto => {
                let failed = |path| self.failed.contains(&(plane.source, plane.buffer_id, path));
                // Every frame prefers the buffer path: a LINEAR VkImage only imports where the
                // driver's row pitch equals the stride, a tiled one only where the driver knows
                // Intel's modifiers; the buffer path takes any stride and detiles in the unpack
                // shader. The cpu path (which detiles too) is the fallback, or, for frames the
                // CPU cannot map, the dmabuf path.
                if dmabuf_source && self.ctx.caps.buffer && !failed(ImportPath::Buffer) {
                    return Ok(ImportPath::Buffer);
                }
                if self.cpu_readable {
                    return Ok(ImportPath::Cpu);
                }
                if dmabuf_source
                    && self.ctx.caps.dmabuf
                    && texture_format(plane.drm_format).is_some()
                    && !failed(ImportPath::Dmabuf)
                {
                    return Ok(ImportPath::Dmabuf);
                }
                Err(unavailable(
                    ImportPath::Buffer,
                    "the CPU cannot map this frame, and neither GPU import (buffer, dmabuf) is \
                     available or working for it",
                ))
            }
            ImportChoice::Only(ImportPath::Cpu) => Ok(ImportPath::Cpu),
            ImportChoice::Only(path) if !dmabuf_source => Err(unavailable(
                path,
                "the plane is a device region, not a dma-buf (region planes go through the cpu path)",
            )),
            ImportChoice::Only(path) => Ok(path),
        }
    }

    /// Queries `plane_type` and brings it into its frame texture; None when the plane is off.
    pub fn update(&mut self, plane_type: PlaneType) -> Result<Option<GpuFrame>, RenderError> {
        let plane = self.reader.query(plane_type)?;
        if plane.is_off() {
            return Ok(None);
        }
        self.update_plane(&plane).map(Some)
    }

    /// Brings a queried plane into its frame texture.
    pub fn update_plane(&mut self, plane: &PlaneInfo) -> Result<GpuFrame, RenderError> {
        let path = self.path_for(plane)?;
        let result = self.import_and_unpack(plane, path);
        match (result, self.choice) {
            // Auto mode falls back when a zero-copy import fails (a stock mbochs dma-buf, for
            // one) or the frame is beyond the path's limits, once per buffer: to the cpu path,
            // or, for frames the CPU cannot map, to the dmabuf path.
            (
                Err(err @ (RenderError::Import { .. } | RenderError::Limit { .. })),
                ImportChoice::Auto,
            ) if path != ImportPath::Cpu => {
                self.failed
                    .push_front((plane.source, plane.buffer_id, path));
                self.failed.truncate(64);
                match self.path_for(plane) {
                    Ok(next) if next != path => {
                        tracing::warn!("{err}; falling back to the {next} path for this buffer");
                        self.import_and_unpack(plane, next)
                    }
                    // Nothing else can read it: the import's own error says most.
                    _ => Err(err),
                }
            }
            (result, _) => result,
        }
    }

    fn check_limits(&self, plane: &PlaneInfo) -> Result<(), RenderError> {
        let max = self.ctx.device.limits().max_texture_dimension_2d;
        for (what, value) in [("plane width", plane.width), ("plane height", plane.height)] {
            if value > max {
                return Err(RenderError::Limit {
                    what,
                    value: u64::from(value),
                    limit: u64::from(max),
                });
            }
        }
        Ok(())
    }

    fn position(&self, plane: &PlaneInfo, path: ImportPath) -> Option<usize> {
        self.imports.iter().position(|i| {
            i.source == plane.source && i.buffer_id == plane.buffer_id && i.path == path
        })
    }

    /// Moves import `i` to the front (most recent) and returns it.
    fn touch(&mut self, i: usize) -> &Import {
        let import = self.imports.remove(i).expect("index from position");
        self.imports.push_front(import);
        &self.imports[0]
    }

    fn insert(&mut self, import: Import) -> &Import {
        self.imports.push_front(import);
        self.imports.truncate(IMPORT_CACHE);
        &self.imports[0]
    }

    fn import_error(plane: &PlaneInfo, path: ImportPath, failure: ImportFailure) -> RenderError {
        RenderError::Import {
            path,
            plane: plane.plane_type,
            buffer: describe_buffer(plane),
            failure,
        }
    }

    fn import_and_unpack(
        &mut self,
        plane: &PlaneInfo,
        path: ImportPath,
    ) -> Result<GpuFrame, RenderError> {
        self.check_limits(plane)?;
        let (code, format) =
            shader_code(plane.drm_format).ok_or_else(|| RenderError::UnsupportedFormat {
                format: fourcc::describe(plane.drm_format),
                modifier: fourcc::describe_modifier(plane.modifier),
            })?;
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let (new_import, mut geometry) = match path {
            ImportPath::Cpu => self.upload(plane, code)?,
            ImportPath::Buffer => self.buffer(plane, code)?,
            ImportPath::Dmabuf => self.image(plane)?,
        };
        let i = slot_index(plane.plane_type);
        let fits = self.slots[i]
            .as_ref()
            .is_some_and(|s| s.size() == Size::new(plane.width, plane.height));
        if !fits {
            let label = if i == 0 {
                "primary frame"
            } else {
                "cursor frame"
            };
            self.slots[i] = Some(FrameSlot::new(
                &self.ctx.device,
                label,
                plane.width,
                plane.height,
            ));
        }
        // Borrow juggling: the slot lives beside the imports.
        let slot = self.slots[i].as_mut().expect("just ensured");
        let import = &mut self.imports[0];
        let binding = &mut import.binding;
        let copy;
        let source = match &import.raw {
            Raw::Buffer { buffer, .. } => {
                // The guest keeps drawing into its buffers: the unpack, which takes a while,
                // reads a copy, so the guest's buffer is read only for one linear copy, as on
                // the CPU path (a capture read in place while the guest drew was torn).
                let (start, len) = frame_span(&geometry, buffer.size());
                copy = slot.copy_buffer(&self.ctx.device, len);
                encoder.copy_buffer_to_buffer(buffer, start, &copy, 0, len);
                // `start` is the offset rounded down to a word: less than 2^32, as it is.
                geometry.offset -= start as u32;
                RawSource::Buffer {
                    buffer: &copy,
                    words: (len / 4) as u32,
                }
            }
            Raw::Words { texture, view } => RawSource::Words {
                view,
                words_per_row: texture.width(),
                words: texture.width() * texture.height(),
            },
            Raw::Image { view, opaque, .. } => RawSource::Image {
                view,
                opaque: *opaque,
            },
        };
        self.unpacker.record(
            &self.ctx.device,
            &self.ctx.queue,
            &mut encoder,
            source,
            geometry,
            slot,
            binding,
        );
        self.ctx.queue.submit([encoder.finish()]);
        Ok(GpuFrame {
            plane: *plane,
            format,
            path,
            new_import,
        })
    }

    /// The CPU path: copy the mapping into staging and upload it into an R32Uint texture whose
    /// rows are the framebuffer's rows (`bytes_per_row` = stride).
    fn upload(&mut self, plane: &PlaneInfo, code: u32) -> Result<(bool, Geometry), RenderError> {
        // Texel rows hold whole words: a stride that is not a multiple of 4 is repacked.
        let pitch = (plane.stride as usize).next_multiple_of(4);
        let mut staging = std::mem::take(&mut self.staging);
        let valid = self.reader.read_raw_into(plane, pitch, &mut staging);
        let valid = match valid {
            Ok(v) => v,
            Err(e) => {
                self.staging = staging;
                return Err(e.into());
            }
        };
        let words_per_row = (pitch / 4) as u32;
        let max = self.ctx.device.limits().max_texture_dimension_2d;
        if words_per_row > max {
            self.staging = staging;
            return Err(RenderError::Limit {
                what: "plane stride in words",
                value: u64::from(words_per_row),
                limit: u64::from(max),
            });
        }
        let height = plane.height;
        let ctx = self.ctx;
        let hit = self.position(plane, ImportPath::Cpu).filter(|&i| {
            matches!(&self.imports[i].raw, Raw::Words { texture, .. }
                if texture.width() == words_per_row && texture.height() == height)
        });
        let new_import = hit.is_none();
        let import = match hit {
            Some(i) => self.touch(i),
            None => {
                if let Some(i) = self.position(plane, ImportPath::Cpu) {
                    self.imports.remove(i);
                }
                let texture = self.ctx.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("cpu upload"),
                    size: wgpu::Extent3d {
                        width: words_per_row,
                        height,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::R32Uint,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                });
                let view = texture.create_view(&Default::default());
                self.insert(Import {
                    source: plane.source,
                    buffer_id: plane.buffer_id,
                    path: ImportPath::Cpu,
                    raw: Raw::Words { texture, view },
                    _export: None,
                    binding: None,
                })
            }
        };
        let Raw::Words { texture, .. } = &import.raw else {
            unreachable!("the cpu path caches words textures")
        };
        ctx.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            &staging,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(pitch as u32),
                rows_per_image: Some(height),
            },
            texture.size(),
        );
        self.staging = staging;
        // The staging rows are linear: the cpu copy detiled them.
        let mut geometry = geometry(&valid, code, pitch as u32, 0);
        geometry.tiling = crate::tiling::Tiling::Linear.shader_code();
        Ok((new_import, geometry))
    }

    /// The buffer path: the dma-buf imported once as a storage buffer, read in place.
    fn buffer(&mut self, plane: &PlaneInfo, code: u32) -> Result<(bool, Geometry), RenderError> {
        let hit = self.position(plane, ImportPath::Buffer);
        let new_import = hit.is_none();
        let (export_size, import) = match hit {
            Some(i) => {
                let import = self.touch(i);
                let Raw::Buffer { words, .. } = &import.raw else {
                    unreachable!("the buffer path caches buffers")
                };
                (u64::from(*words) * 4, import)
            }
            None => {
                let export = self.reader.device().dmabuf(plane.buffer_id)?;
                // The fields are checked before anything is imported.
                validate(plane, export.size()).map_err(|error| invalid(plane, error))?;
                let limit = self.ctx.device.limits().max_storage_buffer_binding_size;
                if export.size() > limit {
                    return Err(RenderError::Limit {
                        what: "dma-buf size",
                        value: export.size(),
                        limit,
                    });
                }
                let buffer = vulkan::import_buffer(self.ctx, export.as_fd(), export.size())
                    .map_err(|failure| Self::import_error(plane, ImportPath::Buffer, failure))?;
                let words = (buffer.size() / 4) as u32;
                tracing::debug!(
                    "imported {} ({} bytes) as a storage buffer",
                    describe_buffer(plane),
                    export.size()
                );
                let size = u64::from(words) * 4;
                (
                    size,
                    self.insert(Import {
                        source: plane.source,
                        buffer_id: plane.buffer_id,
                        path: ImportPath::Buffer,
                        raw: Raw::Buffer { buffer, words },
                        _export: Some(export),
                        binding: None,
                    }),
                )
            }
        };
        let _ = import;
        // The plane may have moved within the same buffer (a pan): check it every frame.
        let valid = validate(plane, export_size).map_err(|error| invalid(plane, error))?;
        let offset = u32::try_from(plane.offset).map_err(|_| RenderError::Limit {
            what: "plane offset",
            value: plane.offset,
            limit: u64::from(u32::MAX),
        })?;
        Ok((new_import, geometry(&valid, code, plane.stride, offset)))
    }

    /// The dmabuf path: the dma-buf imported as a texture of its own format and modifier.
    fn image(&mut self, plane: &PlaneInfo) -> Result<(bool, Geometry), RenderError> {
        let (format, opaque) =
            texture_format(plane.drm_format).ok_or_else(|| RenderError::PathUnavailable {
                path: ImportPath::Dmabuf,
                adapter: self.ctx.adapter_name(),
                reason: format!(
                    "it imports the 8-bit RGB formats only (XRGB8888, ARGB8888, XBGR8888, \
                     ABGR8888), not {}; the buffer and cpu paths read every format",
                    fourcc::describe(plane.drm_format)
                ),
            })?;
        let layout = ImageLayout {
            drm_format: plane.drm_format,
            modifier: plane.modifier,
            stride: plane.stride,
            offset: plane.offset,
            size: Size::new(plane.width, plane.height),
        };
        let hit = self.position(plane, ImportPath::Dmabuf).filter(
            |&i| matches!(&self.imports[i].raw, Raw::Image { layout: l, .. } if *l == layout),
        );
        let new_import = hit.is_none();
        match hit {
            Some(i) => {
                self.touch(i);
            }
            None => {
                if let Some(i) = self.position(plane, ImportPath::Dmabuf) {
                    self.imports.remove(i);
                }
                let export = self.reader.device().dmabuf(plane.buffer_id)?;
                // Tiled layouts are the driver's business; the linear geometry is still checked.
                let linear = PlaneInfo {
                    modifier: 0,
                    ..*plane
                };
                validate(&linear, export.size()).map_err(|error| invalid(plane, error))?;
                let texture = vulkan::import_texture(
                    self.ctx,
                    export.as_fd(),
                    format,
                    layout.size,
                    plane.modifier,
                    u64::from(plane.stride),
                    plane.offset,
                )
                .map_err(|failure| Self::import_error(plane, ImportPath::Dmabuf, failure))?;
                let view = texture.create_view(&Default::default());
                self.insert(Import {
                    source: plane.source,
                    buffer_id: plane.buffer_id,
                    path: ImportPath::Dmabuf,
                    raw: Raw::Image {
                        view,
                        layout,
                        opaque,
                    },
                    _export: Some(export),
                    binding: None,
                });
            }
        }
        Ok((
            new_import,
            Geometry {
                width: plane.width,
                height: plane.height,
                stride: plane.stride,
                offset: 0,
                format_code: u32::from(opaque),
                tiling: 0,
                span: 0,
            },
        ))
    }

    /// Brings a queried plane to the GPU and reads its unpacked RGBA back: how frames the CPU
    /// cannot map (GVT-g's dma-bufs) reach the CPU consumers.
    pub fn read_plane(&mut self, plane: &PlaneInfo) -> Result<(RgbaImage, GpuFrame), RenderError> {
        let frame = self.update_plane(plane)?;
        let slot = self.slots[slot_index(plane.plane_type)]
            .as_ref()
            .ok_or_else(|| Self::import_error(plane, frame.path, ImportFailure::NoTexture))?;
        let image = read_rgba(self.ctx, &slot.texture)?;
        Ok((image, frame))
    }

    /// Draws the last primary frame into `rect` of `target` (cleared to `clear` around it) and,
    /// if given, the cursor plane's last frame at its position and hotspot, scaled like the
    /// primary: the window's picture.
    pub fn compose(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        target: &DrawTarget<'_>,
        rect: Rect,
        filter: Filter,
        cursor: Option<&PlaneInfo>,
        clear: wgpu::Color,
    ) {
        let primary = self.slots[0].as_ref();
        let scale_x = primary.map_or(1.0, |s| rect.width / s.size().width.max(1) as f32);
        let scale_y = primary.map_or(1.0, |s| rect.height / s.size().height.max(1) as f32);
        let primary_layer = primary.map(|s| Layer {
            view: &s.view,
            rect,
            filter,
        });
        let cursor_layer = cursor.and_then(|c| {
            let Point { x, y } = cursor_origin(c);
            self.slots[1].as_ref().map(|s| Layer {
                view: &s.view,
                rect: Rect {
                    x: rect.x + x as f32 * scale_x,
                    y: rect.y + y as f32 * scale_y,
                    width: c.width as f32 * scale_x,
                    height: c.height as f32 * scale_y,
                },
                filter,
            })
        });
        self.compositor.draw(
            &self.ctx.device,
            &self.ctx.queue,
            encoder,
            target,
            clear,
            [primary_layer, cursor_layer],
        );
    }

    /// Renders the primary plane (and the cursor over it) offscreen at the plane's size and
    /// reads it back: the GPU screenshot. None when the primary plane is off.
    pub fn render_offscreen(
        &mut self,
        cursor: bool,
    ) -> Result<Option<(RgbaImage, GpuFrame)>, RenderError> {
        let Some(primary) = self.update(PlaneType::Primary)? else {
            return Ok(None);
        };
        let cursor_frame = if cursor {
            match self.update(PlaneType::Cursor) {
                Ok(Some(c)) if c.plane.plane_type == PlaneType::Cursor => Some(c),
                Ok(_) => None,
                // A broken cursor should not cost the user the screenshot.
                Err(err) => {
                    tracing::warn!("cursor not composited: {err}");
                    None
                }
            }
        } else {
            None
        };
        let (w, h) = (primary.plane.width, primary.plane.height);
        let target = self.ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen"),
            size: wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = target.create_view(&Default::default());
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let primary_layer = self.slots[0].as_ref().map(|s| Layer {
            view: &s.view,
            rect: Rect {
                x: 0.0,
                y: 0.0,
                width: w as f32,
                height: h as f32,
            },
            filter: Filter::Nearest,
        });
        let cursor_layer = cursor_frame.and_then(|c| {
            let Point { x, y } = cursor_origin(&c.plane);
            self.slots[1].as_ref().map(|s| Layer {
                view: &s.view,
                rect: Rect {
                    x: x as f32,
                    y: y as f32,
                    width: c.plane.width as f32,
                    height: c.plane.height as f32,
                },
                filter: Filter::Nearest,
            })
        });
        self.compositor.draw(
            &self.ctx.device,
            &self.ctx.queue,
            &mut encoder,
            &DrawTarget {
                view: &view,
                format: wgpu::TextureFormat::Rgba8Unorm,
                size: Size::new(w, h),
            },
            wgpu::Color::TRANSPARENT,
            [primary_layer, cursor_layer],
        );
        self.ctx.queue.submit([encoder.finish()]);
        let image = read_rgba(self.ctx, &target)?;
        Ok(Some((image, primary)))
    }
}

fn geometry(valid: &ValidPlane, code: u32, stride: u32, offset: u32) -> Geometry {
    Geometry {
        width: valid.info.width,
        height: valid.info.height,
        stride,
        offset,
        format_code: code,
        tiling: valid.tiling.shader_code(),
        span: valid.span,
    }
}

/// The bytes of a frame in its imported buffer of `buffer_size` bytes, as (start, length), both
/// multiples of 4 (what a buffer copy takes): from the frame's offset rounded down to a word to
/// the end of its validated span (a tiled frame's last whole row of tiles), rounded up to a
/// word within the buffer. The frame was validated against the buffer, so its pixels are inside.
fn frame_span(geometry: &Geometry, buffer_size: u64) -> (u64, u64) {
    let align = wgpu::COPY_BUFFER_ALIGNMENT;
    let start = u64::from(geometry.offset) / align * align;
    let end = (u64::from(geometry.offset) + geometry.span)
        .next_multiple_of(align)
        .min(buffer_size / align * align);
    (start, end.saturating_sub(start))
}

fn invalid(plane: &PlaneInfo, error: crate::frame::PlaneError) -> RenderError {
    RenderError::Frame(FrameError::InvalidPlane {
        plane: plane.plane_type,
        source_kind: plane.source,
        buffer_id: plane.buffer_id,
        error,
    })
}
