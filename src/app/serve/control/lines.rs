//! Request lines from a control connection, each bounded, read so that the server's stop is
//! seen while a client is silent.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

/// What came from the connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// One line, without its newline (a last line without one counts too).
    Request(Vec<u8>),
    /// A line longer than the limit: the connection cannot be read further.
    TooLong,
    /// The client closed, a read failed, or the server is stopping.
    End,
}

/// Reads lines from a stream that has a read timeout, keeping what follows a line for the next.
pub(super) struct LineReader<'a> {
    stream: &'a UnixStream,
    max: usize,
    /// Bytes read but not yet returned: never more than `max` plus one read's chunk.
    pending: Vec<u8>,
    closed: bool,
}

/// How much one read takes.
const CHUNK: usize = 4096;

impl<'a> LineReader<'a> {
    /// Lines of at most `max` bytes from `stream`, whose read timeout sets how often
    /// `stopping` is looked at.
    pub(super) fn new(stream: &'a UnixStream, max: usize) -> Self {
        LineReader {
            stream,
            max,
            pending: Vec::new(),
            closed: false,
        }
    }

    /// The next line.
    pub(super) fn next(&mut self, stopping: &(dyn Fn() -> bool + Sync)) -> Line {
        let mut chunk = [0u8; CHUNK];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                if end > self.max {
                    return Line::TooLong;
                }
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                return Line::Request(line);
            }
            if self.pending.len() > self.max {
                return Line::TooLong;
            }
            if self.closed {
                return if self.pending.is_empty() {
                    Line::End
                } else {
                    Line::Request(std::mem::take(&mut self.pending))
                };
            }
            if stopping() {
                return Line::End;
            }
            let mut stream = self.stream;
            match stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Line::End,
            }
        }
    }
}
