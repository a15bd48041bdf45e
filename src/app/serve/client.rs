//! One client connection: protocol detection (native RFB, WebSocket, plain HTTP), the RFB
//! handshake with security, then a reader thread that parses the client's messages into its
//! mailbox and a writer (this thread) that answers update requests from the newest snapshot.

use super::detect::{self, Carrier};
use super::gate::Ticket;
use super::hub::{ClientMeta, CursorShape, Hub, Mailbox, Snapshot, UpdateRequest};
use super::input::ClientInput;
use super::router::Route;
use super::screen::{Credential, Screen};
use super::stream::{Peer, Stream};
use super::transport::{self, Receiver, Sender};
use super::{ServerConfig, resize};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use vfio_display::frame::RgbaImage;
use vfio_display::geometry::Size;
use vfio_display::rfb::encode::tight_pieces;
use vfio_display::rfb::handshake::{Handshake, Policy, Refusal, Step};
use vfio_display::rfb::messages::{
    self, KeyEvent, PointerEvent, QemuExtendedKeyEvent, SetDesktopSize, SetEncodings,
    SetPixelFormat, encoding, put_rect_header,
};
use vfio_display::rfb::{
    self, ClientMessage, ClientParams, Encoder, Encoding, PixelFormat, Rect, RfbError, Version,
    tiles,
};

/// The longest a client waits at connection for the server's first capture.
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(2);

/// The pause before a wrong password is answered: one connection guesses slowly, and the
/// gate's blacklist stops many connections guessing in parallel.
const WRONG_PASSWORD_PAUSE: Duration = Duration::from_millis(500);

fn io_err(err: RfbError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

/// Serves one connection until it ends; returns why it ended. `route` says which screen it
/// reaches; `ticket` counts the connection among those in their handshake until the handshake
/// is over.
pub fn serve(
    stream: Stream,
    peer: &Peer,
    route: Route<'_>,
    cfg: &ServerConfig,
    ticket: Ticket<'_>,
) -> String {
    match serve_inner(stream, peer, route, cfg, ticket) {
        Ok(why) => why,
        Err(err) => reason(&err, cfg),
    }
}

/// Why an I/O error ended a connection, in the user's words.
fn reason(err: &io::Error, cfg: &ServerConfig) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "no progress for {} s (--client-timeout)",
            cfg.client_timeout.as_secs()
        ),
        // The gate shut the socket: the handshake outlived its deadline, or the server stops.
        io::ErrorKind::UnexpectedEof | io::ErrorKind::NotConnected if cfg.gate.closing() => {
            "the server stopped".into()
        }
        _ => err.to_string(),
    }
}

