//! openQA's key names, as its tests write them (`send_key 'ctrl-alt-delete'`, `type_string
//! "root\n"`), to the keys of a US-layout PC keyboard. The names and rules are os-autoinst's
//! (`consoles/VNC.pm`: `$keymap_x11`, `init_x11_keymap`, `shift_keys`, `map_and_send_key`;
//! `consoles/video_base.pm`: `$CHARMAP` for typed text), so a step copied from an openQA test
//! presses the same keys. A name openQA does not know but QEMU does (`kp_enter`, `print`) is
//! taken as QEMU's key of that name, so every key of the emulated keyboard can be reached.

use super::{InputEvent, QCode, keysym_to_key};

/// A key name neither openQA nor QEMU knows, or a character no US-layout key types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyNameError {
    /// A part of a combination (`ctrl-foo`) that names no key.
    #[error(
        "no key is called {part:?} (in {combo:?}); names are openQA's (ret, esc, spc, ctrl, alt, shift, super, f1..f12, a character) or QEMU's key names"
    )]
    UnknownKey {
        /// The whole combination.
        combo: String,
        /// The part that is no key.
        part: String,
    },
    /// An empty combination, or one with an empty part (`ctrl--`).
    #[error("the key combination {0:?} has an empty part; the minus key is called \"minus\"")]
    Empty(String),
    /// A character of a typed text that no key of a US layout types.
    #[error("no key of a US layout types {0:?}")]
    UntypeableChar(char),
}

/// openQA's special names and the QEMU key each one is (`$keymap_x11` in `consoles/VNC.pm`,
/// whose X keysyms QEMU's VNC server turns into these keys). Left-hand modifiers, as there.
const NAMES: &[(&str, &str)] = &[
    ("esc", "esc"),
    ("down", "down"),
    ("right", "right"),
    ("up", "up"),
    ("left", "left"),
    ("equal", "equal"),
    ("spc", "spc"),
    ("minus", "minus"),
    ("shift", "shift"),
    ("ctrl", "ctrl"),
    ("caps", "caps_lock"),
    ("meta", "meta_l"),
    ("alt", "alt"),
    ("altgr", "alt_r"),
    ("ret", "ret"),
    ("tab", "tab"),
    ("backspace", "backspace"),
    ("end", "end"),
    ("delete", "delete"),
    ("home", "home"),
    ("insert", "insert"),
    ("pgup", "pgup"),
    ("pgdn", "pgdn"),
    ("sysrq", "sysrq"),
    ("super", "meta_l"),
];

/// The keys one name presses, in order: Shift first where the name is a shifted character
/// (`A`, `!`), as `init_x11_keymap` prepends it.
fn keys_of(name: &str) -> Option<Vec<QCode>> {
    if let Some((_, qcode)) = NAMES.iter().find(|(n, _)| *n == name) {
        return QCode::from_name(qcode).map(|k| vec![k]);
    }
    if let Some(n) = name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
        && (1..=12).contains(&n)
    {
        return QCode::from_name(name).map(|k| vec![k]);
    }
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return char_keys(c);
    }
    QCode::from_name(name).map(|k| vec![k])
}

/// The keys a character is typed with on a US layout: Shift first for a shifted one.
fn char_keys(c: char) -> Option<Vec<QCode>> {
    let code = u32::from(c);
    let key = keysym_to_key(code).filter(|_| (0x20..=0x7e).contains(&code))?;
    let shift = QCode::from_name("shift")?;
    Some(if key.shifted {
        vec![shift, key.key]
    } else {
        vec![key.key]
    })
}

