//! The viewer's window: the winit window, its wgpu surface and the egui state bound to it.

use std::sync::Arc;
use vfio_display::geometry::Size;
use vfio_display::render::GpuContext;
use winit::dpi::PhysicalSize;
use winit::event_loop::ActiveEventLoop;
use winit::window::{Fullscreen, Window};

/// The window and what draws into it.
pub struct WindowState {
    pub window: Arc<Window>,
    pub surface: wgpu::Surface<'static>,
    pub config: wgpu::SurfaceConfiguration,
    pub egui_ctx: egui::Context,
    pub egui_state: egui_winit::State,
    pub egui_renderer: egui_wgpu::Renderer,
}

/// The first window size: the guest's mode (1024x768 before it has one), shrunk to 90% of the
/// monitor when it would not fit.
pub fn first_size(el: &ActiveEventLoop, guest: Option<Size>) -> Size {
    let size = guest.unwrap_or(Size::new(1024, 768));
    let Some(monitor) = el.primary_monitor() else {
        return size;
    };
    let m = monitor.size();
    if m.width == 0 || m.height == 0 || (size.width <= m.width && size.height <= m.height) {
        return size;
    }
    let scale =
        (m.width as f32 / size.width as f32).min(m.height as f32 / size.height as f32) * 0.9;
    Size::new(
        (size.width as f32 * scale) as u32,
        (size.height as f32 * scale) as u32,
    )
}

impl WindowState {
    /// Opens a window of `size` with its surface and overlay renderer.
    pub fn open(
        el: &ActiveEventLoop,
        ctx: &GpuContext,
        size: Size,
        title: &str,
        fullscreen: bool,
    ) -> Result<Self, String> {
        let attrs = Window::default_attributes()
            .with_title(title)
            .with_window_icon(super::icon::window_icon())
            .with_inner_size(PhysicalSize::new(size.width.max(64), size.height.max(64)));
        let window = Arc::new(
            el.create_window(attrs)
                .map_err(|e| format!("cannot create a window: {e}"))?,
        );
        let surface = ctx
            .instance
            .create_surface(window.clone())
            .map_err(|e| format!("cannot create a GPU surface for the window: {e}"))?;
        let config = surface_config(&surface, ctx, window.inner_size())?;
        surface.configure(&ctx.device, &config);
        let egui_ctx = egui::Context::default();
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(ctx.device.limits().max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(
            &ctx.device,
            config.format,
            egui_wgpu::RendererOptions::default(),
        );
        if fullscreen {
            window.set_fullscreen(Some(Fullscreen::Borderless(None)));
        }
        Ok(WindowState {
            window,
            surface,
            config,
            egui_ctx,
            egui_state,
            egui_renderer,
        })
    }

    /// The surface's size in pixels.
    pub fn size(&self) -> Size {
        Size::new(self.config.width, self.config.height)
    }

    /// Follows a new window size.
    pub fn resize(&mut self, ctx: &GpuContext, size: PhysicalSize<u32>) {
        self.config.width = size.width.max(1);
        self.config.height = size.height.max(1);
        self.surface.configure(&ctx.device, &self.config);
        self.window.request_redraw();
    }

    /// The texture to draw the next frame into, or None when there is none this time (an
    /// outdated surface is configured again and a redraw asked for).
    pub fn next_texture(&mut self, ctx: &GpuContext) -> Option<wgpu::SurfaceTexture> {
        match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => Some(f),
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&ctx.device, &self.config);
                self.window.request_redraw();
                None
            }
            other => {
                tracing::warn!("no surface texture: {other:?}");
                None
            }
        }
    }
}

/// The surface's configuration: a non-sRGB format, so that the guest's bytes go to the screen
/// unchanged; opaque when the compositor allows; vsync (FIFO).
fn surface_config(
    surface: &wgpu::Surface<'_>,
    ctx: &GpuContext,
    inner: PhysicalSize<u32>,
) -> Result<wgpu::SurfaceConfiguration, String> {
    let caps = surface.get_capabilities(&ctx.adapter);
    let format = caps
        .formats
        .iter()
        .copied()
        .find(|f| {
            matches!(
                f,
                wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Rgba8Unorm
            )
        })
        .or_else(|| caps.formats.first().copied())
        .ok_or("the GPU cannot present to this window")?;
    let alpha_mode = caps
        .alpha_modes
        .iter()
        .copied()
        .find(|m| *m == wgpu::CompositeAlphaMode::Opaque)
        .or_else(|| caps.alpha_modes.first().copied())
        .unwrap_or(wgpu::CompositeAlphaMode::Auto);
    Ok(wgpu::SurfaceConfiguration {
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        format,
        color_space: wgpu::SurfaceColorSpace::Auto,
        width: inner.width.max(1),
        height: inner.height.max(1),
        present_mode: wgpu::PresentMode::Fifo,
        desired_maximum_frame_latency: 2,
        alpha_mode,
        view_formats: vec![],
    })
}
