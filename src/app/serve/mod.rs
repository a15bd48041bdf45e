//! `serve`: the guest screen over VNC (RFB 3.3 to 3.8) and WebSocket on one port. A capture
//! thread reads the planes on the refresh pump's wakes and publishes changes; each client has a
//! thread that answers its update requests from the newest picture at its own pace, so a slow
//! client never slows the device reads or the other clients.

// Socket activation adopts the fds a service manager passed (sd_listen_fds(3)): the one
// `unsafe` of `serve`, each block with its SAFETY comment.
#[allow(unsafe_code)]
mod activation;
pub(crate) mod capture;
mod client;
pub(crate) mod control;
mod detect;
pub mod endpoint;
pub mod fleet;
mod gate;
mod http;
pub(crate) mod hub;
mod input;
mod listeners;
mod origin;
mod password;
mod resize;
mod reverse;
mod router;
pub(crate) mod screen;
mod stream;
pub(crate) mod tickets;
mod transport;
pub mod unix_socket;

use crate::app::edid::worker::EdidJob;
use crate::app::guest_input::GuestInput;
use crate::app::signals::{self, Interrupts};
use crate::app::target::Target;
use anyhow::{Context, Result, bail};
use endpoint::Endpoints;
use listeners::Listener;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use router::Route;
use screen::Credential;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use std::time::SystemTime;
use stream::{Peer, Stream};
use tickets::{DefaultCredential, Tickets};
use vfio_display::device::DisplayDevice;
use vfio_display::frame::{FrameReader, IrqChoice, Pump, RgbaImage, choose_source};
use vfio_display::render::{ImportChoice, LazyGpu, PlaneReader, ReadChoice};
use vfio_display::rfb::auth::PASSWORD_LEN;

/// The picture clients see before the guest's first frame.
const BLANK: (u32, u32) = (640, 480);

/// The timer slows to an eighth of `--refresh-hz` while the guest is static (30 Hz to 3.75 Hz
/// by default): remote clients see the first change after an idle spell within 270 ms, and an
/// idle server stays under 1% of a core. QEMU's VNC server backs off further, to 3 s.
const IDLE_BACKOFF: u32 = 8;

/// What `serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where clients come from: listening sockets and viewers to dial.
    pub endpoints: Endpoints,
    /// VNC authentication's password, from this file.
    pub password_file: Option<PathBuf>,
    /// Serve without a password (else one is made for the run when no file is given).
    pub no_auth: bool,
    /// Static files for browsers.
    pub web: Option<PathBuf>,
    /// Web origins whose pages may open a WebSocket, besides the server's own pages.
    pub allow_origins: Vec<String>,
    /// TLS certificate chain and private key (PEM), for wss/https and VeNCrypt.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Write an EDID for the size a client asks for.
    pub follow_client_size: bool,
    /// The most clients at once.
    pub max_clients: usize,
    /// The most handshakes at once, in all and from one address.
    pub max_handshakes: usize,
    pub max_handshakes_per_address: usize,
    /// A client that makes no progress this long is dropped.
    pub client_timeout: Duration,
    /// QEMU's QMP socket, where clients' keys and pointer go.
    pub qmp: Option<PathBuf>,
    /// Clients' input is dropped.
    pub view_only: bool,
    /// Input from every client at once (else from one at a time).
    pub shared_input: bool,
    /// The refresh source.
    pub irq: IrqChoice,
    /// The timer's rate.
    pub refresh_hz: f64,
    /// Where frames are read: the CPU, or through the GPU when the CPU cannot map them.
    pub render: ReadChoice,
    /// The device.
    pub target: Target,
    /// `--all`: every device of the host (or `--sim-devices` simulated ones), by name;
    /// `target` is then unused.
    pub fleet: Option<fleet::FleetOptions>,
    /// `--control unix:PATH`: the socket where passwords are set at run time.
    pub control: Option<PathBuf>,
    /// What an expired password does to the clients it let in.
    pub on_expire: control::OnExpire,
}

