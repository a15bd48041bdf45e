//! `serve --all`: one process serves every display device of the host, by name. Devices are
//! found by a scan every few seconds (QEMUs that hold an mdev, and idle mdevs; or simulated
//! devices) and each runs on a thread of its own: its refresh pump, its capture, its screen.
//! A device that fails to open, goes lost or whose VM ends is that device's business: its
//! clients are told why and the rest of the server goes on. Clients reach a device by
//! `/vm/NAME` on the shared listeners (WebSocket), by its own unix socket in `--socket-dir`,
//! or by its own TCP port from `--port-range`; `/` lists the devices.

mod device;
mod index;
mod places;
pub mod scan;

pub use places::PortRange;

use super::http::{Page, Pages};
use super::listeners::Listener;
use super::router::{Route, Router};
use super::screen::{Access, Credential, Screen};
use super::{ServeOptions, ServerConfig, Stops};
use crate::app::signals::{self};
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What `serve --all` adds to `serve`'s options.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Where devices come from.
    pub source: scan::Source,
    /// A unix socket per device, named after it, in this directory.
    pub socket_dir: Option<PathBuf>,
    /// A TCP port per device from this range.
    pub ports: Option<PortRange>,
    /// The most devices served at once.
    pub max_devices: usize,
    /// How often devices are looked for.
    pub scan_interval: Duration,
    /// Thumbnails on the index even of devices that ask for a password.
    pub index_thumbnails: bool,
    /// Clients' input goes through the QMP socket on each adopted QEMU's command line.
    pub take_qmp: bool,
}

/// The first wait before a device that failed to open is tried again; it doubles to the most.
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MOST: Duration = Duration::from_secs(300);

/// How long a device that is no display waits: as long as the process runs.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How a device's thread ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// It served, then went (or the server stopped).
    Served,
    /// It could not be opened or served.
    Failed,
    /// It is no display device.
    Never,
}

/// How long a device may stay lost (its queries failing as a removed device's do) before it
/// is let go and its clients told.
const LOST_LIMIT: Duration = Duration::from_secs(5);

/// A device being served.
struct Entry {
    screen: Arc<Screen>,
    /// Its own socket and port.
    own: Vec<Arc<Listener>>,
}

/// The devices a server of many serves, and what it knows of the ones it cannot.
pub struct Fleet {
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Devices whose thread runs (opening or serving): never started twice.
    running: Mutex<Vec<(String, String)>>,
    /// Devices that failed: not tried again before the instant, then after twice the wait.
    retry: Mutex<HashMap<String, (Instant, Duration)>>,
    access: Arc<dyn Access>,
    thumbnails: bool,
    novnc: bool,
    /// The newest thumbnail of each device, by the serial of the picture it shows.
    thumbs: Mutex<HashMap<String, Thumbnail>>,
}

/// A thumbnail PNG, the serial of the picture it shows, and when it was made.
type Thumbnail = (u64, Arc<Vec<u8>>, Instant);

/// A thumbnail is made at most this often per device, however often it is asked for: a busy
/// guest changes every frame, and a page (or a stranger) asking in a loop must not turn each
/// request into a PNG encode.
const THUMB_EVERY: Duration = Duration::from_secs(1);

