//! The viewer window: winit, a wgpu surface, the frame renderer and the egui overlay.

use super::edid_worker::{EdidJob, EdidReply};
use super::input::{KeyRoute, ViewerInput};
use super::layout::{ScaleMode, place};
use super::overlay::{self, OverlayAction, OverlayView};
use crate::app::output::{OutputPath, WriteMode, encode_png};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::edid::Mode;
use vfio_display::frame::session::error_chain;
use vfio_display::frame::{Pump, Session, Status};
use vfio_display::render::{FrameRenderer, GpuContext, GpuFrame, RenderError};
use vfio_display::vfio::PlaneInfo;
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow};
use winit::keyboard::{KeyCode, PhysicalKey};
use winit::window::{CursorGrabMode, Fullscreen, Window, WindowId};

/// "20261201-192128" for a time: the viewer's picture names sort by when they were taken (UTC,
/// so that names never go backwards when the clocks change).
pub fn utc_stamp(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil conversion, for the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Events from other threads.
#[derive(Debug)]
pub enum UserEvent {
    /// The pump says a new frame may be there.
    Refresh,
    /// The EDID worker replied.
    Edid(EdidReply),
    /// SIGINT or SIGTERM: close the window as if the user had, so the summary is printed.
    Quit,
}

/// What the user chose on the command line.
pub struct Options {
    pub scale: ScaleMode,
    pub overlay: bool,
    pub fullscreen: bool,
    pub exit_after: Option<Duration>,
}

struct WindowState {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
}

/// Statistics for the overlay and the exit summary.
#[derive(Default)]
pub struct Stats {
    pub presented: u64,
    pub refreshes: u64,
    pub frame_ms: f64,
    pub fps: f64,
    window_start: Option<Instant>,
    window_frames: u64,
    /// Pump wake to picture on screen, per refresh (bounded).
    pub latencies_ms: Vec<f64>,
    /// CPU time of each redraw (bounded).
    pub frame_times_ms: Vec<f64>,
    /// When the first frame was shown and the process's CPU time then: the steady-state cost
    /// (idle CPU) is measured from there, without the start-up.
    pub first_shown: Option<(Instant, Duration)>,
}

pub struct App<'a> {
    ctx: &'a GpuContext,
    dev: &'a dyn DisplayDevice,
    renderer: FrameRenderer<'a>,
    pump: &'a Pump,
    edid: Option<Sender<EdidJob>>,
    opts: Options,
    win: Option<WindowState>,
    /// The device's display state: status, planes, the loss and retry policy.
    session: Session<'a>,
    primary: Option<GpuFrame>,
    cursor: Option<PlaneInfo>,
    refresh_due: bool,
    started: Instant,
    pub stats: Stats,
    overlay: overlay::State,
    follow_deadline: Option<Instant>,
    pub error: Option<String>,
    retry_at: Option<Instant>,
    /// The guest's keyboard and pointer.
    input: ViewerInput,
    /// The warnings logged since the guest last showed (at most `WARNED_CAUSES`).
    warned: Vec<String>,
}

/// How many different warnings the viewer logs in one outage.
const WARNED_CAUSES: usize = 8;

impl<'a> App<'a> {
    pub fn new(
        ctx: &'a GpuContext,
        dev: &'a dyn DisplayDevice,
        renderer: FrameRenderer<'a>,
        pump: &'a Pump,
        edid: Option<Sender<EdidJob>>,
        opts: Options,
        input: ViewerInput,
    ) -> Self {
        let overlay = overlay::State::new(opts.overlay, edid.is_some());
        let session = Session::with_source(dev, renderer.reader().source());
        if let Some(tx) = &edid {
            let _ = tx.send(EdidJob::Read);
        }
        App {
            ctx,
            dev,
            renderer,
            pump,
            edid,
            opts,
            win: None,
            session,
            primary: None,
            cursor: None,
            refresh_due: true,
            started: Instant::now(),
            stats: Stats::default(),
            overlay,
            follow_deadline: None,
            error: None,
            retry_at: None,
            input,
            warned: Vec::new(),
        }
    }

    fn title(&self) -> String {
        let grab = if self.input.grabbed() {
            " (input grabbed: Ctrl+Alt+G releases)"
        } else {
            ""
        };
        match &self.primary {
            Some(f) => format!(
                "{} - {}x{} - vfio-display{grab}",
                self.dev.name(),
                f.plane.width,
                f.plane.height
            ),
            None => format!("{} - vfio-display{grab}", self.dev.name()),
        }
    }

