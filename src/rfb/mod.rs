//! The RFB (VNC) protocol, version 3.8 with 3.3 and 3.7: the server's handshake and security
//! negotiation (bytes in, bytes out), client messages (a type and a bounded parser each), the
//! client's capabilities from its SetEncodings (`ClientParams`), server messages, pixel
//! formats, the Raw, ZRLE and Tight encoders, changed-tile tracking, VNC authentication, and
//! WebSocket framing for browsers. Pure data, importing only the crate's `image`: sockets,
//! threads and policy belong to the program's `serve`.

pub mod auth;
pub mod encode;
mod error;
pub mod handshake;
pub mod messages;
mod params;
pub mod pixel;
pub mod tiles;
pub mod websocket;

pub use encode::{Encoder, Encoding, Rect};
pub use error::RfbError;
pub use messages::{ClientMessage, parse_client_message};
pub use params::ClientParams;
pub use pixel::PixelFormat;

/// The protocol version the server offers first.
pub const SERVER_VERSION: &[u8; 12] = b"RFB 003.008\n";

/// A protocol version a client answered with, as the server will speak it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 3.3: the server picks the security type.
    V3_3,
    /// 3.7: the client picks; no result for None.
    V3_7,
    /// 3.8: the client picks; always a result, with a reason on failure.
    V3_8,
}

/// Reads a client's ProtocolVersion: versions past 3.8 speak 3.8, 3.4 to 3.6 speak 3.3
/// (RFC 6143 section 7.1.1), and anything not of the form "RFB xxx.yyy\n" is an error.
pub fn client_version(b: &[u8; 12]) -> Result<Version, RfbError> {
    let bad = || {
        RfbError::protocol(format!(
            "bad ProtocolVersion {:?}",
            String::from_utf8_lossy(b)
        ))
    };
    if &b[..4] != b"RFB " || b[7] != b'.' || b[11] != b'\n' {
        return Err(bad());
    }
    let num = |s: &[u8]| -> Result<u32, RfbError> {
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    let (major, minor) = (num(&b[4..7])?, num(&b[8..11])?);
    Ok(match (major, minor) {
        (3, 0..=6) => Version::V3_3,
        (3, 7) => Version::V3_7,
        (3, _) | (4.., _) => Version::V3_8,
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_versions() {
        assert_eq!(client_version(b"RFB 003.003\n").unwrap(), Version::V3_3);
        assert_eq!(client_version(b"RFB 003.005\n").unwrap(), Version::V3_3);
        assert_eq!(client_version(b"RFB 003.007\n").unwrap(), Version::V3_7);
        assert_eq!(client_version(b"RFB 003.008\n").unwrap(), Version::V3_8);
        assert_eq!(client_version(b"RFB 003.889\n").unwrap(), Version::V3_8);
        assert_eq!(client_version(b"RFB 004.001\n").unwrap(), Version::V3_8);
        assert!(client_version(b"RFB 002.000\n").is_err());
        assert!(client_version(b"GET / HTTP/1").is_err());
        assert!(client_version(b"RFB 00+.008\n").is_err());
    }
}