/// How clients are let in.
#[derive(Default)]
pub struct Security {
    /// VNC authentication's password (unless `registry` has tickets).
    pub password: Option<Vec<u8>>,
    /// The password was made for this run: it is shown on the terminal.
    pub password_made: bool,
    /// TLS for browsers (wss) and VeNCrypt.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The guest's input channel (`GuestInput::off` when there is none).
    pub input: Option<GuestInput>,
    /// The run's screens and tickets, which the control socket acts on.
    pub registry: Option<Arc<fleet::Fleet>>,
    /// The screen's name, for tickets and logs.
    pub name: String,
}

/// What every client connection needs, whichever screen it reaches.
pub struct ServerConfig {
    /// Who may log in to which screen.
    access: Arc<dyn screen::Access>,
    client_timeout: Duration,
    /// Static files and WebSocket origins.
    http: http::HttpPolicy,
    /// Connections in their handshake: their deadline, their number, failed passwords.
    gate: gate::Gate,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections and disconnections go to stderr (not when `bench` runs a server inside).
    log_clients: bool,
}

/// The password in `path`: its first line, at most `PASSWORD_LEN` bytes counted by VNC.
fn read_password(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        errln!(
            "vfio-display: warning: {} can be read by other users (chmod 600 it)",
            path.display()
        );
    }
    let mut text = Vec::new();
    file.take(4096).read_to_end(&mut text)?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        bail!("{}: the first line (the password) is empty", path.display());
    }
    if line.len() > PASSWORD_LEN {
        errln!(
            "vfio-display: warning: VNC authentication uses only the first {PASSWORD_LEN} bytes of \
             the password in {}",
            path.display()
        );
    }
    Ok(line.to_vec())
}

/// The most a certificate or key file may hold.
const MAX_PEM: u64 = 1 << 20;

/// A certificate or key file's bytes, read within `MAX_PEM` by the program's one bounded read.
/// Only a regular file is read: a FIFO or a device named by mistake is refused by name, not
/// read until the bound.
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    let shown = || format!("reading the {what} {}", path.display());
    if !std::fs::metadata(path).with_context(shown)?.is_file() {
        bail!("the {what} {} is not a regular file", path.display());
    }
    crate::app::input::read_bounded(path, MAX_PEM).with_context(shown)
}

/// The TLS configuration from a PEM certificate chain and a PEM private key.
fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let pem = read_pem(cert, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("{}: no certificate in it", cert.display());
    }
    let pem = read_pem(key, "private key")?;
    let key_der = PrivateKeyDer::from_pem_slice(&pem)
        .with_context(|| format!("{}: not a PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "{} and {} do not make a usable certificate and key",
                cert.display(),
                key.display()
            )
        })?;
    warn_if_readable(key, "private key")?;
    let mut config = config;
    // No TLS 1.3 session tickets: VNC clients never resume, and TigerVNC's viewer (1.12)
    // hangs in a quarter to a half of its sessions when tickets arrive before VeNCrypt's
    // security result.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Warns when a secret's file can be read by other users.
fn warn_if_readable(path: &Path, what: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading the {what} {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        errln!(
            "vfio-display: warning: the {what} {} can be read by other users (chmod 600 it)",
            path.display()
        );
    }
    Ok(())
}

/// What a device without a ticket of its own asks: the file's password, none with an
/// explicit `--no-auth`, nothing at all until the control socket sets a password (with
/// `--control`), else a password made for this run (every listener, loopback included, needs
/// a credential: any local account or web page can reach a loopback port). The second value
/// is true for a password made for the run.
fn credential_for(opts: &ServeOptions) -> Result<(DefaultCredential, bool)> {
    match (&opts.password_file, opts.no_auth) {
        (Some(_), true) => bail!("--password-file and --no-auth exclude each other"),
        (Some(path), false) => Ok((DefaultCredential::Password(read_password(path)?), false)),
        (None, true) => Ok((DefaultCredential::NoAuth, false)),
        (None, false) if opts.control.is_some() => Ok((DefaultCredential::Locked, false)),
        (None, false) => Ok((DefaultCredential::Password(password::one_time()?), true)),
    }
}

/// The name a single device's screen has for tickets: an mdev's UUID, else a word.
fn single_name(target: &Target) -> String {
    let name = match target {
        Target::Sim(_) => "sim",
        Target::Fd(_) => "vm",
        Target::Mdev { spec, .. } => spec.rsplit('/').next().unwrap_or(""),
    };
    if fleet::scan::valid_name(name) {
        name.to_string()
    } else {
        "device".to_string()
    }
}

