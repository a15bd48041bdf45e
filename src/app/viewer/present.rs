//! The overlay's part of a redraw: egui's UI for this frame, tessellated and drawn over the
//! composed guest picture in a pass of its own.

use super::overlay::{self, OverlayAction, OverlayView};
use super::window::WindowState;
use vfio_display::render::GpuContext;

/// What the overlay pass leaves for the caller.
pub struct OverlayOutcome {
    /// What the user asked for in the overlay this frame.
    pub actions: Vec<OverlayAction>,
    /// egui wants the next frame at once (an animation, a hovered widget).
    pub repaint_now: bool,
}

/// Runs the overlay's UI (and the status banner, shown even with the overlay hidden) and
/// records its drawing over `view` into `encoder`.
pub fn draw_overlay(
    win: &mut WindowState,
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    view: &wgpu::TextureView,
    state: &mut overlay::State,
    model: &OverlayView<'_>,
) -> OverlayOutcome {
    let raw_input = win.egui_state.take_egui_input(&win.window);
    let mut actions = Vec::new();
    let mut output = win.egui_ctx.run_ui(raw_input, |ui| {
        actions = overlay::ui(ui, state, model);
    });
    win.egui_state
        .handle_platform_output(&win.window, output.platform_output);
    let jobs = win
        .egui_ctx
        .tessellate(output.shapes, output.pixels_per_point);
    let size = win.size();
    let screen = egui_wgpu::ScreenDescriptor {
        size_in_pixels: [size.width, size.height],
        pixels_per_point: output.pixels_per_point,
    };
    for (id, deltas) in &output.textures_delta.set {
        for delta in deltas {
            win.egui_renderer
                .update_texture(&ctx.device, &ctx.queue, *id, delta);
        }
    }
    win.egui_renderer
        .update_buffers(&ctx.device, &ctx.queue, encoder, &jobs, &screen);
    {
        let mut pass = encoder
            .begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("overlay"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    // Over the guest picture composed before this pass.
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            })
            .forget_lifetime();
        win.egui_renderer.render(&mut pass, &jobs, &screen);
    }
    for id in &output.textures_delta.free {
        win.egui_renderer.free_texture(id);
    }
    // Every delta was applied above.
    output.textures_delta.clear();
    let repaint_now = output
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .is_some_and(|v| v.repaint_delay.is_zero());
    OverlayOutcome {
        actions,
        repaint_now,
    }
}
