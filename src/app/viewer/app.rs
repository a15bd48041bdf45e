//! The viewer's event loop: winit's events routed to the window, the guest picture, the input
//! and the overlay. A redraw is refresh -> compose -> overlay pass -> present -> account.

use super::counters::Counters;
use super::input::{KeyRoute, ViewerInput};
use super::layout::{ScaleMode, place};
use super::overlay::{self, OverlayAction, OverlayView};
use super::picture::GuestPicture;
use super::present::draw_overlay;
use super::window::{WindowState, first_size};
use crate::app::edid::worker::{EdidJob, EdidReply};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::edid::Mode;
use vfio_display::frame::Pump;
use vfio_display::geometry::{Point, Size};
use vfio_display::render::{DrawTarget, FrameRenderer, GpuContext};
use winit::application::ApplicationHandler;
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow};
use winit::keyboard::{KeyCode, PhysicalKey};
use winit::window::{CursorGrabMode, Fullscreen, WindowId};

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
#[derive(Debug)]
pub struct Options {
    pub scale: ScaleMode,
    pub overlay: bool,
    pub fullscreen: bool,
    pub exit_after: Option<Duration>,
}

pub struct App<'a> {
    ctx: &'a GpuContext,
    dev: &'a dyn DisplayDevice,
    pump: &'a Pump,
    edid: Option<Sender<EdidJob>>,
    opts: Options,
    win: Option<WindowState>,
    guest: GuestPicture<'a>,
    refresh_due: bool,
    started: Instant,
    pub counters: Counters,
    overlay: overlay::State,
    follow_deadline: Option<Instant>,
    pub error: Option<String>,
    /// The guest's keyboard and pointer.
    input: ViewerInput,
}

impl<'a> App<'a> {
    pub fn new(
        ctx: &'a GpuContext,
        renderer: FrameRenderer<'a>,
        pump: &'a Pump,
        edid: Option<Sender<EdidJob>>,
        opts: Options,
        input: ViewerInput,
    ) -> Self {
        let dev = renderer.reader().device();
        let overlay = overlay::State::new(opts.overlay, edid.is_some());
        if let Some(tx) = &edid {
            let _ = tx.send(EdidJob::Read);
        }
        App {
            ctx,
            dev,
            pump,
            edid,
            opts,
            win: None,
            guest: GuestPicture::new(dev, renderer),
            refresh_due: true,
            started: Instant::now(),
            counters: Counters::default(),
            overlay,
            follow_deadline: None,
            error: None,
            input,
        }
    }

    fn title(&self) -> String {
        let grab = if self.input.grabbed() {
            " (input grabbed: Ctrl+Alt+G releases)"
        } else {
            ""
        };
        match &self.guest.primary {
            Some(f) => format!(
                "{} - {}x{} - vfio-display{grab}",
                self.dev.name(),
                f.plane.width,
                f.plane.height
            ),
            None => format!("{} - vfio-display{grab}", self.dev.name()),
        }
    }

