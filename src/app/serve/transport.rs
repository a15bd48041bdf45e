//! A client's byte streams: plain TCP or TLS (rustls), carrying RFB as it is or inside
//! WebSocket binary frames. The reader half yields RFB bytes, the writer half sends them; a
//! TLS session is shared by both halves behind a lock (taken by the reader only to decrypt
//! what it read, and never while it waits on the socket). Everything is bounded.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use vfio_display::rfb::websocket::{self, opcode};

/// A TLS session shared by a connection's two halves.
pub type Tls = Arc<Mutex<rustls::ServerConnection>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Output {
    stream: TcpStream,
    tls: Option<Tls>,
}

/// Sends RFB bytes (one message per call, so WebSocket frames hold whole messages).
pub struct Sender {
    out: Mutex<Output>,
    websocket: bool,
}

impl Sender {
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        if self.websocket {
            let mut framed = Vec::with_capacity(bytes.len() + 10);
            websocket::put_frame(opcode::BINARY, bytes, &mut framed);
            self.raw(&framed)
        } else {
            self.raw(bytes)
        }
    }

    fn raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = lock(&self.out);
        let Output { stream, tls } = &mut *out;
        match tls {
            None => stream.write_all(bytes),
            Some(tls) => {
                let mut conn = lock(tls);
                conn.writer().write_all(bytes)?;
                while conn.wants_write() {
                    conn.write_tls(stream)?;
                }
                Ok(())
            }
        }
    }

    /// Writes what the TLS session has to send of its own (alerts, key updates).
    fn flush_tls(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        let Output { stream, tls } = &mut *out;
        if let Some(tls) = tls {
            let mut conn = lock(tls);
            while conn.wants_write() {
                conn.write_tls(stream)?;
            }
        }
        Ok(())
    }

    /// Shuts the socket down both ways: a read blocked on it returns.
    pub fn shutdown(&self) -> io::Result<()> {
        lock(&self.out).stream.shutdown(std::net::Shutdown::Both)
    }

    /// Says goodbye: a WebSocket close frame, a TLS close_notify.
    pub fn close(&self) {
        if self.websocket {
            let mut framed = Vec::new();
            websocket::put_frame(opcode::CLOSE, &1000u16.to_be_bytes(), &mut framed);
            let _ = self.raw(&framed);
        }
        let tls = lock(&self.out).tls.clone();
        if let Some(tls) = tls {
            lock(&tls).send_close_notify();
            let _ = self.flush_tls();
        }
    }
}

/// Receives RFB bytes.
pub struct Receiver {
    stream: TcpStream,
    tls: Option<Tls>,
    sender: Arc<Sender>,
    websocket: bool,
    /// Socket bytes (decrypted) not yet parsed into frames (WebSocket only).
    frames: Vec<u8>,
    /// RFB bytes not yet consumed.
    pub data: Vec<u8>,
}

/// Splits a connection into its halves; `leftover` holds plain bytes already read past an
/// HTTP request (the start of the first WebSocket frame); `tls` the session already running on
/// the socket, if any.
pub fn split(
    stream: TcpStream,
    websocket: bool,
    leftover: Vec<u8>,
    tls: Option<Tls>,
) -> io::Result<(Receiver, Arc<Sender>)> {
    let sender = Arc::new(Sender {
        out: Mutex::new(Output {
            stream: stream.try_clone()?,
            tls: tls.clone(),
        }),
        websocket,
    });
    let mut receiver = Receiver {
        stream,
        tls,
        sender: sender.clone(),
        websocket,
        frames: Vec::new(),
        data: Vec::new(),
    };
    receiver.accept(&leftover)?;
    // The session may hold decrypted bytes that the HTTP reader did not ask for yet.
    receiver.drain_tls()?;
    Ok((receiver, sender))
}

fn invalid(err: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

fn closed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string())
}

impl Receiver {
    /// The socket (for timeouts).
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// Starts TLS on the connection (VeNCrypt): the handshake runs here, then both halves
    /// speak through the session. The client sends nothing between the server's go-ahead and
    /// its ClientHello, so nothing plain may be left over.
    pub fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        if !self.data.is_empty() {
            return Err(invalid("bytes before the TLS handshake"));
        }
        let mut conn = rustls::ServerConnection::new(config).map_err(invalid)?;
        let mut sock = self.stream.try_clone()?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        let tls = Arc::new(Mutex::new(conn));
        lock(&self.sender.out).tls = Some(tls.clone());
        self.tls = Some(tls);
        self.drain_tls().map(|_| ())
    }

    /// Takes in bytes that came off the session or the socket.
    fn accept(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.websocket {
            self.frames.extend_from_slice(bytes);
            self.unframe()
        } else {
            self.data.extend_from_slice(bytes);
            Ok(())
        }
    }

    /// Moves what the TLS session decrypted into the stream; false when the peer closed it.
    fn drain_tls(&mut self) -> io::Result<bool> {
        let Some(tls) = self.tls.clone() else {
            return Ok(true);
        };
        let mut plain = Vec::new();
        let open = {
            let mut conn = lock(&tls);
            let mut buf = [0u8; 16 * 1024];
            loop {
                match conn.reader().read(&mut buf) {
                    Ok(0) => break false,
                    Ok(n) => plain.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(e) => return Err(e),
                }
            }
        };
        self.accept(&plain)?;
        Ok(open)
    }

    /// Reads more from the socket; an error at end of stream.
    pub fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(closed("the client closed the connection"));
        }
        let Some(tls) = self.tls.clone() else {
            return self.accept(&chunk[..n]);
        };
        {
            let mut conn = lock(&tls);
            let mut input = &chunk[..n];
            while !input.is_empty() {
                conn.read_tls(&mut input)?;
                conn.process_new_packets().map_err(invalid)?;
            }
        }
        // The lock is released first: the sender takes its own lock, then the session's.
        self.sender.flush_tls()?;
        if !self.drain_tls()? {
            return Err(closed("the client closed the TLS session"));
        }
        Ok(())
    }

    /// Moves whole frames' payloads into `data`, answering pings and closes.
    fn unframe(&mut self) -> io::Result<()> {
        loop {
            let Some((frame, used)) = websocket::parse_frame(&self.frames).map_err(invalid)? else {
                return Ok(());
            };
            self.frames.drain(..used);
            match frame.opcode {
                opcode::BINARY | opcode::CONTINUATION => {
                    self.data.extend_from_slice(&frame.payload);
                }
                opcode::PING => {
                    let mut pong = Vec::new();
                    websocket::put_frame(opcode::PONG, &frame.payload, &mut pong);
                    self.sender.raw(&pong)?;
                }
                opcode::PONG => {}
                opcode::CLOSE => {
                    self.sender.close();
                    return Err(closed("the client closed the WebSocket"));
                }
                _ => return Err(invalid("text WebSocket frames carry no RFB")),
            }
        }
    }
}
