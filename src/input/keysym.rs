//! X keysyms (what a VNC client's KeyEvent carries) to keys on a US-layout PC keyboard. A keysym
//! names a character, not a key, so a character typed with Shift ('A', '!') comes with the
//! fact that Shift makes it: a client that sends the keysym without pressing Shift itself (as
//! scripted clients do) still gets the character it meant.

use super::QCode;

/// A key and whether the character needs Shift on a US layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysymKey {
    /// The key.
    pub key: QCode,
    /// The keysym is the key's shifted character.
    pub shifted: bool,
}

/// The US layout's printable characters, from space (0x20) to tilde (0x7e): the key and
/// whether Shift is held.
const PRINTABLE: [(&str, bool); 95] = [
    ("spc", false),           // space
    ("1", true),              // !
    ("apostrophe", true),     // "
    ("3", true),              // #
    ("4", true),              // $
    ("5", true),              // %
    ("7", true),              // &
    ("apostrophe", false),    // '
    ("9", true),              // (
    ("0", true),              // )
    ("8", true),              // *
    ("equal", true),          // +
    ("comma", false),         // ,
    ("minus", false),         // -
    ("dot", false),           // .
    ("slash", false),         // /
    ("0", false),             // 0
    ("1", false),             // 1
    ("2", false),             // 2
    ("3", false),             // 3
    ("4", false),             // 4
    ("5", false),             // 5
    ("6", false),             // 6
    ("7", false),             // 7
    ("8", false),             // 8
    ("9", false),             // 9
    ("semicolon", true),      // :
    ("semicolon", false),     // ;
    ("comma", true),          // <
    ("equal", false),         // =
    ("dot", true),            // >
    ("slash", true),          // ?
    ("2", true),              // @
    ("a", true),              // A
    ("b", true),              // B
    ("c", true),              // C
    ("d", true),              // D
    ("e", true),              // E
    ("f", true),              // F
    ("g", true),              // G
    ("h", true),              // H
    ("i", true),              // I
    ("j", true),              // J
    ("k", true),              // K
    ("l", true),              // L
    ("m", true),              // M
    ("n", true),              // N
    ("o", true),              // O
    ("p", true),              // P
    ("q", true),              // Q
    ("r", true),              // R
    ("s", true),              // S
    ("t", true),              // T
    ("u", true),              // U
    ("v", true),              // V
    ("w", true),              // W
    ("x", true),              // X
    ("y", true),              // Y
    ("z", true),              // Z
    ("bracket_left", false),  // [
    ("backslash", false),     // \
    ("bracket_right", false), // ]
    ("6", true),              // ^
    ("minus", true),          // _
    ("grave_accent", false),  // `
    ("a", false),             // a
    ("b", false),             // b
    ("c", false),             // c
    ("d", false),             // d
    ("e", false),             // e
    ("f", false),             // f
    ("g", false),             // g
    ("h", false),             // h
    ("i", false),             // i
    ("j", false),             // j
    ("k", false),             // k
    ("l", false),             // l
    ("m", false),             // m
    ("n", false),             // n
    ("o", false),             // o
    ("p", false),             // p
    ("q", false),             // q
    ("r", false),             // r
    ("s", false),             // s
    ("t", false),             // t
    ("u", false),             // u
    ("v", false),             // v
    ("w", false),             // w
    ("x", false),             // x
    ("y", false),             // y
    ("z", false),             // z
    ("bracket_left", true),   // {
    ("backslash", true),      // |
    ("bracket_right", true),  // }
    ("grave_accent", true),   // ~
];