impl Fleet {
    pub fn new(access: Arc<dyn Access>, thumbnails: bool, novnc: bool) -> Self {
        Fleet {
            entries: Mutex::new(BTreeMap::new()),
            running: Mutex::new(Vec::new()),
            retry: Mutex::new(HashMap::new()),
            access,
            thumbnails,
            novnc,
            thumbs: Mutex::new(HashMap::new()),
        }
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Who may log in to which screen.
    pub fn access(&self) -> Arc<dyn Access> {
        self.access.clone()
    }

    pub(in crate::app::serve) fn insert(&self, screen: Arc<Screen>, own: Vec<Arc<Listener>>) {
        self.lock_entries()
            .insert(screen.name.clone(), Entry { screen, own });
    }

    fn remove(&self, name: &str) {
        // Its ticket stays: a device that comes back (a mdev lost for a moment, a VM started
        // again under its name) asks what it asked before, never less.
        self.lock_entries().remove(name);
        self.thumbs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// The screen named `name`.
    pub fn screen_named(&self, name: &str) -> Option<Arc<Screen>> {
        self.lock_entries().get(name).map(|e| e.screen.clone())
    }

    /// Every screen, by name.
    pub fn screens(&self) -> Vec<Arc<Screen>> {
        self.lock_entries()
            .values()
            .map(|e| e.screen.clone())
            .collect()
    }

    /// The devices' own listeners, each with its screen, for the accept loop.
    fn own_listeners(&self) -> Vec<(Arc<Listener>, Arc<Screen>)> {
        self.lock_entries()
            .values()
            .flat_map(|e| e.own.iter().map(|l| (l.clone(), e.screen.clone())))
            .collect()
    }

    /// Whether a thumbnail of `name` may be shown: its screen asks no password, or the
    /// operator said the index's readers may see every screen.
    fn shows_thumbnail(&self, name: &str) -> bool {
        self.thumbnails || self.access.credential(name, SystemTime::now()) == Credential::NoAuth
    }

    /// The PNG thumbnail of `screen`, made again only when its picture changed, and at most
    /// once every `THUMB_EVERY`.
    fn thumbnail(&self, screen: &Screen) -> Option<Arc<Vec<u8>>> {
        let latest = screen.hub.latest();
        let mut thumbs = self.thumbs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((serial, png, made)) = thumbs.get(&screen.name)
            && (*serial == latest.serial || made.elapsed() < THUMB_EVERY)
        {
            return Some(png.clone());
        }
        let png = Arc::new(index::thumbnail(&latest.image)?);
        thumbs.insert(
            screen.name.clone(),
            (latest.serial, png.clone(), Instant::now()),
        );
        Some(png)
    }

    fn index(&self) -> Page {
        let rows: Vec<index::Row> = self
            .lock_entries()
            .values()
            .map(|e| {
                let latest = e.screen.hub.latest();
                let auth = match self.access.credential(&e.screen.name, SystemTime::now()) {
                    Credential::NoAuth => "no password",
                    Credential::Password { .. } => "password",
                    Credential::Refused(_) => "closed",
                };
                index::Row {
                    name: e.screen.name.clone(),
                    size: (latest.image.width, latest.image.height),
                    clients: e.screen.hub.client_count(),
                    auth,
                    thumbnail: self.shows_thumbnail(&e.screen.name),
                    places: e.own.iter().map(|l| l.shown()).collect(),
                }
            })
            .collect();
        Page {
            content_type: "text/html; charset=utf-8",
            body: index::page(&rows, self.novnc),
        }
    }

    /// Records how `name`'s thread ended: a device that failed waits before it is tried again
    /// (twice as long each time), one that ended after serving waits the least, and one that
    /// is no display is never tried again.
    fn ended(&self, name: &str, end: End) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(n, _)| n != name);
        let mut retry = self.retry.lock().unwrap_or_else(|p| p.into_inner());
        let wait = match (end, retry.get(name)) {
            (End::Never, _) => NEVER,
            (End::Failed, Some(&(_, last))) => (last * 2).min(RETRY_MOST),
            _ => RETRY_FIRST,
        };
        retry.insert(name.to_string(), (Instant::now() + wait, wait));
    }

    /// Claims `name`, the device `identity`, for a new thread: refused while a thread runs
    /// for that name or for that device under another name (a VM whose name changed when a
    /// namesake ended is served once, under the name it had), or before its retry time.
    fn claim(&self, name: &str, identity: &str, max: usize) -> Claim {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.iter().any(|(n, i)| n == name || i == identity) {
            return Claim::Running;
        }
        let retry = self.retry.lock().unwrap_or_else(|p| p.into_inner());
        if retry
            .get(name)
            .is_some_and(|&(when, _)| Instant::now() < when)
        {
            return Claim::Waiting;
        }
        if running.len() >= max {
            return Claim::Full;
        }
        running.push((name.to_string(), identity.to_string()));
        Claim::Claimed
    }

    /// Forgets the retry state of a device that serves (its next failure waits the least).
    fn serving(&self, name: &str) {
        self.retry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

enum Claim {
    Claimed,
    Running,
    Waiting,
    Full,
}

/// Where a WebSocket path leads: `/vm/NAME`.
fn vm_name(path: &str) -> Option<&str> {
    path.strip_prefix("/vm/").filter(|n| scan::valid_name(n))
}

impl Router for Fleet {
    fn screen(&self, path: Option<&str>) -> Result<Arc<Screen>, String> {
        if let Some(name) = path.and_then(vm_name) {
            return self
                .screen_named(name)
                .ok_or_else(|| format!("no device named {name} is served"));
        }
        let screens = self.screens();
        match screens.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err("no device is served yet".into()),
            many => Err(format!(
                "this address serves {} devices: open /vm/NAME (noVNC: path=vm/NAME) or a \
                 device's own socket; / lists them",
                many.len()
            )),
        }
    }

    fn pages(&self) -> &dyn Pages {
        self
    }
}

impl Pages for Fleet {
    fn owns(&self, path: &str) -> bool {
        path == "/" || path == "/index.html" || path.starts_with("/vm/")
    }

    fn page(&self, path: &str) -> Option<Page> {
        if path == "/" || path == "/index.html" {
            return Some(self.index());
        }
        let name = path
            .strip_prefix("/vm/")?
            .strip_suffix("/thumbnail.png")
            .filter(|n| scan::valid_name(n))?;
        if !self.shows_thumbnail(name) {
            return None;
        }
        let screen = self.screen_named(name)?;
        let png = self.thumbnail(&screen)?;
        Some(Page {
            content_type: "image/png",
            body: png.as_ref().clone(),
        })
    }

