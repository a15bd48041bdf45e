//! A minimal VNC client for the remote figures: it asks for updates and counts their bytes,
//! reading each rectangle's length from the encoding (Raw, ZRLE, Tight without JPEG, Cursor,
//! DesktopSize) without decoding pixels, so that the same client measures this server and
//! TigerVNC's.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::Duration;

pub struct BenchClient {
    s: TcpStream,
    pub width: u16,
    pub height: u16,
    /// Pixels the last update's pixel rectangles covered (pseudo-encodings left out): a full
    /// picture covers width x height.
    pub last_area: u64,
}

impl BenchClient {
    /// Connects without a password and offers `encodings` (the server's pixel format is kept).
    pub fn connect(port: u16, encodings: &[i32]) -> Result<Self> {
        let s = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
        Self::handshake(s, encodings)
    }

    /// The same from the loopback address `source` (any of 127.0.0.0/8): viewers on many
    /// machines, which the server counts apart, rather than many viewers on one.
    pub fn connect_from(source: Ipv4Addr, port: u16, encodings: &[i32]) -> Result<Self> {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket,
        };
        use std::os::fd::AsRawFd;
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("a TCP socket")?;
        bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(source, 0)),
        )
        .with_context(|| format!("binding a socket to {source}"))?;
        let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        connect(fd.as_raw_fd(), &SockaddrIn::from(server))
            .with_context(|| format!("connecting from {source} to {server}"))?;
        Self::handshake(TcpStream::from(fd), encodings)
    }

    fn handshake(mut s: TcpStream, encodings: &[i32]) -> Result<Self> {
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        let mut version = [0u8; 12];
        s.read_exact(&mut version)?;
        s.write_all(b"RFB 003.008\n")?;
        let mut count = [0u8; 1];
        s.read_exact(&mut count)?;
        let mut types = vec![0u8; usize::from(count[0])];
        s.read_exact(&mut types)?;
        if !types.contains(&1) {
            bail!("the server offers no security type None: {types:?}");
        }
        s.write_all(&[1])?;
        let mut result = [0u8; 4];
        s.read_exact(&mut result)?;
        if result != [0; 4] {
            bail!("the server refused the connection");
        }
        s.write_all(&[1])?;
        let mut init = [0u8; 24];
        s.read_exact(&mut init)?;
        let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
        if name_len > 4096 {
            bail!("a desktop name of {name_len} bytes");
        }
        let mut name = vec![0u8; name_len as usize];
        s.read_exact(&mut name)?;
        let mut msg = vec![2, 0];
        msg.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            msg.extend_from_slice(&e.to_be_bytes());
        }
        s.write_all(&msg)?;
        Ok(BenchClient {
            s,
            width: u16::from_be_bytes([init[0], init[1]]),
            height: u16::from_be_bytes([init[2], init[3]]),
            last_area: 0,
        })
    }

    /// Asks for the whole screen.
    pub fn request(&mut self, incremental: bool) -> Result<()> {
        let mut msg = vec![3, u8::from(incremental), 0, 0, 0, 0];
        msg.extend_from_slice(&self.width.to_be_bytes());
        msg.extend_from_slice(&self.height.to_be_bytes());
        self.s.write_all(&msg)?;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.s.read_exact(&mut b)?;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        let copied = std::io::copy(&mut (&mut self.s).take(n as u64), &mut std::io::sink())?;
        if copied != n as u64 {
            bail!("the server closed the connection inside an update");
        }
        Ok(())
    }

    fn compact_len(&mut self) -> Result<(usize, usize)> {
        let mut len = 0usize;
        for i in 0..3 {
            let b = self.take(1)?[0];
            len |= usize::from(if i == 2 { b } else { b & 0x7f }) << (7 * i);
            if b & 0x80 == 0 || i == 2 {
                return Ok((len, i + 1));
            }
        }
        Ok((len, 3))
    }

    /// Reads one whole FramebufferUpdate (skipping other server messages); returns its bytes.
    pub fn update(&mut self) -> Result<usize> {
        loop {
            let kind = self.take(1)?[0];
            match kind {
                0 => break,
                // Bell.
                2 => continue,
                // ServerCutText.
                3 => {
                    let h = self.take(7)?;
                    let len = u32::from_be_bytes([h[3], h[4], h[5], h[6]]) as usize;
                    self.skip(len)?;
                }
                other => bail!("server message type {other}"),
            }
        }
        let head = self.take(3)?;
        let rects = u16::from_be_bytes([head[1], head[2]]);
        let mut bytes = 4;
        self.last_area = 0;
        for _ in 0..rects {
            let h = self.take(12)?;
            bytes += 12;
            let v = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
            let (w, hh) = (v(4), v(6));
            let enc = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            if matches!(enc, 0 | 7 | 16) {
                self.last_area += (w * hh) as u64;
            }
            bytes += match enc {
                0 => {
                    self.skip(w * hh * 4)?;
                    w * hh * 4
                }
                16 => {
                    let l = self.take(4)?;
                    let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    self.skip(len)?;
                    4 + len
                }
                7 => self.tight_rect(w, hh)?,
                -239 => {
                    let len = w * hh * 4 + w.div_ceil(8) * hh;
                    self.skip(len)?;
                    len
                }
                -224 => break,
                -223 => 0,
                -308 => {
                    let n = usize::from(self.take(4)?[0]);
                    self.skip(n * 16)?;
                    4 + n * 16
                }
                other => bail!("encoding {other} in an update"),
            };
        }
        Ok(bytes)
    }

    fn tight_rect(&mut self, w: usize, h: usize) -> Result<usize> {
        let control = self.take(1)?[0];
        let mut bytes = 1;
        match control >> 4 {
            8 => {
                self.skip(3)?;
                return Ok(bytes + 3);
            }
            9 => {
                let (len, n) = self.compact_len()?;
                self.skip(len)?;
                return Ok(bytes + n + len);
            }
            c if c & 0x8 != 0 => bail!("Tight control byte {control:#x}"),
            _ => {}
        }
        let mut colours = 0;
        if control & 0x40 != 0 {
            let filter = self.take(1)?[0];
            bytes += 1;
            if filter == 1 {
                colours = usize::from(self.take(1)?[0]) + 1;
                self.skip(colours * 3)?;
                bytes += 1 + colours * 3;
            }
        }
        let raw = match colours {
            0 => w * h * 3,
            2 => w.div_ceil(8) * h,
            _ => w * h,
        };
        if raw < 12 {
            self.skip(raw)?;
            return Ok(bytes + raw);
        }
        let (len, n) = self.compact_len()?;
        self.skip(len)?;
        Ok(bytes + n + len)
    }

    /// Bytes that arrive within `wait` (the connection is left open).
    pub fn bytes_within(&mut self, wait: Duration) -> Result<usize> {
        self.s.set_read_timeout(Some(wait))?;
        let end = std::time::Instant::now() + wait;
        let mut total = 0;
        let mut buf = [0u8; 65536];
        while std::time::Instant::now() < end {
            match self.s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(total)
    }
}
