//! The remote-viewing figures (`serve`), each beside a reference measured in the same run: the
//! encoders on a full 1080p desktop and on a typical update (a window moved) beside memcpy;
//! guest flip to update on the socket; the server's CPU and bytes while the guest is static; and
//! the same picture served by TigerVNC's Xvnc to the same client, for bytes and CPU per full
//! update.

use super::figure::{Figure, Skipped};
use super::measure::{Budget, wall_ms};
use super::rfb_client::BenchClient;
use crate::app::output::encode_png;
use crate::app::serve::{Security, ServeOptions, serve_device};
use crate::app::stats::Stats;
use crate::app::target::Target;
use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vfio_display::device::sim::{SimConfig, SimDevice, desktop};
use vfio_display::frame::{IrqChoice, RgbaImage};
use vfio_display::rfb::messages::encoding;
use vfio_display::rfb::{Encoder, Encoding, PixelFormat, Rect, tiles};

/// The simulated desktop's frame every remote figure shows.
pub const FRAME: u64 = 100;
/// Full HD, as the targets are stated.
const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
/// The zlib level both servers are asked for (TigerVNC's viewer's default).
const LEVEL: i32 = 2;
/// The goal for a full update's encoding, on one core.
const ENCODE_GOAL_MS: f64 = 33.0;

fn picture(frame: u64) -> RgbaImage {
    let canvas = desktop::render(WIDTH, HEIGHT, frame);
    RgbaImage {
        width: WIDTH,
        height: HEIGHT,
        data: canvas.pixels,
    }
}

fn median(values: Vec<f64>) -> Result<Stats> {
    Stats::of(values).context("no samples")
}

/// Encode time and bytes for a full 1080p frame and for a typical update, per encoding.
pub fn encode_figures(budget: Budget) -> Result<Vec<Figure>> {
    let before = picture(FRAME);
    let after = picture(FRAME + 1);
    let full = Rect::new(0, 0, WIDTH as u16, HEIGHT as u16);
    let mut copy = vec![0u8; before.data.len()];
    let memcpy = median(wall_ms(budget, || copy.copy_from_slice(&before.data)))?.median_ms;
    let raw_bytes = before.data.len() as f64;
    let mut figures = Vec::new();
    for enc in [Encoding::Raw, Encoding::Zrle, Encoding::Tight] {
        let mut out = Vec::new();
        let times = wall_ms(budget, || {
            out.clear();
            let mut encoder = Encoder::new(PixelFormat::SERVER, LEVEL as u32);
            let _ = encoder.encode(enc, &before, full, &mut out);
        });
        let spread = median(times)?;
        let mut figure = Figure::new(
            format!("rfb full update, 1080p desktop, {}", enc.name()),
            spread.median_ms,
            "ms",
        )
        .ratio(spread.median_ms / memcpy, "x memcpy of the frame")
        .detail(format!(
            "{} bytes ({:.1}% of 4 bytes a pixel); p95 {:.1} ms",
            out.len(),
            out.len() as f64 / raw_bytes * 100.0,
            spread.p95_ms
        ));
        if enc != Encoding::Raw {
            figure = figure.below(ENCODE_GOAL_MS, "< 33 ms on one core");
        }
        figures.push(figure);
    }
    let rects = tiles::changed_rects(&before, &after, full);
    let area: u64 = rects.iter().map(Rect::area).sum();
    for enc in [Encoding::Zrle, Encoding::Tight] {
        let mut times = Vec::new();
        let mut bytes = 0;
        let start = Instant::now();
        while times.len() < budget.min_samples.max(3) || start.elapsed() < budget.time {
            // The connection already holds the picture before: its zlib streams are warm.
            let mut encoder = Encoder::new(PixelFormat::SERVER, LEVEL as u32);
            let mut out = Vec::new();
            encoder.encode(enc, &before, full, &mut out)?;
            out.clear();
            let t0 = Instant::now();
            for r in &rects {
                encoder.encode(enc, &after, *r, &mut out)?;
            }
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            bytes = out.len();
            if times.len() >= budget.max_samples {
                break;
            }
        }
        let spread = median(times)?;
        figures.push(
            Figure::new(
                format!("rfb typical update (a window moved), 1080p, {}", enc.name()),
                spread.median_ms,
                "ms",
            )
            .ratio(spread.median_ms / memcpy, "x memcpy of the frame")
            .detail(format!(
                "{bytes} bytes for {} rectangles covering {:.1}% of the screen",
                rects.len(),
                area as f64 / (f64::from(WIDTH) * f64::from(HEIGHT)) * 100.0
            )),
        );
    }
    Ok(figures)
}

