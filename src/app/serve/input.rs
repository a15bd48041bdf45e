//! VNC clients' keys and pointer, into the guest: KeyEvent keysyms (US layout) or QEMU's
//! extended key events (raw scancodes, layout-independent), PointerEvent positions and
//! buttons. Each client's held keys and buttons are released when it goes; with `--shared no`
//! the first client to type or point holds input until it disconnects.

use crate::app::guest_input::GuestInput;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use vfio_display::geometry::Size;
use vfio_display::input::{self, Button, Held, InputEvent, QCode, keysym_to_key};

/// The RFB pointer mask's buttons, bit by bit (RFC 6143 section 7.5.5 and the wheel
/// convention every client follows).
const MASK_BUTTONS: [Button; 7] = [
    Button::Left,
    Button::Middle,
    Button::Right,
    Button::WheelUp,
    Button::WheelDown,
    Button::WheelLeft,
    Button::WheelRight,
];

/// Input for the whole server.
pub struct ServerInput {
    guest: GuestInput,
    view_only: bool,
    shared: bool,
    owner: Mutex<Option<u64>>,
    next_id: AtomicU64,
    refused_said: AtomicBool,
}

impl ServerInput {
    /// Input into `guest`; `view_only` drops it all; without `shared` one client at a time.
    pub fn new(guest: GuestInput, view_only: bool, shared: bool) -> Self {
        ServerInput {
            guest,
            view_only,
            shared,
            owner: Mutex::new(None),
            next_id: AtomicU64::new(1),
            refused_said: AtomicBool::new(false),
        }
    }

    /// True when clients' input goes anywhere (so the server offers extended key events).
    pub fn accepts(&self) -> bool {
        !self.view_only && self.guest.is_live()
    }

    /// What the server says about input at start.
    pub fn describe(&self) -> String {
        if self.view_only {
            "input: off (--view-only)".into()
        } else {
            self.guest.state().describe()
        }
    }

    /// A new client's input state.
    pub fn client(&self) -> ClientInput<'_> {
        ClientInput {
            server: self,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            held: Held::default(),
            buttons: 0,
            faked_shift: None,
        }
    }

    /// May client `id` send input now? Takes the input for it when nobody holds it.
    fn may_send(&self, id: u64) -> bool {
        if !self.accepts() {
            if !self.refused_said.swap(true, Ordering::Relaxed) {
                errln!(
                    "vfio-display: input from VNC clients is dropped: {}",
                    self.describe()
                );
            }
            return false;
        }
        if self.shared {
            return true;
        }
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        match *owner {
            Some(holder) => holder == id,
            None => {
                *owner = Some(id);
                true
            }
        }
    }

    fn release(&self, id: u64) {
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        if *owner == Some(id) {
            *owner = None;
        }
    }
}

/// One client's input.
pub struct ClientInput<'a> {
    server: &'a ServerInput,
    id: u64,
    held: Held,
    buttons: u8,
    /// The key whose press pressed Shift for it (a shifted keysym sent without Shift).
    faked_shift: Option<QCode>,
}

