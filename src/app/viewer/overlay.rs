//! The egui overlay (F1): what is on screen and how it got there, the EDID controls, and a
//! status banner that shows even when the overlay is hidden.

use super::counters::Counters;
use super::layout::ScaleMode;
use crate::app::edid::worker::EdidJob;
use crate::app::edid::worker::EdidReply;
use std::sync::atomic::Ordering;
use vfio_display::edid::Mode;
use vfio_display::fourcc;
use vfio_display::frame::Status;
use vfio_display::frame::{MIN_IRQ_INTERVAL, PumpStats, RefreshSource};
use vfio_display::render::GpuFrame;
use vfio_display::vfio::PlaneInfo;

/// The resolutions the EDID panel offers.
const MODES: [(u32, u32); 9] = [
    (640, 480),
    (800, 600),
    (1024, 768),
    (1280, 720),
    (1280, 1024),
    (1366, 768),
    (1920, 1080),
    (2560, 1440),
    (3840, 2160),
];

/// The overlay's own state.
pub struct State {
    pub shown: bool,
    has_edid: bool,
    selected: usize,
    custom: String,
    pub follow_window: bool,
    /// The current EDID, as the EDID worker described it.
    pub edid_text: String,
    /// The last action's result.
    pub message: Option<String>,
}

impl State {
    /// Takes the EDID worker's reply: the panel's EDID line always shows the device's EDID,
    /// and the message line the last action's outcome (which replaces "working...").
    pub fn on_edid(&mut self, reply: EdidReply) {
        match reply {
            EdidReply::Described(Ok(text)) => self.edid_text = text,
            EdidReply::Described(Err(err)) => self.edid_text = format!("cannot read it: {err}"),
            EdidReply::Done(Ok(text)) => self.message = Some(format!("EDID: {text}")),
            EdidReply::Done(Err(err)) => self.message = Some(format!("EDID: {err}")),
        }
    }

    /// The mode list selects the guest's mode when it has one, so "Apply" starts from what the
    /// guest shows.
    pub fn follow_guest(&mut self, width: u32, height: u32) {
        if let Some(i) = MODES.iter().position(|&m| m == (width, height)) {
            self.selected = i;
        }
    }

    pub fn new(shown: bool, has_edid: bool) -> Self {
        State {
            shown,
            has_edid,
            selected: 2,
            custom: String::new(),
            follow_window: false,
            edid_text: "reading...".into(),
            message: None,
        }
    }
}

/// What the overlay shows.
pub struct OverlayView<'a> {
    pub device: String,
    pub frame: Option<GpuFrame>,
    pub cursor: Option<PlaneInfo>,
    pub status: Status,
    pub scale: ScaleMode,
    pub source: RefreshSource,
    /// Where keyboard and pointer go.
    pub input: String,
    pub counters: &'a Counters,
    pub pump: &'a PumpStats,
}

/// What the user asked for.
pub enum OverlayAction {
    Screenshot,
    Edid(EdidJob),
    Scale(ScaleMode),
    Quit,
}

fn status_banner(ui: &mut egui::Ui, status: &Status) {
    let text = match status {
        Status::Showing => return,
        Status::Off => {
            "display off: the guest shows no primary plane (the last frame stays)".to_string()
        }
        Status::Lost { cause, .. } => format!("device lost: {cause}"),
        Status::Error { cause } => format!("cannot show the frame: {cause}"),
    };
    // At the bottom, in front: the overlay window sits at the top left and must not hide it.
    egui::Area::new(egui::Id::unique("status"))
        .order(egui::Order::Foreground)
        .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -8.0])
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.colored_label(egui::Color32::from_rgb(255, 120, 80), text);
            });
        });
}

