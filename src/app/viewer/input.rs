//! The window's keyboard and pointer, into the guest: keys by position, the pointer in guest
//! pixels under every scale mode (the letterbox bars are not the guest's), buttons and wheel.
//!
//! Without a grab, the viewer keeps its own keys (F1, F3, F11, F12, and Esc in fullscreen) and
//! the guest gets every other; Ctrl+Alt+G grabs, and then every key goes to the guest, and
//! the viewer's keys are Ctrl+Alt+F1, F3, F11 and F12, as they are without a grab too.
//! Everything held is released when the window loses focus, so no key sticks in the guest.

use super::keymap::qcode_for;
use crate::app::guest_input::{GuestInput, InputState};
use vfio_display::geometry::{Point, Size};
use vfio_display::input::{self, Button, Held, InputEvent};
use vfio_display::render::Rect;
use winit::event::{MouseButton, MouseScrollDelta};
use winit::keyboard::{KeyCode, ModifiersState, PhysicalKey};

/// Where a key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRoute {
    /// To the guest (or, with input off, nowhere): the viewer does nothing with it.
    Guest,
    /// The viewer's own key: the viewer acts on it, the guest never sees it.
    Viewer,
    /// Ctrl+Alt+G: the grab was toggled.
    GrabToggled,
}

/// The viewer's keys: what they are, for the routing and for the key table in docs/beside-a-vm.md.
pub const VIEWER_KEYS: &[KeyCode] = &[KeyCode::F1, KeyCode::F3, KeyCode::F11, KeyCode::F12];

/// Wheel steps a pixel-precise scroll of this many pixels makes.
const PIXELS_PER_STEP: f64 = 50.0;

/// The window's input state.
pub struct ViewerInput {
    guest: GuestInput,
    held: Held,
    grabbed: bool,
    modifiers: ModifiersState,
    /// Where the pointer is in the guest (None: over the bars or outside the window).
    pointer: Option<Point>,
    /// Pixel scrolling not yet a whole wheel step.
    scroll_rest: f64,
}

impl ViewerInput {
    /// Input for `guest`.
    pub fn new(guest: GuestInput) -> Self {
        ViewerInput {
            guest,
            held: Held::default(),
            grabbed: false,
            modifiers: ModifiersState::empty(),
            pointer: None,
            scroll_rest: 0.0,
        }
    }

    /// True while every key goes to the guest.
    pub fn grabbed(&self) -> bool {
        self.grabbed
    }

    /// The overlay's line: where input goes, or why it goes nowhere.
    pub fn describe(&self) -> String {
        match self.guest.state() {
            InputState::Live(to) if self.grabbed => {
                format!("Input: grabbed, every key to {to} (Ctrl+Alt+G releases)")
            }
            InputState::Live(to) => format!(
                "Input: to {to}{} (Ctrl+Alt+G grabs every key)",
                self.pointer
                    .map_or(String::new(), |p| format!(", pointer at {},{}", p.x, p.y))
            ),
            state => {
                let mut line = state.describe();
                line.replace_range(..1, "I");
                line
            }
        }
    }

    /// winit's modifier state (for the host keys).
    pub fn modifiers(&mut self, modifiers: ModifiersState) {
        self.modifiers = modifiers;
    }

    fn host_keys_held(&self) -> bool {
        self.modifiers.control_key() && self.modifiers.alt_key()
    }

    /// Routes a key and sends it to the guest when it is the guest's. `fullscreen`: Esc then
    /// leaves fullscreen (when not grabbed).
    pub fn key(
        &mut self,
        physical: PhysicalKey,
        pressed: bool,
        repeat: bool,
        fullscreen: bool,
    ) -> KeyRoute {
        let code = match physical {
            PhysicalKey::Code(code) => Some(code),
            PhysicalKey::Unidentified(_) => None,
        };
        let live = self.guest.is_live();
        if self.host_keys_held() && code == Some(KeyCode::KeyG) {
            if pressed && !repeat && live {
                self.grabbed = !self.grabbed;
                return KeyRoute::GrabToggled;
            }
            if live {
                return KeyRoute::Viewer;
            }
        }
        let viewer_key = code.is_some_and(|c| VIEWER_KEYS.contains(&c))
            || (fullscreen && code == Some(KeyCode::Escape));
        if viewer_key && (self.host_keys_held() || !self.grabbed || !live) {
            return KeyRoute::Viewer;
        }
        // The guest's keyboard repeats by itself: the window's repeats would double it.
        if repeat || !live {
            return KeyRoute::Guest;
        }
        if let Some(key) = qcode_for(physical) {
            self.send(vec![InputEvent::Key { key, down: pressed }]);
        }
        KeyRoute::Guest
    }

