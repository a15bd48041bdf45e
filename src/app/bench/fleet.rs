//! The fleet figures (issue 31, "scale"): one `serve --all` process serving N simulated devices
//! with C viewers each, as a host with many VMs runs it. Idle CPU per device, memory per device
//! and per client, connect to first picture, and one guest flipping at 60 Hz among still ones.

use super::figure::{Figure, Skipped};
use super::fleet_server::{FleetServer, FleetSpec, Memory};
use super::progress;
use super::rfb_client::BenchClient;
use crate::app::stats::Stats;
use anyhow::{Context, Result, bail};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vfio_display::rfb::messages::encoding;

/// What the fleet part measures.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub devices: usize,
    pub clients: usize,
    /// The guests' screen size, for the label ("1080p").
    pub label: String,
    /// Seconds each measuring window lasts.
    pub window: Duration,
}

/// The longest the server's start-up work may take to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(15);
/// How often an idle device's full refresh is timed: rarely enough that the timing itself is
/// no load to speak of.
const REFRESH_PERIOD: Duration = Duration::from_millis(100);
/// The busy guest's flip rate (the simulator animates at 60 frames a second).
const GUEST_HZ: f64 = 60.0;
/// "The busy one must not slow the others": the idle devices' answers may take at most this
/// many times the all-idle run's. Not 1.0: on a shared machine the scheduler alone moves a
/// millisecond figure by tens of percent between runs.
const SLOWDOWN_LIMIT: f64 = 2.0;
const MIB: f64 = 1024.0 * 1024.0;
/// Viewers that connect at once: the handshakes `serve` lets run at once in all (its gate's
/// `IN_ALL`); more are turned away while these last.
const WAVE: usize = 64;

/// A viewer of device `device`, connected, shown its first picture, with an incremental
/// update request pending.
struct Viewer {
    device: usize,
    client: BenchClient,
    /// TCP connect to the first full-screen update, in ms.
    first_ms: f64,
}

/// What one run of the fleet (all idle, or one device busy) measured.
struct Run {
    /// Connect to first picture of every viewer, with its device.
    first: Vec<(usize, f64)>,
    /// Full refreshes on the idle devices (all but sim0), in ms.
    refresh: Vec<f64>,
    /// The server's CPU over the window, in % of a core.
    cpu: f64,
    /// The part of it the simulated guests' drawing took.
    guest_cpu: f64,
    /// Bytes the viewers received over the window.
    bytes: usize,
}

