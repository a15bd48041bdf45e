//! Bytes on the wire for the `serve` tests that speak RFB and WebSocket themselves: the pieces
//! several of them read the same way.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A stream whose reads can be given a deadline: TCP or a unix socket.
pub trait Timed: Read + Write {
    fn read_timeout(&self, timeout: Duration);
}

impl Timed for TcpStream {
    fn read_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

impl Timed for UnixStream {
    fn read_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

/// An RFB reason string: its 32-bit length, then the text.
pub fn read_reason(s: &mut impl Read) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut reason = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut reason).unwrap();
    String::from_utf8(reason).unwrap()
}

/// Whether the server closes `s` (end of stream or a reset) within `within`; whatever it sends
/// meanwhile is read and dropped.
pub fn closed_within(s: &mut impl Timed, within: Duration) -> bool {
    s.read_timeout(within);
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// An HTTP response's head, up to its blank line, read byte by byte (so that nothing after it
/// is taken from the stream).
pub fn http_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// The server's next WebSocket frame: its opcode and payload.
pub fn ws_frame(s: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            usize::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            usize::try_from(u64::from_be_bytes(l)).unwrap()
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

/// The payload of the server's next WebSocket frame.
pub fn ws_payload(s: &mut impl Read) -> Vec<u8> {
    ws_frame(s).1
}

/// The RFB 3.8 handshake without authentication up to ServerInit, on a stream whose version
/// was not read yet: the desktop's width, height and name.
pub fn handshake_without_auth(s: &mut (impl Read + Write)) -> (u16, u16, String) {
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut types = [0u8; 2];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, [1, 1], "one security type: None");
    s.write_all(&[1]).unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    assert_eq!(result, [0; 4]);
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).unwrap();
    let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let mut name = vec![0u8; len];
    s.read_exact(&mut name).unwrap();
    (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
        String::from_utf8(name).unwrap(),
    )
}

/// The security types the server offers (after the client's version), or its reason for none.
pub fn read_types(s: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut n = [0u8; 1];
    s.read_exact(&mut n).unwrap();
    if n[0] == 0 {
        return Err(read_reason(s));
    }
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types).unwrap();
    Ok(types)
}

/// Connects to a device's own unix socket and answers the version (3.8): the connection and
/// the security types offered, or the reason for none.
pub fn security_offer(socket: &std::path::Path) -> (UnixStream, Result<Vec<u8>, String>) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    s.write_all(b"RFB 003.008\n").unwrap();
    let types = read_types(&mut s);
    (s, types)
}
