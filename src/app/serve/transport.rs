//! A client's byte streams: plain TCP or TLS (rustls), carrying RFB as it is or inside
//! WebSocket binary frames. The reader half yields RFB bytes, the writer half sends them; a
//! TLS session is shared by both halves behind a lock (taken by the reader only to decrypt
//! what it read, and never while it waits on the socket). Everything is bounded.

use super::stream::Stream;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use vfio_display::rfb::websocket::{self, opcode};

/// A TLS session shared by a connection's two halves.
pub type Tls = Arc<Mutex<rustls::ServerConnection>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Output {
    stream: Stream,
    tls: Option<Tls>,
    stall: Stall,
}

/// How long the client has kept the writer waiting: it outlives each write, since an update
/// goes out in several.
#[derive(Default)]
struct Stall {
    /// When the client first made the writer wait in this window (None: it has not).
    since: Option<Instant>,
    /// Bytes it took since then.
    taken: usize,
    /// When the last write ended.
    ended: Option<Instant>,
}

/// How much plain text goes into the TLS session at a time: its record size, so that the
/// session never buffers more than one record of ours.
const TLS_CHUNK: usize = 16 * 1024;

impl Output {
    /// Writes all of `bytes`. A client that takes less than `PROGRESS` bytes in `limit` (the
    /// socket's write timeout, `--client-timeout`; None: wait for ever) once it made the
    /// writer wait ends the connection: the time counts across writes, so a client that stops
    /// reading is dropped at the timeout whatever the size of the messages.
    fn write_all_within(&mut self, bytes: &[u8], limit: Option<Duration>) -> io::Result<()> {
        let Output { stream, tls, stall } = self;
        // A writer that was idle for a whole limit starts a new window: what the client did
        // before says nothing about it now.
        if limit.is_some_and(|limit| stall.ended.is_some_and(|e| e.elapsed() >= limit)) {
            stall.since = None;
            stall.taken = 0;
        }
        let mut socket = Progress {
            stream,
            limit,
            stall,
        };
        let result = match tls {
            None => socket.write_all(bytes),
            Some(tls) => {
                let mut conn = lock(tls);
                bytes.chunks(TLS_CHUNK).try_for_each(|chunk| {
                    conn.writer().write_all(chunk)?;
                    while conn.wants_write() {
                        conn.write_tls(&mut socket)?;
                    }
                    Ok(())
                })
            }
        };
        socket.stall.ended = Some(Instant::now());
        result
    }
}

/// What a client must take in each stall limit to count as reading. A client that stopped
/// reading still seems to take a little now and then: its kernel squeezes its full receive
/// queue and opens the window by some hundreds of KB at the next zero-window probe (seen
/// 3.3 s into a stall, then again 3 s later), which would push the drop to twice or three
/// times the limit.
const PROGRESS: usize = 1 << 20;

/// The socket as a writer that never blocks in the kernel: it waits for room with poll and
/// gives up when the client took less than `PROGRESS` bytes in the stall limit.
struct Progress<'a> {
    stream: &'a Stream,
    /// The socket's write timeout (None: wait for ever).
    limit: Option<Duration>,
    stall: &'a mut Stall,
}

