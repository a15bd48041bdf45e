//! `vfio-display serve`: its options, parsed into the server's plain options.

use super::args::{
    parse_clients, parse_connect, parse_hz, parse_irq, parse_listen, parse_seconds,
    parse_socket_mode, parse_socket_owner, parse_yes_no,
};
use super::exit::Usage;
use super::target::DeviceArgs;
use crate::app::serve::control::OnExpire;
use crate::app::serve::endpoint::{Backoff, DialAddr, Endpoints, ListenAddr};
use crate::app::serve::fleet::scan::Source;
use crate::app::serve::fleet::{FleetOptions, PortRange};
use crate::app::serve::unix_socket::SocketAccess;
use crate::app::serve::{self, ServeOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vfio_display::frame::IrqChoice;

const AFTER_HELP: &str = "\
Clients: any VNC viewer (vncviewer 127.0.0.1:5900, gvncviewer, Remmina), or a browser with
noVNC: `serve --web /usr/share/novnc` and open http://HOST:5900/vnc.html. Encodings: Tight,
ZRLE and Raw, with DesktopSize, ExtendedDesktopSize and Cursor; any true-colour pixel format of
8, 16 or 32 bits.

Input: the VFIO display interface has none, so clients' keys and pointer go through QEMU's
QMP (input-send-event) when there is a channel: under `run` (which adds one, and a virtio
tablet), under `attach --qmp PATH`, or with --qmp PATH. Keys typed as keysyms map on a US
layout; clients that speak QEMU's extended key events (noVNC, gvncviewer, TigerVNC) send
scancodes, which are layout-independent. --view-only drops all input; --shared no lets one
client at a time type and point (the first to do so, until it disconnects).

Listeners: --listen may be given several times, TCP and unix sockets together; without it
serve listens on 127.0.0.1:5900, unless --connect or socket activation gives it clients, in
which case nothing listens that was not asked for. A unix socket (--listen unix:PATH) is made
with mode 0600 (--socket-mode, --socket-owner) before its name appears, never replaces a file
or link (a stale socket nothing answers on is replaced), and is removed when serve ends; its
clients are logged by uid and pid. Under systemd socket activation (LISTEN_FDS) serve takes the
listening sockets it is given (TCP or unix), besides any --listen. --connect HOST[:PORT] dials
a viewer that listens (vncviewer -listen; port 5500 by default) and dials again when the
connection fails or ends, after 1 s doubling to 30 s (--connect-retry, --connect-retry-max).
Every listener and reverse connection gets the same password, TLS and limits.

Security: every address, loopback included, needs a password (any local account, and any
web page in a local browser, can reach a loopback port). Without --password-file FILE, serve
makes one for the run and shows it on stderr, with a noVNC address that carries it; --no-auth
serves without one. VNC authentication counts only the first 8 bytes. Browsers may open the
WebSocket only from the pages serve itself serves, or from an origin --allow-origin names.
Handshakes must finish within --client-timeout; an address that gives 5 wrong passwords is
refused for 10 s, doubling with each further failure. Without --tls-cert/--tls-key the
traffic is not encrypted: give them (browsers then use https://HOST:PORT/vnc.html and native
clients VeNCrypt), or keep the default address and use an SSH tunnel
(ssh -L 5900:127.0.0.1:5900 HOST).";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    /// Serve every display device of the host, each by name: the mdev of every running QEMU
    /// (taken as `attach` takes it) and every idle mdev, followed as they come and go. With
    /// --sim, --sim-devices simulated ones (sim0, sim1, ...).
    #[arg(long, conflicts_with_all = ["device", "device_fd", "connect", "qmp"])]
    all: bool,
    /// With --all --sim: how many simulated devices (device K shows frame --sim-frame + K).
    #[arg(long, value_name = "N", default_value = "1", requires = "all", value_parser = parse_devices)]
    sim_devices: usize,
    /// With --all --sim: the --sim-fault applies to this device only.
    #[arg(long, value_name = "NAME", requires = "all")]
    sim_fault_device: Option<String>,
    /// With --all --sim --sim-frame: this device animates while the others stay frozen (a
    /// busy guest among idle ones).
    #[arg(long, value_name = "NAME", requires = "all")]
    sim_busy_device: Option<String>,
    /// With --all: a unix socket per device in DIR, named after the device (websockify's
    /// UnixDomainSocketDirectory plugin and token files point at them).
    #[arg(long, value_name = "DIR", requires = "all")]
    socket_dir: Option<PathBuf>,
    /// With --all: a TCP port per device from this range, the first free one.
    #[arg(long, value_name = "[ADDR:]FIRST-LAST", requires = "all")]
    port_range: Option<PortRange>,
    /// With --all: the most devices served at once.
    #[arg(long, value_name = "N", default_value = "64", requires = "all", value_parser = parse_devices)]
    max_devices: usize,
    /// With --all: how often devices are looked for, in seconds.
    #[arg(long, value_name = "S", default_value = "2", requires = "all", value_parser = parse_seconds)]
    scan_interval: f64,
    /// With --all: leave idle mdevs alone (a VM cannot start on an mdev serve holds).
    #[arg(long, requires = "all")]
    skip_idle: bool,
    /// A control socket (JSON, one request per line, as QMP): set and expire each device's
    /// password at run time, list and disconnect clients. Made with mode 0600. Without
    /// --password-file or --no-auth, devices refuse clients until it sets a password.
    #[arg(long, value_name = "unix:PATH", value_parser = parse_control)]
    control: Option<PathBuf>,
    /// What an expired password does to the clients it let in: keep them (as QEMU does) or
    /// disconnect them.
    #[arg(long, value_enum, value_name = "keep|disconnect", default_value_t = OnExpireArg::Keep)]
    on_expire: OnExpireArg,
    /// With --all: forward clients' keys and pointer to each VM through the QMP socket on its
    /// QEMU's command line (-qmp unix:PATH,server=on, or a control -mon on a unix chardev).
    /// serve then holds that monitor while it serves the VM: QEMU takes one client per
    /// monitor. Without it, clients of --all view only.
    #[arg(long, requires = "all")]
    take_qmp: bool,
    /// With --all: show every device's thumbnail on the index page at /, even of devices
    /// that ask for a password (by default only those that do not are shown).
    #[arg(long, requires = "all")]
    index_thumbnails: bool,
    /// Where to listen: ADDR:PORT, a port on 127.0.0.1 (0 picks a free one; the address in use
    /// is printed), or unix:PATH. Repeat for several. Default: 127.0.0.1:5900, unless
    /// --connect or socket activation gives clients.
    #[arg(long, value_name = "ADDR:PORT|unix:PATH", value_parser = parse_listen)]
    listen: Vec<ListenAddr>,
    /// Dial a viewer that listens (a reverse connection, as vncviewer -listen takes): HOST:PORT,
    /// HOST (port 5500) or unix:PATH; dialed again when the connection fails or ends. Repeat
    /// for several.
    #[arg(long, value_name = "HOST:PORT|unix:PATH", value_parser = parse_connect)]
    connect: Vec<DialAddr>,
    /// The first wait before dialing a viewer again, in seconds; it doubles at every failure.
    #[arg(long, value_name = "S", default_value = "1", value_parser = parse_seconds)]
    connect_retry: f64,
    /// The longest wait before dialing a viewer again, in seconds.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    connect_retry_max: f64,
    /// Permission bits of the unix sockets serve makes (octal; 0660 lets the group in).
    #[arg(long, value_name = "MODE", default_value = "0600", value_parser = parse_socket_mode)]
    socket_mode: u32,
    /// Owner of the unix sockets serve makes: USER, USER:GROUP or :GROUP (needs root or
    /// CAP_CHOWN, except for a group of the server's own user).
    #[arg(long, value_name = "USER[:GROUP]", value_parser = parse_socket_owner)]
    socket_owner: Option<(Option<u32>, Option<u32>)>,
    /// Require VNC authentication with the password on the first line of FILE.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Serve without any password (by default serve makes one for the run and shows it).
    #[arg(long)]
    no_auth: bool,
    /// Let pages from ORIGIN (SCHEME://HOST[:PORT], as the browser's Origin header gives it)
    /// open the WebSocket, besides the pages serve itself serves. Repeat for several.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Serve the static files in DIR on the same port (noVNC: /usr/share/novnc).
    #[arg(long, value_name = "DIR")]
    web: Option<PathBuf>,
    /// TLS: the server's certificate chain (PEM), for https/wss (browsers) and VeNCrypt
    /// (native clients must then use it). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS: the certificate's private key (PEM). Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Resize the guest's screen to a client's window: a client's resize request writes an EDID
    /// of that size (hot-plug protocol).
    #[arg(long)]
    follow_client_size: bool,
    /// The most clients connected at once.
    #[arg(long, value_name = "N", default_value = "16", value_parser = parse_clients)]
    max_clients: usize,
    /// The most connections in their handshake at once (past it the oldest, if older than
    /// 250 ms, is closed to make room).
    #[arg(long, value_name = "N", default_value = "64", value_parser = parse_handshakes)]
    max_handshakes: usize,
    /// The most connections in their handshake at once from one address (a /64 for IPv6; a
    /// user on a unix socket). Behind a proxy (websockify, nova-novncproxy) every viewer comes
    /// from the proxy's address: raise it to --max-handshakes there.
    #[arg(long, value_name = "N", default_value = "16", value_parser = parse_handshakes)]
    max_handshakes_per_address: usize,
    /// Drop a client that takes more than S seconds to read an update or finish its handshake.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    client_timeout: f64,
    /// Forward clients' keys and pointer to the guest through QEMU's QMP socket at PATH
    /// (`run` and `attach --qmp` set it).
    #[arg(long, value_name = "PATH")]
    qmp: Option<PathBuf>,
    /// Drop clients' keys and pointer.
    #[arg(long)]
    view_only: bool,
    /// yes: every client's input goes to the guest; no: one client's at a time.
    #[arg(
        long,
        value_name = "yes|no",
        default_value = "yes",
        value_parser = parse_yes_no,
        action = clap::ArgAction::Set
    )]
    shared: bool,
    /// Refresh source: auto (a display IRQ the device declares, else the timer), none (the
    /// timer), or an IRQ index.
    #[arg(long, value_name = "auto|none|INDEX", default_value = "auto", value_parser = parse_irq)]
    irq: IrqChoice,
    /// The timer's rate when there is no IRQ (it slows down to an eighth while nothing
    /// changes).
    #[arg(long, value_name = "HZ", default_value = "30", value_parser = parse_hz)]
    refresh_hz: f64,
    /// Where frames are read: auto (the CPU while it can map them; through a headless Vulkan
    /// device when it cannot, as with Intel GVT-g's dma-bufs) or cpu (never open a GPU: such
    /// frames are then an error).
    #[arg(long, value_enum, default_value_t = ServeRender::Auto)]
    render: ServeRender,
    #[command(flatten)]
    pub target: DeviceArgs,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    if args.client_timeout < 1.0 {
        return Err(Usage("--client-timeout: give at least 1 second".into()).into());
    }
    let fleet = fleet_options(args)?;
    if let Some(dir) = &args.socket_dir {
        private_dir("--socket-dir", dir)?;
    }
    if let Some(path) = &args.control {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        private_dir("--control", parent)?;
    }
    let target = match &fleet {
        // Unused by --all: any target will do.
        Some(_) => crate::app::target::Target::Fd(-1),
        None => args.target.target()?,
    };
    serve::run(&ServeOptions {
        endpoints: endpoints(args)?,
        password_file: args.password_file.clone(),
        no_auth: args.no_auth,
        web: args.web.clone(),
        allow_origins: args.allow_origin.clone(),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        follow_client_size: args.follow_client_size,
        max_clients: args.max_clients,
        max_handshakes: args.max_handshakes,
        max_handshakes_per_address: args.max_handshakes_per_address,
        client_timeout: Duration::from_secs_f64(args.client_timeout),
        qmp: args.qmp.clone(),
        view_only: args.view_only,
        shared_input: args.shared,
        irq: args.irq,
        refresh_hz: args.refresh_hz,
        render: match args.render {
            ServeRender::Auto => vfio_display::render::ReadChoice::Auto,
            ServeRender::Cpu => vfio_display::render::ReadChoice::Cpu,
        },
        target,
        fleet,
        control: args.control.clone(),
        on_expire: match args.on_expire {
            OnExpireArg::Keep => OnExpire::Keep,
            OnExpireArg::Disconnect => OnExpire::Disconnect,
        },
    })
}