pub fn run(opts: &ServeOptions) -> Result<()> {
    // First, before any thread starts: the variables are removed from the environment.
    let activated = activation::take().context("socket activation (LISTEN_FDS)")?;
    let (default, made) = credential_for(opts)?;
    // The password made for the run, which only the terminal is told.
    let made = match &default {
        DefaultCredential::Password(p) if made => Some(String::from_utf8_lossy(p).into_owned()),
        _ => None,
    };
    let tls = match &opts.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let interrupts = Interrupts::install()?;
    // The input channel before the port: between binding and serving, clients that connect
    // wait in the backlog and are answered before the first frame is captured, so that
    // window stays as short as the device open.
    let guest_input = GuestInput::connect(
        opts.qmp.as_deref(),
        crate::app::guest_input::no_input_because(&opts.target),
    )?;
    let listeners = listeners::open(&opts.endpoints, activated)?;
    let locked = default == DefaultCredential::Locked;
    let tickets = Arc::new(Tickets::new(default));
    let novnc = opts
        .web
        .as_ref()
        .is_some_and(|d| d.join("vnc.html").is_file());
    let thumbnails = opts.fleet.as_ref().is_some_and(|f| f.index_thumbnails);
    let registry = Arc::new(fleet::Fleet::new(tickets.clone(), thumbnails, novnc));
    let control = match &opts.control {
        Some(path) => {
            // Whoever can write to it can let anyone in: 0600 whatever --socket-mode says.
            let access = unix_socket::SocketAccess {
                mode: 0o600,
                ..opts.endpoints.access
            };
            let bound = unix_socket::bind(path, access)
                .with_context(|| format!("--control unix:{}", path.display()))?;
            if locked {
                errln!(
                    "vfio-display: clients are refused until the control socket unix:{} sets a \
                     password (set_password)",
                    path.display()
                );
            }
            Some(bound)
        }
        None => None,
    };
    let done = AtomicBool::new(false);
    let stopping = || done.load(Ordering::Acquire) || signals::received().is_some();
    let stopping: &(dyn Fn() -> bool + Sync) = &stopping;
    std::thread::scope(|s| -> Result<()> {
        if let Some((listener, _file)) = &control {
            let (tickets, registry) = (&tickets, &registry);
            s.spawn(move || control::run(listener, tickets, registry.as_ref(), stopping));
            s.spawn(move || {
                control::watch_expiry(tickets, registry.as_ref(), opts.on_expire, stopping)
            });
        }
        let result = serve_target(
            opts,
            made,
            tls,
            guest_input,
            &listeners,
            &interrupts,
            &registry,
        );
        done.store(true, Ordering::Release);
        result
    })?;
    signals::check()?;
    Ok(())
}

/// Serves `opts`' device, or every device with `--all`, until a signal.
fn serve_target(
    opts: &ServeOptions,
    made: Option<String>,
    tls: Option<Arc<rustls::ServerConfig>>,
    guest_input: GuestInput,
    listeners: &[Listener],
    interrupts: &Interrupts,
    registry: &Arc<fleet::Fleet>,
) -> Result<()> {
    let never = AtomicBool::new(false);
    let stops = Stops {
        listeners,
        interrupts: Some(interrupts),
        stop: &never,
    };
    if let Some(fleet_opts) = &opts.fleet {
        return run_fleet(opts, fleet_opts, made, tls, stops, registry);
    }
    let dev = opts.target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    let security = Security {
        password: None,
        password_made: made.is_some(),
        tls,
        input: Some(guest_input),
        registry: Some(registry.clone()),
        name: single_name(&opts.target),
    };
    serve_on(dev.as_ref(), security, opts, stops, true)
}