fn serve_inner(
    mut stream: Stream,
    peer: &Peer,
    route: Route<'_>,
    cfg: &ServerConfig,
    ticket: Ticket<'_>,
) -> io::Result<String> {
    stream.set_nodelay()?;
    stream.set_write_timeout(Some(cfg.client_timeout))?;
    let Carrier {
        websocket,
        leftover,
        tls,
        path,
    } = match detect::detect(&mut stream, peer, cfg, route.pages())? {
        Ok(carrier) => carrier,
        Err(answered) => return Ok(answered),
    };
    let encrypted = tls.is_some();
    let (mut receiver, sender) = transport::split(stream, websocket, leftover, tls)?;
    let screen = match route.screen(path.as_deref()) {
        Ok(screen) => screen,
        Err(why) => {
            // Still told in RFB's own words: a viewer shows the reason.
            let held = Held {
                policy: Policy {
                    refuse: Some(why),
                    ..Policy::default()
                },
                screen: None,
            };
            return Ok(match handshake(&mut receiver, &sender, cfg, held, peer)? {
                Err(refused) => format!("{refused} [device none, auth refused]"),
                Ok(_) => "refused".into(),
            });
        }
    };
    let hub = &screen.hub;
    // A client that connects while the server starts would be shown the placeholder picture
    // before the guest's first frame: the first capture gets a moment (a display that is off
    // publishes nothing, so the wait is bounded).
    let starting = Instant::now();
    while hub.latest().serial == 0 && starting.elapsed() < FIRST_FRAME_WAIT && !hub.stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let snapshot = hub.latest();
    let credential = cfg.access.credential(&screen.name, SystemTime::now());
    let auth = match &credential {
        Credential::NoAuth => "none",
        Credential::Password { .. } => "password",
        Credential::Refused(_) => "refused",
    };
    let policy = policy(cfg, &screen, credential, encrypted, peer);
    let version = match handshake(&mut receiver, &sender, cfg, policy, peer)? {
        Ok(version) => version,
        Err(refused) => {
            let result = if auth == "password" {
                "failed"
            } else {
                "refused"
            };
            return Ok(format!("{refused} [device {}, auth {result}]", screen.name));
        }
    };
    // The client joins before it gets ServerInit: a client told it is in is one the server
    // counts, and tells when it stops.
    let how = match (websocket, encrypted || cfg.tls.is_some()) {
        (true, true) => "WebSocket over TLS",
        (true, false) => "WebSocket",
        (false, true) => "native, VeNCrypt TLS",
        (false, false) => "native",
    };
    let meta = ClientMeta {
        peer: peer.to_string(),
        transport: how,
        since: SystemTime::now(),
    };
    let mailbox = match hub.join(receiver.socket(), screen.max_clients, meta) {
        Ok(m) => m,
        Err(why) if hub.stopping() => return Ok(why),
        Err(why) => return Ok(format!("refused: {why} [device {}]", screen.name)),
    };
    let mut init = Vec::new();
    let (w, h) = fb_size(&snapshot.image);
    messages::put_server_init(&mut init, w, h, &screen.title);
    sender.send(&init)?;
    // The handshake is over: from here the connection is a client's, bounded by its
    // progress (--client-timeout on writes), not by the handshake's deadline.
    drop(ticket);
    receiver.socket().set_read_timeout(None)?;
    if cfg.log_clients {
        errln!(
            "vfio-display: client {peer} connected ({how}, RFB {version:?}) [device {}, auth {auth}]",
            screen.name
        );
    }
    let mut writer = Writer::new(&snapshot);
    drop(snapshot);
    let ended = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut input = screen.input.client();
            read_messages(&mut receiver, &mailbox, hub, &mut input);
            input.end();
        });
        let ended = writer.run(&mailbox, &sender, &screen);
        // A browser is told why the server ends the connection (1001, "going away", with the
        // reason: the VM ended, a signal); RFB has no such message after the handshake.
        match (hub.stopping(), mailbox.lock().closed.clone()) {
            (true, Some(why)) => sender.close(1001, &why),
            _ => sender.close(1000, ""),
        }
        // The reader may be blocked in read(): shutting the socket down ends it.
        let _ = sender.shutdown();
        let _ = reader.join();
        ended
    });
    let closed = mailbox.lock().closed.clone();
    Ok(match ended {
        Err(err) => reason(&err, cfg),
        Ok(()) => closed.unwrap_or_else(|| "closed".into()),
    })
}

/// Why a client is refused before security, if it is: its address guessed wrong too often,
/// the screen has its most clients, or its credential refuses everyone now.
fn refusal(
    cfg: &ServerConfig,
    screen: &Screen,
    credential: &Credential,
    peer: &Peer,
) -> Option<String> {
    if let Some(wait) = cfg.gate.blocked(peer, Instant::now()) {
        return Some(format!(
            "too many failed passwords from this address: try again in {} s",
            wait.as_secs().max(1)
        ));
    }
    if screen.hub.client_count() >= screen.max_clients {
        return Some(format!(
            "the server has its most clients ({}) connected",
            screen.max_clients
        ));
    }
    match credential {
        Credential::Refused(why) => Some(why.clone()),
        _ => None,
    }
}

