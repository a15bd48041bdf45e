//! The client's messages (RFC 6143 section 7.5 and the community registry's extensions), one
//! type each with its own parser. Every parser takes the buffered bytes from the message's
//! type byte on and answers `Ok(None)` until the whole message is in; a length over its limit
//! is an error as soon as the header that carries it is in.

use super::super::error::RfbError;
use super::super::pixel::PixelFormat;
use super::{MAX_CUT_TEXT, MAX_ENCODINGS, MAX_SCREENS};

/// What a parser gives: the message and the bytes it took, `None` while bytes are missing.
pub type Parsed<T> = Result<Option<(T, usize)>, RfbError>;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// SetPixelFormat (type 0): the pixel format for every following update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetPixelFormat {
    /// The format, not yet checked: the server validates it before use.
    pub format: PixelFormat,
}

impl SetPixelFormat {
    /// The message type.
    pub const TYPE: u8 = 0;
    const LEN: usize = 20;

    /// Parses one from the front of `buf`.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        let Some(b) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let mut pf = [0u8; 16];
        pf.copy_from_slice(&b[4..20]);
        let format = PixelFormat::from_bytes(&pf);
        Ok(Some((SetPixelFormat { format }, Self::LEN)))
    }
}

/// SetEncodings (type 2): the encodings the client takes, in its order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEncodings {
    /// The encoding numbers as listed (`ClientParams` reads them).
    pub encodings: Vec<i32>,
}

impl SetEncodings {
    /// The message type.
    pub const TYPE: u8 = 2;

    /// Parses one from the front of `buf`; a list over `MAX_ENCODINGS` is an error.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let count = usize::from(be16(buf, 2));
        if count > MAX_ENCODINGS {
            return Err(RfbError::TooLong {
                what: "SetEncodings list",
                len: count as u64 * 4,
                max: MAX_ENCODINGS as u64 * 4,
            });
        }
        let len = 4 + count * 4;
        if buf.len() < len {
            return Ok(None);
        }
        let encodings = (0..count).map(|i| be32(buf, 4 + i * 4) as i32).collect();
        Ok(Some((SetEncodings { encodings }, len)))
    }
}

/// FramebufferUpdateRequest (type 3): the client wants the screen, or a part, updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramebufferUpdateRequest {
    /// Only what changed since the last update (else all of the area).
    pub incremental: bool,
    /// The area.
    pub x: u16,
    /// The area.
    pub y: u16,
    /// The area.
    pub width: u16,
    /// The area.
    pub height: u16,
}

impl FramebufferUpdateRequest {
    /// The message type.
    pub const TYPE: u8 = 3;
    const LEN: usize = 10;

    /// Parses one from the front of `buf`.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        let Some(b) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let msg = FramebufferUpdateRequest {
            incremental: b[1] != 0,
            x: be16(b, 2),
            y: be16(b, 4),
            width: be16(b, 6),
            height: be16(b, 8),
        };
        Ok(Some((msg, Self::LEN)))
    }
}

/// KeyEvent (type 4): a key pressed or released, as an X keysym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// Pressed.
    pub down: bool,
    /// The X keysym.
    pub keysym: u32,
}

impl KeyEvent {
    /// The message type.
    pub const TYPE: u8 = 4;
    const LEN: usize = 8;

    /// Parses one from the front of `buf`.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        let Some(b) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let msg = KeyEvent {
            down: b[1] != 0,
            keysym: be32(b, 4),
        };
        Ok(Some((msg, Self::LEN)))
    }
}

/// PointerEvent (type 5): the pointer moved or a button changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerEvent {
    /// Buttons 1 to 8 as bits.
    pub buttons: u8,
    /// Position.
    pub x: u16,
    /// Position.
    pub y: u16,
}

impl PointerEvent {
    /// The message type.
    pub const TYPE: u8 = 5;
    const LEN: usize = 6;