    fn send(&mut self, events: Vec<InputEvent>) {
        let events: Vec<InputEvent> = events.into_iter().filter(|e| self.held.note(e)).collect();
        self.guest.send(events);
    }

    /// The pointer moved to `pos` (window pixels); the picture fills `rect` and is `frame`
    /// guest pixels. Returns the guest pixel, when the pointer is over the picture.
    pub fn moved(&mut self, pos: Point<f64>, rect: Rect, frame: Size) -> Option<Point> {
        self.pointer = guest_pixel(pos, rect, frame);
        if let Some(at) = self.pointer
            && self.guest.is_live()
        {
            self.send(vec![InputEvent::Move {
                x: input::abs_coordinate(at.x, frame.width),
                y: input::abs_coordinate(at.y, frame.height),
            }]);
        }
        self.pointer
    }

    /// The pointer left the window.
    pub fn left(&mut self) {
        self.pointer = None;
    }

    /// A button: pressed over the picture, or released (wherever: a drag may end outside).
    pub fn button(&mut self, button: MouseButton, pressed: bool) {
        let button = match button {
            MouseButton::Left => Button::Left,
            MouseButton::Middle => Button::Middle,
            MouseButton::Right => Button::Right,
            MouseButton::Back => Button::Side,
            MouseButton::Forward => Button::Extra,
            MouseButton::Other(_) => return,
        };
        if pressed && self.pointer.is_none() {
            return;
        }
        self.send(vec![InputEvent::Button {
            button,
            down: pressed,
        }]);
    }

    /// The wheel, over the picture: one click per line, or per `PIXELS_PER_STEP` pixels.
    pub fn wheel(&mut self, delta: MouseScrollDelta) {
        if self.pointer.is_none() {
            return;
        }
        let (dx, dy) = match delta {
            MouseScrollDelta::LineDelta(x, y) => (f64::from(x), f64::from(y)),
            MouseScrollDelta::PixelDelta(p) => {
                self.scroll_rest += p.y / PIXELS_PER_STEP;
                let steps = self.scroll_rest.trunc();
                self.scroll_rest -= steps;
                (0.0, steps)
            }
        };
        let mut events = Vec::new();
        for (amount, positive, negative) in [
            (dy, Button::WheelUp, Button::WheelDown),
            (dx, Button::WheelRight, Button::WheelLeft),
        ] {
            let button = if amount > 0.0 { positive } else { negative };
            for _ in 0..(amount.abs().round() as u32).min(32) {
                events.push(InputEvent::Button { button, down: true });
                events.push(InputEvent::Button {
                    button,
                    down: false,
                });
            }
        }
        self.send(events);
    }

    /// The window lost focus: release everything held and the grab.
    pub fn focus_lost(&mut self) {
        self.grabbed = false;
        self.modifiers = ModifiersState::empty();
        let releases = self.held.release_all();
        self.guest.send(releases);
    }
}

/// The guest pixel under window position `pos`, when it is over the picture drawn in `rect`.
pub fn guest_pixel(pos: Point<f64>, rect: Rect, frame: Size) -> Option<Point> {
    let (fx, fy) = (
        (pos.x - f64::from(rect.x)) / f64::from(rect.width),
        (pos.y - f64::from(rect.y)) / f64::from(rect.height),
    );
    if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
        return None;
    }
    let x = ((fx * f64::from(frame.width)) as u32).min(frame.width.saturating_sub(1));
    let y = ((fy * f64::from(frame.height)) as u32).min(frame.height.saturating_sub(1));
    Some(Point::new(x, y))
}

#[cfg(test)]
mod tests {
    use super::super::layout::{ScaleMode, place};
    use super::*;
    use vfio_display::input::{QCode, RecordingSink};

    fn settle(sink: &RecordingSink, input: &ViewerInput, n: usize) -> Vec<InputEvent> {
        // A marker through the same queue: once it is there, everything before it is too.
        let esc = QCode::from_name("unmapped").unwrap();
        input.guest.send(vec![InputEvent::Key {
            key: esc,
            down: true,
        }]);
        let start = std::time::Instant::now();
        loop {
            let events = sink.events();
            if events.last()
                == Some(&InputEvent::Key {
                    key: esc,
                    down: true,
                })
            {
                assert_eq!(events.len(), n + 1, "{events:?}");
                return events[..n].to_vec();
            }
            assert!(start.elapsed().as_secs() < 10, "{events:?}");
            std::thread::yield_now();
        }
    }