    /// Refreshes the guest picture; a new mode retitles the window and moves the overlay's
    /// mode list to it. Returns whether the picture changed.
    fn refresh(&mut self) -> bool {
        let refreshed = self.guest.refresh();
        if let Some(size) = refreshed.resized {
            self.overlay.follow_guest(size.width, size.height);
            if let Some(w) = &self.win {
                w.window.set_title(&self.title());
            }
        }
        refreshed.changed
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
                self.overlay.message = Some(super::snapshot::save(&mut self.guest.renderer));
            }
            _ => {}
        }
    }

    /// A key the overlay did not take: to the guest, or to the viewer's own keys.
    fn key(&mut self, event: &KeyEvent) {
        let pressed = event.state == ElementState::Pressed;
        let fullscreen = self
            .win
            .as_ref()
            .is_some_and(|w| w.window.fullscreen().is_some());
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
                    self.overlay.message = Some(super::snapshot::save(&mut self.guest.renderer));
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

    /// One frame: refresh (when the pump or a retry asked), compose the guest picture, draw the
    /// overlay over it, present, and account for it.
    fn redraw(&mut self, el: &ActiveEventLoop) {
        let began = Instant::now();
        let refreshed = std::mem::take(&mut self.refresh_due);
        let changed = refreshed && {
            self.counters.refreshes += 1;
            self.refresh()
        };
        let Some(win) = self.win.as_mut() else { return };
        let Some(frame) = win.next_texture(self.ctx) else {
            return;
        };
        let view = frame.texture.create_view(&Default::default());
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let target = DrawTarget {
            view: &view,
            format: win.config.format,
            size: win.size(),
        };
        let (rect, filter) = place(self.opts.scale, self.guest.frame_size(), target.size);
        let cursor = self.guest.cursor;
        self.guest.renderer.compose(
            &mut encoder,
            &target,
            rect,
            filter,
            cursor.as_ref(),
            wgpu::Color::BLACK,
        );
        let model = OverlayView {
            device: self.dev.name(),
            frame: self.guest.primary,
            cursor,
            status: self.guest.session.status().clone(),
            scale: self.opts.scale,
            source: self.pump.source,
            input: self.input.describe(),
            counters: &self.counters,
            pump: &self.pump.stats,
        };
        let outcome = draw_overlay(
            win,
            self.ctx,
            &mut encoder,
            &view,
            &mut self.overlay,
            &model,
        );
        self.ctx.queue.submit([encoder.finish()]);
        win.window.pre_present_notify();
        self.ctx.queue.present(frame);
        if outcome.repaint_now {
            win.window.request_redraw();
        }
        self.account(began, refreshed, changed);
        self.handle_actions(outcome.actions, el);
    }

    /// The end of a redraw: the counters, the pump told what the refresh found, and the line
    /// scripts wait for once the guest is first on screen.
    fn account(&mut self, began: Instant, refreshed: bool, changed: bool) {
        let now = Instant::now();
        if refreshed {
            self.pump.presented(changed);
        }
        let woken_at = refreshed.then(|| self.pump.last_wake());
        self.counters.presented(began, now, woken_at);
        let Some(f) = &self.guest.primary else { return };
        if self
            .counters
            .first_frame(now, crate::app::cpu_time::process_cpu())
        {
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

    /// The window was resized: after a second without another resize, the guest is offered
    /// the window's size as its preferred mode (when the overlay follows the window).
    fn follow_window_size(&mut self, now: Instant) {
        let Some(deadline) = self.follow_deadline else {
            return;
        };
        if now < deadline {
            return;
        }
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
}

impl ApplicationHandler<UserEvent> for App<'_> {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.win.is_some() {
            return;
        }
        // The first frame before the window, so that the window can take the guest's size.
        self.refresh();
        let guest = self
            .guest
            .primary
            .map(|f| Size::new(f.plane.width, f.plane.height));
        let size = first_size(el, guest);
        match WindowState::open(el, self.ctx, size, &self.title(), self.opts.fullscreen) {
            Ok(win) => self.win = Some(win),
            Err(err) => {
                self.error = Some(err);
                el.exit();
            }
        }
    }

    fn user_event(&mut self, el: &ActiveEventLoop, event: UserEvent) {
        match event {
            UserEvent::Refresh => self.refresh_due = true,
            UserEvent::Edid(reply) => self.overlay.on_edid(reply),
            UserEvent::Quit => return el.exit(),
        }
        if let Some(w) = &self.win {
            w.window.request_redraw();
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
                win.resize(self.ctx, size);
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
            WindowEvent::KeyboardInput { event, .. } if !response.consumed => self.key(&event),
            WindowEvent::CursorMoved { position, .. } => {
                let frame = self.guest.frame_size();
                let (rect, _) = place(self.opts.scale, frame, win.size());
                self.input
                    .moved(Point::new(position.x, position.y), rect, frame);
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
        let now = Instant::now();
        let end = self.opts.exit_after.map(|limit| self.started + limit);
        if end.is_some_and(|end| now >= end) {
            return el.exit();
        }
        self.follow_window_size(now);
        // While the device is off, lost or failing, the session says when to look again (a
        // plane that comes back resumes); otherwise sleep until the pump or the user wakes us.
        let mut wake_at = self.follow_deadline;
        if let Some(again) = self.guest.session.look_again_at() {
            if now >= again {
                self.refresh_due = true;
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            } else {
                wake_at = Some(wake_at.map_or(again, |w| w.min(again)));
            }
        }
        if let Some(end) = end {
            wake_at = Some(wake_at.map_or(end, |w| w.min(end)));
        }
        el.set_control_flow(match wake_at {
            Some(at) => ControlFlow::WaitUntil(at),
            None => ControlFlow::Wait,
        });
    }
}
