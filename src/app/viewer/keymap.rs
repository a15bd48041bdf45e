//! The window's keys to QEMU's: winit names a key by its position (the W3C `code`), as QEMU's
//! qcodes do, so the guest's own layout decides what a key types.

use vfio_display::input::QCode;
use winit::keyboard::{KeyCode, PhysicalKey};

/// Every winit key that has a QEMU key.
const TABLE: &[(KeyCode, &str)] = &[
    (KeyCode::Backquote, "grave_accent"),
    (KeyCode::Backslash, "backslash"),
    (KeyCode::BracketLeft, "bracket_left"),
    (KeyCode::BracketRight, "bracket_right"),
    (KeyCode::Comma, "comma"),
    (KeyCode::Digit0, "0"),
    (KeyCode::Digit1, "1"),
    (KeyCode::Digit2, "2"),
    (KeyCode::Digit3, "3"),
    (KeyCode::Digit4, "4"),
    (KeyCode::Digit5, "5"),
    (KeyCode::Digit6, "6"),
    (KeyCode::Digit7, "7"),
    (KeyCode::Digit8, "8"),
    (KeyCode::Digit9, "9"),
    (KeyCode::Equal, "equal"),
    (KeyCode::IntlBackslash, "less"),
    (KeyCode::IntlRo, "ro"),
    (KeyCode::IntlYen, "yen"),
    (KeyCode::KeyA, "a"),
    (KeyCode::KeyB, "b"),
    (KeyCode::KeyC, "c"),
    (KeyCode::KeyD, "d"),
    (KeyCode::KeyE, "e"),
    (KeyCode::KeyF, "f"),
    (KeyCode::KeyG, "g"),
    (KeyCode::KeyH, "h"),
    (KeyCode::KeyI, "i"),
    (KeyCode::KeyJ, "j"),
    (KeyCode::KeyK, "k"),
    (KeyCode::KeyL, "l"),
    (KeyCode::KeyM, "m"),
    (KeyCode::KeyN, "n"),
    (KeyCode::KeyO, "o"),
    (KeyCode::KeyP, "p"),
    (KeyCode::KeyQ, "q"),
    (KeyCode::KeyR, "r"),
    (KeyCode::KeyS, "s"),
    (KeyCode::KeyT, "t"),
    (KeyCode::KeyU, "u"),
    (KeyCode::KeyV, "v"),
    (KeyCode::KeyW, "w"),
    (KeyCode::KeyX, "x"),
    (KeyCode::KeyY, "y"),
    (KeyCode::KeyZ, "z"),
    (KeyCode::Minus, "minus"),
    (KeyCode::Period, "dot"),
    (KeyCode::Quote, "apostrophe"),
    (KeyCode::Semicolon, "semicolon"),
    (KeyCode::Slash, "slash"),
    (KeyCode::AltLeft, "alt"),
    (KeyCode::AltRight, "alt_r"),
    (KeyCode::Backspace, "backspace"),
    (KeyCode::CapsLock, "caps_lock"),
    (KeyCode::ContextMenu, "compose"),
    (KeyCode::ControlLeft, "ctrl"),
    (KeyCode::ControlRight, "ctrl_r"),
    (KeyCode::Enter, "ret"),
    (KeyCode::SuperLeft, "meta_l"),
    (KeyCode::SuperRight, "meta_r"),
    (KeyCode::ShiftLeft, "shift"),
    (KeyCode::ShiftRight, "shift_r"),
    (KeyCode::Space, "spc"),
    (KeyCode::Tab, "tab"),
    (KeyCode::Convert, "henkan"),
    (KeyCode::KanaMode, "katakanahiragana"),
    (KeyCode::Lang1, "lang1"),
    (KeyCode::Lang2, "lang2"),
    (KeyCode::Lang4, "hiragana"),
    (KeyCode::Hiragana, "hiragana"),
    (KeyCode::NonConvert, "muhenkan"),
    (KeyCode::Delete, "delete"),
    (KeyCode::End, "end"),
    (KeyCode::Help, "help"),
    (KeyCode::Home, "home"),
    (KeyCode::Insert, "insert"),
    (KeyCode::PageDown, "pgdn"),
    (KeyCode::PageUp, "pgup"),
    (KeyCode::ArrowDown, "down"),
    (KeyCode::ArrowLeft, "left"),
    (KeyCode::ArrowRight, "right"),
    (KeyCode::ArrowUp, "up"),
    (KeyCode::NumLock, "num_lock"),
    (KeyCode::Numpad0, "kp_0"),
    (KeyCode::Numpad1, "kp_1"),
    (KeyCode::Numpad2, "kp_2"),
    (KeyCode::Numpad3, "kp_3"),
    (KeyCode::Numpad4, "kp_4"),
    (KeyCode::Numpad5, "kp_5"),
    (KeyCode::Numpad6, "kp_6"),
    (KeyCode::Numpad7, "kp_7"),
    (KeyCode::Numpad8, "kp_8"),
    (KeyCode::Numpad9, "kp_9"),
    (KeyCode::NumpadAdd, "kp_add"),
    (KeyCode::NumpadComma, "kp_comma"),
    (KeyCode::NumpadDecimal, "kp_decimal"),
    (KeyCode::NumpadDivide, "kp_divide"),
    (KeyCode::NumpadEnter, "kp_enter"),
    (KeyCode::NumpadEqual, "kp_equals"),
    (KeyCode::NumpadMultiply, "kp_multiply"),
    (KeyCode::NumpadSubtract, "kp_subtract"),
    (KeyCode::Escape, "esc"),
    (KeyCode::PrintScreen, "print"),
    (KeyCode::ScrollLock, "scroll_lock"),
    (KeyCode::Pause, "pause"),
    (KeyCode::BrowserBack, "ac_back"),
    (KeyCode::BrowserFavorites, "ac_bookmarks"),
    (KeyCode::BrowserForward, "ac_forward"),
    (KeyCode::BrowserHome, "ac_home"),
    (KeyCode::BrowserRefresh, "ac_refresh"),
    (KeyCode::BrowserStop, "stop"),
    (KeyCode::LaunchApp1, "computer"),
    (KeyCode::LaunchApp2, "calculator"),
    (KeyCode::LaunchMail, "mail"),
    (KeyCode::MediaPlayPause, "audioplay"),
    (KeyCode::MediaSelect, "mediaselect"),
    (KeyCode::MediaStop, "audiostop"),
    (KeyCode::MediaTrackNext, "audionext"),
    (KeyCode::MediaTrackPrevious, "audioprev"),
    (KeyCode::Power, "power"),
    (KeyCode::Sleep, "sleep"),
    (KeyCode::WakeUp, "wake"),
    (KeyCode::AudioVolumeDown, "volumedown"),
    (KeyCode::AudioVolumeMute, "audiomute"),
    (KeyCode::AudioVolumeUp, "volumeup"),
    (KeyCode::Again, "again"),
    (KeyCode::Copy, "copy"),
    (KeyCode::Cut, "cut"),
    (KeyCode::Find, "find"),
    (KeyCode::Open, "open"),
    (KeyCode::Paste, "paste"),
    (KeyCode::Props, "props"),
    (KeyCode::Undo, "undo"),
    (KeyCode::F1, "f1"),
    (KeyCode::F2, "f2"),
    (KeyCode::F3, "f3"),
    (KeyCode::F4, "f4"),
    (KeyCode::F5, "f5"),
    (KeyCode::F6, "f6"),
    (KeyCode::F7, "f7"),
    (KeyCode::F8, "f8"),
    (KeyCode::F9, "f9"),
    (KeyCode::F10, "f10"),
    (KeyCode::F11, "f11"),
    (KeyCode::F12, "f12"),
    (KeyCode::F13, "f13"),
    (KeyCode::F14, "f14"),
    (KeyCode::F15, "f15"),
    (KeyCode::F16, "f16"),
    (KeyCode::F17, "f17"),
    (KeyCode::F18, "f18"),
    (KeyCode::F19, "f19"),
    (KeyCode::F20, "f20"),
    (KeyCode::F21, "f21"),
    (KeyCode::F22, "f22"),
    (KeyCode::F23, "f23"),
    (KeyCode::F24, "f24"),
];