fn serve_options(o: &SimConfig) -> ServeOptions {
    ServeOptions {
        endpoints: Default::default(),
        password_file: None,
        no_auth: false,
        web: None,
        allow_origins: Vec::new(),
        tls: None,
        follow_client_size: false,
        max_clients: 4,
        max_handshakes: 64,
        max_handshakes_per_address: 16,
        client_timeout: Duration::from_secs(30),
        qmp: None,
        view_only: false,
        shared_input: true,
        irq: IrqChoice::Auto,
        refresh_hz: 30.0,
        render: vfio_display::render::ReadChoice::Auto,
        fleet: None,
        control: None,
        on_expire: crate::app::serve::control::OnExpire::Keep,
        target: Target::Sim(o.clone()),
    }
}

/// Guest flip (the simulator's interrupt) to the whole update read off the socket, with this
/// process serving a frozen 1080p simulator whose frames the benchmark flips.
pub fn flip_to_socket(sim: &SimDevice, o: &SimConfig, budget: Budget) -> Result<Figure> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("a listening socket")?;
    let port = listener.local_addr()?.port();
    let opts = serve_options(o);
    let stop = AtomicBool::new(false);
    let latencies = std::thread::scope(|s| -> Result<Vec<f64>> {
        let server = s.spawn(|| {
            serve_device(
                sim,
                listener,
                Security::default(),
                &opts,
                None,
                &stop,
                false,
            )
        });
        let measured = (|| -> Result<Vec<f64>> {
            let mut client = BenchClient::connect(port, &[encoding::ZRLE])?;
            client.request(false)?;
            client.update()?;
            let mut out = Vec::new();
            let start = Instant::now();
            let mut frame = FRAME;
            while out.len() < budget.min_samples.max(5) || start.elapsed() < budget.time {
                client.request(true)?;
                frame += 1;
                sim.show_frame(frame)?;
                let flipped = sim
                    .last_interrupt()
                    .context("the simulator raised no interrupt")?;
                client.update()?;
                out.push(flipped.elapsed().as_secs_f64() * 1000.0);
                if out.len() >= budget.max_samples.min(200) {
                    break;
                }
            }
            Ok(out)
        })();
        stop.store(true, Ordering::Release);
        match server.join() {
            Ok(Err(err)) => return Err(err.context("the in-process server")),
            Err(_) => bail!("the in-process server panicked"),
            Ok(Ok(())) => {}
        }
        measured
    })?;
    let flips = latencies.len();
    let spread = median(latencies)?;
    Ok(Figure::new(
        "guest flip to update on the socket, 1080p, zrle",
        spread.median_ms,
        "ms",
    )
    .ratio(33.3 / spread.median_ms, "x faster than one 30 ms tick")
    .below(33.3, "< one 33 ms tick")
    .detail(format!(
        "p95 {:.1} ms over {} flips (a window moves each flip)",
        spread.p95_ms, flips
    )))
}

/// User plus system CPU of process `pid`, in milliseconds.
pub(super) fn process_cpu_ms(pid: u32) -> Result<f64> {
    stat_cpu_ms(&format!("/proc/{pid}/stat"))
}

/// User plus system CPU in a /proc `stat` file (a process's or a thread's), in milliseconds.
pub(super) fn stat_cpu_ms(path: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("an unexpected /proc stat line")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .context("an unexpected /proc stat line")?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Ok(ticks * 1000.0 / hz)
}

/// A server process, killed on drop.
pub(super) struct ServerProcess {
    pub(super) child: Child,
    pub(super) port: u16,
}

