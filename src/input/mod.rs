//! Keyboard and pointer input for the guest. The VFIO display interface has no input path, so
//! input goes through the VMM: this module holds what every front end shares (the event type,
//! QEMU's key names, X keysyms to keys, the keys and buttons held) and the `InputSink` trait a
//! VMM channel implements. Nothing here does I/O.

mod held;
mod keysym;
pub mod openqa;
mod qcode;
mod sink;

pub use held::Held;
pub use keysym::{KeysymKey, keysym_to_key};
pub use qcode::{KEYS, QCode};
pub use sink::{InputError, InputSink, RecordingSink};

/// The largest absolute pointer coordinate: QEMU scales both axes to 0..=0x7fff whatever the
/// screen size, and the guest's tablet scales back to its screen.
pub const ABS_MAX: u32 = 0x7fff;

/// A pointer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Button {
    /// The left button.
    Left,
    /// The middle button (the wheel pressed).
    Middle,
    /// The right button.
    Right,
    /// One step of the wheel away from the user.
    WheelUp,
    /// One step of the wheel towards the user.
    WheelDown,
    /// The side ("back") button.
    Side,
    /// The extra ("forward") button.
    Extra,
    /// One step of a horizontal wheel to the left.
    WheelLeft,
    /// One step of a horizontal wheel to the right.
    WheelRight,
}

impl Button {
    /// QEMU's name for the button.
    pub fn name(self) -> &'static str {
        match self {
            Button::Left => "left",
            Button::Middle => "middle",
            Button::Right => "right",
            Button::WheelUp => "wheel-up",
            Button::WheelDown => "wheel-down",
            Button::Side => "side",
            Button::Extra => "extra",
            Button::WheelLeft => "wheel-left",
            Button::WheelRight => "wheel-right",
        }
    }

    /// Wheel steps are clicks: pressed and released at once, never held.
    pub fn is_wheel(self) -> bool {
        matches!(
            self,
            Button::WheelUp | Button::WheelDown | Button::WheelLeft | Button::WheelRight
        )
    }
}

/// One input event, as the guest's emulated keyboard and tablet receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// A key pressed or released.
    Key {
        /// The key.
        key: QCode,
        /// Pressed (else released).
        down: bool,
    },
    /// A button pressed or released.
    Button {
        /// The button.
        button: Button,
        /// Pressed (else released).
        down: bool,
    },
    /// The pointer's absolute position, each axis in 0..=`ABS_MAX`.
    Move {
        /// Left to right.
        x: u32,
        /// Top to bottom.
        y: u32,
    },
}

/// The absolute coordinate of pixel `pos` of a screen `size` pixels long: the middle of the
/// pixel, so that a guest that scales back (by `size / 0x7fff` or `size / 0x8000`, rounding
/// down) lands on the same pixel. Positions past the screen are clamped to its edge.
pub fn abs_coordinate(pos: u32, size: u32) -> u32 {
    let size = u64::from(size.max(1));
    let pos = u64::from(pos).min(size - 1);
    ((2 * pos + 1) * u64::from(ABS_MAX) / (2 * size)) as u32
}

/// The pixel an absolute coordinate lands on, as Linux's tablet drivers compute it (evdev
/// range 0..=0x7fff scaled to the screen): for tests and for what the overlay shows.
pub fn pixel_of(abs: u32, size: u32) -> u32 {
    (u64::from(abs.min(ABS_MAX)) * u64::from(size) / u64::from(ABS_MAX + 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_coordinates_land_back_on_the_same_pixel() {
        for size in [1u32, 2, 3, 640, 1024, 1080, 1920, 2160, 3840, 7680, 16384] {
            for pos in [0, 1, size / 3, size / 2, size.saturating_sub(2), size - 1] {
                let abs = abs_coordinate(pos, size);
                assert!(abs <= ABS_MAX);
                assert_eq!(pixel_of(abs, size), pos.min(size - 1), "{pos} of {size}");
                // A guest that divides by 0x7fff instead rounds to the same pixel too.
                let other = (u64::from(abs) * u64::from(size) / u64::from(ABS_MAX)) as u32;
                assert_eq!(
                    other.min(size - 1),
                    pos.min(size - 1),
                    "{pos} of {size} (0x7fff)"
                );
            }
        }
        assert_eq!(abs_coordinate(5000, 100), abs_coordinate(99, 100));
        assert_eq!(abs_coordinate(0, 0), ABS_MAX / 2);
    }
}
