//! The `serve --all --sim` child process the fleet figures measure: started with N simulated
//! devices on TCP ports of their own, each device's port read from its log line, its memory and
//! CPU read from /proc, and stopped on drop.

use super::remote::{ServerProcess, process_cpu_ms, stat_cpu_ms};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long N devices may take to start: each renders and captures its first frame, which a
/// debug build on a loaded machine does slowly.
const START_LIMIT: Duration = Duration::from_secs(180);
/// The longest a log line is read as one: the server's lines are short, and a longer one is
/// read in pieces rather than held whole.
const LINE_LIMIT: u64 = 64 * 1024;
/// The name of an animated simulator's guest thread (device::sim::guest).
const GUEST_THREAD: &str = "sim-guest";
/// Log lines kept for the error when the server stops before it serves every device.
const KEPT_LINES: usize = 20;

/// What the fleet server is asked to serve.
pub struct FleetSpec<'a> {
    /// This program.
    pub exe: &'a Path,
    /// The simulator's options (mode, format, planes, frozen frame).
    pub sim_args: &'a [String],
    pub devices: usize,
    /// Clients each device must accept.
    pub clients: usize,
    /// The device that animates at 60 Hz among frozen ones.
    pub busy: Option<&'a str>,
}

/// The server's resident memory, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    /// Shared memory inside `rss`: the simulator's guest memory (memfds) is there, which on a
    /// real host belongs to QEMU and the vGPU rather than to this server.
    pub shmem: u64,
}

impl Memory {
    /// What the server itself holds: its resident memory less the simulated guests'.
    pub fn own(self) -> u64 {
        self.rss.saturating_sub(self.shmem)
    }
}

pub struct FleetServer {
    process: ServerProcess,
    /// Device K's (simK's) port.
    pub ports: Vec<u16>,
    /// How the devices are refreshed, as the log says ("IRQ index 0").
    pub refresh: String,
}

impl FleetServer {
    /// Starts the server and waits until every device has said where it serves.
    pub fn start(spec: &FleetSpec) -> Result<Self> {
        let (first, last) = port_range(spec.devices)?;
        let mut cmd = Command::new(spec.exe);
        cmd.args(["serve", "--all"])
            .args(spec.sim_args)
            .args(["--sim-devices", &spec.devices.to_string()])
            .args(["--port-range", &format!("127.0.0.1:{first}-{last}")])
            // The bench's own clients speak no VNC authentication; the ports are on loopback
            // for the run's length.
            .arg("--no-auth")
            .args(["--max-clients", &spec.clients.to_string()]);
        if let Some(busy) = spec.busy {
            cmd.args(["--sim-busy-device", busy]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting `serve --all`")?;
        let stderr = child.stderr.take().context("serve's stderr")?;
        // Killed on drop from here on, whatever fails next.
        let process = ServerProcess { child, port: 0 };
        let lines = log_lines(stderr)?;
        let mut ports = vec![None; spec.devices];
        let mut refresh = String::new();
        let mut kept = Vec::new();
        let deadline = Instant::now() + START_LIMIT;
        while ports.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => bail!(
                    "`serve --all` served {} of {} devices within {} s; its log: {}",
                    ports.iter().flatten().count(),
                    spec.devices,
                    START_LIMIT.as_secs(),
                    kept.join(" | ")
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("`serve --all` stopped: {}", kept.join(" | "))
                }
            };
            if let Some(served) = device_line(&line) {
                if let Some(slot) = ports.get_mut(served.index) {
                    *slot = Some(served.port);
                }
                refresh = served.refresh;
            }
            if kept.len() == KEPT_LINES {
                kept.remove(0);
            }
            kept.push(line);
        }
        Ok(FleetServer {
            process,
            ports: ports.into_iter().flatten().collect(),
            refresh,
        })
    }

    /// User plus system CPU so far, in milliseconds.
    pub fn cpu_ms(&self) -> Result<f64> {
        process_cpu_ms(self.process.child.id())
    }

