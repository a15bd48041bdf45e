//! RFB messages: the client's (parsed, bounded; each in `client`) and the server's (written).

mod client;

use super::error::RfbError;
use super::pixel::PixelFormat;
pub use client::{
    ClientCutText, FramebufferUpdateRequest, KeyEvent, Parsed, PointerEvent, QemuExtendedKeyEvent,
    Screen, SetDesktopSize, SetEncodings, SetPixelFormat,
};

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

/// A message from the client: each kind is its own type, with its own parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The pixel format for every following update.
    SetPixelFormat(SetPixelFormat),
    /// The encodings the client takes.
    SetEncodings(SetEncodings),
    /// The client wants the screen (or a part) updated.
    FramebufferUpdateRequest(FramebufferUpdateRequest),
    /// A key pressed or released.
    KeyEvent(KeyEvent),
    /// The pointer moved or a button changed.
    PointerEvent(PointerEvent),
    /// Clipboard text.
    ClientCutText(ClientCutText),
    /// The client asks for a new screen size.
    SetDesktopSize(SetDesktopSize),
    /// QEMU's extended key event.
    QemuExtendedKeyEvent(QemuExtendedKeyEvent),
}

/// Parses one client message from the front of `buf`: `Ok(None)` when more bytes are needed,
/// else the message and the bytes it took. The type byte picks the message's own parser. A
/// message over its limit is an error as soon as its header is in, so a caller never needs
/// more than `MAX_CLIENT_MESSAGE` bytes buffered.
pub fn parse_client_message(buf: &[u8]) -> Parsed<ClientMessage> {
    /// One message type's answer as a `ClientMessage`.
    fn as_message<T>(parsed: Parsed<T>, variant: fn(T) -> ClientMessage) -> Parsed<ClientMessage> {
        Ok(parsed?.map(|(msg, used)| (variant(msg), used)))
    }
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    match kind {
        SetPixelFormat::TYPE => {
            as_message(SetPixelFormat::parse(buf), ClientMessage::SetPixelFormat)
        }
        SetEncodings::TYPE => as_message(SetEncodings::parse(buf), ClientMessage::SetEncodings),
        FramebufferUpdateRequest::TYPE => as_message(
            FramebufferUpdateRequest::parse(buf),
            ClientMessage::FramebufferUpdateRequest,
        ),
        KeyEvent::TYPE => as_message(KeyEvent::parse(buf), ClientMessage::KeyEvent),
        PointerEvent::TYPE => as_message(PointerEvent::parse(buf), ClientMessage::PointerEvent),
        ClientCutText::TYPE => as_message(ClientCutText::parse(buf), ClientMessage::ClientCutText),
        SetDesktopSize::TYPE => {
            as_message(SetDesktopSize::parse(buf), ClientMessage::SetDesktopSize)
        }
        QemuExtendedKeyEvent::TYPE => as_message(
            QemuExtendedKeyEvent::parse(buf),
            ClientMessage::QemuExtendedKeyEvent,
        ),
        other => Err(RfbError::protocol(format!(
            "unknown client message type {other}"
        ))),
    }
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
        let mut set_format = vec![0, 0, 0, 0];
        set_format.extend_from_slice(&PixelFormat::SERVER.to_bytes());
        let set_size = vec![
            251, 0, 0x05, 0x00, 0x03, 0x20, 1, 0, // 1280x800, one screen
            0, 0, 0, 1, 0, 0, 0, 0, 0x05, 0x00, 0x03, 0x20, 0, 0, 0, 0,
        ];
        let cases: Vec<(Vec<u8>, ClientMessage)> = vec![
            (
                set_format,
                ClientMessage::SetPixelFormat(SetPixelFormat {
                    format: PixelFormat::SERVER,
                }),
            ),
            (
                vec![3, 1, 0, 1, 0, 2, 0, 3, 0, 4],
                ClientMessage::FramebufferUpdateRequest(FramebufferUpdateRequest {
                    incremental: true,
                    x: 1,
                    y: 2,
                    width: 3,
                    height: 4,
                }),
            ),
            (
                set_enc,
                ClientMessage::SetEncodings(SetEncodings {
                    encodings: vec![16, -239],
                }),
            ),
            (
                vec![4, 1, 0, 0, 0, 0, 0xff, 0x0d],
                ClientMessage::KeyEvent(KeyEvent {
                    down: true,
                    keysym: 0xff0d,
                }),
            ),
            (
                vec![5, 3, 0, 10, 0, 20],
                ClientMessage::PointerEvent(PointerEvent {
                    buttons: 3,
                    x: 10,
                    y: 20,
                }),
            ),
            (
                vec![6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
                ClientMessage::ClientCutText(ClientCutText { len: 2 }),
            ),
            (
                set_size,
                ClientMessage::SetDesktopSize(SetDesktopSize {
                    width: 1280,
                    height: 800,
                    screens: vec![Screen {
                        id: 1,
                        x: 0,
                        y: 0,
                        width: 1280,
                        height: 800,
                        flags: 0,
                    }],
                }),
            ),
            (
                vec![255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e],
                ClientMessage::QemuExtendedKeyEvent(QemuExtendedKeyEvent {
                    down: true,
                    keysym: 0x61,
                    keycode: 0x1e,
                }),
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
    fn each_parser_reads_its_own_message() {
        let key = [4, 0, 0, 0, 0, 0, 0, 0x41];
        assert_eq!(
            KeyEvent::parse(&key).unwrap(),
            Some((
                KeyEvent {
                    down: false,
                    keysym: 0x41
                },
                8
            ))
        );
        // The extended clipboard's negative length counts by its magnitude.
        let mut cut = vec![6, 0, 0, 0];
        cut.extend_from_slice(&(-3i32).to_be_bytes());
        cut.extend_from_slice(b"abc");
        assert_eq!(
            ClientCutText::parse(&cut).unwrap(),
            Some((ClientCutText { len: 3 }, 11))
        );
        assert_eq!(
            parse_client_message(&cut).unwrap(),
            Some((ClientMessage::ClientCutText(ClientCutText { len: 3 }), 11))
        );
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