/// `--on-expire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnExpireArg {
    /// Clients already in stay.
    Keep,
    /// Clients already in are disconnected with the reason.
    Disconnect,
}

/// `--control unix:PATH` (the prefix may be left out).
fn parse_control(text: &str) -> Result<PathBuf, String> {
    let path = text.strip_prefix("unix:").unwrap_or(text);
    if path.is_empty() {
        return Err("give the control socket's path: unix:PATH".into());
    }
    Ok(PathBuf::from(path))
}

/// `--all`'s options, checked.
fn fleet_options(args: &ServeArgs) -> Result<Option<FleetOptions>> {
    if !args.all {
        return Ok(None);
    }
    if args.scan_interval < 0.2 {
        return Err(Usage("--scan-interval: give at least 0.2 seconds".into()).into());
    }
    if args.sim_devices > 1 && !args.target.sim {
        return Err(Usage("--sim-devices needs --sim".into()).into());
    }
    let source = if args.target.sim {
        let crate::app::target::Target::Sim(config) = args.target.target()? else {
            return Err(Usage("--all --sim: no simulator".into()).into());
        };
        let named = |name: &str| {
            name.strip_prefix("sim")
                .and_then(|k| k.parse::<usize>().ok())
                .is_some_and(|k| k < args.sim_devices)
        };
        let unknown = [&args.sim_fault_device, &args.sim_busy_device]
            .into_iter()
            .zip(["--sim-fault-device", "--sim-busy-device"])
            .find_map(|(name, flag)| name.as_deref().filter(|n| !named(n)).map(|n| (flag, n)));
        if let Some((flag, name)) = unknown {
            return Err(Usage(format!(
                "{flag} {name}: the devices are sim0 to sim{}",
                args.sim_devices - 1
            ))
            .into());
        }
        Source::Sim {
            config,
            count: args.sim_devices,
            fault_on: args.sim_fault_device.clone(),
            busy: args.sim_busy_device.clone(),
        }
    } else {
        Source::Host {
            backend: args.target.backend.into(),
            idle: !args.skip_idle,
        }
    };
    Ok(Some(FleetOptions {
        source,
        socket_dir: args.socket_dir.clone(),
        ports: args.port_range,
        max_devices: args.max_devices,
        scan_interval: Duration::from_secs_f64(args.scan_interval),
        index_thumbnails: args.index_thumbnails,
        take_qmp: args.take_qmp,
    }))
}

