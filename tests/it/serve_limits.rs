//! `serve`'s limits per client: memory held for clients that stop reading (and given back when
//! they go), the drop of a client whose writes make no progress, and what a client may ask
//! of the device (no resize when view-only, none beyond the device's maximum).
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_macros)] // a test prints its figures for the log

use crate::common::serve::{Server, rss_kib};
use crate::common::wire::handshake_without_auth;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const RAW: i32 = 0;
const DESKTOP_SIZE: i32 = -223;
const EXTENDED_DESKTOP_SIZE: i32 = -308;

/// One rectangle of an update: its header and, for the layouts, the screens' ids.
#[derive(Debug)]
struct Rect {
    x: u16,
    y: u16,
    width: u16,
    height: u16,
    encoding: i32,
    screen_ids: Vec<u32>,
}

/// A small RFB client (security None, the server's own pixel format, Raw).
struct Client {
    s: TcpStream,
    width: u16,
    height: u16,
}

impl Client {
    fn connect(port: u16, encodings: &[i32]) -> Client {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (width, height, _) = handshake_without_auth(&mut s);
        let mut msg = vec![2, 0];
        msg.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            msg.extend_from_slice(&e.to_be_bytes());
        }
        s.write_all(&msg).unwrap();
        Client { s, width, height }
    }

    fn request_bytes(&self, incremental: bool) -> Vec<u8> {
        let mut msg = vec![3, u8::from(incremental), 0, 0, 0, 0];
        msg.extend_from_slice(&self.width.to_be_bytes());
        msg.extend_from_slice(&self.height.to_be_bytes());
        msg
    }

    fn request(&mut self, incremental: bool) {
        let msg = self.request_bytes(incremental);
        self.s.write_all(&msg).unwrap();
    }

    /// SetDesktopSize with one screen of id `id` covering it.
    fn set_desktop_size(&mut self, width: u16, height: u16, id: u32) {
        let mut msg = vec![251, 0];
        msg.extend_from_slice(&width.to_be_bytes());
        msg.extend_from_slice(&height.to_be_bytes());
        msg.extend_from_slice(&[1, 0]);
        msg.extend_from_slice(&id.to_be_bytes());
        for v in [0u16, 0, width, height] {
            msg.extend_from_slice(&v.to_be_bytes());
        }
        msg.extend_from_slice(&0u32.to_be_bytes());
        self.s.write_all(&msg).unwrap();
    }

    fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        self.s.read_exact(&mut b).unwrap();
        b
    }

    /// Reads one update of Raw, DesktopSize and ExtendedDesktopSize rectangles (the pixels
    /// are skipped).
    fn update(&mut self) -> Vec<Rect> {
        let head = self.read_n(4);
        assert_eq!(head[0], 0, "a FramebufferUpdate");
        let count = u16::from_be_bytes([head[2], head[3]]);
        let mut rects = Vec::new();
        for _ in 0..count {
            let h = self.read_n(12);
            let v = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
            let mut rect = Rect {
                x: v(0),
                y: v(2),
                width: v(4),
                height: v(6),
                encoding: i32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                screen_ids: Vec::new(),
            };
            match rect.encoding {
                RAW => {
                    let n = usize::from(rect.width) * usize::from(rect.height) * 4;
                    self.read_n(n);
                }
                DESKTOP_SIZE => (self.width, self.height) = (rect.width, rect.height),
                EXTENDED_DESKTOP_SIZE => {
                    (self.width, self.height) = (rect.width, rect.height);
                    let screens = self.read_n(4)[0];
                    for _ in 0..screens {
                        let s = self.read_n(16);
                        rect.screen_ids
                            .push(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
                    }
                }
                other => panic!("encoding {other}"),
            }
            rects.push(rect);
        }
        rects
    }

    /// Reads updates (asking for more) until one carries an ExtendedDesktopSize answer to this
    /// client's request (reason 1); returns its status.
    fn resize_answer(&mut self) -> (u16, Rect) {
        for _ in 0..50 {
            self.request(true);
            for rect in self.update() {
                if rect.encoding == EXTENDED_DESKTOP_SIZE && rect.x == 1 {
                    return (rect.y, rect);
                }
            }
        }
        panic!("no answer to SetDesktopSize in 50 updates")
    }
}

/// A layout's one screen has a non-zero id (libvncclient up to 0.9.15 ignores id 0), the same
/// in every layout the server sends.
fn assert_screen_id(rect: &Rect, first: &mut Option<u32>) {
    assert_eq!(rect.screen_ids.len(), 1, "{rect:?}");
    let id = rect.screen_ids[0];
    assert_ne!(id, 0, "screen id 0 in {rect:?}");
    assert_eq!(
        *first.get_or_insert(id),
        id,
        "the screen id changed: {rect:?}"
    );
}

#[test]
fn a_view_only_client_cannot_resize_the_guest() {
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--no-auth",
        "--follow-client-size",
        "--view-only",
    ]);
    let mut c = Client::connect(server.port, &[RAW, EXTENDED_DESKTOP_SIZE]);
    c.request(false);
    let first = c.update();
    let mut id = None;
    let layout = first
        .iter()
        .find(|r| r.encoding == EXTENDED_DESKTOP_SIZE)
        .expect("the first update carries the layout");
    assert_screen_id(layout, &mut id);
    let (w, h) = (c.width, c.height);
    c.set_desktop_size(800, 600, id.unwrap());
    let (status, answer) = c.resize_answer();
    assert_eq!(status, 1, "resize administratively prohibited: {answer:?}");
    assert_screen_id(&answer, &mut id);
    assert_eq!((answer.width, answer.height), (w, h));
    drop(c);
    let (_, err) = server.stop();
    assert!(
        !err.contains("a client asked for"),
        "a view-only client's resize reached the device: {err}"
    );
}

