//! The figures measured inside this process: plane query rate, per-path frame cost beside
//! memcpy, the front end's CPU per cached frame, and interrupt-to-texture latency.

use super::figure::{Figure, Skipped};
use super::measure::{Budget, sample, wall_ms};
use crate::app::cpu_time::thread_cpu;
use crate::app::stats::Stats;
use anyhow::{Context, Result, bail};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::frame::{FrameReader, IrqChoice, Pump, RefreshSource, choose_source};
use vfio_display::render::{FrameRenderer, GpuContext, ImportChoice, ImportPath};
use vfio_display::vfio::{PlaneSource, PlaneType};

/// A 60 Hz viewer queries the primary and the cursor plane once per frame.
const VIEWER_QUERIES_PER_SECOND: f64 = 120.0;

pub(super) fn median(values: Vec<f64>) -> Result<Stats> {
    Stats::of(values).context("no samples were taken")
}

/// How many primary-plane queries per second the device answers.
pub fn query_rate(dev: &dyn DisplayDevice, budget: Budget) -> Result<Figure> {
    let reader = FrameReader::new(dev)?;
    let batch = 100;
    let times = wall_ms(budget, || {
        for _ in 0..batch {
            let _ = black_box(reader.query(PlaneType::Primary));
        }
    });
    // A failing query (display off) still costs an ioctl; the rate is what matters here.
    reader
        .query(PlaneType::Primary)
        .context("querying the primary plane")?;
    let per_query_us = median(times)?.median_ms * 1000.0 / f64::from(batch);
    let rate = 1e6 / per_query_us;
    Ok(Figure::new("plane queries (primary)", rate, "/s")
        .ratio(
            rate / VIEWER_QUERIES_PER_SECOND,
            "x what a 60 Hz viewer needs",
        )
        .detail(format!(
            "{per_query_us:.2} us per VFIO_DEVICE_QUERY_GFX_PLANE"
        )))
}

/// The import paths this adapter offers for a plane from `source`, cheapest last. A region
/// plane is device memory, not a dma-buf: only the CPU path reads it.
pub fn offered_paths(ctx: &GpuContext, source: PlaneSource) -> Vec<ImportPath> {
    let mut paths = vec![ImportPath::Cpu];
    if source == PlaneSource::Region {
        return paths;
    }
    if ctx.caps.buffer {
        paths.push(ImportPath::Buffer);
    }
    if ctx.caps.dmabuf {
        paths.push(ImportPath::Dmabuf);
    }
    paths
}