/// A handshake's policy, and what confirms a login that passed security.
struct Held {
    policy: Policy,
    /// The screen reached, and the ticket's generation for a password login (`None` for a
    /// login without one, which stands only while the screen still asks none).
    screen: Option<(String, Option<u64>)>,
}

/// The handshake's policy for a connection to `screen`. `encrypted` says the connection
/// already runs in TLS (wss); otherwise, with TLS configured, a native client must take
/// VeNCrypt. A password login is held for confirmation: a ticket may be one-time.
fn policy(
    cfg: &ServerConfig,
    screen: &Screen,
    credential: Credential,
    encrypted: bool,
    peer: &Peer,
) -> Held {
    let refuse = refusal(cfg, screen, &credential, peer);
    let (password, generation) = match credential {
        Credential::Password {
            password,
            generation,
        } => (Some(password), Some(generation)),
        _ => (None, None),
    };
    Held {
        policy: Policy {
            password,
            vencrypt: cfg.tls.is_some() && !encrypted,
            refuse,
            confirm: true,
        },
        screen: Some((screen.name.clone(), generation)),
    }
}

/// The handshake up to ClientInit (`rfb::handshake` speaks it; this moves the bytes, starts
/// TLS and confirms password logins with the server's tickets; the caller sends ServerInit).
/// `Ok(Err(why))` when the client was refused (bad password, no common type, a full server, a
/// blocked address, a used or expired ticket).
fn handshake(
    r: &mut Receiver,
    s: &Sender,
    cfg: &ServerConfig,
    held: Held,
    peer: &Peer,
) -> io::Result<Result<Version, String>> {
    let Held { policy, screen } = held;
    let password = policy.password.is_some();
    let mut hs = Handshake::new(policy, random_challenge()?);
    loop {
        let step = hs.advance(&mut r.data).map_err(io_err)?;
        let mut blocked = None;
        if step == Step::Refused(Refusal::WrongPassword) {
            blocked = cfg.gate.failed(peer, Instant::now());
            std::thread::sleep(WRONG_PASSWORD_PAUSE);
        }
        if hs.has_output() {
            s.send(&hs.take_output())?;
        }
        match step {
            Step::NeedMore => r.fill()?,
            Step::StartTls => {
                let Some(config) = &cfg.tls else {
                    return Err(io_err(RfbError::Protocol(
                        "TLS without a certificate".into(),
                    )));
                };
                r.start_tls(config.clone())?;
                hs.tls_started();
            }
            // Security passed: the ticket decides whether the login stands (a one-time
            // password that a racing connection used first does not, nor a login without a
            // password to a screen that asks one since the handshake began).
            Step::Authenticated => {
                let now = SystemTime::now();
                let outcome = match &screen {
                    Some((name, Some(generation))) => cfg.access.redeem(name, *generation, now),
                    Some((name, None)) => match cfg.access.credential(name, now) {
                        Credential::NoAuth => Ok(()),
                        Credential::Refused(why) => Err(why),
                        Credential::Password { .. } => {
                            Err("this device asks for a password now: connect again".to_string())
                        }
                    },
                    None => Ok(()),
                };
                hs.confirm(outcome);
            }
            Step::Done { version, .. } => {
                if password {
                    cfg.gate.succeeded(peer);
                }
                return Ok(Ok(version));
            }
            Step::Refused(why) => {
                let why = match blocked {
                    Some(wait) => format!(
                        "{why}; its address is refused for {} s after repeated failures",
                        wait.as_secs()
                    ),
                    None => why.to_string(),
                };
                return Ok(Err(why));
            }
        }
    }
}

fn random_challenge() -> io::Result<[u8; 16]> {
    use std::io::Read;
    let mut c = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut c)?;
    Ok(c)
}

/// The framebuffer size RFB can carry for `image` (16 bits a side).
fn fb_size(image: &RgbaImage) -> (u16, u16) {
    (
        image.width.min(u32::from(u16::MAX)) as u16,
        image.height.min(u32::from(u16::MAX)) as u16,
    )
}