/// `serve --all`: the server's configuration, then the fleet until a signal.
fn run_fleet(
    opts: &ServeOptions,
    fleet_opts: &fleet::FleetOptions,
    made: Option<String>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stops: Stops<'_>,
    registry: &fleet::Fleet,
) -> Result<()> {
    let (web, _) = web_page(opts)?;
    let access = registry.access();
    let cfg = ServerConfig {
        http: http::HttpPolicy {
            web,
            origins: origin::OriginPolicy {
                allowed: allowed_origins(opts)?,
                password: !opts.no_auth,
            },
        },
        gate: gate::Gate::new(opts.client_timeout)
            .with_limits(opts.max_handshakes_per_address, opts.max_handshakes),
        access: access.clone(),
        tls,
        client_timeout: opts.client_timeout,
        log_clients: true,
    };
    if let Some(password) = made {
        password::announce(&password, None);
    }
    fleet::run(opts, fleet_opts, &cfg, stops, registry)
}

/// Serves `dev` on `listener` until `stop`, or a signal when `interrupts` are installed;
/// `announce` prints the address line.
/// `bench` runs it on a thread of its own with a simulated device.
pub fn serve_device(
    dev: &dyn DisplayDevice,
    listener: TcpListener,
    security: Security,
    opts: &ServeOptions,
    interrupts: Option<&Interrupts>,
    stop: &AtomicBool,
    announce: bool,
) -> Result<()> {
    let listeners = [Listener::Tcp(listener)];
    let stops = Stops {
        listeners: &listeners,
        interrupts,
        stop,
    };
    serve_on(dev, security, opts, stops, announce)
}

/// Serves `dev` on every listener of `stops` and dials `opts`' viewers, until it stops.
fn serve_on(
    dev: &dyn DisplayDevice,
    security: Security,
    opts: &ServeOptions,
    stops: Stops<'_>,
    announce: bool,
) -> Result<()> {
    for l in stops.listeners {
        l.set_nonblocking()?;
    }
    let reader = FrameReader::new(dev)?;
    let source = choose_source(dev, opts.irq, opts.refresh_hz)?;
    let pump = Pump::new(source)?.with_max_backoff(IDLE_BACKOFF);
    let (edid_tx, edid_rx) = mpsc::channel();
    let tls = security.tls.is_some();
    let (web, page) = web_page(opts)?;
    let allowed = allowed_origins(opts)?;
    // Without a registry (bench's server) the password is the run's one credential.
    let registry = security.registry.unwrap_or_else(|| {
        let default = match security.password {
            Some(p) => DefaultCredential::Password(p),
            None => DefaultCredential::NoAuth,
        };
        Arc::new(fleet::Fleet::new(
            Arc::new(Tickets::new(default)),
            false,
            false,
        ))
    });
    let access = registry.access();
    let name = if security.name.is_empty() {
        "sim".to_string()
    } else {
        security.name
    };
    let announced_password = match access.credential(&name, SystemTime::now()) {
        Credential::Password { password, .. } if security.password_made => {
            Some(String::from_utf8_lossy(&password).into_owned())
        }
        _ => None,
    };
    let cfg = ServerConfig {
        http: http::HttpPolicy {
            web,
            origins: origin::OriginPolicy {
                allowed,
                password: access.credential(&name, SystemTime::now()) != Credential::NoAuth,
            },
        },
        gate: gate::Gate::new(opts.client_timeout)
            .with_limits(opts.max_handshakes_per_address, opts.max_handshakes),
        access,
        tls: security.tls,
        client_timeout: opts.client_timeout,
        log_clients: announce,
    };
    let screen = Arc::new(screen::Screen {
        name,
        title: format!("vfio-display: {}", dev.name()),
        hub: hub::Hub::new(RgbaImage::new(BLANK.0, BLANK.1)),
        max_clients: opts.max_clients,
        // A view-only server takes no resize either: a resize is a hot-plug in the guest.
        follow: (opts.follow_client_size && !opts.view_only).then(|| resize::Follow::new(edid_tx)),
        input: input::ServerInput::new(
            security
                .input
                .unwrap_or_else(|| GuestInput::off("no VMM channel")),
            opts.view_only,
            opts.shared_input,
        ),
    });
    registry.insert(screen.clone(), Vec::new());
    if announce {
        let served = Served {
            listeners: stops.listeners,
            dials: &opts.endpoints.connect,
            page,
            tls,
            password: announced_password.as_deref(),
        };
        announce_serving(dev, &served, &pump, &screen)?;
    }
    let server = Running {
        dev,
        pump: &pump,
        screen: &screen,
        cfg: &cfg,
    };
    let dials = Dials {
        targets: &opts.endpoints.connect,
        backoff: opts.endpoints.backoff,
    };
    run_server(server, reader, opts.render, edid_rx, stops, dials)
}