    fn key(name: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            key: QCode::from_name(name).unwrap(),
            down,
        }
    }

    #[test]
    fn window_positions_map_to_guest_pixels_in_every_scale_mode() {
        let frame = Size::new(640, 480);
        // Fit in a wide window: bars left and right.
        let (rect, _) = place(ScaleMode::Fit, frame, Size::new(1280, 720));
        assert_eq!((rect.x, rect.width), (160.0, 960.0));
        assert_eq!(guest_pixel(Point::new(159.0, 100.0), rect, frame), None);
        assert_eq!(
            guest_pixel(Point::new(160.0, 0.0), rect, frame),
            Some(Point::new(0, 0))
        );
        assert_eq!(
            guest_pixel(Point::new(1119.9, 719.9), rect, frame),
            Some(Point::new(639, 479))
        );
        assert_eq!(guest_pixel(Point::new(1120.0, 300.0), rect, frame), None);
        assert_eq!(
            guest_pixel(Point::new(640.0, 360.0), rect, frame),
            Some(Point::new(320, 240))
        );
        // 1:1 in a larger window: centered.
        let (rect, _) = place(ScaleMode::OneToOne, frame, Size::new(800, 600));
        assert_eq!(
            guest_pixel(Point::new(80.0, 60.0), rect, frame),
            Some(Point::new(0, 0))
        );
        assert_eq!(
            guest_pixel(Point::new(80.0 + 123.5, 60.0 + 45.2), rect, frame),
            Some(Point::new(123, 45))
        );
        assert_eq!(guest_pixel(Point::new(79.0, 60.0), rect, frame), None);
        // Integer scale 2 in 1400x1000: 1280x960 at (60, 20).
        let (rect, _) = place(ScaleMode::Integer, frame, Size::new(1400, 1000));
        assert_eq!(
            guest_pixel(
                Point::new(60.0 + 2.0 * 100.0 + 1.0, 20.0 + 2.0 * 7.0),
                rect,
                frame
            ),
            Some(Point::new(100, 7))
        );
    }

    #[test]
    fn keys_route_to_the_guest_the_viewer_or_the_grab() {
        let sink = RecordingSink::default();
        let mut input = ViewerInput::new(GuestInput::start(Box::new(sink.clone())));
        let code = |c| PhysicalKey::Code(c);
        assert_eq!(
            input.key(code(KeyCode::KeyA), true, false, false),
            KeyRoute::Guest
        );
        assert_eq!(
            input.key(code(KeyCode::KeyA), true, true, false),
            KeyRoute::Guest
        );
        assert_eq!(
            input.key(code(KeyCode::KeyA), false, false, false),
            KeyRoute::Guest
        );
        // F1 is the viewer's until the grab.
        assert_eq!(
            input.key(code(KeyCode::F1), true, false, false),
            KeyRoute::Viewer
        );
        assert_eq!(
            input.key(code(KeyCode::F1), false, false, false),
            KeyRoute::Viewer
        );
        input.key(code(KeyCode::ControlLeft), true, false, false);
        input.key(code(KeyCode::AltLeft), true, false, false);
        input.modifiers(ModifiersState::CONTROL | ModifiersState::ALT);
        assert_eq!(
            input.key(code(KeyCode::KeyG), true, false, false),
            KeyRoute::GrabToggled
        );
        assert!(input.grabbed());
        assert_eq!(
            input.key(code(KeyCode::KeyG), false, false, false),
            KeyRoute::Viewer
        );
        // Ctrl+Alt+F1 stays the viewer's under the grab.
        assert_eq!(
            input.key(code(KeyCode::F1), true, false, false),
            KeyRoute::Viewer
        );
        input.key(code(KeyCode::AltLeft), false, false, false);
        input.modifiers(ModifiersState::CONTROL);
        // Grabbed: F1 (and Esc in fullscreen) go to the guest.
        assert_eq!(
            input.key(code(KeyCode::F1), true, false, true),
            KeyRoute::Guest
        );
        assert_eq!(
            input.key(code(KeyCode::Escape), true, false, true),
            KeyRoute::Guest
        );
        // Focus lost: everything held comes back up, modifiers last; the grab ends.
        input.focus_lost();
        assert!(!input.grabbed());
        assert_eq!(
            settle(&sink, &input, 10),
            vec![
                key("a", true),
                key("a", false),
                key("ctrl", true),
                key("alt", true),
                key("alt", false),
                key("f1", true),
                key("esc", true),
                key("esc", false),
                key("f1", false),
                key("ctrl", false),
            ]
        );
    }
}