impl Drop for ServerProcess {
    /// Asks the server to stop (SIGTERM) and kills it only if it has not within 3 s: Xvnc
    /// removes its X socket and lock file when asked, and leaves both when killed, which
    /// used up every display number the bench may take after enough runs.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An X display number nothing uses: no lock file, or a lock file whose process is gone (an
/// X server replaces such a stale lock and its socket itself), and no socket without a lock.
fn display_is_free(n: u32) -> bool {
    match std::fs::read_to_string(format!("/tmp/.X{n}-lock")) {
        Ok(text) => text.trim().parse::<i32>().is_ok_and(|pid| {
            pid > 0 && signal::kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
        }),
        Err(_) => !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists(),
    }
}

fn start_serve(exe: &Path, sim_args: &[String], extra: &[&str]) -> Result<ServerProcess> {
    let mut child = Command::new(exe)
        .arg("serve")
        .args(sim_args)
        // The bench's own clients speak no VNC authentication; the server is on loopback for
        // the run's length.
        .args(["--listen", "127.0.0.1:0", "--no-auth"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `serve`")?;
    let mut line = String::new();
    let stdout = child.stdout.take().context("serve's stdout")?;
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok());
    let mut server = ServerProcess { child, port: 0 };
    server.port = port.with_context(|| format!("`serve` printed no address: {line:?}"))?;
    Ok(server)
}

/// What one full update costs a server: bytes (median) and its CPU per update.
struct FullUpdate {
    bytes: usize,
    cpu_ms: f64,
}

const FULL_UPDATES: usize = 20;

fn full_updates(port: u16, pid: u32, enc: i32) -> Result<FullUpdate> {
    let encodings = [enc, encoding::COMPRESS_LEVEL_0 + LEVEL, encoding::CURSOR];
    let mut client = BenchClient::connect(port, &encodings)?;
    // The first update also carries the cursor and starts the zlib streams.
    client.request(false)?;
    client.update()?;
    let cpu0 = process_cpu_ms(pid)?;
    let mut bytes = Vec::new();
    for _ in 0..FULL_UPDATES {
        client.request(false)?;
        bytes.push(client.update()? as f64);
    }
    let cpu = process_cpu_ms(pid)? - cpu0;
    Ok(FullUpdate {
        bytes: median(bytes)?.median_ms as usize,
        cpu_ms: cpu / FULL_UPDATES as f64,
    })
}

/// Idle CPU (percent of a core) and bytes sent over `secs` with one client waiting.
fn idle(port: u16, pid: u32, secs: f64) -> Result<(f64, usize)> {
    let mut client = BenchClient::connect(port, &[encoding::ZRLE, encoding::CURSOR])?;
    client.request(false)?;
    client.update()?;
    client.request(true)?;
    // Start-up work settles and a timer slows to its idle rate (an eighth of 30 Hz after about
    // 7 s without a change) before the measurement.
    std::thread::sleep(Duration::from_secs_f64((secs * 1.6).clamp(1.0, 8.0)));
    let cpu0 = process_cpu_ms(pid)?;
    let t0 = Instant::now();
    let bytes = client.bytes_within(Duration::from_secs_f64(secs))?;
    let cpu = process_cpu_ms(pid)? - cpu0;
    Ok((cpu / (t0.elapsed().as_secs_f64() * 1000.0) * 100.0, bytes))
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// TigerVNC's Xvnc showing a picture in a window that covers its whole screen.
struct Xvnc {
    server: ServerProcess,
    viewer: Option<Child>,
}

impl Drop for Xvnc {
    fn drop(&mut self) {
        if let Some(viewer) = self.viewer.as_mut() {
            let _ = viewer.kill();
            let _ = viewer.wait();
        }
    }
}

fn start_xvnc(xvnc: &Path, png: &Path) -> Result<Xvnc> {
    let display = (60..100)
        .find(|&n| display_is_free(n))
        .context("no free X display number in 60-99 (each has a live X server's lock)")?;
    let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
    let child = Command::new(xvnc)
        .arg(format!(":{display}"))
        .args(["-geometry", &format!("{WIDTH}x{HEIGHT}"), "-depth", "24"])
        .args(["-SecurityTypes", "None", "-interface", "127.0.0.1", "-ac"])
        .args(["-rfbport", &port.to_string(), "-AlwaysShared"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting Xvnc")?;
    let server = ServerProcess { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("Xvnc did not listen on port {port} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // X11's own image viewer shows the picture in a window at (0, 0) of the picture's size:
    // with no window manager it covers the screen exactly.
    let xwd = png.with_extension("xwd");
    let converted = Command::new("convert")
        .arg(png)
        .arg(&xwd)
        .output()
        .context("ImageMagick's `convert` (Debian imagemagick)")?;
    if !converted.status.success() {
        bail!(
            "convert to XWD failed: {}",
            String::from_utf8_lossy(&converted.stderr).trim()
        );
    }
    let viewer = Command::new("xwud")
        .args(["-noclick", "-in"])
        .arg(&xwd)
        .env("DISPLAY", format!(":{display}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("`xwud` (Debian x11-apps) shows the picture on Xvnc")?;
    let xvnc = Xvnc {
        server,
        viewer: Some(viewer),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tree = Command::new("xwininfo")
            .args(["-root", "-tree"])
            .env("DISPLAY", format!(":{display}"))
            .output()
            .context("`xwininfo` (Debian x11-utils)")?;
        if String::from_utf8_lossy(&tree.stdout).contains("\"xwud\"") {
            break;
        }
        if Instant::now() > deadline {
            bail!("xwud's window did not appear on Xvnc within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The window is mapped; its first expose draws the picture.
    std::thread::sleep(Duration::from_millis(500));
    Ok(xvnc)
}

/// Idle figures of `serve` (IRQ and timer refresh) and the TigerVNC comparison.
pub fn server_figures(
    exe: &Path,
    sim_args: &[String],
    idle_secs: f64,
    dir: &Path,
) -> Result<(Vec<Figure>, Vec<Skipped>)> {
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    let ours = start_serve(exe, sim_args, &[])?;
    let timer = start_serve(exe, sim_args, &["--irq", "none"])?;
    let (irq_cpu, irq_bytes) = idle(ours.port, ours.child.id(), idle_secs)?;
    let (timer_cpu, timer_bytes) = idle(timer.port, timer.child.id(), idle_secs)?;
    drop(timer);
    let xvnc = find_program("Xvnc");
    let png = dir.join("remote-reference.png");
    std::fs::write(&png, encode_png(&picture(FRAME), false)?)?;
    let tiger = match &xvnc {
        Some(path) => Some(start_xvnc(path, &png)?),
        None => {
            skipped.push(Skipped {
                name: "TigerVNC comparison".into(),
                why: "Xvnc is not installed (Debian tigervnc-standalone-server)".into(),
            });
            None
        }
    };
    let tiger_idle = match &tiger {
        Some(t) => Some(idle(t.server.port, t.server.child.id(), idle_secs)?),
        None => None,
    };
    let idle_figure = |name: &str, cpu: f64, bytes: usize| {
        let f = Figure::new(
            format!("serve idle CPU over {idle_secs:.0} s, static 1080p guest, {name}"),
            cpu.max(0.0001),
            "% core",
        )
        .below(1.0, "< 1% of a core and 0 bytes");
        let xvnc = match &tiger_idle {
            // Xvnc only wakes for X clients: its idle figure is a floor, not a like for like.
            Some((cpu, bytes)) => format!("; TigerVNC's Xvnc: {cpu:.2}% and {bytes} bytes"),
            None => String::new(),
        };
        f.detail(format!(
            "{bytes} bytes sent to a client waiting for changes{xvnc}"
        ))
    };
    let mut irq = idle_figure("IRQ refresh", irq_cpu, irq_bytes);
    let mut timer = idle_figure(
        "30 Hz timer (devices without an IRQ)",
        timer_cpu,
        timer_bytes,
    );
    for (f, bytes) in [(&mut irq, irq_bytes), (&mut timer, timer_bytes)] {
        if bytes != 0
            && let Some(t) = f.target.as_mut()
        {
            t.met = false;
        }
    }
    figures.push(irq);
    figures.push(timer);
    if let Some(t) = &tiger {
        for (enc, name) in [(encoding::ZRLE, "zrle"), (encoding::TIGHT, "tight")] {
            let mine = full_updates(ours.port, ours.child.id(), enc)?;
            let theirs = full_updates(t.server.port, t.server.child.id(), enc)?;
            figures.push(
                Figure::new(
                    format!("bytes per full 1080p update, {name}"),
                    mine.bytes as f64,
                    "bytes",
                )
                .ratio(mine.bytes as f64 / theirs.bytes as f64, "x TigerVNC's")
                .ratio_at_most(1.2, "within 1.2x of TigerVNC's")
                .detail(format!(
                    "TigerVNC's Xvnc: {} bytes for the same picture",
                    theirs.bytes
                )),
            );
            figures.push(
                Figure::new(
                    format!("server CPU per full 1080p update, {name}"),
                    mine.cpu_ms.max(0.001),
                    "ms",
                )
                .ratio(mine.cpu_ms / theirs.cpu_ms.max(0.001), "x TigerVNC's")
                .ratio_at_most(1.0, "no more CPU than TigerVNC")
                .detail(format!(
                    "TigerVNC's Xvnc: {:.1} ms; over {FULL_UPDATES} updates each, from /proc",
                    theirs.cpu_ms
                )),
            );
        }
    }
    Ok((figures, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock file whose process is gone leaves its display free; one whose process lives
    /// does not; a socket without a lock is taken. Display numbers far above any real server's
    /// (and distinct per test process), so that the files made here touch nothing else.
    #[test]
    fn stale_x_locks_free_their_display_number() {
        let n = 5000 + std::process::id() % 1000;
        let lock = format!("/tmp/.X{n}-lock");
        let socket_dir = Path::new("/tmp/.X11-unix");
        let socket = socket_dir.join(format!("X{n}"));
        assert!(display_is_free(n));
        let mut gone = Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        std::fs::write(&lock, format!("{gone_pid:>10}\n")).unwrap();
        assert!(display_is_free(n), "a dead server's lock");
        std::fs::write(&lock, format!("{:>10}\n", std::process::id())).unwrap();
        assert!(!display_is_free(n), "a live server's lock");
        std::fs::remove_file(&lock).unwrap();
        if std::fs::create_dir_all(socket_dir).is_ok() && std::fs::write(&socket, b"").is_ok() {
            assert!(!display_is_free(n), "a socket without a lock");
            std::fs::remove_file(&socket).unwrap();
        }
    }
}
