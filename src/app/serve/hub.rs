//! The latest picture and the clients waiting for it: the capture thread publishes, each
//! client's writer takes the newest when it is ready (latest frame wins; nothing queues).

use super::stream::Stream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use vfio_display::frame::RgbaImage;
use vfio_display::geometry::Point;
use vfio_display::rfb::PixelFormat;
use vfio_display::rfb::messages::Screen;

/// The guest's cursor.
#[derive(Debug)]
pub struct CursorShape {
    /// Its picture.
    pub image: RgbaImage,
    /// Its hotspot inside the picture.
    pub hot: Point<u16>,
    /// Where its picture's top-left corner is on the screen.
    pub origin: Point<i64>,
    /// Changes when the picture or hotspot changes (not when it only moves).
    pub shape_serial: u64,
}

/// What clients are shown.
#[derive(Debug)]
pub struct Snapshot {
    /// Grows with every published change.
    pub serial: u64,
    /// The primary plane (the last one seen while the display is off).
    pub image: Arc<RgbaImage>,
    /// The cursor plane, when there is one.
    pub cursor: Option<Arc<CursorShape>>,
    /// The primary plane with the cursor drawn in, made once for every client that cannot
    /// draw the cursor itself (one copy per snapshot, not one per client).
    composited: OnceLock<Arc<RgbaImage>>,
}

impl Snapshot {
    fn new(serial: u64, image: Arc<RgbaImage>, cursor: Option<Arc<CursorShape>>) -> Self {
        Snapshot {
            serial,
            image,
            cursor,
            composited: OnceLock::new(),
        }
    }

    /// The picture a client sees: the primary plane, with the cursor drawn in unless the
    /// client draws it (`client_cursor`).
    pub fn picture(&self, client_cursor: bool) -> Arc<RgbaImage> {
        match &self.cursor {
            Some(c) if !client_cursor => self
                .composited
                .get_or_init(|| {
                    let mut image = RgbaImage::clone(&self.image);
                    image.composite(&c.image, c.origin.x, c.origin.y);
                    Arc::new(image)
                })
                .clone(),
            _ => self.image.clone(),
        }
    }
}

/// An update request, merged with any others that came before it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRequest {
    /// Only changes (else everything in the area).
    pub incremental: bool,
    /// The area: x, y, width, height.
    pub area: vfio_display::rfb::Rect,
}

/// What a client's reader hands its writer: bounded, each field the latest of its kind.
#[derive(Debug, Default)]
pub struct Pending {
    /// The update asked for.
    pub request: Option<UpdateRequest>,
    /// A new pixel format.
    pub format: Option<PixelFormat>,
    /// A new encodings list.
    pub encodings: Option<Vec<i32>>,
    /// A resize the client asked for.
    pub desktop_size: Option<(u16, u16, Vec<Screen>)>,
    /// A newer snapshot was published since the writer last looked.
    pub new_frame: bool,
    /// The connection is over (reader saw EOF or an error, or the server stops).
    pub closed: Option<String>,
}

/// One client's mailbox.
#[derive(Debug, Default)]
pub struct Mailbox {
    pending: Mutex<Pending>,
    cond: Condvar,
}

impl Mailbox {
    /// Locks the pending state (a poisoned lock is still usable: the state is plain data).
    pub fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the pending state and wakes the writer.
    pub fn post(&self, f: impl FnOnce(&mut Pending)) {
        f(&mut self.lock());
        self.cond.notify_all();
    }

    /// Waits until `ready` holds for the pending state, and returns it locked.
    pub fn wait_until(&self, ready: impl Fn(&Pending) -> bool) -> MutexGuard<'_, Pending> {
        let guard = self.lock();
        self.cond
            .wait_while(guard, |p| !ready(p))
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Who a client is, for the control socket's list.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    /// Its address, or its uid and pid on a unix socket.
    pub peer: String,
    /// How it came: native, WebSocket, over TLS.
    pub transport: &'static str,
    /// When it got in.
    pub since: std::time::SystemTime,
}

/// A connected client as the control socket lists it.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    /// Its number, unique in the process.
    pub id: u64,
    /// Who it is.
    pub meta: ClientMeta,
}

/// Client numbers, unique across every screen of the process.
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

struct Client {
    id: u64,
    meta: ClientMeta,
    mailbox: Weak<Mailbox>,
    socket: Stream,
}

