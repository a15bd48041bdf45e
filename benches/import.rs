//! What it costs to get a frame onto the GPU, per import path, at 720p, 1080p, 1440p and 4K, beside a
//! plain memcpy of the same bytes; and the cost of a frame whose import is cached.
//!
//! Run: `VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json cargo bench --bench import`
//! (lavapipe; on a real GPU leave VK_DRIVER_FILES unset). After criterion's report, a summary
//! prints each path's time as a ratio to memcpy.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure
#![allow(clippy::disallowed_macros)] // a benchmark prints its figures plainly

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::time::{Duration, Instant};
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::frame::FrameReader;
use vfio_display::render::{FrameRenderer, GpuContext, ImportChoice, ImportPath};
use vfio_display::vfio::{PlaneSource, PlaneType};

const SIZES: [(&str, u32, u32); 4] = [
    ("720p", 1280, 720),
    ("1080p", 1920, 1080),
    ("1440p", 2560, 1440),
    ("4K", 3840, 2160),
];

fn sim(width: u32, height: u32) -> SimDevice {
    SimDevice::new(
        SimConfig::frozen(1)
            .with_mode(width, height)
            .with_source(PlaneSource::DmaBuf)
            .with_vram(256 << 20),
    )
    .expect("the simulator starts")
}

fn frame_bytes(dev: &SimDevice) -> usize {
    let reader = FrameReader::new(dev).expect("planes");
    let plane = reader.query(PlaneType::Primary).expect("a plane");
    plane.stride as usize * plane.height as usize
}

/// One measured step per path: the whole frame, waiting for the GPU to finish it.
fn frame_on_gpu(ctx: &GpuContext, renderer: &mut FrameRenderer<'_>) {
    let frame = renderer.update(PlaneType::Primary).expect("a frame");
    black_box(frame);
    ctx.wait_idle();
}

fn benches(c: &mut Criterion) {
    let ctx = GpuContext::headless().expect("a Vulkan adapter (lavapipe: mesa-vulkan-drivers)");
    for (name, w, h) in SIZES {
        let dev = sim(w, h);
        let bytes = frame_bytes(&dev);
        let mut group = c.benchmark_group(format!("frame {name}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        let src = vec![7u8; bytes];
        let mut dst = vec![0u8; bytes];
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
        let reader = FrameReader::new(&dev).expect("planes");
        let plane = reader.query(PlaneType::Primary).expect("a plane");
        let mut staging = Vec::new();
        group.bench_function("cpu copy out of the dma-buf (read_raw_into)", |b| {
            b.iter(|| {
                reader
                    .read_raw_into(&plane, plane.stride as usize, &mut staging)
                    .expect("read");
                black_box(&staging);
            })
        });
        for path in [ImportPath::Cpu, ImportPath::Buffer] {
            if path == ImportPath::Buffer && !ctx.caps.buffer {
                continue;
            }
            let mut r = FrameRenderer::new(&ctx, &dev, ImportChoice::Only(path)).expect("renderer");
            group.bench_function(
                BenchmarkId::new("frame to texture, cached import", path),
                |b| b.iter(|| frame_on_gpu(&ctx, &mut r)),
            );
            if path == ImportPath::Buffer {
                group.bench_function(
                    BenchmarkId::new("frame to texture, new import", path),
                    |b| {
                        b.iter(|| {
                            r.clear_cache();
                            frame_on_gpu(&ctx, &mut r)
                        })
                    },
                );
                // The front end's own CPU work for a cached zero-copy frame: query, cache hit,
                // record and submit (the GPU's unpack runs after; lavapipe runs it on the CPU,
                // a real GPU does not).
                group.bench_function("cached zero-copy frame, front-end CPU (no wait)", |b| {
                    b.iter(|| {
                        black_box(r.update(PlaneType::Primary).expect("a frame"));
                    });
                    ctx.wait_idle();
                });
            }
        }
        group.finish();
    }
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// The ratios the issue asks for, measured again briefly so they print side by side.
fn summary() {
    let ctx = GpuContext::headless().expect("a Vulkan adapter");
    println!("\nsummary ({}), median of 15 runs:", ctx.adapter_name());
    println!(
        "{:<6} {:>11} {:>12} {:>7} {:>14} {:>7} {:>14} {:>7}",
        "size", "memcpy", "cpu copy", "ratio", "cpu path", "ratio", "buffer path", "ratio"
    );
    for (name, w, h) in SIZES {
        let dev = sim(w, h);
        let bytes = frame_bytes(&dev);
        let src = vec![7u8; bytes];
        let mut dst = vec![0u8; bytes];
        let memcpy = median(
            || {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            },
            15,
        );
        let reader = FrameReader::new(&dev).expect("planes");
        let plane = reader.query(PlaneType::Primary).expect("a plane");
        let mut staging = Vec::new();
        let copy = median(
            || {
                reader
                    .read_raw_into(&plane, plane.stride as usize, &mut staging)
                    .expect("read");
            },
            15,
        );
        let path_time = |path| {
            let mut r = FrameRenderer::new(&ctx, &dev, ImportChoice::Only(path)).ok()?;
            Some(median(|| frame_on_gpu(&ctx, &mut r), 15))
        };
        let cpu = path_time(ImportPath::Cpu);
        let buffer = ctx
            .caps
            .buffer
            .then(|| path_time(ImportPath::Buffer))
            .flatten();
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1000.0);
        let ratio = |d: Duration| format!("{:.2}x", d.as_secs_f64() / memcpy.as_secs_f64());
        println!(
            "{:<6} {:>11} {:>12} {:>7} {:>14} {:>7} {:>14} {:>7}",
            name,
            ms(memcpy),
            ms(copy),
            ratio(copy),
            cpu.map_or("-".into(), ms),
            cpu.map_or("-".into(), ratio),
            buffer.map_or("-".into(), ms),
            buffer.map_or("-".into(), ratio),
        );
    }
    println!("(ratio = time / memcpy time of the same bytes; the paths include the GPU unpack)");
}

criterion_group! {
    name = import;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}

fn main() {
    import();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
