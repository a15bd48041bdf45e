//! The soak: 100,000 simulated frames (`VFIO_DISPLAY_SOAK_FRAMES` changes the count) through the
//! CPU reader and the GPU renderer, with random mode, format and fault switches. Every frame the device shows while no fault is injected must be read; faults
//! may only produce errors or "no plane". Open fds and resident memory are sampled at
//! checkpoints (caches emptied, fault cleared) and must stay flat: a leaked export, mapping,
//! import or Vulkan allocation per frame, or per fault, would show within a few thousand frames.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure
#![allow(clippy::disallowed_macros)] // a test prints its figures for the log

use crate::common::gpu::gpu;

use crate::common::{assert_same_image, expected_frame};
use std::time::Instant;
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::{SimConfig, SimDevice, SimFault};
use vfio_display::fourcc::{FORMATS, Format};
use vfio_display::frame::FrameReader;
use vfio_display::geometry::Size;
use vfio_display::render::{FrameRenderer, ImportChoice};
use vfio_display::vfio::{PlaneSource, PlaneType};

/// A small deterministic generator (xorshift64*), so a failure replays with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How many fds the other tests running beside the soak may hold at a checkpoint.
const NOISE_FDS: usize = 4;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

struct Sample {
    frame: u64,
    fds: usize,
    rss_kib: u64,
}