pub fn ui(ui: &mut egui::Ui, state: &mut State, view: &OverlayView<'_>) -> Vec<OverlayAction> {
    let mut actions = Vec::new();
    status_banner(ui, &view.status);
    if !state.shown {
        return actions;
    }
    egui::Window::new("vfio-display (F1)")
        .default_pos([12.0, 12.0])
        .resizable(false)
        .show(ui.ctx(), |ui| {
            plane_panel(ui, view);
            ui.label(&view.input);
            refresh_panel(ui, view);
            scale_row(ui, view, &mut actions);
            ui.separator();
            if state.has_edid {
                edid_panel(ui, state, &mut actions);
                ui.separator();
            }
            ui.horizontal(|ui| {
                if ui.button("Screenshot (F12)").clicked() {
                    actions.push(OverlayAction::Screenshot);
                }
                if ui.button("Quit").clicked() {
                    actions.push(OverlayAction::Quit);
                }
            });
            if let Some(msg) = &state.message {
                ui.label(msg);
            }
        });
    actions
}

/// The device, the plane shown and how it is imported, and the cursor.
fn plane_panel(ui: &mut egui::Ui, view: &OverlayView<'_>) {
    ui.label(format!("Device: {}", view.device));
    match &view.frame {
        Some(f) => {
            let p = &f.plane;
            ui.label(format!(
                "Plane: {}x{} {} {}",
                p.width,
                p.height,
                fourcc::describe(p.drm_format),
                fourcc::describe_modifier(p.modifier)
            ));
            ui.label(format!(
                "stride {}, size {}, offset {}, {}",
                p.stride,
                p.size,
                p.offset,
                p.buffer_label()
            ));
            ui.label(format!("Import path: {}", f.path));
        }
        None => {
            ui.label("Plane: none yet");
        }
    }
    if let Some(c) = &view.cursor {
        ui.label(format!(
            "Cursor: {}x{} at ({}, {}), hotspot ({}, {})",
            c.width, c.height, c.x_pos as i32, c.y_pos as i32, c.x_hot as i32, c.y_hot as i32
        ));
    }
}

/// The frame rate and the refresh pump's source and counters.
fn refresh_panel(ui: &mut egui::Ui, view: &OverlayView<'_>) {
    ui.label(format!(
        "{:.1} fps, frame time {:.2} ms, {} presented",
        view.counters.fps, view.counters.frame_ms, view.counters.presented
    ));
    let interval = view.pump.interval_us.load(Ordering::Relaxed);
    let rate = match view.source {
        RefreshSource::Timer { .. } if interval > 0 => {
            format!(", now every {:.1} ms", f64::from(interval) / 1000.0)
        }
        _ => String::new(),
    };
    ui.label(format!("Refresh: {}{rate}", view.source));
    ui.label(format!(
        "{} wakes, {} interrupts, {} coalesced",
        view.pump.wakes.load(Ordering::Relaxed),
        view.pump.interrupts.load(Ordering::Relaxed),
        view.pump.coalesced.load(Ordering::Relaxed)
    ));
    let throttled = view.pump.throttled.load(Ordering::Relaxed);
    if view.pump.storms.load(Ordering::Relaxed) > 0 {
        ui.label(format!(
            "Interrupt storm: {throttled} interrupts held back (at most {} Hz)",
            1000 / MIN_IRQ_INTERVAL.as_millis()
        ));
    }
}

/// The scale modes, one button each.
fn scale_row(ui: &mut egui::Ui, view: &OverlayView<'_>, actions: &mut Vec<OverlayAction>) {
    ui.horizontal(|ui| {
        ui.label("Scale (F3):");
        for mode in [ScaleMode::Fit, ScaleMode::OneToOne, ScaleMode::Integer] {
            if ui
                .selectable_label(view.scale == mode, mode.name())
                .clicked()
            {
                actions.push(OverlayAction::Scale(mode));
            }
        }
    });
}