/// What the server's threads share while it runs.
#[derive(Clone, Copy)]
struct Running<'a> {
    dev: &'a dyn DisplayDevice,
    pump: &'a Pump,
    screen: &'a Arc<screen::Screen>,
    cfg: &'a ServerConfig,
}

/// Where connections come from and what stops taking them.
struct Stops<'a> {
    listeners: &'a [Listener],
    interrupts: Option<&'a Interrupts>,
    stop: &'a AtomicBool,
}

/// The viewers to dial.
#[derive(Clone, Copy)]
struct Dials<'a> {
    targets: &'a [endpoint::DialAddr],
    backoff: endpoint::Backoff,
}

/// Runs the server's threads until it stops: the refresh pump, the capture, the EDID worker
/// when the server follows the client's size, one thread per client and one per viewer to
/// dial; then tells every client why it stopped and waits for the pump.
fn run_server(
    server: Running<'_>,
    reader: FrameReader,
    render: ReadChoice,
    edid_rx: mpsc::Receiver<EdidJob>,
    stops: Stops<'_>,
    dials: Dials<'_>,
) -> Result<()> {
    let Running {
        dev,
        pump,
        screen,
        cfg,
    } = server;
    let hub = &screen.hub;
    let gate = &cfg.gate;
    let stop = stops.stop;
    let stopping =
        move || signals::received().is_some() || stop.load(Ordering::Acquire) || gate.closing();
    std::thread::scope(|s| -> Result<()> {
        let (wake_tx, wake_rx) = mpsc::sync_channel(1);
        let pump_ref = pump;
        let pump_thread = s.spawn(move || {
            pump_ref.run(dev, &move || {
                let _ = wake_tx.try_send(());
            })
        });
        let hub_ref = hub;
        s.spawn(move || {
            // Opened only if the CPU cannot map the device's frames.
            let gpu = LazyGpu::new();
            let planes = PlaneReader::with_reader(reader, &gpu, render, ImportChoice::Auto);
            let mut capture = capture::Capture::new(planes);
            capture::run(&mut capture, hub_ref, pump_ref, &wake_rx, None);
        });
        if screen.follow.is_some() {
            s.spawn(move || resize::worker(dev, edid_rx, hub_ref));
        } else {
            drop(edid_rx);
        }
        for target in dials.targets {
            let dialer = reverse::Dialer {
                target,
                backoff: dials.backoff,
                timeout: cfg.client_timeout,
                stopping: &stopping,
                log: cfg.log_clients,
            };
            std::thread::Builder::new()
                .name(format!("serve: dial {target}"))
                .spawn_scoped(s, move || {
                    dialer.run(&|stream, peer| {
                        if let Some(ticket) = admit(gate, &stream, &peer, cfg) {
                            session(stream, &peer, ticket, Route::To(screen.clone()), cfg);
                        }
                    });
                })
                .context("starting a thread to dial a viewer")?;
        }
        let result = accept_loop(&stops, gate, cfg, Vec::new, |stream, peer, _| {
            if let Some(ticket) = admit(gate, &stream, &peer, cfg) {
                let route = Route::To(screen.clone());
                s.spawn(move || session(stream, &peer, ticket, route, cfg));
            }
        });
        // No handshake and no client outlives the server: their sockets are shut down, so
        // every thread ends at once whatever its client does. Clients are told why: "the VM
        // ended", or the signal's name.
        gate.close_all();
        hub.stop(&stop_message());
        pump.stop();
        if let Ok(Err(err)) = pump_thread.join() {
            tracing::warn!("the refresh pump stopped: {err}");
        }
        result
    })
}

/// Logs a line about a client, when the server logs its clients.
fn log_client(cfg: &ServerConfig, peer: &Peer, why: &str) {
    if cfg.log_clients {
        errln!("vfio-display: client {peer}: {}", printable(why));
    }
}