/// The keys of a combination such as `ctrl-alt-delete`, `alt-f2`, `shift-a`, `ret`: pressed in
/// this order and released in the reverse.
pub fn key_combo(combo: &str) -> Result<Vec<QCode>, KeyNameError> {
    let mut keys = Vec::new();
    for part in combo.split('-') {
        if part.is_empty() {
            return Err(KeyNameError::Empty(combo.to_string()));
        }
        let found = keys_of(part).ok_or_else(|| KeyNameError::UnknownKey {
            combo: combo.to_string(),
            part: part.to_string(),
        })?;
        for key in found {
            // `shift-A` names Shift twice: it is pressed once.
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// The keys that type `c` in openQA's `type_string`: its control characters by name
/// (`$CHARMAP`: newline is Return, tab, backspace, escape), every other character as the key
/// that types it. A carriage return types nothing (`None`), as there.
pub fn typed_char(c: char) -> Result<Option<Vec<QCode>>, KeyNameError> {
    let name = match c {
        '\r' => return Ok(None),
        '\n' => "ret",
        '\t' => "tab",
        '\u{8}' => "backspace",
        '\u{1b}' => "esc",
        _ => {
            return char_keys(c)
                .map(Some)
                .ok_or(KeyNameError::UntypeableChar(c));
        }
    };
    Ok(keys_of(name))
}

/// Presses `keys` in order, then releases them in the reverse order.
pub fn press_and_release(keys: &[QCode]) -> (Vec<InputEvent>, Vec<InputEvent>) {
    let down = keys
        .iter()
        .map(|&key| InputEvent::Key { key, down: true })
        .collect();
    let up = keys
        .iter()
        .rev()
        .map(|&key| InputEvent::Key { key, down: false })
        .collect();
    (down, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(combo: &str) -> Vec<&'static str> {
        key_combo(combo).unwrap().iter().map(|k| k.name()).collect()
    }

    #[test]
    fn openqa_combinations_press_the_keys_its_vnc_backend_presses() {
        assert_eq!(names("ctrl-alt-delete"), ["ctrl", "alt", "delete"]);
        assert_eq!(names("alt-f2"), ["alt", "f2"]);
        assert_eq!(names("ret"), ["ret"]);
        assert_eq!(names("super"), ["meta_l"]);
        assert_eq!(names("caps"), ["caps_lock"]);
        assert_eq!(names("altgr"), ["alt_r"]);
        assert_eq!(names("ctrl-minus"), ["ctrl", "minus"]);
        assert_eq!(names("f12"), ["f12"]);
        // Characters: an upper-case letter and a shifted symbol bring Shift with them.
        assert_eq!(names("A"), ["shift", "a"]);
        assert_eq!(names("ctrl-shift-T"), ["ctrl", "shift", "t"]);
        assert_eq!(names("!"), ["shift", "1"]);
        assert_eq!(names("/"), ["slash"]);
        // QEMU's own names reach the keys openQA has no name for.
        assert_eq!(names("kp_enter"), ["kp_enter"]);
    }

    #[test]
    fn bad_combinations_say_which_part() {
        assert_eq!(
            key_combo("ctrl-foo"),
            Err(KeyNameError::UnknownKey {
                combo: "ctrl-foo".into(),
                part: "foo".into()
            })
        );
        assert_eq!(
            key_combo("ctrl--"),
            Err(KeyNameError::Empty("ctrl--".into()))
        );
        assert_eq!(key_combo(""), Err(KeyNameError::Empty(String::new())));
        assert!(key_combo("f13").is_ok(), "QEMU has f13");
        assert!(key_combo("f99").is_err());
    }

    #[test]
    fn typed_text_follows_type_string() {
        let typed = |c| {
            typed_char(c)
                .unwrap()
                .map(|keys| keys.iter().map(|k| k.name()).collect::<Vec<_>>())
        };
        assert_eq!(typed('\n'), Some(vec!["ret"]));
        assert_eq!(typed('\r'), None);
        assert_eq!(typed('\t'), Some(vec!["tab"]));
        assert_eq!(typed(' '), Some(vec!["spc"]));
        assert_eq!(typed('-'), Some(vec!["minus"]));
        assert_eq!(typed('_'), Some(vec!["shift", "minus"]));
        assert_eq!(typed('Z'), Some(vec!["shift", "z"]));
        assert_eq!(typed('~'), Some(vec!["shift", "grave_accent"]));
        assert_eq!(typed_char('é'), Err(KeyNameError::UntypeableChar('é')));
    }

    #[test]
    fn keys_are_released_in_reverse() {
        let keys = key_combo("ctrl-alt-delete").unwrap();
        let (down, up) = press_and_release(&keys);
        let order = |events: &[InputEvent]| {
            events
                .iter()
                .map(|e| match e {
                    InputEvent::Key { key, down } => (key.name(), *down),
                    _ => unreachable!(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(&down),
            [("ctrl", true), ("alt", true), ("delete", true)]
        );
        assert_eq!(
            order(&up),
            [("delete", false), ("alt", false), ("ctrl", false)]
        );
    }
}