impl Write for Progress<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use nix::errno::Errno;
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use nix::sys::socket::{MsgFlags, send};
        use std::os::fd::{AsFd, AsRawFd};
        loop {
            // MSG_DONTWAIT for this call only: the reader half shares the file and blocks.
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
            match send(self.stream.as_raw_fd(), buf, flags) {
                Ok(n) => {
                    if self.stall.since.is_some() {
                        self.stall.taken += n;
                        if self.stall.taken >= PROGRESS {
                            self.stall.since = None;
                            self.stall.taken = 0;
                        }
                    }
                    return Ok(n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
            let wait = match self.limit {
                None => PollTimeout::NONE,
                Some(limit) => {
                    let since = *self.stall.since.get_or_insert_with(Instant::now);
                    let left = limit.saturating_sub(since.elapsed());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client took too little for the client timeout",
                        ));
                    }
                    // Rounded up, so that a wait never ends just short of the limit.
                    let ms = left.as_millis().saturating_add(1);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLOUT)];
            match poll(&mut fds, wait) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends RFB bytes. A large update goes out in several calls, so in several WebSocket frames:
/// RFB over WebSocket is a byte stream (noVNC and websockify join the frames), and no call
/// needs the whole update in memory.
pub struct Sender {
    out: Mutex<Output>,
    websocket: bool,
}

impl Sender {
    /// Sends `bytes` as they are, or as one WebSocket binary frame: the frame's header goes
    /// out first and the bytes after it, never copied.
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.frame(opcode::BINARY, bytes)
    }

    fn frame(&self, op: u8, payload: &[u8]) -> io::Result<()> {
        let mut out = lock(&self.out);
        let limit = out.stream.write_timeout()?;
        Self::frame_within(&mut out, self.websocket, op, payload, limit)
    }

    fn frame_within(
        out: &mut Output,
        websocket: bool,
        op: u8,
        payload: &[u8],
        limit: Option<Duration>,
    ) -> io::Result<()> {
        if websocket {
            let mut head = Vec::with_capacity(websocket::MAX_HEADER);
            websocket::put_frame_header(op, payload.len(), &mut head);
            out.write_all_within(&head, limit)?;
        }
        out.write_all_within(payload, limit)
    }

    /// Writes what the TLS session has to send of its own (alerts, key updates).
    fn flush_tls(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        let limit = out.stream.write_timeout()?;
        let Output { stream, tls, stall } = &mut *out;
        if let Some(tls) = tls {
            let mut socket = Progress {
                stream,
                limit,
                stall,
            };
            let mut conn = lock(tls);
            while conn.wants_write() {
                conn.write_tls(&mut socket)?;
            }
        }
        Ok(())
    }

    /// Shuts the socket down both ways: a read blocked on it returns.
    pub fn shutdown(&self) -> io::Result<()> {
        lock(&self.out).stream.shutdown(std::net::Shutdown::Both)
    }

    /// Says goodbye: a WebSocket close frame, a TLS close_notify. Only what the socket takes
    /// at once is written: a client that stopped reading must not hold its connection open
    /// for another timeout.
    pub fn close(&self, status: u16, reason: &str) {
        let mut out = lock(&self.out);
        if self.websocket {
            // A close frame's payload is at most 125 bytes: the status, then the reason, cut
            // at a character boundary.
            let mut cut = reason.len().min(123);
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut payload = status.to_be_bytes().to_vec();
            payload.extend_from_slice(&reason.as_bytes()[..cut]);
            let _ = Self::frame_within(
                &mut out,
                true,
                opcode::CLOSE,
                &payload,
                Some(Duration::ZERO),
            );
        }
        let Output { stream, tls, stall } = &mut *out;
        if let Some(tls) = tls {
            let mut conn = lock(tls);
            conn.send_close_notify();
            let mut socket = Progress {
                stream,
                limit: Some(Duration::ZERO),
                stall,
            };
            while conn.wants_write() {
                if conn.write_tls(&mut socket).is_err() {
                    break;
                }
            }
        }
    }
}

/// Receives RFB bytes.
pub struct Receiver {
    stream: Stream,
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
    stream: Stream,
    websocket: bool,
    leftover: Vec<u8>,
    tls: Option<Tls>,
) -> io::Result<(Receiver, Arc<Sender>)> {
    let sender = Arc::new(Sender {
        out: Mutex::new(Output {
            stream: stream.try_clone()?,
            tls: tls.clone(),
            stall: Stall::default(),
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
    pub fn socket(&self) -> &Stream {
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
                opcode::PING => self.sender.frame(opcode::PONG, &frame.payload)?,
                opcode::PONG => {}
                opcode::CLOSE => {
                    self.sender.close(1000, "");
                    return Err(closed("the client closed the WebSocket"));
                }
                _ => return Err(invalid("text WebSocket frames carry no RFB")),
            }
        }
    }
}