/// Parses the client's messages into its mailbox (and its input into the guest) until the
/// connection ends.
fn read_messages(r: &mut Receiver, mailbox: &Mailbox, hub: &Hub, input: &mut ClientInput<'_>) {
    let why = loop {
        let parsed = match rfb::parse_client_message(&r.data) {
            Ok(parsed) => parsed,
            // The error names its kind itself ("protocol error: ...").
            Err(err) => break err.to_string(),
        };
        let Some((msg, used)) = parsed else {
            if let Err(err) = r.fill() {
                break err.to_string();
            }
            continue;
        };
        r.data.drain(..used);
        if let Err(why) = take(msg, mailbox, hub, input) {
            break why;
        }
    };
    mailbox.post(|p| {
        p.closed.get_or_insert(why);
    });
}

fn take(
    msg: ClientMessage,
    mailbox: &Mailbox,
    hub: &Hub,
    input: &mut ClientInput<'_>,
) -> Result<(), String> {
    match msg {
        ClientMessage::SetPixelFormat(SetPixelFormat { format }) => {
            format
                .validate()
                .map_err(|e| format!("SetPixelFormat: {e}"))?;
            mailbox.post(|p| p.format = Some(format));
        }
        ClientMessage::SetEncodings(SetEncodings { encodings }) => {
            mailbox.post(|p| p.encodings = Some(encodings));
        }
        ClientMessage::FramebufferUpdateRequest(r) => {
            let new = UpdateRequest {
                incremental: r.incremental,
                area: Rect::new(r.x, r.y, r.width, r.height),
            };
            mailbox.post(|p| p.request = Some(merge(p.request, new)));
        }
        ClientMessage::KeyEvent(KeyEvent { down, keysym }) => input.keysym(keysym, down),
        ClientMessage::QemuExtendedKeyEvent(QemuExtendedKeyEvent {
            down,
            keysym,
            keycode,
        }) => input.scancode(keysym, keycode, down),
        ClientMessage::PointerEvent(PointerEvent { buttons, x, y }) => {
            let latest = hub.latest();
            input.pointer(
                buttons,
                x,
                y,
                Size::new(latest.image.width, latest.image.height),
            );
        }
        ClientMessage::ClientCutText(_) => {}
        ClientMessage::SetDesktopSize(SetDesktopSize {
            width,
            height,
            screens,
        }) => {
            mailbox.post(|p| p.desktop_size = Some((width, height, screens)));
        }
    }
    Ok(())
}

/// Two requests as one: the union of their areas, incremental only if both are.
fn merge(old: Option<UpdateRequest>, new: UpdateRequest) -> UpdateRequest {
    let Some(old) = old else { return new };
    let (a, b) = (old.area, new.area);
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (u32::from(a.x) + u32::from(a.width)).max(u32::from(b.x) + u32::from(b.width));
    let y1 = (u32::from(a.y) + u32::from(a.height)).max(u32::from(b.y) + u32::from(b.height));
    UpdateRequest {
        incremental: old.incremental && new.incremental,
        area: Rect::new(
            x0,
            y0,
            (x1 - u32::from(x0)).min(u32::from(u16::MAX)) as u16,
            (y1 - u32::from(y0)).min(u32::from(u16::MAX)) as u16,
        ),
    }
}

/// The writer's view of the client: what it asked for and what it has.
struct Writer {
    encoder: Encoder,
    /// What the client's latest SetEncodings said it takes.
    params: ClientParams,
    /// The picture the client shows (without a client-drawn cursor): after an update of the
    /// whole screen, the snapshot's own picture, shared.
    shown: Arc<RgbaImage>,
    /// The client's framebuffer size.
    size: (u16, u16),
    /// The cursor shape last sent (None: no cursor).
    cursor_sent: Option<u64>,
    /// The ExtendedDesktopSize layout was sent (the client then knows it may ask for sizes).
    layout_sent: bool,
    /// An answer to the client's SetDesktopSize: (reason, status).
    resize_reply: Option<(u16, u16)>,
    /// The client takes QEMU's extended key events and input goes to the guest: the server
    /// says so once (an empty rectangle of that pseudo-encoding), and the client then sends
    /// scancodes.
    ext_key: bool,
    /// That was said.
    ext_key_sent: bool,
    /// Encoded bytes waiting to be written (kept between updates; bounded by `SEND_AT` and one
    /// piece).
    out: Vec<u8>,
}