/// `text` with its control characters escaped: a reason may quote what a client sent (a path,
/// an origin), and the log is an audit trail a client must not add lines to.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Counts a new connection among the handshakes, or turns it away.
fn admit<'g>(
    gate: &'g gate::Gate,
    stream: &Stream,
    peer: &Peer,
    cfg: &ServerConfig,
) -> Option<gate::Ticket<'g>> {
    let (ticket, evicted) = match gate.admit(stream, peer, std::time::Instant::now()) {
        Ok(gate::Admission::In(ticket, evicted)) => (ticket, evicted),
        Ok(gate::Admission::Full) => {
            log_client(cfg, peer, "refused: too many handshakes at once");
            return None;
        }
        Ok(gate::Admission::Closing) => return None,
        Err(err) => {
            tracing::warn!("{peer}: {err}");
            return None;
        }
    };
    for other in evicted {
        log_client(
            cfg,
            &other,
            "a handshake closed to make room (too many handshakes at once)",
        );
    }
    Some(ticket)
}

/// Serves one connection to its end and logs why it ended.
fn session(
    stream: Stream,
    peer: &Peer,
    ticket: gate::Ticket<'_>,
    route: Route<'_>,
    cfg: &ServerConfig,
) {
    let why = printable(&client::serve(stream, peer, route, cfg, ticket));
    // Plain HTTP requests are not logged; a refused WebSocket (a foreign page) is.
    let http = why.starts_with("HTTP") && !why.contains("WebSocket refused");
    if !http && cfg.log_clients {
        errln!("vfio-display: client {peer} gone: {why}");
    } else {
        tracing::info!("{peer}: {why}");
    }
}

/// Why the server stopped, as its clients are told: "the VM ended", or the signal's name.
fn stop_message() -> String {
    match signals::received().map(|_| signals::stop_cause()) {
        Some(signal) if signal.starts_with("SIG") => format!("the server stopped ({signal})"),
        Some(cause) => cause,
        None => "the server stopped".to_string(),
    }
}

/// Opens `--web`'s directory and picks the page to announce: noVNC's vnc.html, else the
/// directory's index ("" without `--web`).
fn web_page(opts: &ServeOptions) -> Result<(Option<http::WebRoot>, &'static str)> {
    let Some(dir) = &opts.web else {
        return Ok((None, ""));
    };
    let root = http::WebRoot::open(dir)
        .with_context(|| format!("--web {}: opening the directory", dir.display()))?;
    let page = if root.has_file("vnc.html") {
        "/vnc.html"
    } else if root.has_file("index.html") {
        "/"
    } else {
        bail!(
            "--web {}: no vnc.html or index.html there (Debian's novnc package installs \
             /usr/share/novnc)",
            root.path().display()
        )
    };
    Ok((Some(root), page))
}

/// The origins `--allow-origin` lets open a WebSocket.
fn allowed_origins(opts: &ServeOptions) -> Result<Vec<origin::Origin>> {
    opts.allow_origins
        .iter()
        .map(|o| {
            origin::Origin::parse(o).with_context(|| {
                format!("--allow-origin {o}: give an origin as SCHEME://HOST[:PORT]")
            })
        })
        .collect()
}

/// Where the server listens, for its announcement.
struct Served<'a> {
    listeners: &'a [Listener],
    dials: &'a [endpoint::DialAddr],
    page: &'static str,
    tls: bool,
    /// The password this run made up, which only the announcement tells.
    password: Option<&'a str>,
}