/// Refuses a directory for sockets that other users may write to (or that another user owns):
/// there, a local user could bind a device's socket name (or the control socket's, once serve
/// has gone) before serve does, and collect the clients, their passwords included, or the
/// manager's. The sticky bit does not help: it guards existing names, not new ones.
fn private_dir(flag: &str, dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(dir).map_err(|e| Usage(format!("{flag} {}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(Usage(format!("{flag} {}: not a directory", dir.display())).into());
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.mode() & 0o022 != 0 {
        return Err(Usage(format!(
            "{flag} {}: writable by other users (mode {:o}): one of them could take a socket's \
             name first; use a directory only this user can write, such as /run/vfio-display \
             (mkdir -m 0755)",
            dir.display(),
            meta.mode() & 0o7777
        ))
        .into());
    }
    if meta.uid() != me && meta.uid() != 0 {
        return Err(Usage(format!(
            "{flag} {}: owned by another user (uid {}), who could take a socket's name first",
            dir.display(),
            meta.uid()
        ))
        .into());
    }
    Ok(())
}

/// A number of handshakes: 1 to 4096.
fn parse_handshakes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=4096) => Ok(n),
        _ => Err(format!("'{s}': give 1 to 4096 handshakes")),
    }
}

/// A number of devices: 1 to 1024.
fn parse_devices(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(format!("'{s}': give 1 to 1024 devices")),
    }
}