/// Keysyms of keys that type no character (X11's keysymdef.h, 0xff00 page and a few others).
const FUNCTION_KEYS: &[(u32, &str)] = &[
    (0xff08, "backspace"),
    (0xff09, "tab"),
    (0xfe20, "tab"), // ISO_Left_Tab: Shift+Tab
    (0xff0a, "lf"),
    (0xff0d, "ret"),
    (0xff13, "pause"),
    (0xff14, "scroll_lock"),
    (0xff15, "sysrq"),
    (0xff1b, "esc"),
    (0xff50, "home"),
    (0xff51, "left"),
    (0xff52, "up"),
    (0xff53, "right"),
    (0xff54, "down"),
    (0xff55, "pgup"),
    (0xff56, "pgdn"),
    (0xff57, "end"),
    (0xff61, "print"),
    (0xff63, "insert"),
    (0xff65, "undo"),
    (0xff66, "again"),
    (0xff67, "compose"),
    (0xff68, "find"),
    (0xff69, "stop"),
    (0xff6a, "help"),
    (0xff6b, "pause"), // Break
    (0xff7f, "num_lock"),
    (0xff8d, "kp_enter"),
    (0xff95, "kp_7"), // KP_Home and the other keypad keys with Num Lock off
    (0xff96, "kp_4"),
    (0xff97, "kp_8"),
    (0xff98, "kp_6"),
    (0xff99, "kp_2"),
    (0xff9a, "kp_9"),
    (0xff9b, "kp_3"),
    (0xff9c, "kp_1"),
    (0xff9d, "kp_5"),
    (0xff9e, "kp_0"),
    (0xff9f, "kp_decimal"),
    (0xffaa, "kp_multiply"),
    (0xffab, "kp_add"),
    (0xffac, "kp_comma"),
    (0xffad, "kp_subtract"),
    (0xffae, "kp_decimal"),
    (0xffaf, "kp_divide"),
    (0xffb0, "kp_0"),
    (0xffb1, "kp_1"),
    (0xffb2, "kp_2"),
    (0xffb3, "kp_3"),
    (0xffb4, "kp_4"),
    (0xffb5, "kp_5"),
    (0xffb6, "kp_6"),
    (0xffb7, "kp_7"),
    (0xffb8, "kp_8"),
    (0xffb9, "kp_9"),
    (0xffbd, "kp_equals"),
    (0xffbe, "f1"),
    (0xffbf, "f2"),
    (0xffc0, "f3"),
    (0xffc1, "f4"),
    (0xffc2, "f5"),
    (0xffc3, "f6"),
    (0xffc4, "f7"),
    (0xffc5, "f8"),
    (0xffc6, "f9"),
    (0xffc7, "f10"),
    (0xffc8, "f11"),
    (0xffc9, "f12"),
    (0xffca, "f13"),
    (0xffcb, "f14"),
    (0xffcc, "f15"),
    (0xffcd, "f16"),
    (0xffce, "f17"),
    (0xffcf, "f18"),
    (0xffd0, "f19"),
    (0xffd1, "f20"),
    (0xffd2, "f21"),
    (0xffd3, "f22"),
    (0xffd4, "f23"),
    (0xffd5, "f24"),
    (0xffe1, "shift"),
    (0xffe2, "shift_r"),
    (0xffe3, "ctrl"),
    (0xffe4, "ctrl_r"),
    (0xffe5, "caps_lock"),
    (0xffe7, "meta_l"),
    (0xffe8, "meta_r"),
    (0xffe9, "alt"),
    (0xffea, "alt_r"),
    (0xffeb, "meta_l"), // Super_L: the Windows key
    (0xffec, "meta_r"),
    (0xfe03, "alt_r"), // ISO_Level3_Shift: AltGr
    (0xffff, "delete"),
    (0x00d7, "kp_multiply"), // multiply sign, as some clients send the keypad's *
    (0x1008ff11, "volumedown"),
    (0x1008ff12, "audiomute"),
    (0x1008ff13, "volumeup"),
    (0x1008ff14, "audioplay"),
    (0x1008ff15, "audiostop"),
    (0x1008ff16, "audioprev"),
    (0x1008ff17, "audionext"),
];

/// The key a keysym is typed with on a US layout, or `None` for a character that layout has no
/// key for.
pub fn keysym_to_key(keysym: u32) -> Option<KeysymKey> {
    if (0x20..=0x7e).contains(&keysym) {
        let (name, shifted) = PRINTABLE[(keysym - 0x20) as usize];
        return QCode::from_name(name).map(|key| KeysymKey { key, shifted });
    }
    FUNCTION_KEYS
        .iter()
        .find(|(sym, _)| *sym == keysym)
        .and_then(|(_, name)| QCode::from_name(name))
        .map(|key| KeysymKey {
            key,
            shifted: false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(keysym: u32) -> (&'static str, bool) {
        let k = keysym_to_key(keysym).unwrap();
        (k.key.name(), k.shifted)
    }

    #[test]
    fn printable_characters_name_their_key_and_shift() {
        assert_eq!(key(u32::from(b'a')), ("a", false));
        assert_eq!(key(u32::from(b'A')), ("a", true));
        assert_eq!(key(u32::from(b'!')), ("1", true));
        assert_eq!(key(u32::from(b'~')), ("grave_accent", true));
        assert_eq!(key(u32::from(b' ')), ("spc", false));
        assert_eq!(key(u32::from(b'"')), ("apostrophe", true));
        assert_eq!(key(u32::from(b'\\')), ("backslash", false));
        assert_eq!(key(0xff0d), ("ret", false));
        assert_eq!(key(0xffe1), ("shift", false));
        assert_eq!(key(0xfe03), ("alt_r", false));
        assert_eq!(keysym_to_key(0xe9), None); // é: no key on a US layout
        assert_eq!(keysym_to_key(0), None);
    }

    #[test]
    fn every_table_entry_is_a_qemu_key() {
        for (name, _) in PRINTABLE {
            assert!(QCode::from_name(name).is_some(), "{name}");
        }
        for (sym, name) in FUNCTION_KEYS {
            assert!(QCode::from_name(name).is_some(), "{sym:#x} {name}");
        }
    }
}