/// Prints the address line (and a made-up password) on standard output: each listener (a TCP
/// one with its URLs), then the viewers it dials.
fn announce_serving(
    dev: &dyn DisplayDevice,
    served: &Served<'_>,
    pump: &Pump,
    screen: &screen::Screen,
) -> Result<()> {
    let (scheme, native) = if served.tls {
        ("https", "VeNCrypt ")
    } else {
        ("http", "")
    };
    let page = served.page;
    let places: Vec<String> = served
        .listeners
        .iter()
        .map(|l| match l.tcp_addr() {
            Some(local) => {
                let web = if page.is_empty() {
                    String::new()
                } else {
                    format!(", {scheme}://{local}{page}")
                };
                format!("{local} ({native}vnc://{local}{web})")
            }
            None => l.shown(),
        })
        .collect();
    if let Some(password) = served.password {
        let first_tcp = served.listeners.iter().find_map(|l| l.tcp_addr());
        let novnc = first_tcp
            .filter(|_| page == "/vnc.html")
            .map(|local| format!("{scheme}://{local}{page}"));
        password::announce(password, novnc.as_deref());
    }
    let mut line = format!("serving {}", dev.name());
    if !places.is_empty() {
        line += &format!(" on {}", places.join(", "));
    }
    if !served.dials.is_empty() {
        let dials: Vec<String> = served.dials.iter().map(|d| d.to_string()).collect();
        let and = if places.is_empty() { "" } else { " and" };
        line += &format!("{and} to the viewer at {} (dialed)", dials.join(", "));
    }
    outln!(
        "{line}; refresh from {}; {}; Ctrl+C stops",
        pump.source,
        screen.input.describe()
    );
    crate::app::output::stdio::flush_out()?;
    Ok(())
}

/// Accepts connections on every listener until a signal (or `run`'s VM ending) asks to stop;
/// closes the handshakes past their deadline on every turn.
/// `own` gives, on every turn, the listeners that belong to one screen (`serve --all`'s
/// per-device sockets and ports); `accepted` gets each connection with the screen its listener
/// belongs to, `None` for the server's shared listeners.
fn accept_loop(
    stops: &Stops<'_>,
    gate: &gate::Gate,
    cfg: &ServerConfig,
    own: impl Fn() -> Vec<(Arc<Listener>, Arc<screen::Screen>)>,
    mut accepted: impl FnMut(Stream, Peer, Option<&Arc<screen::Screen>>),
) -> Result<()> {
    loop {
        if signals::received().is_some() || stops.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        reap(gate, cfg);
        let own = own();
        let mut fds: Vec<PollFd<'_>> = stops
            .listeners
            .iter()
            .chain(own.iter().map(|(l, _)| l.as_ref()))
            .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(interrupts) = stops.interrupts {
            fds.push(PollFd::new(interrupts.wait_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for connections"),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let shared = stops.listeners.iter().map(|l| (l, None));
        let owned = own.iter().map(|(l, screen)| (l.as_ref(), Some(screen)));
        for ((listener, screen), _) in shared.chain(owned).zip(ready).filter(|(_, r)| *r) {
            accept_all(listener, &mut |stream, peer| accepted(stream, peer, screen));
        }
    }
}

/// Closes the handshakes past their deadline, and says so.
fn reap(gate: &gate::Gate, cfg: &ServerConfig) {
    for peer in gate.reap(std::time::Instant::now()) {
        log_client(
            cfg,
            &peer,
            &format!(
                "handshake not finished within {} s (--client-timeout): closed",
                gate.deadline().as_secs()
            ),
        );
    }
}

/// Accepts every connection waiting on `listener`.
fn accept_all(listener: &Listener, accepted: &mut impl FnMut(Stream, Peer)) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => accepted(stream, peer),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // A connection reset before it was accepted, or fds running out: log, go on.
            Err(e) => {
                tracing::warn!("accepting a connection on {}: {e}", listener.shown());
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_are_read_within_their_bound_and_only_when_regular() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("cert.pem");
        std::fs::write(&pem, b"-----BEGIN CERTIFICATE-----\n").unwrap();
        assert_eq!(
            read_pem(&pem, "certificate").unwrap(),
            b"-----BEGIN CERTIFICATE-----\n"
        );
        let err = read_pem(dir.path(), "certificate").unwrap_err();
        assert!(
            format!("{err:#}").contains("is not a regular file"),
            "{err:#}"
        );
        let huge = dir.path().join("huge.pem");
        std::fs::write(&huge, vec![b'A'; MAX_PEM as usize + 1]).unwrap();
        let err = format!("{:#}", read_pem(&huge, "private key").unwrap_err());
        assert!(err.starts_with("reading the private key"), "{err}");
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
        let err = read_pem(&dir.path().join("missing.pem"), "private key").unwrap_err();
        assert!(format!("{err:#}").starts_with("reading the private key"));
    }
}