#[test]
fn soak_with_random_modes_formats_and_faults_keeps_fds_and_memory_flat() {
    let frames: u64 = std::env::var("VFIO_DISPLAY_SOAK_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed = 0x0005_eed0_fd15_b1a7;
    let mut rng = Rng(seed);
    let faults: Vec<SimFault> = SimFault::ALL
        .iter()
        .map(|(f, _, _)| *f)
        .filter(|f| *f != SimFault::None)
        .collect();
    let small = |rng: &mut Rng| (64 + 8 * rng.below(25) as u32, 64 + 8 * rng.below(17) as u32);
    let config = |source| {
        SimConfig::frozen(0)
            .with_mode(160, 120)
            .with_source(source)
            .with_vram(8 << 20)
    };
    // The dma-buf device goes through the CPU reader and the GPU renderer; the region device
    // (mdpy-like) through the reader.
    let dmabuf = SimDevice::new(config(PlaneSource::DmaBuf)).unwrap();
    let region = SimDevice::new(config(PlaneSource::Region)).unwrap();
    let devices = [&dmabuf, &region];
    let readers = [
        FrameReader::new(&dmabuf).unwrap(),
        FrameReader::new(&region).unwrap(),
    ];
    let mut renderer = FrameRenderer::new(gpu(), &dmabuf, ImportChoice::Auto).unwrap();

    let checkpoints = 10;
    let every = (frames / checkpoints).max(1);
    let mut samples: Vec<Sample> = Vec::new();
    let mut peak_fds = 0;
    let (mut shown, mut no_plane, mut errors, mut switches, mut gpu_frames) = (0u64, 0, 0, 0, 0);
    let started = Instant::now();
    let mut formats: [&'static Format; 2] = [dmabuf_format(&dmabuf), dmabuf_format(&region)];

    for n in 0..frames {
        let which = (n % 2) as usize;
        let dev = devices[which];
        // About every 50 frames, a switch: a mode, a format, a fault, or the fault cleared.
        if rng.below(50) == 0 {
            switches += 1;
            match rng.below(4) {
                0 => {
                    let (w, h) = small(&mut rng);
                    dev.set_mode(w, h).unwrap();
                }
                1 => {
                    let format = &FORMATS[rng.below(FORMATS.len() as u64) as usize];
                    dev.set_format(format).unwrap();
                    formats[which] = format;
                }
                2 => dev.set_fault(faults[rng.below(faults.len() as u64) as usize]),
                _ => dev.set_fault(SimFault::None),
            }
        }
        dev.show_frame(n).unwrap();
        let fault = dev.fault();
        match readers[which].capture(PlaneType::Primary) {
            Ok(Some(frame)) => {
                shown += 1;
                if fault == SimFault::None && n % 997 == 0 {
                    let Size {
                        width: w,
                        height: h,
                    } = dev.mode();
                    let what = format!("frame {n} ({})", formats[which].name);
                    assert_same_image(
                        &frame.image,
                        &expected_frame(w, h, n, formats[which]),
                        &what,
                    );
                }
            }
            Ok(None) => {
                no_plane += 1;
                assert_ne!(fault, SimFault::None, "frame {n}: no plane without a fault");
            }
            Err(err) => {
                errors += 1;
                assert_ne!(fault, SimFault::None, "frame {n}: {err}");
                assert!(!err.to_string().is_empty());
            }
        }
        if which == 0 && n % 10 == 0 {
            gpu_frames += 1;
            let result = renderer.update(PlaneType::Primary);
            if fault == SimFault::None {
                result.unwrap_or_else(|e| panic!("frame {n}: GPU: {e}"));
            }
        }
        if n % 100 == 0 {
            peak_fds = peak_fds.max(open_fds());
        }
        if (n + 1) % every == 0 {
            // A checkpoint: the devices behave, the caches are empty, nothing is in flight.
            for (dev, reader) in devices.iter().zip(&readers) {
                dev.set_fault(SimFault::None);
                reader.clear_cache();
                dev.reset().unwrap();
            }
            formats = [dmabuf_format(&dmabuf), dmabuf_format(&region)];
            renderer.clear_cache();
            gpu().wait_idle();
            samples.push(Sample {
                frame: n + 1,
                fds: open_fds(),
                rss_kib: rss_kib(),
            });
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "soak: {frames} frames in {elapsed:.1} s ({:.0} per second), seed {seed:#x}: \
         {shown} shown, {no_plane} no plane, {errors} errors under faults, {switches} switches, \
         {gpu_frames} GPU updates",
        frames as f64 / elapsed
    );
    for s in &samples {
        println!(
            "soak: after {:>6} frames: {} fds, {} KiB resident",
            s.frame, s.fds, s.rss_kib
        );
    }
    assert!(shown > frames / 2, "most frames are shown ({shown})");
    assert!(errors > 0 && no_plane > 0, "the faults were exercised");
    // The first checkpoint is the warm-up (Vulkan pipelines, caches, allocator pools).
    let warm = &samples[1..];
    let fds: Vec<usize> = warm.iter().map(|s| s.fds).collect();
    // The count is the whole test process's, which the other tests of this binary share (their
    // temporary files and child processes' pipes come and go at any moment): a few fds of
    // noise either way. A leak grows with every interval, so after the eight intervals even
    // one leaked fd per interval stands out of that noise.
    let (first, last) = (fds[0], fds[fds.len() - 1]);
    assert!(
        last <= first + NOISE_FDS && fds.iter().all(|&f| f <= first + 2 * NOISE_FDS),
        "open fds grow between checkpoints: {fds:?}"
    );
    // Between checkpoints the caches hold at most a few exports, mappings and imports each.
    println!("soak: at most {peak_fds} fds open while running");
    assert!(
        peak_fds <= fds[0] + 24,
        "{peak_fds} fds open while running, {} at checkpoints",
        fds[0]
    );
    let base = warm[0].rss_kib;
    let peak = warm.iter().map(|s| s.rss_kib).max().unwrap_or(base);
    assert!(
        peak <= base + 4 * 1024,
        "resident memory grows: {base} KiB at frame {}, peak {peak} KiB",
        warm[0].frame
    );
}

/// The format a freshly reset simulator shows (its configuration's).
fn dmabuf_format(dev: &SimDevice) -> &'static Format {
    let plane = dev
        .query_plane(
            PlaneType::Primary,
            if dev.probe_planes(PlaneSource::DmaBuf).unwrap_or(false) {
                PlaneSource::DmaBuf
            } else {
                PlaneSource::Region
            },
        )
        .unwrap();
    vfio_display::fourcc::lookup(plane.drm_format).unwrap()
}