    fn websocket(&self, path: &str) -> Result<(), String> {
        if let Some(name) = path.strip_prefix("/vm/") {
            return match vm_name(path).and_then(|n| self.screen_named(n)) {
                Some(_) => Ok(()),
                // The name is the client's: quoted and cut, it cannot start a log line.
                None => {
                    let shown: String = name.chars().take(scan::MAX_NAME).collect();
                    Err(format!("no device named {shown:?} is served; / lists them"))
                }
            };
        }
        self.screen(None).map(|_| ())
    }
}

/// What the device threads share.
struct Ctx<'a> {
    opts: &'a ServeOptions,
    fleet_opts: &'a FleetOptions,
    fleet: &'a Fleet,
    stop: &'a (dyn Fn() -> bool + Sync),
}

/// Runs the server of many devices on `listeners` until a signal.
pub(super) fn run(
    opts: &ServeOptions,
    fleet_opts: &FleetOptions,
    cfg: &ServerConfig,
    stops: Stops<'_>,
    fleet: &Fleet,
) -> Result<()> {
    let gate = &cfg.gate;
    let stop_flag = stops.stop;
    let stopping = move || {
        signals::received().is_some() || stop_flag.load(Ordering::Acquire) || gate.closing()
    };
    let ctx = Ctx {
        opts,
        fleet_opts,
        fleet,
        stop: &stopping,
    };
    for l in stops.listeners {
        l.set_nonblocking()?;
    }
    announce(stops.listeners, fleet_opts)?;
    std::thread::scope(|s| -> Result<()> {
        let ctx = &ctx;
        s.spawn(move || {
            let mut full_said = false;
            while !(ctx.stop)() {
                for (name, found) in scan::scan(&ctx.fleet_opts.source) {
                    match fleet.claim(&name, &found.identity(&name), ctx.fleet_opts.max_devices) {
                        Claim::Claimed => {
                            full_said = false;
                            let spawned = std::thread::Builder::new()
                                .name(format!("serve: {name}"))
                                .spawn_scoped(s, move || device::run(&name, &found, ctx));
                            if let Err(err) = spawned {
                                errln!("vfio-display: no thread for a device: {err}");
                            }
                        }
                        Claim::Full if !full_said => {
                            full_said = true;
                            errln!(
                                "vfio-display: {} devices are served (--max-devices): {name} \
                                 and any others wait",
                                ctx.fleet_opts.max_devices
                            );
                        }
                        _ => {}
                    }
                }
                wait_or_stop(ctx.fleet_opts.scan_interval, ctx.stop);
            }
        });
        // The shared listeners lead by path; a device's own, to that device.
        let own = || fleet.own_listeners();
        let result = super::accept_loop(&stops, gate, cfg, own, |stream, peer, screen| {
            if let Some(ticket) = super::admit(gate, &stream, &peer, cfg) {
                let route = match screen {
                    Some(screen) => Route::To(screen.clone()),
                    None => Route::Lookup(fleet),
                };
                s.spawn(move || super::session(stream, &peer, ticket, route, cfg));
            }
        });
        gate.close_all();
        result
    })
}

/// Sleeps `total`, in short steps so that a stop is seen within 200 ms.
fn wait_or_stop(total: Duration, stop: &(dyn Fn() -> bool + Sync)) {
    let until = Instant::now() + total;
    while !stop() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
}

/// Says where the server listens.
fn announce(listeners: &[Listener], fleet_opts: &FleetOptions) -> Result<()> {
    let mut places: Vec<String> = listeners.iter().map(|l| l.shown()).collect();
    if let Some(dir) = &fleet_opts.socket_dir {
        places.push(format!("a socket per device in {}", dir.display()));
    }
    if let Some(range) = &fleet_opts.ports {
        places.push(format!("a port per device from {range}"));
    }
    outln!(
        "serving every display device on {} (/vm/NAME; / lists them); Ctrl+C stops",
        places.join(", ")
    );
    crate::app::output::stdio::flush_out()?;
    Ok(())
}

/// What the control socket sees: the screens, their clients, and a way to end them.
impl crate::app::serve::control::Fleet for Fleet {
    fn device_names(&self) -> Vec<String> {
        self.lock_entries().keys().cloned().collect()
    }

    fn client_count(&self, device: &str) -> usize {
        self.screen_named(device)
            .map_or(0, |screen| screen.hub.client_count())
    }

    fn clients(&self) -> Vec<crate::app::serve::control::ClientInfo> {
        self.screens()
            .iter()
            .flat_map(|screen| {
                screen
                    .hub
                    .clients()
                    .into_iter()
                    .map(|c| crate::app::serve::control::ClientInfo {
                        id: c.id,
                        device: screen.name.clone(),
                        peer: c.meta.peer,
                        transport: c.meta.transport.to_string(),
                        since: c.meta.since,
                    })
            })
            .collect()
    }

    fn disconnect_client(&self, id: u64, why: &str) -> bool {
        self.screens()
            .iter()
            .map(|screen| screen.hub.disconnect(|c| c == id, why))
            .sum::<usize>()
            > 0
    }

    fn disconnect_device(&self, device: &str, why: &str) -> usize {
        self.screen_named(device)
            .map_or(0, |screen| screen.hub.disconnect(|_| true, why))
    }
}