    /// The CPU so far of the simulated guests' own threads (an animated simulator draws its
    /// desktop on a thread named "sim-guest"), in milliseconds: work a real guest does in its
    /// VM, not in this server. A thread that ended meanwhile is left out.
    pub fn guest_cpu_ms(&self) -> Result<f64> {
        let dir = format!("/proc/{}/task", self.process.child.id());
        let mut total = 0.0;
        for task in std::fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
            let path = task?.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if name.trim_end() == GUEST_THREAD {
                total += stat_cpu_ms(&path.join("stat").to_string_lossy()).unwrap_or(0.0);
            }
        }
        Ok(total)
    }

    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.process.child.id());
        let text = crate::app::input::read_bounded(Path::new(&path), 1 << 20)?;
        let text = String::from_utf8_lossy(&text);
        let field = |name: &str| -> Result<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|kib| kib * 1024)
                .with_context(|| format!("no {name} line in {path}"))
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            shmem: field("RssShmem:")?,
        })
    }

    /// Waits until the server's CPU use is steady: two half-second slices within a tick of
    /// each other or 20% apart, at most `limit`. Start-up work (first frames, first captures)
    /// is then over, whether the devices are still or one animates.
    pub fn settle(&self, limit: Duration) -> Result<()> {
        let slice = Duration::from_millis(500);
        let deadline = Instant::now() + limit;
        let mut last = None;
        while Instant::now() < deadline {
            let cpu0 = self.cpu_ms()?;
            std::thread::sleep(slice);
            let used = self.cpu_ms()? - cpu0;
            if let Some(before) = last
                && steady(before, used)
            {
                return Ok(());
            }
            last = Some(used);
        }
        Ok(())
    }
}

/// Whether two CPU slices (ms) show the same load: within 20 ms (two scheduler ticks at
/// 100 Hz, the clock's resolution) or 20% of the larger.
fn steady(a: f64, b: f64) -> bool {
    (a - b).abs() <= 20.0_f64.max(0.2 * a.max(b))
}

/// A range of loopback ports for `devices` devices: the server takes the first free ones, so
/// the range has room for ports others use meanwhile.
fn port_range(devices: usize) -> Result<(u16, u16)> {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).context("a free port")?;
    let first = probe.local_addr()?.port();
    let room = u16::try_from(devices + 64).context("too many devices for one port range")?;
    Ok(match first.checked_add(room) {
        Some(last) => (first, last),
        None => (u16::MAX - room, u16::MAX),
    })
}

/// The server's log, line by line, from a thread that reads it to its end (so that the server
/// never blocks on a full pipe, also after the receiver is gone).
fn log_lines(stderr: impl Read + Send + 'static) -> Result<mpsc::Receiver<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("fleet log".into())
        .spawn(move || {
            let mut reader = BufReader::new(stderr);
            loop {
                let mut line = Vec::new();
                match (&mut reader).take(LINE_LIMIT).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let _ = tx.send(String::from_utf8_lossy(&line).trim_end().to_string());
                    }
                }
            }
        })
        .context("starting the thread that reads serve's log")?;
    Ok(rx)
}

/// What a device's "serving at" log line says.
#[derive(Debug, PartialEq)]
struct Served {
    /// K of simK.
    index: usize,
    port: u16,
    refresh: String,
}

/// Reads "device simK: serving at /vm/simK, 127.0.0.1:PORT; refresh from SOURCE".
fn device_line(line: &str) -> Option<Served> {
    let rest = line.split_once("device sim")?.1;
    let (index, rest) = rest.split_once(": serving at ")?;
    let port = rest
        .split_once(", 127.0.0.1:")?
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(Served {
        index: index.parse().ok()?,
        port,
        refresh: rest
            .split_once("; refresh from ")
            .map_or(String::new(), |(_, r)| r.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lines_give_the_device_its_port_and_refresh() {
        assert_eq!(
            device_line(
                "vfio-display: device sim12: serving at /vm/sim12, 127.0.0.1:40123; refresh \
                 from IRQ index 0"
            ),
            Some(Served {
                index: 12,
                port: 40123,
                refresh: "IRQ index 0".into()
            })
        );
        // A unix socket before the port, as --socket-dir adds.
        let served = device_line(
            "vfio-display: device sim0: serving at /vm/sim0, unix:/run/vd/sim0, \
             127.0.0.1:5901; refresh from a 30 Hz timer",
        )
        .unwrap();
        assert_eq!((served.index, served.port), (0, 5901));
        // No port, another device's name, or a cut line: not a port.
        assert_eq!(
            device_line("vfio-display: device sim0: serving at /vm/sim0; refresh from x"),
            None
        );
        assert_eq!(
            device_line("vfio-display: device vm1: serving at /vm/vm1, 127.0.0.1:5901"),
            None
        );
        assert_eq!(
            device_line("vfio-display: device sim0: serving at /vm/sim0, 127.0.0.1:99999"),
            None
        );
    }

    #[test]
    fn steady_load_is_judged_within_a_tick_or_a_fifth() {
        assert!(steady(0.0, 10.0));
        assert!(steady(400.0, 330.0));
        assert!(!steady(400.0, 100.0));
        assert!(!steady(0.0, 40.0));
    }
}
