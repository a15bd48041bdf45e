//! RFB messages: the client's (parsed, bounded) and the server's (written).

use super::error::RfbError;
use super::pixel::PixelFormat;

/// Encoding numbers this server knows (RFC 6143 section 7.7 and the community registry).
pub mod encoding {
    /// Raw pixels.
    pub const RAW: i32 = 0;
    /// Tight (zlib with fill, palette and copy filters).
    pub const TIGHT: i32 = 7;
    /// ZRLE (zlib run-length, 64x64 tiles).
    pub const ZRLE: i32 = 16;
    /// The cursor shape as the client's cursor.
    pub const CURSOR: i32 = -239;
    /// The framebuffer changed size.
    pub const DESKTOP_SIZE: i32 = -223;
    /// The update ends here (its rectangle count was 0xFFFF).
    pub const LAST_RECT: i32 = -224;
    /// The server's pointer position.
    pub const POINTER_POS: i32 = -232;
    /// QEMU's extended key events (raw scancodes).
    pub const QEMU_EXTENDED_KEY: i32 = -258;
    /// Screens and resize requests (SetDesktopSize).
    pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
    /// Tight compression level 0; levels 1 to 9 follow it.
    pub const COMPRESS_LEVEL_0: i32 = -256;
    /// Tight JPEG quality level 0; levels 1 to 9 follow it.
    pub const QUALITY_LEVEL_0: i32 = -32;
}