/// QEMU keys no window system key names, and why: they cannot come from the viewer.
#[cfg(test)]
const NOT_FROM_A_WINDOW: &[(&str, &str)] = &[
    ("unmapped", "QEMU's placeholder for no key"),
    ("menu", "the Sun Menu key; the PC menu key is `compose`"),
    (
        "sysrq",
        "keyboards send Alt+PrintScreen, which is `print` with `alt`",
    ),
    ("asterisk", "the same scancode as kp_multiply"),
    ("lf", "the Sun Linefeed key"),
    ("front", "the Sun Front key"),
];

/// The QEMU key at the physical position `key`.
pub fn qcode_for(key: PhysicalKey) -> Option<QCode> {
    let PhysicalKey::Code(code) = key else {
        return None;
    };
    TABLE
        .iter()
        .find(|(c, _)| *c == code)
        .and_then(|(_, name)| QCode::from_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::input::KEYS;

    #[test]
    fn every_qemu_key_comes_from_a_window_key_or_is_listed_why_not() {
        for (name, _) in KEYS {
            let from_window = TABLE.iter().any(|(_, n)| n == name);
            let excused = NOT_FROM_A_WINDOW.iter().any(|(n, _)| n == name);
            assert!(
                from_window != excused,
                "{name}: mapped {from_window}, excused {excused}"
            );
        }
        for (code, name) in TABLE {
            assert!(QCode::from_name(name).is_some(), "{code:?} -> {name}");
        }
        assert_eq!(
            qcode_for(PhysicalKey::Code(KeyCode::ShiftRight)).map(QCode::name),
            Some("shift_r")
        );
        assert_eq!(qcode_for(PhysicalKey::Code(KeyCode::Fn)), None);
    }
}
