//! A client's byte streams, plain TCP or RFB inside WebSocket binary frames: the reader half
//! yields RFB bytes, the writer half sends them. Both are bounded.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use vfio_display::rfb::websocket::{self, opcode};

/// Sends RFB bytes (one message per call, so WebSocket frames hold whole messages).
pub struct Sender {
    stream: Mutex<TcpStream>,
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
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.write_all(bytes)
    }

    /// Shuts the socket down both ways: a read blocked on it returns.
    pub fn shutdown(&self) -> io::Result<()> {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.shutdown(std::net::Shutdown::Both)
    }

    /// Says goodbye to a WebSocket peer (nothing for plain TCP).
    pub fn close(&self) {
        if self.websocket {
            let mut framed = Vec::new();
            websocket::put_frame(opcode::CLOSE, &1000u16.to_be_bytes(), &mut framed);
            let _ = self.raw(&framed);
        }
    }
}

/// Receives RFB bytes.
pub struct Receiver {
    stream: TcpStream,
    sender: Arc<Sender>,
    websocket: bool,
    /// Socket bytes not yet parsed into frames (WebSocket only).
    frames: Vec<u8>,
    /// RFB bytes not yet consumed.
    pub data: Vec<u8>,
}

/// Splits a connection into its halves; `leftover` holds bytes already read past an HTTP
/// request (the start of the first WebSocket frame).
pub fn split(
    stream: TcpStream,
    websocket: bool,
    leftover: Vec<u8>,
) -> io::Result<(Receiver, Arc<Sender>)> {
    let sender = Arc::new(Sender {
        stream: Mutex::new(stream.try_clone()?),
        websocket,
    });
    let mut receiver = Receiver {
        stream,
        sender: sender.clone(),
        websocket,
        frames: Vec::new(),
        data: Vec::new(),
    };
    if websocket {
        receiver.frames = leftover;
        receiver.unframe()?;
    } else {
        receiver.data = leftover;
    }
    Ok((receiver, sender))
}

fn invalid(err: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

impl Receiver {
    /// The socket (for timeouts).
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// Reads more from the socket; an error at end of stream.
    pub fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection",
            ));
        }
        if self.websocket {
            self.frames.extend_from_slice(&chunk[..n]);
            self.unframe()
        } else {
            self.data.extend_from_slice(&chunk[..n]);
            Ok(())
        }
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
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the WebSocket",
                    ));
                }
                _ => return Err(invalid("text WebSocket frames carry no RFB")),
            }
        }
    }

    /// Takes exactly `n` RFB bytes.
    pub fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.data.len() < n {
            self.fill()?;
        }
        Ok(self.data.drain(..n).collect())
    }
}
