//! Intel GVT-g's tiled frames: the CPU's detiling beside a memcpy of the same bytes, and the
//! GPU buffer path's unpack of a tiled frame beside the same frame linear.

use super::figure::Figure;
use super::measure::{Budget, sample, wall_ms};
use anyhow::{Context, Result};
use std::hint::black_box;
use std::time::Instant;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::frame::FrameReader;
use vfio_display::render::{FrameRenderer, GpuContext, ImportChoice, ImportPath};
use vfio_display::tiling::Tiling;
use vfio_display::vfio::PlaneType;

fn median(values: Vec<f64>) -> Result<f64> {
    Ok(super::frames::median(values)?.median_ms)
}

/// A frozen 1920x1080 XRGB8888 guest whose frames are laid out in `tiling` (and CPU-mappable,
/// so that the CPU's detiling can be measured).
fn sim(tiling: Tiling) -> Result<SimDevice> {
    SimDevice::new(SimConfig {
        width: 1920,
        height: 1080,
        frozen_frame: Some(1),
        tiling,
        ..SimConfig::default()
    })
    .with_context(|| {
        format!(
            "cannot start the simulated vGPU with {} tiles",
            tiling.name()
        )
    })
}

/// The milliseconds of one frame through the GPU's buffer path, until the GPU is done.
fn buffer_path_ms(ctx: &GpuContext, dev: &SimDevice, budget: Budget) -> Result<f64> {
    let mut renderer = FrameRenderer::new(ctx, dev, ImportChoice::Only(ImportPath::Buffer))?;
    let times = sample(budget, || -> Result<f64> {
        let t0 = Instant::now();
        renderer.update(PlaneType::Primary)?;
        ctx.wait_idle();
        Ok(t0.elapsed().as_secs_f64() * 1000.0)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    median(times)
}

/// The figures, at 1080p: per tiling, the CPU detile against memcpy and (where the adapter
/// imports dma-bufs as buffers) the buffer path against the linear frame's.
pub fn figures(ctx: &GpuContext, budget: Budget) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let linear_gpu = if ctx.caps.buffer {
        Some(buffer_path_ms(ctx, &sim(Tiling::Linear)?, budget)?)
    } else {
        None
    };
    for tiling in [Tiling::X, Tiling::Y, Tiling::Yf] {
        let name = tiling.name().to_uppercase();
        let dev = sim(tiling)?;
        let reader = FrameReader::new(&dev)?;
        let plane = reader.query(PlaneType::Primary)?;
        let rows = plane.height.next_multiple_of(tiling.tile_size().rows);
        let bytes = plane.stride as usize * rows as usize;
        let src = vec![0x5au8; bytes];
        let mut dst = vec![0u8; bytes];
        let memcpy = median(wall_ms(budget, || {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        }))?;
        let pitch = plane.width as usize * 4;
        let mut linear = Vec::new();
        let detile = sample(budget, || -> Result<f64> {
            let t0 = Instant::now();
            reader.read_raw_into(&plane, pitch, &mut linear)?;
            Ok(t0.elapsed().as_secs_f64() * 1000.0)
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("detiling {name} tiles"))?;
        let detile = median(detile)?;
        let mb = bytes as f64 / 1e6;
        let cpu = Figure::new(format!("cpu detile, {name} tiles, 1080p"), detile, "ms")
            .ratio(memcpy / detile, "x memcpy of the same bytes")
            .detail(format!(
                "{mb:.1} MB: {:.1} GB/s; memcpy {memcpy:.2} ms",
                mb / detile
            ));
        // The goal covers X and Y, the layouts GVT-g guests scan out most; Yf is measured.
        figures.push(match tiling {
            Tiling::Yf => cpu,
            _ => cpu.ratio_at_least(0.5, ">= 0.5x memcpy"),
        });
        if let Some(linear_ms) = linear_gpu {
            let tiled_ms = buffer_path_ms(ctx, &dev, budget)?;
            figures.push(
                Figure::new(format!("buffer path, {name} tiles, 1080p"), tiled_ms, "ms")
                    .ratio(tiled_ms / linear_ms, "x the linear frame")
                    .ratio_at_most(1.2, "<= 1.2x linear")
                    .detail(format!(
                        "frame to texture until the GPU is done; linear {linear_ms:.2} ms"
                    )),
            );
        }
    }
    Ok(figures)
}