#[test]
fn resizes_beyond_the_device_maximum_are_refused_and_others_written() {
    // The simulator's EDID region says max_xres 3840, max_yres 2160.
    let server = Server::start(&[
        "--sim",
        "--sim-frame",
        "1",
        "--no-auth",
        "--follow-client-size",
    ]);
    let mut c = Client::connect(server.port, &[RAW, EXTENDED_DESKTOP_SIZE]);
    c.request(false);
    let mut id = None;
    for rect in c.update() {
        if rect.encoding == EXTENDED_DESKTOP_SIZE {
            assert_screen_id(&rect, &mut id);
        }
    }
    let id = id.expect("the first update carries the layout");
    c.set_desktop_size(4096, 2160, id);
    let (status, answer) = c.resize_answer();
    assert_eq!(status, 2, "out of resources: {answer:?}");
    c.set_desktop_size(3840, 2400, id);
    let (status, answer) = c.resize_answer();
    assert_eq!(status, 2, "out of resources: {answer:?}");
    c.set_desktop_size(800, 600, id);
    let (status, answer) = c.resize_answer();
    assert_eq!(status, 0, "no error: {answer:?}");
    assert_eq!(answer.screen_ids, [id]);
    server.wait_log("a client asked for 800x600");
    // The guest takes the new mode: the client is resized, still with the same screen id.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut resized = None;
    while resized.is_none() && Instant::now() < deadline {
        c.request(true);
        resized = c
            .update()
            .into_iter()
            .find(|r| r.encoding == EXTENDED_DESKTOP_SIZE && r.x == 0);
    }
    let resized = resized.expect("the mode change reaches the client");
    assert_eq!((resized.width, resized.height), (800, 600));
    assert_eq!(resized.screen_ids, [id]);
    drop(c);
    let (_, err) = server.stop();
    assert!(!err.contains("4096x2160"), "{err}");
    assert!(!err.contains("3840x2400"), "{err}");
}

#[test]
fn a_client_whose_writes_stall_is_dropped_at_the_client_timeout() {
    // An animated guest at 1080p, and a client that floods the server with requests for full
    // updates and never reads one.
    let server = Server::start(&[
        "--sim",
        "--sim-mode",
        "1920x1080",
        "--no-auth",
        "--client-timeout",
        "3",
    ]);
    let mut c = Client::connect(server.port, &[RAW]);
    let one = c.request_bytes(false);
    let flood: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 10_000)
        .collect();
    c.s.write_all(&flood).unwrap();
    // The socket buffers (a few MB) fill within milliseconds of the first full update: from
    // now on the server's writes make no progress.
    let stalled = Instant::now();
    server.wait_log("gone: no progress for 3 s");
    let after = stalled.elapsed();
    assert!(
        after < Duration::from_millis(4500),
        "dropped {after:?} after its writes stalled, with --client-timeout 3"
    );
    drop(c);
}

#[test]
fn stalled_raw_clients_at_4k_hold_bounded_memory_and_give_it_back() {
    // A still guest: what is measured is what each client costs beside the server's picture.
    let server = Server::start(&[
        "--sim",
        "--sim-mode",
        "3840x2160",
        "--sim-frame",
        "3",
        "--no-auth",
        "--client-timeout",
        "120",
    ]);
    let pid = server.child.id();
    // One client that reads a full update: the server at work, its frames allocated.
    let mut reader = Client::connect(server.port, &[RAW]);
    reader.request(false);
    reader.update();
    drop(reader);
    server.wait_log("gone");
    let (before, _) = rss_kib(pid);
    let clients: Vec<Client> = (0..16)
        .map(|_| {
            let mut c = Client::connect(server.port, &[RAW]);
            c.request(false);
            c
        })
        .collect();
    // Every writer blocks within a second or two; the RSS is watched until it stays put.
    let start = Instant::now();
    let mut last = rss_kib(pid).0;
    let mut still_since = Instant::now();
    while start.elapsed() < Duration::from_secs(20)
        && (start.elapsed() < Duration::from_secs(3)
            || still_since.elapsed() < Duration::from_secs(1))
    {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_kib(pid).0;
        if now.abs_diff(last) > 4096 {
            still_since = Instant::now();
        }
        last = now;
    }
    let (stalled, peak) = rss_kib(pid);
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.log().matches(" gone: ").count() < 17 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (after, _) = rss_kib(pid);
    eprintln!(
        "RSS: {} MiB with one client gone, {} MiB with 16 stalled Raw clients at 4K (peak {} MiB), \
         {} MiB after they left",
        before / 1024,
        stalled / 1024,
        peak / 1024,
        after / 1024
    );
    assert!(
        peak < 600 * 1024,
        "the server peaked at {} MiB with 16 stalled clients at 4K",
        peak / 1024
    );
    assert!(
        after < before + 64 * 1024,
        "{} MiB before the clients, {} MiB after they left",
        before / 1024,
        after / 1024
    );
}