    /// Queries the planes (the session decides what they mean) and brings them to the GPU;
    /// returns whether the picture changed.
    fn refresh(&mut self) -> bool {
        let before = (self.primary.map(|f| f.plane), self.cursor);
        let mut changed = self.session.refresh();
        if let Some(plane) = self.session.showing().copied() {
            match self.renderer.update_plane(&plane) {
                Ok(frame) => {
                    let resized = self.primary.is_none_or(|p| {
                        (p.plane.width, p.plane.height) != (frame.plane.width, frame.plane.height)
                    });
                    self.primary = Some(frame);
                    if resized {
                        self.overlay
                            .follow_guest(frame.plane.width, frame.plane.height);
                        if let Some(w) = &self.win {
                            w.window.set_title(&self.title());
                        }
                    }
                }
                Err(RenderError::Frame(err)) => {
                    changed.status |= self.session.note_failure(&err).status
                }
                Err(err) => {
                    changed.status |= self.session.note_error(None, error_chain(&err)).status
                }
            }
        }
        if changed.status {
            self.log_status(before.0.is_none());
        }
        // The cursor the session kept (across a loss too) is drawn; it is imported only while
        // the device answers.
        self.cursor = self.session.cursor().copied();
        if let Some(cursor) = self.cursor
            && *self.session.status() == Status::Showing
            && let Err(err) = self.renderer.update_plane(&cursor)
        {
            tracing::debug!("cursor not imported: {err}");
            self.cursor = None;
        }
        before != (self.primary.map(|f| f.plane), self.cursor)
    }

    /// Logs the status a refresh ended in, once per cause: a failure that repeats on every
    /// frame (an import the driver refuses, a plane that never validates) is one warning, and
    /// the status banner shows it for as long as it lasts.
    fn log_status(&mut self, first_picture: bool) {
        let text = match self.session.status() {
            // The first picture is no news; one after an outage is.
            Status::Showing => {
                if !first_picture && !self.warned.is_empty() {
                    tracing::warn!("showing the guest again");
                }
                self.warned.clear();
                return;
            }
            Status::Off => "display off: the guest shows no primary plane".to_string(),
            Status::Lost { cause, .. } => format!("device lost (keeping the last frame): {cause}"),
            Status::Error { cause } => format!("cannot show the frame: {cause}"),
        };
        if self.warned.contains(&text) {
            tracing::debug!("{text} (again)");
        } else if self.warned.len() < WARNED_CAUSES {
            tracing::warn!("{text}");
            self.warned.push(text);
        } else {
            // Causes that change every time (a counter in the message) stop here.
            tracing::debug!("{text}");
        }
    }

    fn create_window(&mut self, el: &ActiveEventLoop) -> Result<(), String> {
        // The first window size follows the guest mode, within the monitor.
        let mut size = self
            .primary
            .map_or((1024, 768), |f| (f.plane.width, f.plane.height));
        if let Some(monitor) = el.primary_monitor() {
            let m = monitor.size();
            if m.width > 0 && m.height > 0 && (size.0 > m.width || size.1 > m.height) {
                let scale =
                    (m.width as f32 / size.0 as f32).min(m.height as f32 / size.1 as f32) * 0.9;
                size = (
                    (size.0 as f32 * scale) as u32,
                    (size.1 as f32 * scale) as u32,
                );
            }
        }
        let attrs = Window::default_attributes()
            .with_title(self.title())
            .with_window_icon(super::icon::window_icon())
            .with_inner_size(PhysicalSize::new(size.0.max(64), size.1.max(64)));
        let window = Arc::new(
            el.create_window(attrs)
                .map_err(|e| format!("cannot create a window: {e}"))?,
        );
        let surface = self
            .ctx
            .instance
            .create_surface(window.clone())
            .map_err(|e| format!("cannot create a GPU surface for the window: {e}"))?;
        let caps = surface.get_capabilities(&self.ctx.adapter);
        // A non-sRGB format: the guest's bytes go to the screen unchanged.
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
        let inner = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: inner.width.max(1),
            height: inner.height.max(1),
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .iter()
                .copied()
                .find(|m| *m == wgpu::CompositeAlphaMode::Opaque)
                .unwrap_or(caps.alpha_modes[0]),
            view_formats: vec![],
        };
        surface.configure(&self.ctx.device, &config);
        let egui_ctx = egui::Context::default();
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(self.ctx.device.limits().max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(
            &self.ctx.device,
            format,
            egui_wgpu::RendererOptions::default(),
        );
        if self.opts.fullscreen {
            window.set_fullscreen(Some(Fullscreen::Borderless(None)));
        }
        self.win = Some(WindowState {
            window,
            surface,
            config,
            egui_ctx,
            egui_state,
            egui_renderer,
        });
        Ok(())
    }