    /// Parses one from the front of `buf`.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        let Some(b) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let msg = PointerEvent {
            buttons: b[1],
            x: be16(b, 2),
            y: be16(b, 4),
        };
        Ok(Some((msg, Self::LEN)))
    }
}

/// ClientCutText (type 6): clipboard text, of which only the length is kept (there is no
/// clipboard to give the text to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCutText {
    /// Its length in bytes.
    pub len: usize,
}

impl ClientCutText {
    /// The message type.
    pub const TYPE: u8 = 6;

    /// Parses one from the front of `buf`; text over `MAX_CUT_TEXT` is an error.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        if buf.len() < 8 {
            return Ok(None);
        }
        // A negative length is the extended clipboard's: its size is the magnitude.
        let len = (be32(buf, 4) as i32).unsigned_abs() as usize;
        if len > MAX_CUT_TEXT {
            return Err(RfbError::TooLong {
                what: "ClientCutText",
                len: len as u64,
                max: MAX_CUT_TEXT as u64,
            });
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        Ok(Some((ClientCutText { len }, 8 + len)))
    }
}

/// One screen of an ExtendedDesktopSize layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// The client's id for it.
    pub id: u32,
    /// Position and size.
    pub x: u16,
    /// Position and size.
    pub y: u16,
    /// Position and size.
    pub width: u16,
    /// Position and size.
    pub height: u16,
    /// Flags (unused by the protocol so far).
    pub flags: u32,
}

/// SetDesktopSize (type 251, ExtendedDesktopSize's): the client asks for a new screen size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDesktopSize {
    /// The size.
    pub width: u16,
    /// The size.
    pub height: u16,
    /// The screens.
    pub screens: Vec<Screen>,
}

impl SetDesktopSize {
    /// The message type.
    pub const TYPE: u8 = 251;

    /// Parses one from the front of `buf`; no screen, or more than `MAX_SCREENS`, is an error.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let count = usize::from(buf[6]);
        if count == 0 || count > MAX_SCREENS {
            return Err(RfbError::protocol(format!(
                "SetDesktopSize with {count} screens (1 to {MAX_SCREENS} are allowed)"
            )));
        }
        let len = 8 + count * 16;
        if buf.len() < len {
            return Ok(None);
        }
        let screens = (0..count)
            .map(|i| {
                let s = 8 + i * 16;
                Screen {
                    id: be32(buf, s),
                    x: be16(buf, s + 4),
                    y: be16(buf, s + 6),
                    width: be16(buf, s + 8),
                    height: be16(buf, s + 10),
                    flags: be32(buf, s + 12),
                }
            })
            .collect();
        let msg = SetDesktopSize {
            width: be16(buf, 2),
            height: be16(buf, 4),
            screens,
        };
        Ok(Some((msg, len)))
    }
}

/// QEMU's extended key event (type 255, sub-type 0): keysym and raw scancode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QemuExtendedKeyEvent {
    /// Pressed.
    pub down: bool,
    /// The X keysym.
    pub keysym: u32,
    /// The XT scancode (0xe0 prefix as 0x80 bit).
    pub keycode: u32,
}

impl QemuExtendedKeyEvent {
    /// The message type (QEMU's, shared by its sub-types).
    pub const TYPE: u8 = 255;
    const LEN: usize = 12;

    /// Parses one from the front of `buf`; QEMU's other sub-types (audio) are errors.
    pub fn parse(buf: &[u8]) -> Parsed<Self> {
        let Some(&subtype) = buf.get(1) else {
            return Ok(None);
        };
        if subtype != 0 {
            return Err(RfbError::protocol(format!(
                "QEMU client message of sub-type {subtype} (only extended key events are taken)"
            )));
        }
        let Some(b) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let msg = QemuExtendedKeyEvent {
            down: be16(b, 2) != 0,
            keysym: be32(b, 4),
            keycode: be32(b, 8),
        };
        Ok(Some((msg, Self::LEN)))
    }
}