pub fn figures(
    exe: &Path,
    sim_args: &[String],
    o: &FleetOptions,
) -> Result<(Vec<Figure>, Vec<Skipped>)> {
    let (n, c) = (o.devices, o.clients);
    let label = format!("{n} devices x {c} clients, {}", o.label);
    let secs = o.window.as_secs_f64();
    let spec = |devices: usize, busy: Option<&'static str>| FleetSpec {
        exe,
        sim_args,
        devices,
        clients: c,
        busy,
    };
    let mut figures = Vec::new();
    let mut skipped = Vec::new();

    progress("fleet: one device alone, for its memory");
    let alone = {
        let server = FleetServer::start(&spec(1, None))?;
        server.settle(SETTLE_LIMIT)?;
        server.memory()?
    };

    progress(&format!("fleet: {label}, every guest still"));
    let server = FleetServer::start(&spec(n, None))?;
    server.settle(SETTLE_LIMIT)?;
    let bare = server.memory()?;
    // One viewer alone first: the latency without the crowd's queueing.
    let port = *server
        .ports
        .first()
        .context("the server serves no device")?;
    let lone = first_picture(viewer_address(0), 0, port)?.first_ms;
    let mut viewers = connect_all(&server.ports, c)?;
    server.settle(SETTLE_LIMIT)?;
    let idle = measure(&server, &mut viewers, o.window, None)?;
    let with_clients = server.memory()?;
    drop(viewers);
    let refresh = server.refresh.clone();
    drop(server);

    let per_device = idle.cpu / n as f64;
    figures.push(
        Figure::new(
            format!("fleet idle CPU per device, {label}"),
            per_device.max(0.0001),
            "% core",
        )
        .at_most(1.0, "<= 1% of a core")
        .detail(format!(
            "the server's {:.2}% over {secs:.0} s / {n}, every viewer waiting for a change \
             (refresh from {refresh}); {} bytes sent",
            idle.cpu, idle.bytes
        )),
    );
    if n > 1 {
        let grown = bare.own().saturating_sub(alone.own()) as f64 / (n - 1) as f64;
        figures.push(
            Figure::new(
                format!("fleet memory per device, {}", o.label),
                grown / MIB,
                "MiB",
            )
            .detail(memory_detail(alone, bare, n)),
        );
    } else {
        skipped.push(Skipped {
            name: "fleet memory per device".into(),
            why: "one device: it is the difference from a one-device server".into(),
        });
    }
    let per_client = with_clients.own().saturating_sub(bare.own()) as f64 / (n * c) as f64;
    figures.push(
        Figure::new(
            format!("fleet memory per client, {}", o.label),
            per_client / MIB,
            "MiB",
        )
        .detail(format!(
            "resident memory with {} viewers {:.1} MiB, without {:.1} MiB (simulated guest \
             memory left out)",
            n * c,
            with_clients.own() as f64 / MIB,
            bare.own() as f64 / MIB
        )),
    );
    let all_first =
        Stats::of(idle.first.iter().map(|(_, ms)| *ms).collect()).context("no viewer connected")?;
    figures.push(
        Figure::new(
            format!("fleet connect to first picture, median, {label}"),
            all_first.median_ms,
            "ms",
        )
        .detail(format!(
            "all {} viewers connecting at once (in waves of {WAVE}, each from its own address): \
             TCP connect to the first full-screen update (zrle); min {:.1} ms, max {:.1} ms",
            n * c,
            all_first.min_ms,
            all_first.max_ms
        )),
    );
    figures.push(
        Figure::new(
            format!(
                "fleet connect to first picture, one viewer alone, {}",
                o.label
            ),
            lone,
            "ms",
        )
        .detail(format!(
            "sim0's first viewer, before the others, among {n} still devices; a native \
             client's time includes the server's wait (150 ms) for a client that speaks \
             first, as a browser does on the same port"
        )),
    );
    figures.push(Figure::new(
        format!("fleet connect to first picture, p95, {label}"),
        all_first.p95_ms,
        "ms",
    ));

    if n < 2 {
        skipped.push(Skipped {
            name: "fleet busy device among idle ones".into(),
            why: "one device: there are no idle ones beside it".into(),
        });
        return Ok((figures, skipped));
    }
    progress(&format!("fleet: {label}, sim0 flipping at 60 Hz"));
    let server = FleetServer::start(&spec(n, Some("sim0")))?;
    server.settle(SETTLE_LIMIT)?;
    let mut viewers = connect_all(&server.ports, c)?;
    let (busy_viewers, mut idle_viewers): (Vec<Viewer>, Vec<Viewer>) =
        viewers.drain(..).partition(|v| v.device == 0);
    let stop = AtomicBool::new(false);
    let (busy, rates) = std::thread::scope(|s| -> Result<(Run, Vec<f64>)> {
        let counters: Vec<_> = busy_viewers
            .into_iter()
            .map(|v| {
                let stop = &stop;
                std::thread::Builder::new()
                    .name("fleet busy viewer".into())
                    .spawn_scoped(s, move || follow(v.client, stop))
            })
            .collect::<std::io::Result<_>>()
            .context("starting the busy device's viewers")?;
        let busy = measure(&server, &mut idle_viewers, o.window, Some(0));
        stop.store(true, Ordering::Release);
        let mut rates = Vec::new();
        for counter in counters {
            match counter.join() {
                Ok(rate) => rates.push(rate?),
                Err(_) => bail!("a busy device's viewer panicked"),
            }
        }
        Ok((busy?, rates))
    })?;
    drop(idle_viewers);
    drop(server);

    let rate = Stats::of(rates).context("the busy device had no viewer")?;
    figures.push(
        Figure::new(
            format!("fleet busy device's updates, 1 of {n} flipping at 60 Hz"),
            rate.median_ms,
            "fps",
        )
        .ratio(rate.median_ms / GUEST_HZ, "x the guest's 60 Hz")
        .detail(format!(
            "per viewer of the busy device, each asking for the next update as it reads one \
             ({c} viewers, min {:.1} fps)",
            rate.min_ms
        )),
    );
    let idle_refresh = Stats::of(idle.refresh.clone()).context("no full refresh was timed")?;
    let busy_refresh = Stats::of(busy.refresh.clone()).context("no full refresh was timed")?;
    figures.push(
        Figure::new(
            format!("fleet idle device's full refresh beside a busy one, {label}"),
            busy_refresh.median_ms,
            "ms",
        )
        .ratio(
            busy_refresh.median_ms / idle_refresh.median_ms.max(0.001),
            "x with every guest still",
        )
        .ratio_at_most(SLOWDOWN_LIMIT, "not slowed: within 2x")
        .detail(format!(
            "a full-screen update request on sim1..sim{} answered, every {} ms; p95 {:.1} ms; \
             with every guest still: median {:.1} ms, p95 {:.1} ms",
            n - 1,
            REFRESH_PERIOD.as_millis(),
            busy_refresh.p95_ms,
            idle_refresh.median_ms,
            idle_refresh.p95_ms
        )),
    );
    let idle_devices = |run: &Run| -> Option<Stats> {
        Stats::of(
            run.first
                .iter()
                .filter(|(d, _)| *d != 0)
                .map(|(_, ms)| *ms)
                .collect(),
        )
    };
    let before = idle_devices(&idle).context("no idle device's viewer")?;
    let beside = idle_devices(&busy).context("no idle device's viewer")?;
    figures.push(
        Figure::new(
            format!("fleet idle device's connect to first picture beside a busy one, {label}"),
            beside.median_ms,
            "ms",
        )
        .ratio(
            beside.median_ms / before.median_ms.max(0.001),
            "x with every guest still",
        )
        .ratio_at_most(SLOWDOWN_LIMIT, "not slowed: within 2x")
        .detail(format!(
            "the viewers of sim1..sim{}; p95 {:.1} ms; with every guest still: median {:.1} ms, \
             p95 {:.1} ms",
            n - 1,
            beside.p95_ms,
            before.median_ms,
            before.p95_ms
        )),
    );
    figures.push(
        Figure::new(
            format!("fleet server CPU, 1 of {n} devices busy, {c} clients each"),
            (busy.cpu - busy.guest_cpu).max(0.0001),
            "% core",
        )
        .detail(format!(
            "the whole server over {secs:.0} s, less the simulated guest's own drawing at \
             60 Hz ({:.1}%, which a real guest does in its VM); {:.2}% with every guest still",
            busy.guest_cpu, idle.cpu
        )),
    );
    Ok((figures, skipped))
}