    fn screenshot(&mut self) -> String {
        let dir = std::env::current_dir().unwrap_or_default();
        let stamp = utc_stamp(std::time::SystemTime::now());
        let mut path = dir.join(format!("vfio-display-{stamp}.png"));
        let result = self
            .renderer
            .render_offscreen(true)
            .map_err(|e| error_chain(&e))
            .and_then(|shot| shot.ok_or_else(|| "no plane to capture".to_string()))
            .and_then(|(image, frame)| {
                encode_png(&image, frame.format.has_alpha).map_err(|e| format!("{e:#}"))
            })
            .and_then(|png| {
                // The name is the program's choice: never replace a file that has it already
                // (two pictures in one second get -2, -3, ...).
                for n in 2..=100 {
                    let written = OutputPath::resolve(&path)
                        .and_then(|out| out.write(&png, WriteMode::NoClobber));
                    match written {
                        Ok(()) => return Ok(()),
                        Err(e) if std::fs::symlink_metadata(&path).is_ok() => {
                            tracing::debug!("{e:#}; trying another name");
                            path = dir.join(format!("vfio-display-{stamp}-{n}.png"));
                        }
                        Err(e) => return Err(format!("{e:#}")),
                    }
                }
                Err("100 pictures this second already".to_string())
            });
        match result {
            Ok(()) => {
                // On stdout for scripts; a closed stdout must not cost the user the picture.
                let _ = crate::app::output::stdio::write_out(format_args!(
                    "Screenshot: {}\n",
                    path.display()
                ));
                format!("Saved {}", path.display())
            }
            Err(err) => format!("Screenshot failed: {err}"),
        }
    }

    /// The viewer's own keys: F1 overlay, F3 scale, F11 fullscreen, Esc leaves fullscreen, F12
    /// screenshot. Matched by position, so that Ctrl+Alt+F1 (which X turns into a VT switch
    /// keysym) is F1 too.
    fn viewer_key(&mut self, key: PhysicalKey) {
        let Some(win) = self.win.as_ref() else { return };
        let PhysicalKey::Code(code) = key else { return };
        match code {
            KeyCode::F1 => self.overlay.shown = !self.overlay.shown,
            KeyCode::F3 => self.opts.scale = self.opts.scale.next(),
            KeyCode::F11 => {
                let full = win.window.fullscreen().is_some();
                win.window
                    .set_fullscreen((!full).then_some(Fullscreen::Borderless(None)));
            }
            KeyCode::Escape if win.window.fullscreen().is_some() => {
                win.window.set_fullscreen(None);
            }
            KeyCode::F12 => {
                let msg = self.screenshot();
                self.overlay.message = Some(msg);
            }
            _ => {}
        }
    }

    /// The window follows the grab: the host pointer confined to the window and hidden (the
    /// guest draws its own), and the title says how to leave.
    fn show_grab(&mut self) {
        let grabbed = self.input.grabbed();
        let title = self.title();
        let Some(win) = self.win.as_ref() else { return };
        if grabbed {
            let confined = win
                .window
                .set_cursor_grab(CursorGrabMode::Confined)
                .or_else(|_| win.window.set_cursor_grab(CursorGrabMode::Locked));
            if let Err(err) = confined {
                tracing::info!("cannot confine the pointer: {err}");
            }
        } else {
            let _ = win.window.set_cursor_grab(CursorGrabMode::None);
        }
        win.window.set_cursor_visible(!grabbed);
        win.window.set_title(&title);
        self.overlay.message = Some(if grabbed {
            "input grabbed: every key goes to the guest (Ctrl+Alt+G releases)".into()
        } else {
            "input released".into()
        });
    }

    fn handle_actions(&mut self, actions: Vec<OverlayAction>, el: &ActiveEventLoop) {
        for action in actions {
            match action {
                OverlayAction::Screenshot => {
                    let msg = self.screenshot();
                    self.overlay.message = Some(msg);
                }
                OverlayAction::Edid(job) => {
                    if let Some(tx) = &self.edid {
                        let _ = tx.send(job);
                        self.overlay.message = Some("EDID: working...".into());
                    }
                }
                OverlayAction::Scale(mode) => self.opts.scale = mode,
                OverlayAction::Quit => el.exit(),
            }
        }
    }