/// memcpy, the copy out of the guest's buffer, and each path's whole frame at the device's
/// current mode; `label` names the size ("1080p"). A device whose dma-bufs the CPU cannot map
/// (Intel GVT-g) has no cpu path: it comes back as skipped, with the reason.
pub fn frame_costs(
    ctx: &GpuContext,
    dev: &dyn DisplayDevice,
    label: &str,
    budget: Budget,
) -> Result<(Vec<Figure>, Option<Skipped>)> {
    let reader = FrameReader::new(dev)?;
    let plane = reader
        .query(PlaneType::Primary)
        .context("querying the primary plane")?;
    if plane.is_off() {
        bail!("the guest shows no primary plane: nothing to measure");
    }
    let bytes = plane.stride as usize * plane.height as usize;
    let mb = bytes as f64 / 1e6;
    let mut figures = Vec::new();

    let src = vec![0x5au8; bytes];
    let mut dst = vec![0u8; bytes];
    let memcpy = median(wall_ms(budget, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&dst);
    }))?
    .median_ms;
    figures.push(
        Figure::new(format!("memcpy, {label}"), memcpy, "ms").detail(format!(
            "{mb:.1} MB: {:.1} GB/s, this machine's reference",
            mb / memcpy
        )),
    );

    let mut staging = Vec::new();
    // A device whose dma-bufs the CPU cannot map (Intel GVT-g) has no CPU path to measure.
    if let Err(err) = reader.read_raw_into(&plane, plane.stride as usize, &mut staging)
        && vfio_display::render::needs_gpu(&err)
    {
        let skipped = Skipped {
            name: format!("cpu path, {label}"),
            why: vfio_display::frame::session::error_chain(&err),
        };
        for path in offered_paths(ctx, plane.source)
            .into_iter()
            .filter(|p| *p != ImportPath::Cpu)
        {
            figures.extend(gpu_path_costs(ctx, dev, path, label, memcpy, budget)?);
        }
        return Ok((figures, Some(skipped)));
    }
    let copy = sample(budget, || -> Result<f64> {
        let t0 = Instant::now();
        reader.read_raw_into(&plane, plane.stride as usize, &mut staging)?;
        Ok(t0.elapsed().as_secs_f64() * 1000.0)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()
    .context("copying the frame out of the guest's buffer")?;
    let copy = median(copy)?.median_ms;
    figures.push(
        Figure::new(
            format!("cpu upload: copy out of guest memory, {label}"),
            copy,
            "ms",
        )
        .ratio(memcpy / copy, "x memcpy")
        .ratio_at_least(0.8, ">= 0.8x memcpy")
        .detail(format!("{:.1} GB/s", mb / copy)),
    );

    for path in offered_paths(ctx, plane.source) {
        figures.extend(gpu_path_costs(ctx, dev, path, label, memcpy, budget)?);
    }
    Ok((figures, None))
}

/// One import path's whole frame, and for the zero-copy paths the front end's CPU per frame.
fn gpu_path_costs(
    ctx: &GpuContext,
    dev: &dyn DisplayDevice,
    path: ImportPath,
    label: &str,
    memcpy: f64,
    budget: Budget,
) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut renderer = FrameRenderer::new(ctx, dev, ImportChoice::Only(path))?;
    let frames = sample(budget, || -> Result<(f64, f64)> {
        let t0 = Instant::now();
        let cpu0 = thread_cpu();
        renderer.update(PlaneType::Primary)?;
        let front_end = (thread_cpu() - cpu0).as_secs_f64() * 1000.0;
        ctx.wait_idle();
        Ok((t0.elapsed().as_secs_f64() * 1000.0, front_end))
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()
    .with_context(|| format!("rendering through the {path} path"))?;
    let (wall, cpu): (Vec<f64>, Vec<f64>) = frames.into_iter().unzip();
    let count = wall.len();
    let wall = median(wall)?;
    figures.push(
        Figure::new(
            format!("{path} path: frame to texture, {label}"),
            wall.median_ms,
            "ms",
        )
        .ratio(memcpy / wall.median_ms, "x memcpy")
        .detail(format!(
            "cached import, until the GPU is done; p95 {:.2} ms over {count} frames",
            wall.p95_ms
        )),
    );
    // The CPU path's own cost is its copy, above; the zero-copy paths' goal is the front
    // end's CPU time per frame.
    if path != ImportPath::Cpu {
        let cpu = median(cpu)?;
        figures.push(
            Figure::new(
                format!("{path} path: front-end CPU per cached frame, {label}"),
                cpu.median_ms * 1000.0,
                "us",
            )
            .below(50.0, "< 50 us")
            .detail(format!(
                "thread CPU time of query + import lookup + unpack record + submit; p95 {:.0} us",
                cpu.p95_ms * 1000.0
            )),
        );
    }
    Ok(figures)
}

/// Interrupt to texture ready: the refresh pump wakes on the device's interrupt, the frame is
/// brought to the GPU and waited for. `interrupt_time` tells when the device raised the
/// interrupt where it knows (the simulator); otherwise the pump's wake stands in for it.
/// Returns None when the device declares no display interrupt.
pub fn irq_latency(
    ctx: &GpuContext,
    dev: &dyn DisplayDevice,
    interrupt_time: &(dyn Fn() -> Option<Instant> + Sync),
    label: &str,
    budget: Budget,
) -> Result<Option<Figure>> {
    let source = choose_source(dev, IrqChoice::Auto, 60.0)?;
    if matches!(source, RefreshSource::Timer { .. }) {
        return Ok(None);
    }
    let mut renderer = FrameRenderer::new(ctx, dev, ImportChoice::Auto)?;
    let path = renderer
        .update(PlaneType::Primary)?
        .context("the guest shows no primary plane")?
        .path;
    ctx.wait_idle();
    let pump = Pump::new(source)?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let samples = std::thread::scope(|s| -> Result<Vec<(f64, f64)>> {
        let pump = &pump;
        let waker = s.spawn(move || {
            pump.run(dev, &|| {
                let _ = tx.try_send(());
            })
        });
        let result = (|| {
            let mut out = Vec::new();
            let start = Instant::now();
            // The guest flips at 60 Hz: a budget of frames, not of loop turns.
            while out.len() < budget.max_samples
                && (out.len() < budget.min_samples || start.elapsed() < budget.time)
            {
                rx.recv_timeout(Duration::from_secs(2))
                    .context("no display interrupt came in 2 s")?;
                let irq_at = interrupt_time().unwrap_or_else(|| pump.last_wake());
                renderer.update(PlaneType::Primary)?;
                let submitted = Instant::now();
                ctx.wait_idle();
                let ready = Instant::now();
                pump.presented(true);
                let ms = |t: Instant| t.saturating_duration_since(irq_at).as_secs_f64() * 1000.0;
                out.push((ms(ready), ms(submitted)));
            }
            Ok(out)
        })();
        pump.stop();
        if let Ok(Err(err)) = waker.join() {
            tracing::warn!("the refresh pump stopped: {err}");
        }
        result
    })?;
    let count = samples.len();
    let (ready, submitted): (Vec<f64>, Vec<f64>) = samples.into_iter().unzip();
    let ready = median(ready)?;
    let submitted = median(submitted)?;
    Ok(Some(
        Figure::new(format!("interrupt to texture ready, {label} ({path} path)"), ready.median_ms, "ms")
            .below(1.0, "< 1 ms")
            .detail(format!(
                "p95 {:.2} ms over {count} interrupts; of which interrupt to submitted (the front end): median {:.3} ms, p95 {:.3} ms",
                ready.p95_ms, submitted.median_ms, submitted.p95_ms
            )),
    ))
}