impl Writer {
    fn new(snapshot: &Snapshot) -> Self {
        let size = fb_size(&snapshot.image);
        Writer {
            encoder: Encoder::new(PixelFormat::SERVER, 2),
            params: ClientParams::default(),
            // Nothing shown yet: no picture is allocated until the client has one.
            shown: Arc::new(RgbaImage::new(0, 0)),
            size,
            cursor_sent: None,
            layout_sent: false,
            resize_reply: None,
            ext_key: false,
            ext_key_sent: false,
            out: Vec::new(),
        }
    }

    fn set_encodings(&mut self, list: &[i32], input: bool) {
        self.params = ClientParams::from_encodings(list);
        self.ext_key = input && self.params.qemu_extended_key;
        // The compression level applies to zlib streams started afterwards. The JPEG quality
        // level is read but, as before `ClientParams` existed, not given to the encoder, so
        // Tight stays lossless whatever the client asks; turning JPEG on is a change of its own.
        if let Some(level) = self.params.compress_level {
            self.encoder.set_level(u32::from(level));
        }
        tracing::info!(
            "client encodings: {list:?}; sending {}",
            self.params.encoding.name()
        );
    }

    /// Something to send even if the picture did not change.
    fn owes(&self) -> bool {
        self.resize_reply.is_some()
            || (self.params.extended_desktop_size && !self.layout_sent)
            || (self.ext_key && !self.ext_key_sent)
    }

    fn run(&mut self, mailbox: &Mailbox, sender: &Sender, screen: &Screen) -> io::Result<()> {
        let hub = &screen.hub;
        loop {
            let owes = self.owes();
            let mut p = mailbox.wait_until(|p| {
                p.closed.is_some()
                    || p.format.is_some()
                    || p.encodings.is_some()
                    || p.desktop_size.is_some()
                    || p.request
                        .is_some_and(|r| p.new_frame || !r.incremental || owes)
            });
            if p.closed.is_some() {
                return Ok(());
            }
            if let Some(format) = p.format.take() {
                self.encoder.set_format(format);
            }
            if let Some(list) = p.encodings.take() {
                self.set_encodings(&list, screen.input.accepts());
            }
            if let Some((w, h, _screens)) = p.desktop_size.take() {
                self.resize_reply = Some(resize::request(screen, w, h));
            }
            let ready = p
                .request
                .is_some_and(|r| p.new_frame || !r.incremental || self.owes());
            if !ready {
                continue;
            }
            let Some(request) = p.request.take() else {
                continue;
            };
            p.new_frame = false;
            drop(p);
            if !self.update(hub.latest(), request, sender)? {
                // Nothing changed where the client looks: its request waits for a change.
                mailbox.post(|p| p.request = Some(merge(p.request, request)));
            }
        }
    }