    fn redraw(&mut self, el: &ActiveEventLoop) {
        let t0 = Instant::now();
        let refreshed = std::mem::take(&mut self.refresh_due);
        let changed = if refreshed {
            self.stats.refreshes += 1;
            self.refresh()
        } else {
            false
        };
        let Some(win) = self.win.as_mut() else { return };
        let frame = match win.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                win.surface.configure(&self.ctx.device, &win.config);
                win.window.request_redraw();
                return;
            }
            other => {
                tracing::warn!("no surface texture: {other:?}");
                return;
            }
        };
        let view = frame.texture.create_view(&Default::default());
        let size = (win.config.width, win.config.height);
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let frame_size = self
            .primary
            .map_or((1, 1), |f| (f.plane.width, f.plane.height));
        let (rect, filter) = place(self.opts.scale, frame_size, size);
        self.renderer.compose(
            &mut encoder,
            &view,
            win.config.format,
            size,
            rect,
            filter,
            self.cursor.as_ref(),
            wgpu::Color::BLACK,
        );
        // The overlay (and the status banner, shown even with the overlay hidden).
        let raw_input = win.egui_state.take_egui_input(&win.window);
        let view_model = OverlayView {
            device: self.dev.name(),
            frame: self.primary,
            cursor: self.cursor,
            status: self.session.status().clone(),
            scale: self.opts.scale,
            source: self.pump.source,
            input: self.input.describe(),
            stats: &self.stats,
            pump: &self.pump.stats,
        };
        let mut actions = Vec::new();
        let mut output = win.egui_ctx.run_ui(raw_input, |ui| {
            actions = overlay::ui(ui, &mut self.overlay, &view_model);
        });
        win.egui_state
            .handle_platform_output(&win.window, output.platform_output);
        let jobs = win
            .egui_ctx
            .tessellate(output.shapes, output.pixels_per_point);
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [size.0, size.1],
            pixels_per_point: output.pixels_per_point,
        };
        for (id, deltas) in &output.textures_delta.set {
            for delta in deltas {
                win.egui_renderer
                    .update_texture(&self.ctx.device, &self.ctx.queue, *id, delta);
            }
        }
        win.egui_renderer.update_buffers(
            &self.ctx.device,
            &self.ctx.queue,
            &mut encoder,
            &jobs,
            &screen,
        );
        {
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("overlay"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        depth_slice: None,
                        resolve_target: None,
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
        self.ctx.queue.submit([encoder.finish()]);
        win.window.pre_present_notify();
        self.ctx.queue.present(frame);
        let now = Instant::now();
        if refreshed {
            self.pump.presented(changed);
            if self.stats.latencies_ms.len() < 100_000 {
                let latency = now.saturating_duration_since(self.pump.last_wake());
                self.stats.latencies_ms.push(latency.as_secs_f64() * 1000.0);
            }
        }
        self.stats.presented += 1;
        self.stats.frame_ms = (now - t0).as_secs_f64() * 1000.0;
        if self.stats.frame_times_ms.len() < 100_000 {
            self.stats.frame_times_ms.push(self.stats.frame_ms);
        }
        let start = *self.stats.window_start.get_or_insert(now);
        self.stats.window_frames += 1;
        if now - start >= Duration::from_secs(1) {
            self.stats.fps = self.stats.window_frames as f64 / (now - start).as_secs_f64();
            self.stats.window_start = Some(now);
            self.stats.window_frames = 0;
        }
        if self.stats.first_shown.is_none() && self.primary.is_some() {
            self.stats.first_shown = Some((now, crate::app::cpu_time::process_cpu()));
            if let Some(f) = &self.primary {
                // A closed stdout must not close the window: the line is for scripts only.
                let _ = crate::app::output::stdio::write_out(format_args!(
                    "Showing {}: {}x{} {} via the {} path, refresh from {}\n",
                    self.dev.name(),
                    f.plane.width,
                    f.plane.height,
                    f.format.name,
                    f.path,
                    self.pump.source
                ));
            }
        }
        if output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .is_some_and(|v| v.repaint_delay.is_zero())
        {
            win.window.request_redraw();
        }
        self.handle_actions(actions, el);
    }
}

