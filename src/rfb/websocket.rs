//! HTTP requests and WebSocket framing (RFC 6455), enough to carry RFB to a browser (noVNC) and
//! to serve its static files on the same port. Everything here reads untrusted bytes, bounded.

use super::error::RfbError;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The longest request head (request line and headers) accepted.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// The most headers in a request.
pub const MAX_HEADERS: usize = 64;
/// The longest WebSocket frame payload accepted from a client.
pub const MAX_FRAME_PAYLOAD: usize = 2 << 20;

/// An HTTP request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// GET, HEAD, ...
    pub method: String,
    /// The target as sent (path and query).
    pub target: String,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header holds `token` in its comma-separated list, in any case.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether it asks to become a WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.has_token("upgrade", "websocket") && self.has_token("connection", "upgrade")
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }
}

/// Parses a request head from the front of `buf`: `Ok(None)` until the blank line that ends it
/// arrives, then the request and the bytes it took.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, RfbError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= MAX_REQUEST_HEAD {
            return Err(RfbError::TooLong {
                what: "HTTP request head",
                len: buf.len() as u64,
                max: MAX_REQUEST_HEAD as u64,
            });
        }
        return Ok(None);
    };
    if end + 4 > MAX_REQUEST_HEAD {
        return Err(RfbError::TooLong {
            what: "HTTP request head",
            len: (end + 4) as u64,
            max: MAX_REQUEST_HEAD as u64,
        });
    }
    let head = std::str::from_utf8(&buf[..end])
        .map_err(|_| RfbError::protocol("HTTP request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(RfbError::protocol(format!(
            "bad HTTP request line {line:?}"
        )));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(RfbError::protocol(format!(
            "bad HTTP request line {line:?}"
        )));
    }
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(RfbError::protocol(format!(
                "more than {MAX_HEADERS} HTTP headers"
            )));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(RfbError::protocol(format!("bad HTTP header {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
    };
    Ok(Some((request, end + 4)))
}

/// The Sec-WebSocket-Accept value for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The 101 response that accepts `request` as a WebSocket, or why not. The "binary"
/// subprotocol is chosen when offered; a client offering only others (old noVNC's base64)
/// is refused.
pub fn accept(request: &Request) -> Result<String, RfbError> {
    if request.header("sec-websocket-version") != Some("13") {
        return Err(RfbError::protocol("WebSocket version is not 13"));
    }
    let key = request
        .header("sec-websocket-key")
        .ok_or_else(|| RfbError::protocol("WebSocket request without Sec-WebSocket-Key"))?;
    let offered = request.header("sec-websocket-protocol").is_some();
    let protocol = if request.has_token("sec-websocket-protocol", "binary") {
        "Sec-WebSocket-Protocol: binary\r\n"
    } else if offered {
        return Err(RfbError::protocol(
            "WebSocket subprotocols offered without \"binary\"",
        ));
    } else {
        ""
    };
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{protocol}\r\n",
        accept_key(key)
    ))
}

/// WebSocket opcodes.
pub mod opcode {
    /// More of the message before.
    pub const CONTINUATION: u8 = 0;
    /// Text.
    pub const TEXT: u8 = 1;
    /// Binary.
    pub const BINARY: u8 = 2;
    /// Close.
    pub const CLOSE: u8 = 8;
    /// Ping.
    pub const PING: u8 = 9;
    /// Pong.
    pub const PONG: u8 = 10;
}

/// A frame from the client, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of its message.
    pub fin: bool,
    /// What it carries.
    pub opcode: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Parses one client frame from the front of `buf`: `Ok(None)` until it is whole. Client
/// frames must be masked; control frames must be whole and short; payloads are bounded.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, RfbError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    if b0 & 0x70 != 0 {
        return Err(RfbError::protocol("WebSocket frame with reserved bits set"));
    }
    let fin = b0 & 0x80 != 0;
    let op = b0 & 0x0f;
    if !matches!(op, 0..=2 | 8..=10) {
        return Err(RfbError::protocol(format!("WebSocket opcode {op}")));
    }
    if b1 & 0x80 == 0 {
        return Err(RfbError::protocol("unmasked WebSocket frame from a client"));
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        n => (u64::from(n), 2),
    };
    if op >= 8 && (len > 125 || !fin) {
        return Err(RfbError::protocol(
            "fragmented or long WebSocket control frame",
        ));
    }
    if len > MAX_FRAME_PAYLOAD as u64 {
        return Err(RfbError::TooLong {
            what: "WebSocket frame",
            len,
            max: MAX_FRAME_PAYLOAD as u64,
        });
    }
    let len = len as usize;
    if buf.len() < at + 4 + len {
        return Ok(None);
    }
    let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
    at += 4;
    let payload = buf[at..at + len]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    let frame = Frame {
        fin,
        opcode: op,
        payload,
    };
    Ok(Some((frame, at + len)))
}

/// Appends a server frame (unmasked, final).
pub fn put_frame(op: u8, payload: &[u8], out: &mut Vec<u8>) {
    put_frame_header(op, payload.len(), out);
    out.extend_from_slice(payload);
}

/// The most bytes a server frame's header takes.
pub const MAX_HEADER: usize = 10;

/// Appends the header of an unmasked final frame of `len` payload bytes: a sender writes the
/// payload after it without copying it into one buffer.
pub fn put_frame_header(op: u8, len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | op);
    match len {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_example_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_request_parses_and_is_accepted() {
        let req = b"GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary, base64\r\n\r\nRFB";
        for cut in 0..req.len() - 3 {
            assert_eq!(parse_request(&req[..cut]).unwrap(), None);
        }
        let (r, used) = parse_request(req).unwrap().unwrap();
        assert_eq!(used, req.len() - 3);
        assert!(r.is_websocket());
        assert_eq!(r.path(), "/websockify");
        let resp = accept(&r).unwrap();
        assert!(resp.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(resp.contains("Sec-WebSocket-Protocol: binary"));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(parse_request(b"GET\r\n\r\n").is_err());
        assert!(parse_request(b"GET x HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").is_err());
        assert!(parse_request(&vec![b'a'; MAX_REQUEST_HEAD]).is_err());
        let many: String = (0..100).map(|i| format!("h{i}: v\r\n")).collect();
        assert!(parse_request(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).is_err());
    }

    #[test]
    fn frames_unmask_and_are_bounded() {
        let mask = [1u8, 2, 3, 4];
        let data = b"hello";
        let mut f = vec![0x82, 0x80 | 5];
        f.extend_from_slice(&mask);
        f.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        for cut in 0..f.len() {
            assert_eq!(parse_frame(&f[..cut]).unwrap(), None);
        }
        let (frame, used) = parse_frame(&f).unwrap().unwrap();
        assert_eq!(
            (frame.opcode, frame.payload.as_slice(), used),
            (2, &data[..], f.len())
        );
        assert!(parse_frame(&[0x82, 5, 0, 0, 0, 0, 0]).is_err(), "unmasked");
        assert!(
            parse_frame(&[0x89, 0x80 | 126, 0, 200]).is_err(),
            "long ping"
        );
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&(u64::MAX).to_be_bytes());
        assert!(parse_frame(&huge).is_err());
        let mut out = Vec::new();
        put_frame(opcode::BINARY, &[0; 300], &mut out);
        assert_eq!(&out[..4], &[0x82, 126, 1, 44]);
    }
}