fn edid_panel(ui: &mut egui::Ui, state: &mut State, actions: &mut Vec<OverlayAction>) {
    ui.label(format!("EDID: {}", state.edid_text));
    ui.horizontal(|ui| {
        if ui.button("Link up").clicked() {
            actions.push(OverlayAction::Edid(EdidJob::Link(true)));
        }
        if ui.button("Link down").clicked() {
            actions.push(OverlayAction::Edid(EdidJob::Link(false)));
        }
    });
    ui.horizontal(|ui| {
        let (w, h) = MODES[state.selected];
        // Labelled, so that a screen reader (and the overlay's test) can name it.
        egui::ComboBox::from_label("mode")
            .selected_text(format!("{w}x{h}"))
            .show_ui(ui, |ui| {
                for (i, (w, h)) in MODES.iter().enumerate() {
                    ui.selectable_value(&mut state.selected, i, format!("{w}x{h}"));
                }
            });
        if ui.button("Apply").clicked() {
            actions.push(OverlayAction::Edid(EdidJob::Set(Mode::new(w, h, 60))));
        }
    });
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut state.custom)
                .hint_text("WxH[@HZ]")
                .desired_width(110.0),
        );
        if ui.button("Apply custom").clicked() {
            match state.custom.parse::<Mode>() {
                Ok(mode) => actions.push(OverlayAction::Edid(EdidJob::Set(mode))),
                Err(err) => state.message = Some(err.to_string()),
            }
        }
    });
    ui.checkbox(
        &mut state.follow_window,
        "Follow the window size (after 1 s)",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// The overlay and its status banner drawn headless (egui_kittest, on the test GPU), found
    /// by their labels, and compared pixel for pixel with `tests/snapshots/overlay.png`
    /// (`UPDATE_SNAPSHOTS=1` writes it anew after a deliberate change).
    #[test]
    fn the_overlay_shows_the_device_its_refresh_and_the_status() {
        let mut counters = Counters::default();
        (counters.presented, counters.refreshes) = (1234, 600);
        (counters.frame_ms, counters.fps) = (1.5, 60.0);
        let pump = PumpStats::default();
        let view = OverlayView {
            device: "simulated vGPU".into(),
            frame: None,
            cursor: None,
            status: Status::Off,
            scale: ScaleMode::Fit,
            source: RefreshSource::Timer { hz: 30.0 },
            input: "off (no VMM channel)".into(),
            counters: &counters,
            pump: &pump,
        };
        let mut state = State::new(true, true);
        let mut harness = Harness::builder()
            .with_size(egui::vec2(640.0, 480.0))
            .build_ui(|frame| {
                super::ui(frame, &mut state, &view);
            });
        harness.run();
        harness.get_by_label("Device: simulated vGPU");
        // Each line once (get_by_label refuses a label found twice).
        harness.get_by_label("off (no VMM channel)");
        harness.get_by_label("Refresh: timer at 30 Hz");
        harness.get_by_label_contains("display off");
        harness.snapshot("overlay");
    }

    #[test]
    fn edid_replies_keep_the_edid_and_end_working() {
        let mut state = State::new(true, true);
        state.message = Some("EDID: working...".into());
        state.on_edid(EdidReply::Described(Ok("link up; VFD 128 bytes".into())));
        state.on_edid(EdidReply::Done(Ok("link down".into())));
        assert_eq!(state.message.as_deref(), Some("EDID: link down"));
        assert_eq!(state.edid_text, "link up; VFD 128 bytes");
        state.on_edid(EdidReply::Done(Err("refused".into())));
        assert_eq!(state.message.as_deref(), Some("EDID: refused"));
    }

    #[test]
    fn the_mode_list_follows_the_guest() {
        let mut state = State::new(true, true);
        state.follow_guest(1920, 1080);
        assert_eq!(MODES[state.selected], (1920, 1080));
        // A mode the list does not have leaves the choice alone.
        state.follow_guest(1234, 567);
        assert_eq!(MODES[state.selected], (1920, 1080));
    }
}