impl ApplicationHandler<UserEvent> for App<'_> {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.win.is_some() {
            return;
        }
        // The first frame before the window, so that the window can take the guest's size.
        self.refresh_due = false;
        self.refresh();
        self.refresh_due = true;
        if let Err(err) = self.create_window(el) {
            self.error = Some(err);
            el.exit();
        }
    }

    fn user_event(&mut self, el: &ActiveEventLoop, event: UserEvent) {
        match event {
            UserEvent::Refresh => {
                self.refresh_due = true;
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            }
            UserEvent::Edid(reply) => {
                self.overlay.on_edid(reply);
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            }
            UserEvent::Quit => el.exit(),
        }
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(win) = self.win.as_mut() else { return };
        let response = win.egui_state.on_window_event(&win.window, &event);
        // egui asks to repaint after every redraw too; answering that would spin forever.
        if response.repaint && !matches!(event, WindowEvent::RedrawRequested) {
            win.window.request_redraw();
        }
        match event {
            WindowEvent::CloseRequested => el.exit(),
            WindowEvent::Resized(size) => {
                win.config.width = size.width.max(1);
                win.config.height = size.height.max(1);
                win.surface.configure(&self.ctx.device, &win.config);
                win.window.request_redraw();
                if self.overlay.follow_window {
                    self.follow_deadline = Some(Instant::now() + Duration::from_secs(1));
                }
            }
            WindowEvent::RedrawRequested => self.redraw(el),
            WindowEvent::ModifiersChanged(modifiers) => self.input.modifiers(modifiers.state()),
            WindowEvent::Focused(false) => {
                self.input.focus_lost();
                self.show_grab();
            }
            // A key already down when the window took the focus was pressed for another window
            // (the Enter that started the viewer from a terminal): the guest never sees it, and
            // its release then changes nothing. Keys held when the focus goes are released by
            // focus_lost, so the window's made-up releases are not needed either.
            WindowEvent::KeyboardInput {
                is_synthetic: true,
                event,
                ..
            } => tracing::debug!(
                "key {:?} from the focus change, not sent",
                event.physical_key
            ),
            WindowEvent::KeyboardInput { event, .. } if !response.consumed => {
                let pressed = event.state == ElementState::Pressed;
                let fullscreen = win.window.fullscreen().is_some();
                match self
                    .input
                    .key(event.physical_key, pressed, event.repeat, fullscreen)
                {
                    KeyRoute::Guest => {}
                    KeyRoute::GrabToggled => self.show_grab(),
                    KeyRoute::Viewer if pressed => self.viewer_key(event.physical_key),
                    KeyRoute::Viewer => {}
                }
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                let size = (win.config.width, win.config.height);
                let frame = self
                    .primary
                    .map_or((1, 1), |f| (f.plane.width, f.plane.height));
                let (rect, _) = place(self.opts.scale, frame, size);
                self.input.moved((position.x, position.y), rect, frame);
                if self.overlay.shown {
                    win.window.request_redraw();
                }
            }
            WindowEvent::CursorLeft { .. } => self.input.left(),
            WindowEvent::MouseInput { state, button, .. } if !response.consumed => {
                self.input.button(button, state == ElementState::Pressed);
            }
            WindowEvent::MouseWheel { delta, .. } if !response.consumed => {
                self.input.wheel(delta);
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, el: &ActiveEventLoop) {
        if let Some(limit) = self.opts.exit_after
            && self.started.elapsed() >= limit
        {
            el.exit();
            return;
        }
        if let Some(deadline) = self.follow_deadline
            && Instant::now() >= deadline
        {
            self.follow_deadline = None;
            if let (Some(win), Some(tx)) = (&self.win, &self.edid) {
                let size = win.window.inner_size();
                let _ = tx.send(EdidJob::Set(Mode::new(
                    size.width.max(64),
                    size.height.max(64),
                    60,
                )));
            }
        }
        // While the device is off, lost or failing, look again every second (a plane that
        // comes back resumes); otherwise sleep until the pump or the user wakes us.
        let mut wake_at = self.follow_deadline;
        if *self.session.status() != Status::Showing {
            let now = Instant::now();
            let retry = *self.retry_at.get_or_insert(now + Duration::from_secs(1));
            if now >= retry {
                self.retry_at = None;
                self.refresh_due = true;
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            } else {
                wake_at = Some(wake_at.map_or(retry, |w| w.min(retry)));
            }
        } else {
            self.retry_at = None;
        }
        if let Some(limit) = self.opts.exit_after {
            let end = self.started + limit;
            wake_at = Some(wake_at.map_or(end, |w| w.min(end)));
        }
        el.set_control_flow(match wake_at {
            Some(at) => ControlFlow::WaitUntil(at),
            None => ControlFlow::Wait,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::utc_stamp;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        // 2024-02-29 23:59:59 (a leap day) and 2026-12-01 19:21:28.
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc_stamp(at(1_709_251_199)), "20240229-235959");
        assert_eq!(utc_stamp(at(1_796_152_888)), "20261201-192128");
    }
}