/// The most encodings a SetEncodings may list (clients send a few dozen).
pub const MAX_ENCODINGS: usize = 1024;
/// The longest ClientCutText accepted (its text is dropped: there is no clipboard to give it to).
pub const MAX_CUT_TEXT: usize = 1 << 20;
/// The most screens a SetDesktopSize may list.
pub const MAX_SCREENS: usize = 16;
/// The longest client message: a cut text at the limit with its header.
pub const MAX_CLIENT_MESSAGE: usize = 8 + MAX_CUT_TEXT;

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

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The pixel format for every following update.
    SetPixelFormat(PixelFormat),
    /// The encodings the client takes, in its order of preference.
    SetEncodings(Vec<i32>),
    /// The client wants the screen (or a part) updated.
    UpdateRequest {
        /// Only what changed since the last update (else all of the area).
        incremental: bool,
        /// The area.
        x: u16,
        /// The area.
        y: u16,
        /// The area.
        width: u16,
        /// The area.
        height: u16,
    },
    /// A key pressed or released (an X keysym).
    Key {
        /// Pressed.
        down: bool,
        /// The X keysym.
        keysym: u32,
    },
    /// The pointer moved or a button changed.
    Pointer {
        /// Buttons 1 to 8 as bits.
        buttons: u8,
        /// Position.
        x: u16,
        /// Position.
        y: u16,
    },
    /// Clipboard text (its length only: the text is dropped).
    CutText {
        /// Its length in bytes.
        len: usize,
    },
    /// The client asks for a new screen size.
    SetDesktopSize {
        /// The size.
        width: u16,
        /// The size.
        height: u16,
        /// The screens.
        screens: Vec<Screen>,
    },
    /// QEMU's extended key event: keysym and raw scancode.
    QemuKey {
        /// Pressed.
        down: bool,
        /// The X keysym.
        keysym: u32,
        /// The XT scancode (0xe0 prefix as 0x80 bit).
        keycode: u32,
    },
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses one client message from the front of `buf`: `Ok(None)` when more bytes are needed,
/// else the message and the bytes it took. A message over its limit is an error as soon as its
/// header is in, so a caller never needs more than `MAX_CLIENT_MESSAGE` bytes buffered.
pub fn parse_client_message(buf: &[u8]) -> Result<Option<(ClientMessage, usize)>, RfbError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let need = |n: usize| buf.len() >= n;
    let msg = match kind {
        0 => {
            if !need(20) {
                return Ok(None);
            }
            let mut pf = [0u8; 16];
            pf.copy_from_slice(&buf[4..20]);
            (
                ClientMessage::SetPixelFormat(PixelFormat::from_bytes(&pf)),
                20,
            )
        }
        2 => {
            if !need(4) {
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
            if !need(len) {
                return Ok(None);
            }
            let list = (0..count).map(|i| be32(buf, 4 + i * 4) as i32).collect();
            (ClientMessage::SetEncodings(list), len)
        }
        3 => {
            if !need(10) {
                return Ok(None);
            }
            let msg = ClientMessage::UpdateRequest {
                incremental: buf[1] != 0,
                x: be16(buf, 2),
                y: be16(buf, 4),
                width: be16(buf, 6),
                height: be16(buf, 8),
            };
            (msg, 10)
        }
        4 => {
            if !need(8) {
                return Ok(None);
            }
            let msg = ClientMessage::Key {
                down: buf[1] != 0,
                keysym: be32(buf, 4),
            };
            (msg, 8)
        }
        5 => {
            if !need(6) {
                return Ok(None);
            }
            let msg = ClientMessage::Pointer {
                buttons: buf[1],
                x: be16(buf, 2),
                y: be16(buf, 4),
            };
            (msg, 6)
        }
        6 => {
            if !need(8) {
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
            if !need(8 + len) {
                return Ok(None);
            }
            (ClientMessage::CutText { len }, 8 + len)
        }
        251 => {
            if !need(8) {
                return Ok(None);
            }
            let count = usize::from(buf[6]);
            if count == 0 || count > MAX_SCREENS {
                return Err(RfbError::protocol(format!(
                    "SetDesktopSize with {count} screens (1 to {MAX_SCREENS} are allowed)"
                )));
            }
            let len = 8 + count * 16;
            if !need(len) {
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
            let msg = ClientMessage::SetDesktopSize {
                width: be16(buf, 2),
                height: be16(buf, 4),
                screens,
            };
            (msg, len)
        }
        255 => {
            if !need(2) {
                return Ok(None);
            }
            if buf[1] != 0 {
                return Err(RfbError::protocol(format!(
                    "QEMU client message of sub-type {} (only extended key events are taken)",
                    buf[1]
                )));
            }
            if !need(12) {
                return Ok(None);
            }
            let msg = ClientMessage::QemuKey {
                down: be16(buf, 2) != 0,
                keysym: be32(buf, 4),
                keycode: be32(buf, 8),
            };
            (msg, 12)
        }
        other => {
            return Err(RfbError::protocol(format!(
                "unknown client message type {other}"
            )));
        }
    };
    Ok(Some(msg))
}

/// Appends a ServerInit: the screen size, the server's pixel format and the desktop's name.
pub fn put_server_init(out: &mut Vec<u8>, width: u16, height: u16, name: &str) {
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&PixelFormat::SERVER.to_bytes());
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

/// Appends a FramebufferUpdate header for `rects` rectangles (0xFFFF: ended by LastRect).
pub fn put_update_header(out: &mut Vec<u8>, rects: u16) {
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&rects.to_be_bytes());
}

/// Appends a rectangle header.
pub fn put_rect_header(out: &mut Vec<u8>, x: u16, y: u16, width: u16, height: u16, enc: i32) {
    for v in [x, y, width, height] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&enc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_parses_only_when_whole() {
        let mut set_enc = vec![2, 0, 0, 2];
        set_enc.extend_from_slice(&16i32.to_be_bytes());
        set_enc.extend_from_slice(&(-239i32).to_be_bytes());
        let cases: Vec<(Vec<u8>, ClientMessage)> = vec![
            (
                vec![3, 1, 0, 1, 0, 2, 0, 3, 0, 4],
                ClientMessage::UpdateRequest {
                    incremental: true,
                    x: 1,
                    y: 2,
                    width: 3,
                    height: 4,
                },
            ),
            (set_enc, ClientMessage::SetEncodings(vec![16, -239])),
            (
                vec![4, 1, 0, 0, 0, 0, 0xff, 0x0d],
                ClientMessage::Key {
                    down: true,
                    keysym: 0xff0d,
                },
            ),
            (
                vec![5, 3, 0, 10, 0, 20],
                ClientMessage::Pointer {
                    buttons: 3,
                    x: 10,
                    y: 20,
                },
            ),
            (
                vec![6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
                ClientMessage::CutText { len: 2 },
            ),
            (
                vec![255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e],
                ClientMessage::QemuKey {
                    down: true,
                    keysym: 0x61,
                    keycode: 0x1e,
                },
            ),
        ];
        for (bytes, want) in cases {
            for cut in 0..bytes.len() {
                assert_eq!(parse_client_message(&bytes[..cut]).unwrap(), None);
            }
            let mut more = bytes.clone();
            more.push(3);
            assert_eq!(
                parse_client_message(&more).unwrap(),
                Some((want, bytes.len()))
            );
        }
    }

    #[test]
    fn oversized_and_unknown_messages_are_errors_from_their_header() {
        assert!(matches!(
            parse_client_message(&[2, 0, 0xff, 0xff]),
            Err(RfbError::TooLong { .. })
        ));
        assert!(matches!(
            parse_client_message(&[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
            Err(RfbError::TooLong { .. })
        ));
        // i32::MIN has no positive twin: its magnitude is still over the limit.
        assert!(parse_client_message(&[6, 0, 0, 0, 0x80, 0, 0, 0]).is_err());
        assert!(parse_client_message(&[251, 0, 0, 1, 0, 1, 0, 0]).is_err());
        assert!(parse_client_message(&[255, 1]).is_err());
        assert!(parse_client_message(&[7]).is_err());
    }

    #[test]
    fn server_init_layout() {
        let mut out = Vec::new();
        put_server_init(&mut out, 1024, 768, "guest");
        assert_eq!(&out[..4], &[4, 0, 3, 0]);
        assert_eq!(out[4], 32);
        assert_eq!(&out[20..24], &[0, 0, 0, 5]);
        assert_eq!(&out[24..], b"guest");
    }
}