/// Where clients come from, checked for options that would do nothing.
fn endpoints(args: &ServeArgs) -> Result<Endpoints> {
    let unix =
        args.listen.iter().any(|l| matches!(l, ListenAddr::Unix(_))) || args.socket_dir.is_some();
    if !unix && (args.socket_owner.is_some() || args.socket_mode != 0o600) {
        return Err(Usage(
            "--socket-mode and --socket-owner apply to --listen unix:PATH; none was given".into(),
        )
        .into());
    }
    if args.connect_retry < 0.1 {
        return Err(Usage("--connect-retry: give at least 0.1 seconds".into()).into());
    }
    if args.connect_retry_max < args.connect_retry {
        return Err(Usage("--connect-retry-max: give at least --connect-retry".into()).into());
    }
    let (uid, gid) = args.socket_owner.unwrap_or((None, None));
    // A server of many devices whose devices have their own places listens on no shared
    // address unless asked.
    let own_places = args.socket_dir.is_some() || args.port_range.is_some();
    let listen = if args.listen.is_empty() && own_places {
        vec![]
    } else {
        args.listen.clone()
    };
    Ok(Endpoints {
        listen,
        no_default: own_places,
        connect: args.connect.clone(),
        access: SocketAccess {
            mode: args.socket_mode,
            uid,
            gid,
        },
        backoff: Backoff {
            first: Duration::from_secs_f64(args.connect_retry),
            max: Duration::from_secs_f64(args.connect_retry_max),
        },
    })
}

/// Where `serve` reads frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeRender {
    /// The CPU while it can map the frames, the GPU when it cannot.
    Auto,
    /// The CPU only.
    Cpu,
}
