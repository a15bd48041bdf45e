//! What a new connection speaks, from its first byte or its silence: HTTP (a static file or a
//! WebSocket upgrade), TLS (a browser on https/wss), or native RFB (a client that waits for the
//! server's version).

use super::ServerConfig;
use super::http::{self, Outcome, Pages};
use super::stream::{Peer, Stream};
use super::transport;
use std::io;
use std::time::Instant;

/// What a connection turned out to carry RFB in, once its first bytes said.
pub struct Carrier {
    /// WebSocket frames (a browser), else bare RFB.
    pub websocket: bool,
    /// Bytes read past the HTTP upgrade: the start of the client's RFB.
    pub leftover: Vec<u8>,
    /// The TLS session of a browser on wss.
    pub tls: Option<transport::Tls>,
    /// The WebSocket's request path (`None` for a native client).
    pub path: Option<String>,
}

/// Finds out what the connection speaks: a client that speaks first with an HTTP method is
/// HTTP, one that speaks first with a TLS ClientHello is a browser on https/wss, one that
/// waits is native RFB. `Ok(Err(what))` when it was answered as plain HTTP(S) and is over.
pub fn detect(
    stream: &mut Stream,
    peer: &Peer,
    cfg: &ServerConfig,
    pages: Option<&dyn Pages>,
) -> io::Result<Result<Carrier, String>> {
    // How long a client that connected may take to say it speaks HTTP before it is taken for
    // a native RFB client (which waits for the server to speak first).
    stream.set_read_timeout(Some(cfg.gate.sniff(peer, Instant::now())))?;
    let mut first = [0u8; 1];
    let speaks_first = match stream.peek(&mut first) {
        Ok(n) => n > 0,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(cfg.client_timeout))?;
    let http_first = |b: u8| matches!(b, b'G' | b'H' | b'P' | b'O');
    if speaks_first && (http_first(first[0]) || first[0] == 0x16) {
        cfg.gate.saw_web_request(peer, Instant::now());
    }
    let native = Carrier {
        websocket: false,
        leftover: Vec::new(),
        tls: None,
        path: None,
    };
    if !speaks_first {
        return Ok(Ok(native));
    }
    if http_first(first[0]) {
        // With TLS configured, plain HTTP is sent to https (the same port).
        return Ok(
            match http::handle(stream, &cfg.http, pages, "http", cfg.tls.is_some())? {
                Outcome::WebSocket { leftover, path } => Ok(Carrier {
                    websocket: true,
                    leftover,
                    tls: None,
                    path: Some(path),
                }),
                Outcome::Answered(what) => Err(format!("HTTP: {what}")),
            },
        );
    }
    if first[0] == 0x16 {
        return https(stream, cfg, pages);
    }
    Ok(Ok(native))
}

/// A browser on https/wss: TLS, then HTTP inside it. `Ok(Err(what))` as for `detect`.
fn https(
    stream: &mut Stream,
    cfg: &ServerConfig,
    pages: Option<&dyn Pages>,
) -> io::Result<Result<Carrier, String>> {
    let Some(config) = &cfg.tls else {
        return Ok(Err(
            "a TLS client: start serve with --tls-cert and --tls-key for TLS".into(),
        ));
    };
    let mut conn = rustls::ServerConnection::new(config.clone())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    while conn.is_handshaking() {
        conn.complete_io(stream)?;
    }
    let outcome = {
        let mut tls_stream = rustls::Stream::new(&mut conn, stream);
        http::handle(&mut tls_stream, &cfg.http, pages, "https", false)?
    };
    Ok(match outcome {
        Outcome::WebSocket { leftover, path } => Ok(Carrier {
            websocket: true,
            leftover,
            tls: Some(std::sync::Arc::new(std::sync::Mutex::new(conn))),
            path: Some(path),
        }),
        Outcome::Answered(what) => {
            conn.send_close_notify();
            let _ = conn.complete_io(stream);
            Err(format!("HTTPS: {what}"))
        }
    })
}