    fn put_layout(&self, reason: u16, status: u16, out: &mut Vec<u8>) {
        let (w, h) = self.size;
        put_rect_header(out, reason, status, w, h, encoding::EXTENDED_DESKTOP_SIZE);
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&SCREEN_ID.to_be_bytes());
        for v in [0u16, 0, w, h] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&0u32.to_be_bytes());
    }

    /// Follows a change of the picture's size: a client that takes DesktopSize or
    /// ExtendedDesktopSize is told (in `head`) and gets the whole new picture, whose area is
    /// returned; for any other client `frame` is cut or padded to the size it has.
    fn follow_size(&mut self, frame: &mut Arc<RgbaImage>, head: &mut Vec<u8>) -> Option<Rect> {
        let size = fb_size(frame);
        if size == self.size {
            return None;
        }
        if !(self.params.extended_desktop_size || self.params.desktop_size) {
            *frame = Arc::new(fit(frame, self.size));
            return None;
        }
        self.size = size;
        // The full update that follows replaces it.
        self.shown = Arc::new(RgbaImage::new(0, 0));
        if self.params.extended_desktop_size {
            self.put_layout(0, 0, head);
            self.layout_sent = true;
        } else {
            put_rect_header(head, 0, 0, size.0, size.1, encoding::DESKTOP_SIZE);
        }
        Some(Rect::new(0, 0, size.0, size.1))
    }

    /// Appends the pseudo-rectangles the client is owed: the answer to its SetDesktopSize and
    /// the first layout, QEMU's extended key announcement, and a new cursor shape. Returns how
    /// many.
    fn put_pseudo_rects(&mut self, cursor: Option<&CursorShape>, head: &mut Vec<u8>) -> u32 {
        let mut count = 0;
        if self.params.extended_desktop_size
            && let Some((reason, status)) = self.resize_reply.take()
        {
            self.put_layout(reason, status, head);
            self.layout_sent = true;
            count += 1;
        }
        if self.params.extended_desktop_size && !self.layout_sent {
            self.put_layout(0, 0, head);
            self.layout_sent = true;
            count += 1;
        }
        self.resize_reply = None;
        if self.ext_key && !self.ext_key_sent {
            put_rect_header(head, 0, 0, 0, 0, encoding::QEMU_EXTENDED_KEY);
            self.ext_key_sent = true;
            count += 1;
        }
        if self.params.cursor {
            let now = cursor.map(|c| c.shape_serial);
            if now != self.cursor_sent {
                match cursor {
                    Some(c) => self.encoder.cursor(&c.image, c.hot.x, c.hot.y, head),
                    None => self.encoder.cursor(&RgbaImage::new(0, 0), 0, 0, head),
                }
                self.cursor_sent = now;
                count += 1;
            }
        }
        count
    }

    /// Answers `request` from `snapshot`: writes the update and returns true, or returns false
    /// when there is nothing to send. While the update is written only its picture is held
    /// (the one the client will show, usually the snapshot's own, shared with every client)
    /// and one buffer of encoded pieces: a client that stops reading holds no more.
    fn update(
        &mut self,
        snapshot: Arc<Snapshot>,
        request: UpdateRequest,
        sender: &Sender,
    ) -> io::Result<bool> {
        let mut frame = snapshot.picture(self.params.cursor);
        let cursor = snapshot.cursor.clone();
        drop(snapshot);
        let mut head = Vec::new();
        let mut count: u32 = 0;
        let mut full = !request.incremental;
        let mut area = request.area;
        if let Some(resized) = self.follow_size(&mut frame, &mut head) {
            count += 1;
            full = true;
            area = resized;
        }
        count += self.put_pseudo_rects(cursor.as_deref(), &mut head);
        let whole = Rect::new(0, 0, self.size.0, self.size.1);
        // A client that was sent nothing yet is sent all it asks for.
        let blank = (self.shown.width, self.shown.height) != (frame.width, frame.height);
        full |= blank;
        let area = area.clip(u32::from(self.size.0), u32::from(self.size.1));
        let rects = if full {
            if area.is_empty() {
                Vec::new()
            } else {
                vec![area]
            }
        } else {
            tiles::changed_rects(&self.shown, &frame, area)
        };
        let pieces: Vec<Rect> = rects
            .iter()
            .flat_map(|&rect| pieces(&frame, rect, self.params.encoding))
            .collect();
        count += pieces.len() as u32;
        if count == 0 && !full {
            return Ok(false);
        }
        let header = u16::try_from(count).map_err(|_| {
            io_err(RfbError::Protocol(format!(
                "{count} rectangles in one update"
            )))
        })?;
        // The header and the pseudo-rectangles go first; then the pieces, encoded one at a
        // time and written in batches, so that no whole encoded frame is ever held.
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        messages::put_update_header(&mut out, header);
        out.extend_from_slice(&head);
        for piece in pieces {
            // `pieces` keeps every piece within what the encoding sends as one: a piece it
            // cannot is an error, not a wrong rectangle count.
            self.encoder
                .encode_one(self.params.encoding, &frame, piece, &mut out)
                .map_err(io_err)?;
            if out.len() >= SEND_AT {
                sender.send(&out)?;
                out.clear();
            }
        }
        if !out.is_empty() {
            sender.send(&out)?;
        }
        out.clear();
        self.out = out;
        if area == whole {
            // The client now shows all of `frame`: the picture is shared, not copied.
            self.shown = frame;
        } else {
            if blank {
                self.shown = Arc::new(RgbaImage::new(frame.width, frame.height));
            }
            let shown = Arc::make_mut(&mut self.shown);
            for rect in rects {
                tiles::copy_rect(&frame, shown, rect);
            }
        }
        Ok(true)
    }
}

