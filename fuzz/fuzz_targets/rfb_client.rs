//! Everything a network client sends `serve`: the RFB handshake (`rfb::handshake`, with and
//! without a password) and the client messages after it, client messages from the first byte
//! (parsed one after another, as the server does, each bounded), and the HTTP request and
//! WebSocket frames of a browser. None may panic, loop or take more than its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_display::rfb::handshake::{Handshake, Policy, Step};
use vfio_display::rfb::messages::{ClientMessage, MAX_CLIENT_MESSAGE, SetPixelFormat};
use vfio_display::rfb::{client_version, parse_client_message, websocket};

fuzz_target!(|data: &[u8]| {
    if let Ok(version) = <&[u8; 12]>::try_from(data.get(..12).unwrap_or(&[])) {
        let _ = client_version(version);
    }
    for password in [false, true] {
        if let Some(after) = handshake(data, password) {
            messages(&after);
        }
    }
    messages(data);
    if let Ok(Some((request, used))) = websocket::parse_request(data) {
        assert!(used <= websocket::MAX_REQUEST_HEAD);
        let _ = websocket::accept(&request);
        let mut frames = &data[used..];
        while let Ok(Some((frame, used))) = websocket::parse_frame(frames) {
            assert!(frame.payload.len() <= websocket::MAX_FRAME_PAYLOAD);
            frames = &frames[used..];
        }
    }
});

/// The server's handshake fed all of `data` at once, as a client that sent it ahead would:
/// the bytes after ClientInit when the client got in, else `None`. Its output stays within
/// the handshake's few hundred bytes.
fn handshake(data: &[u8], password: bool) -> Option<Vec<u8>> {
    let policy = Policy {
        password: password.then(|| b"secret".to_vec()),
        ..Policy::default()
    };
    let mut hs = Handshake::new(policy, [0x5a; 16]);
    let mut input = data.to_vec();
    let mut said = hs.take_output().len();
    loop {
        let step = hs.advance(&mut input).ok()?;
        said += hs.take_output().len();
        assert!(said <= 512, "the handshake said {said} bytes");
        match step {
            Step::Done { .. } => return Some(input),
            // Not offered under these policies; were it asked for, TLS would be up next.
            Step::StartTls => hs.tls_started(),
            Step::NeedMore | Step::Refused(_) | Step::Authenticated => return None,
        }
    }
}

/// Client messages parsed one after another from the front of `data`, as the server does.
fn messages(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((msg, used))) = parse_client_message(rest) {
        assert!(used > 0 && used <= rest.len() && used <= MAX_CLIENT_MESSAGE);
        if let ClientMessage::SetPixelFormat(SetPixelFormat { format }) = msg
            && format.validate().is_ok()
        {
            let mut out = Vec::new();
            format.put_pixel(format.pack([1, 2, 3, 4]), &mut out);
            format.put_cpixel(format.pack([5, 6, 7, 8]), &mut out);
            format.put_tpixel(format.pack([9, 10, 11, 12]), &mut out);
            assert!(out.len() <= 12);
        }
        rest = &rest[used..];
    }
}
