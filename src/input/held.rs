//! What one input source holds down, so that it can all be released when the source goes
//! away (a VNC client disconnects, the viewer loses focus or the grab): no key stays stuck in
//! the guest.

use super::{Button, InputEvent, QCode};
use std::collections::BTreeSet;

/// The keys and buttons one source holds.
#[derive(Debug, Default, Clone)]
pub struct Held {
    keys: BTreeSet<QCode>,
    buttons: BTreeSet<Button>,
}

impl Held {
    /// Notes an event that is being sent; returns false for one that changes nothing (a
    /// release of what is not held), which need not be sent.
    pub fn note(&mut self, event: &InputEvent) -> bool {
        match *event {
            InputEvent::Key { key, down: true } => {
                self.keys.insert(key);
                true
            }
            InputEvent::Key { key, down: false } => self.keys.remove(&key),
            InputEvent::Button { button, .. } if button.is_wheel() => true,
            InputEvent::Button { button, down: true } => {
                self.buttons.insert(button);
                true
            }
            InputEvent::Button {
                button,
                down: false,
            } => self.buttons.remove(&button),
            InputEvent::Move { .. } => true,
        }
    }

    /// True while either shift key is held.
    pub fn shift(&self) -> bool {
        self.keys.iter().any(|k| k.is_shift())
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.buttons.is_empty()
    }

    /// Whether `key` is held.
    pub fn holds(&self, key: QCode) -> bool {
        self.keys.contains(&key)
    }

    /// The releases of everything held (modifiers last, so that no shortcut fires on the
    /// way), and forgets it.
    pub fn release_all(&mut self) -> Vec<InputEvent> {
        let keys = std::mem::take(&mut self.keys);
        let buttons = std::mem::take(&mut self.buttons);
        let (modifiers, others): (Vec<QCode>, Vec<QCode>) =
            keys.into_iter().partition(|k| k.is_modifier());
        let mut out: Vec<InputEvent> = buttons
            .into_iter()
            .map(|button| InputEvent::Button {
                button,
                down: false,
            })
            .collect();
        out.extend(
            others
                .into_iter()
                .chain(modifiers)
                .map(|key| InputEvent::Key { key, down: false }),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            key: QCode::from_name(name).unwrap(),
            down,
        }
    }

    #[test]
    fn releases_what_is_held_modifiers_last() {
        let mut held = Held::default();
        assert!(held.note(&key("ctrl", true)));
        assert!(held.note(&key("c", true)));
        assert!(held.note(&InputEvent::Button {
            button: Button::Left,
            down: true
        }));
        assert!(held.note(&InputEvent::Button {
            button: Button::WheelUp,
            down: true
        }));
        assert!(!held.note(&key("x", false)));
        assert!(held.note(&key("shift_r", true)));
        assert!(held.shift());
        assert_eq!(
            held.release_all(),
            vec![
                InputEvent::Button {
                    button: Button::Left,
                    down: false
                },
                key("c", false),
                key("ctrl", false),
                key("shift_r", false),
            ]
        );
        assert!(held.is_empty());
        assert!(held.release_all().is_empty());
    }
}
