//! The compositor: draws the primary plane into a rectangle of any target (a window's surface
//! or an offscreen texture) and the cursor over it at its position and hotspot, alpha blended.

use crate::geometry::Size;
use std::collections::HashMap;

/// The compositor's shader (in the top-level `shaders/` folder).
pub(crate) const COMPOSITE_SHADER: &str = include_str!("../../shaders/composite.wgsl");

/// A rectangle of the target, in pixels (may hang over its edges).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge, pixels.
    pub x: f32,
    /// Top edge, pixels.
    pub y: f32,
    /// Pixels.
    pub width: f32,
    /// Pixels.
    pub height: f32,
}

/// How the primary plane is sampled when scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Exact pixels (1:1 and integer scaling, screenshots).
    Nearest,
    /// Smooth scaling (fit to window).
    Linear,
}

/// Where a picture is drawn: a window's surface texture or an offscreen texture.
#[derive(Debug, Clone, Copy)]
pub struct DrawTarget<'a> {
    /// The texture view drawn into.
    pub view: &'a wgpu::TextureView,
    /// Its format (the compositor keeps one pipeline pair per format).
    pub format: wgpu::TextureFormat,
    /// Its size in pixels.
    pub size: Size,
}

/// One textured quad to draw.
#[derive(Debug)]
pub struct Layer<'a> {
    /// The texture to draw.
    pub view: &'a wgpu::TextureView,
    /// Where, in target pixels.
    pub rect: Rect,
    /// How it is sampled when scaled.
    pub filter: Filter,
}

#[derive(Debug)]
struct Pipelines {
    opaque: wgpu::RenderPipeline,
    blended: wgpu::RenderPipeline,
}

/// Draws layers into targets; pipelines are built once per target format.
#[derive(Debug)]
pub struct Compositor {
    module: wgpu::ShaderModule,
    layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    pipelines: HashMap<wgpu::TextureFormat, Pipelines>,
    nearest: wgpu::Sampler,
    linear: wgpu::Sampler,
    /// One uniform buffer per layer slot (primary, cursor).
    quads: [wgpu::Buffer; 2],
    /// What each quad buffer holds: an unchanged layout writes nothing.
    written: [Option<[u8; 16]>; 2],
    /// Each slot's bind group with the view and filter it was made for: the viewer draws the
    /// same frame textures every frame, and a bind group per frame is allocation and driver
    /// work for nothing.
    bound: [Option<(wgpu::TextureView, Filter, wgpu::BindGroup)>; 2],
}

impl Compositor {
    /// The compositor's pipelines for `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("composite"),
            source: wgpu::ShaderSource::Wgsl(COMPOSITE_SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("composite"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("composite"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let sampler = |filter| {
            device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("composite"),
                address_mode_u: wgpu::AddressMode::ClampToEdge,
                address_mode_v: wgpu::AddressMode::ClampToEdge,
                mag_filter: filter,
                min_filter: filter,
                ..Default::default()
            })
        };
        let quad = || {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("composite quad"),
                size: 16,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        Compositor {
            module,
            layout,
            pipeline_layout,
            pipelines: HashMap::new(),
            nearest: sampler(wgpu::FilterMode::Nearest),
            linear: sampler(wgpu::FilterMode::Linear),
            quads: [quad(), quad()],
            written: [None, None],
            bound: [None, None],
        }
    }

    fn pipeline(
        &self,
        device: &wgpu::Device,
        format: wgpu::TextureFormat,
        blend: bool,
    ) -> wgpu::RenderPipeline {
        // The cursor is non-premultiplied: colour = src x a + dst x (1 - a); alpha accumulates.
        let blend_state = blend.then_some(wgpu::BlendState {
            color: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::SrcAlpha,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
            alpha: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::One,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
        });
        device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some(if blend {
                "composite blended"
            } else {
                "composite opaque"
            }),
            layout: Some(&self.pipeline_layout),
            vertex: wgpu::VertexState {
                module: &self.module,
                entry_point: Some("vs"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &self.module,
                entry_point: Some("fs"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: blend_state,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        })
    }

    /// Clears `target` to `clear` and draws the layers: the primary plane (replacing), then
    /// the cursor (blended).
    pub fn draw(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        target: &DrawTarget<'_>,
        clear: wgpu::Color,
        [primary, cursor]: [Option<Layer<'_>>; 2],
    ) {
        let (target_format, target_size) = (target.format, target.size);
        if !self.pipelines.contains_key(&target_format) {
            let pipelines = Pipelines {
                opaque: self.pipeline(device, target_format, false),
                blended: self.pipeline(device, target_format, true),
            };
            self.pipelines.insert(target_format, pipelines);
        }
        let (tw, th) = (
            target_size.width.max(1) as f32,
            target_size.height.max(1) as f32,
        );
        let mut drawn = [false; 2];
        for (slot, layer) in [primary, cursor].into_iter().enumerate() {
            let Some(layer) = layer else { continue };
            drawn[slot] = true;
            let r = layer.rect;
            // Pixels to NDC: x right, y up.
            let ndc = [
                r.x / tw * 2.0 - 1.0,
                1.0 - r.y / th * 2.0,
                (r.x + r.width) / tw * 2.0 - 1.0,
                1.0 - (r.y + r.height) / th * 2.0,
            ];
            let mut bytes = [0u8; 16];
            for (i, v) in ndc.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            if self.written[slot] != Some(bytes) {
                queue.write_buffer(&self.quads[slot], 0, &bytes);
                self.written[slot] = Some(bytes);
            }
            let fresh = self.bound[slot]
                .as_ref()
                .is_some_and(|(view, filter, _)| view == layer.view && *filter == layer.filter);
            if fresh {
                continue;
            }
            let sampler = match layer.filter {
                Filter::Nearest => &self.nearest,
                Filter::Linear => &self.linear,
            };
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("composite"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: self.quads[slot].as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(layer.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::Sampler(sampler),
                    },
                ],
            });
            self.bound[slot] = Some((layer.view.clone(), layer.filter, group));
        }
        let pipelines = &self.pipelines[&target_format];
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("composite"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(clear),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        for (slot, bound) in self.bound.iter().enumerate() {
            let Some((_, _, group)) = bound.as_ref().filter(|_| drawn[slot]) else {
                continue;
            };
            pass.set_pipeline(if slot == 0 {
                &pipelines.opaque
            } else {
                &pipelines.blended
            });
            pass.set_bind_group(0, group, &[]);
            pass.draw(0..6, 0..1);
        }
    }
}