fn memory_detail(alone: Memory, bare: Memory, n: usize) -> String {
    format!(
        "resident memory without clients: {n} devices {:.1} MiB, 1 device {:.1} MiB; the \
         simulated guests' memory ({:.1} MiB for {n}), which a real vGPU's guest holds, is \
         left out",
        bare.own() as f64 / MIB,
        alone.own() as f64 / MIB,
        bare.shmem as f64 / MIB
    )
}

/// Connects `clients` viewers to every port at once, as viewers come back after a host or a
/// proxy restarts; each is shown its first picture and then keeps an incremental request
/// pending. Each viewer comes from its own loopback address, as viewers on their own machines
/// do: the server lets 16 handshakes at once come from one address. They come in waves of at
/// most `WAVE`, the handshakes the server lets run at once in all.
fn connect_all(ports: &[u16], clients: usize) -> Result<Vec<Viewer>> {
    let all: Vec<(usize, u16)> = ports
        .iter()
        .enumerate()
        .flat_map(|(device, &port)| std::iter::repeat_n((device, port), clients))
        .collect();
    let mut viewers = Vec::with_capacity(all.len());
    for (wave, group) in all.chunks(WAVE).enumerate() {
        viewers.extend(std::thread::scope(|s| -> Result<Vec<Viewer>> {
            let handles: Vec<_> = group
                .iter()
                .enumerate()
                .map(|(i, &(device, port))| {
                    let source = viewer_address(wave * WAVE + i);
                    std::thread::Builder::new()
                        .name("fleet viewer".into())
                        .spawn_scoped(s, move || first_picture(source, device, port))
                })
                .collect::<std::io::Result<_>>()
                .context("starting the viewers")?;
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(viewer) => viewer,
                    Err(_) => bail!("a viewer's thread panicked"),
                })
                .collect()
        })?);
    }
    Ok(viewers)
}