/// How long a stopping server waits for its clients to say goodbye before it shuts their
/// sockets down.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// The shared state of the server.
pub struct Hub {
    latest: Mutex<Arc<Snapshot>>,
    clients: Mutex<Vec<Client>>,
    stopping: AtomicBool,
    /// What the device's EDID region allows: its largest mode (`max_xres`, `max_yres`; 0 for
    /// no limit), or why no EDID can be written. Read once by the resize worker.
    edid_limits: OnceLock<Result<(u32, u32), String>>,
    /// Why the server stopped (told to clients that come too late).
    stop_reason: Mutex<Option<String>>,
}

impl Hub {
    /// A hub showing `image` until the first frame.
    pub fn new(image: RgbaImage) -> Self {
        Hub {
            latest: Mutex::new(Arc::new(Snapshot::new(0, Arc::new(image), None))),
            edid_limits: OnceLock::new(),
            clients: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            stop_reason: Mutex::new(None),
        }
    }

    /// The newest snapshot.
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Publishes a change and tells every client.
    pub fn publish(&self, image: Arc<RgbaImage>, cursor: Option<Arc<CursorShape>>) {
        {
            let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
            let serial = latest.serial + 1;
            *latest = Arc::new(Snapshot::new(serial, image, cursor));
        }
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients.retain(|c| c.mailbox.strong_count() > 0);
        for c in clients.iter() {
            if let Some(m) = c.mailbox.upgrade() {
                m.post(|p| p.new_frame = true);
            }
        }
    }

    /// Registers a client; `None` when the server is stopping or full.
    pub fn join(
        &self,
        socket: &Stream,
        max: usize,
        meta: ClientMeta,
    ) -> Result<Arc<Mailbox>, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if self.stopping.load(Ordering::Acquire) {
            return Err(self
                .stop_reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "the server is stopping".into()));
        }
        clients.retain(|c| c.mailbox.strong_count() > 0);
        if clients.len() >= max {
            return Err(format!("{max} clients are connected (--max-clients)"));
        }
        let socket = socket
            .try_clone()
            .map_err(|e| format!("duplicating the socket: {e}"))?;
        let mailbox = Arc::new(Mailbox::default());
        clients.push(Client {
            id: NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
            meta,
            mailbox: Arc::downgrade(&mailbox),
            socket,
        });
        Ok(mailbox)
    }

    /// Ends every connection. Writers are told first, so that each can say why to its
    /// client (a WebSocket close frame with the reason) and leave; after `STOP_GRACE` the
    /// sockets of those still there are shut down (a blocked read or write returns).
    pub fn stop(&self, why: &str) {
        *self.stop_reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
        self.stopping.store(true, Ordering::Release);
        for c in self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if let Some(m) = c.mailbox.upgrade() {
                m.post(|p| {
                    p.closed.get_or_insert_with(|| why.to_string());
                });
            }
        }
        let deadline = std::time::Instant::now() + STOP_GRACE;
        while self.client_count() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        for c in self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = c.socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The clients connected now, for the control socket.
    pub fn clients(&self) -> Vec<ClientEntry> {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .iter()
            .filter(|c| c.mailbox.strong_count() > 0)
            .map(|c| ClientEntry {
                id: c.id,
                meta: c.meta.clone(),
            })
            .collect()
    }

    /// Ends the clients `which` picks (by number), telling each why: its writer sends the
    /// reason where the transport has a way (a WebSocket close), and its socket is shut down so
    /// that neither a blocked read nor a blocked write holds it. Returns how many it ended.
    pub fn disconnect(&self, which: impl Fn(u64) -> bool, why: &str) -> usize {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let mut ended = 0;
        for c in clients.iter().filter(|c| which(c.id)) {
            let Some(m) = c.mailbox.upgrade() else {
                continue;
            };
            m.post(|p| {
                p.closed.get_or_insert_with(|| why.to_string());
            });
            // The writer's close frame goes first where it can; a client that reads nothing
            // is cut off by the shutdown all the same.
            let _ = c.socket.shutdown(std::net::Shutdown::Read);
            ended += 1;
        }
        ended
    }

    /// The clients connected now.
    pub fn client_count(&self) -> usize {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .iter()
            .filter(|c| c.mailbox.strong_count() > 0)
            .count()
    }

    /// Records what the device's EDID region allows (the first call counts).
    pub fn set_edid_limits(&self, limits: Result<(u32, u32), String>) {
        let _ = self.edid_limits.set(limits);
    }

    /// What the device's EDID region allows, once the resize worker read it.
    pub fn edid_limits(&self) -> Option<&Result<(u32, u32), String>> {
        self.edid_limits.get()
    }

    /// Whether `stop` was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}