impl ClientInput<'_> {
    fn send(&mut self, events: Vec<InputEvent>) {
        if !self.server.may_send(self.id) {
            return;
        }
        let events: Vec<InputEvent> = events.into_iter().filter(|e| self.held.note(e)).collect();
        self.server.guest.send(events);
    }

    /// A KeyEvent: the keysym's key on a US layout, with Shift pressed around it when the
    /// character needs Shift and the client holds none.
    pub fn keysym(&mut self, keysym: u32, down: bool) {
        let Some(k) = keysym_to_key(keysym) else {
            tracing::debug!("keysym {keysym:#x} has no key on a US layout: dropped");
            return;
        };
        let shift = QCode::from_name("shift").expect("QEMU names the shift key");
        let mut events = Vec::new();
        if down && k.shifted && !self.held.shift() {
            events.push(InputEvent::Key {
                key: shift,
                down: true,
            });
            events.push(InputEvent::Key {
                key: k.key,
                down: true,
            });
            events.push(InputEvent::Key {
                key: shift,
                down: false,
            });
            self.faked_shift = Some(k.key);
        } else {
            events.push(InputEvent::Key { key: k.key, down });
        }
        if !down && self.faked_shift == Some(k.key) {
            self.faked_shift = None;
        }
        self.send(events);
    }

    /// QEMU's extended key event: the scancode decides the key (the keysym only when the
    /// scancode is 0, as clients send for keys they cannot place).
    pub fn scancode(&mut self, keysym: u32, keycode: u32, down: bool) {
        match QCode::from_qnum(keycode) {
            Some(key) => self.send(vec![InputEvent::Key { key, down }]),
            None if keycode == 0 => self.keysym(keysym, down),
            None => tracing::debug!("scancode {keycode:#x} names no key: dropped"),
        }
    }

    /// A PointerEvent at (`x`, `y`) on a `screen`-sized framebuffer, with button `mask`.
    pub fn pointer(&mut self, mask: u8, x: u16, y: u16, screen: Size) {
        let mut events = vec![InputEvent::Move {
            x: input::abs_coordinate(u32::from(x), screen.width),
            y: input::abs_coordinate(u32::from(y), screen.height),
        }];
        let changed = mask ^ self.buttons;
        for (bit, &button) in MASK_BUTTONS.iter().enumerate() {
            if changed & (1 << bit) == 0 {
                continue;
            }
            let down = mask & (1 << bit) != 0;
            // A wheel step is its press; the release that follows carries nothing.
            if button.is_wheel() && !down {
                continue;
            }
            events.push(InputEvent::Button { button, down });
            if button.is_wheel() {
                events.push(InputEvent::Button {
                    button,
                    down: false,
                });
            }
        }
        self.buttons = mask;
        self.send(events);
    }

    /// The client is gone: release what it held, and the input if it held it.
    pub fn end(&mut self) {
        let releases = self.held.release_all();
        if !releases.is_empty() && self.server.accepts() {
            self.server.guest.send(releases);
        }
        self.server.release(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::input::RecordingSink;

    fn key(name: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            key: QCode::from_name(name).unwrap(),
            down,
        }
    }

    fn recorded(sink: &RecordingSink, n: usize) -> Vec<InputEvent> {
        let start = std::time::Instant::now();
        while sink.events().len() < n {
            assert!(start.elapsed().as_secs() < 10, "{:?}", sink.events());
            std::thread::yield_now();
        }
        sink.events()
    }

    #[test]
    fn keysyms_become_keys_with_shift_where_the_character_needs_it() {
        let sink = RecordingSink::default();
        let server = ServerInput::new(GuestInput::start(Box::new(sink.clone())), false, true);
        let mut client = server.client();
        client.keysym(u32::from(b'A'), true);
        client.keysym(u32::from(b'A'), false);
        // With Shift held by the client, no Shift is added.
        client.keysym(0xffe1, true);
        client.keysym(u32::from(b'!'), true);
        client.keysym(u32::from(b'!'), false);
        client.keysym(0xffe1, false);
        client.keysym(0xe9, true); // é: no key, dropped
        client.scancode(0, 0x9d, true); // right Ctrl by scancode
        client.end();
        assert_eq!(
            recorded(&sink, 10),
            vec![
                key("shift", true),
                key("a", true),
                key("shift", false),
                key("a", false),
                key("shift", true),
                key("1", true),
                key("1", false),
                key("shift", false),
                key("ctrl_r", true),
                key("ctrl_r", false),
            ]
        );
    }

    #[test]
    fn pointer_masks_become_moves_buttons_and_wheel_clicks() {
        let sink = RecordingSink::default();
        let server = ServerInput::new(GuestInput::start(Box::new(sink.clone())), false, true);
        let mut client = server.client();
        client.pointer(0b1, 0, 0, Size::new(640, 480));
        client.pointer(0b1000, 639, 479, Size::new(640, 480));
        client.pointer(0, 639, 479, Size::new(640, 480));
        let events = recorded(&sink, 7);
        let (x0, y0) = (input::abs_coordinate(0, 640), input::abs_coordinate(0, 480));
        let (x1, y1) = (
            input::abs_coordinate(639, 640),
            input::abs_coordinate(639, 480),
        );
        assert_eq!(
            events,
            vec![
                InputEvent::Move { x: x0, y: y0 },
                InputEvent::Button {
                    button: Button::Left,
                    down: true
                },
                InputEvent::Move { x: x1, y: y1 },
                InputEvent::Button {
                    button: Button::Left,
                    down: false
                },
                InputEvent::Button {
                    button: Button::WheelUp,
                    down: true
                },
                InputEvent::Button {
                    button: Button::WheelUp,
                    down: false
                },
                InputEvent::Move { x: x1, y: y1 },
            ]
        );
    }

    #[test]
    fn unshared_input_belongs_to_the_first_client_until_it_goes() {
        let sink = RecordingSink::default();
        let server = ServerInput::new(GuestInput::start(Box::new(sink.clone())), false, false);
        let mut first = server.client();
        let mut second = server.client();
        first.keysym(u32::from(b'x'), true);
        second.keysym(u32::from(b'y'), true);
        first.end();
        second.keysym(u32::from(b'z'), true);
        second.end();
        let events = recorded(&sink, 4);
        assert_eq!(
            events,
            vec![
                key("x", true),
                key("x", false),
                key("z", true),
                key("z", false)
            ]
        );
    }

    #[test]
    fn view_only_sends_nothing() {
        let sink = RecordingSink::default();
        let server = ServerInput::new(GuestInput::start(Box::new(sink.clone())), true, true);
        assert!(!server.accepts());
        let mut client = server.client();
        client.keysym(u32::from(b'x'), true);
        client.pointer(1, 5, 5, Size::new(10, 10));
        client.end();
        // A marker through the same queue: once it arrives, anything sent before it has too.
        server.guest.send(vec![key("esc", true)]);
        assert_eq!(recorded(&sink, 1), vec![key("esc", true)]);
    }
}