/// The most pixels a piece of Raw or ZRLE has: a megabyte of 32-bit pixels, so that the
/// encoder's buffers stay that size whatever the frame's.
const PIECE_PIXELS: u32 = 1 << 16;

/// Encoded bytes gathered before they are written.
const SEND_AT: usize = 128 * 1024;

/// ZRLE's tiles are this many pixels square from the rectangle's corner: pieces keep whole
/// rows of tiles, so that the tiles are those of the whole rectangle.
const ZRLE_TILE: u32 = 64;

/// The screen id of the one screen in ExtendedDesktopSize layouts. Not 0: libvncclient up to
/// 0.9.15 ignores a layout whose screen id is 0 (and so never follows a mode change).
const SCREEN_ID: u32 = 1;

/// `rect` of `frame` cut into pieces that `encoding` sends as one rectangle each: row bands
/// of a bounded number of pixels for Raw and ZRLE, and for Tight its solid areas and blocks
/// (`tight_pieces`, the cut Tight itself makes of the whole).
fn pieces(frame: &RgbaImage, rect: Rect, encoding: Encoding) -> Vec<Rect> {
    let full_width = rect.width.max(1);
    let per_row = u32::from(full_width);
    let rows = match encoding {
        Encoding::Raw => (PIECE_PIXELS / per_row).max(1),
        Encoding::Zrle => (PIECE_PIXELS / per_row / ZRLE_TILE * ZRLE_TILE).max(ZRLE_TILE),
        Encoding::Tight => return tight_pieces(frame, rect),
    };
    let rows = rows.min(u32::from(u16::MAX)) as u16;
    rect.grid(full_width, rows).collect()
}

/// `image` cut or padded to `size`, for a client that cannot follow a resize.
fn fit(image: &RgbaImage, size: (u16, u16)) -> RgbaImage {
    let mut out = RgbaImage::new(u32::from(size.0), u32::from(size.1));
    let w = image.width.min(out.width) as usize * 4;
    for y in 0..image.height.min(out.height) as usize {
        let src = y * image.width as usize * 4;
        let dst = y * out.width as usize * 4;
        out.data[dst..dst + w].copy_from_slice(&image.data[src..src + w]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_merge_into_their_union() {
        let a = UpdateRequest {
            incremental: true,
            area: Rect::new(10, 10, 10, 10),
        };
        let b = UpdateRequest {
            incremental: false,
            area: Rect::new(0, 15, 5, 20),
        };
        let m = merge(Some(a), b);
        assert!(!m.incremental);
        assert_eq!(m.area, Rect::new(0, 10, 20, 25));
        assert_eq!(merge(None, a), a);
    }

    #[test]
    fn fit_cuts_and_pads() {
        let mut img = RgbaImage::new(4, 2);
        img.data.fill(9);
        let out = fit(&img, (2, 3));
        assert_eq!(out.data[..8], [9; 8]);
        assert_eq!(out.data[16..], [0; 8]);
    }
}