/// Viewer `n`'s own loopback address: 127.1.0.1, 127.1.0.2, and on (all of 127.0.0.0/8 is
/// this machine's).
fn viewer_address(n: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x7f01_0001_u32 + (n as u32 & 0x00fe_ffff))
}

fn first_picture(source: Ipv4Addr, device: usize, port: u16) -> Result<Viewer> {
    let t0 = Instant::now();
    let mut client = BenchClient::connect_from(source, port, &[encoding::ZRLE, encoding::CURSOR])
        .with_context(|| format!("a viewer of sim{device} from {source}"))?;
    client.request(false)?;
    client.update()?;
    let first_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let screen = u64::from(client.width) * u64::from(client.height);
    if client.last_area < screen {
        bail!(
            "sim{device}'s first update covered {} of the screen's {screen} pixels",
            client.last_area
        );
    }
    client.request(true)?;
    Ok(Viewer {
        device,
        client,
        first_ms,
    })
}

/// The server's CPU over `window` with every viewer waiting, then full refreshes timed on the
/// devices other than `busy` for another `window`; the bytes that came meanwhile are counted.
fn measure(
    server: &FleetServer,
    viewers: &mut [Viewer],
    window: Duration,
    busy: Option<usize>,
) -> Result<Run> {
    let (cpu0, guest0) = (server.cpu_ms()?, server.guest_cpu_ms()?);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let (cpu1, guest1) = (server.cpu_ms()?, server.guest_cpu_ms()?);
    let percent = |ms: f64| ms / (t0.elapsed().as_secs_f64() * 1000.0) * 100.0;
    let (cpu, guest_cpu) = (percent(cpu1 - cpu0), percent(guest1 - guest0));
    // A still guest sends nothing: whatever came is in the sockets' buffers now.
    let mut bytes = 0;
    for v in viewers.iter_mut() {
        bytes += v.client.bytes_within(Duration::from_millis(1))?;
    }
    let mut refresh = Vec::new();
    let timed: Vec<usize> = (0..viewers.len())
        .filter(|&i| viewers[i].device != 0 && Some(viewers[i].device) != busy)
        .collect();
    let end = Instant::now() + window;
    for &i in timed.iter().cycle() {
        if Instant::now() >= end && refresh.len() >= timed.len().min(5) {
            break;
        }
        let next = Instant::now() + REFRESH_PERIOD;
        let client = &mut viewers[i].client;
        let t = Instant::now();
        client.request(false)?;
        client.update()?;
        refresh.push(t.elapsed().as_secs_f64() * 1000.0);
        client.request(true)?;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(Run {
        first: viewers.iter().map(|v| (v.device, v.first_ms)).collect(),
        refresh,
        cpu,
        guest_cpu,
        bytes,
    })
}

/// Follows a busy device as a viewer does (an update read, the next one asked for) until
/// `stop`; returns the updates per second.
fn follow(mut client: BenchClient, stop: &AtomicBool) -> Result<f64> {
    let t0 = Instant::now();
    let mut updates = 0u64;
    while !stop.load(Ordering::Acquire) {
        client.update()?;
        updates += 1;
        client.request(true)?;
    }
    Ok(updates as f64 / t0.elapsed().as_secs_f64().max(0.001))
}
