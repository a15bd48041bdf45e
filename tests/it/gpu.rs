//! The GPU frame pipeline on whatever Vulkan adapter the machine has (Mesa's lavapipe in CI):
//! every format through every import path the adapter offers, compared pixel-exact with the CPU
//! path; the cursor composited against a golden image; the import cache bounded and live.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::gpu::gpu;

use crate::common::{assert_same_image, read_png};
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::fourcc::{self, FORMATS};
use vfio_display::frame::{FrameReader, RgbaImage};
use vfio_display::geometry::Point;
use vfio_display::render::{FrameRenderer, IMPORT_CACHE, ImportChoice, ImportPath, RenderError};
use vfio_display::vfio::{PlaneSource, PlaneType};

fn sim(width: u32, height: u32, format: &str, source: PlaneSource, offset: u64) -> SimDevice {
    SimDevice::new(
        SimConfig::frozen(7)
            .with_mode(width, height)
            .with_format(fourcc::parse(format).unwrap())
            .with_source(source)
            .with_plane_offset(offset),
    )
    .unwrap()
}

fn cpu_reference(dev: &SimDevice) -> RgbaImage {
    let reader = FrameReader::new(dev).unwrap();
    reader.capture(PlaneType::Primary).unwrap().unwrap().image
}

fn paths_for(source: PlaneSource) -> Vec<ImportPath> {
    let caps = gpu().caps;
    let mut paths = vec![ImportPath::Cpu];
    if source == PlaneSource::DmaBuf && caps.buffer {
        paths.push(ImportPath::Buffer);
    }
    paths
}

fn render(dev: &SimDevice, choice: ImportChoice, cursor: bool) -> (RgbaImage, ImportPath) {
    let mut renderer = FrameRenderer::new(gpu(), dev, choice).unwrap();
    let (image, frame) = renderer.render_offscreen(cursor).unwrap().unwrap();
    (image, frame.path)
}

#[test]
fn every_format_through_every_path_equals_the_cpu_path() {
    let mut checked = 0;
    for format in FORMATS {
        for source in [PlaneSource::DmaBuf, PlaneSource::Region] {
            // An odd width (1366), the simulator's padded stride, and a plane that starts at
            // offset 0, at a word-aligned offset and at an odd one.
            for offset in [0, 4100, 4099] {
                let dev = sim(1366, 768, format.name, source, offset);
                let expected = cpu_reference(&dev);
                for path in paths_for(source) {
                    let (image, used) = render(&dev, ImportChoice::Only(path), false);
                    assert_eq!(used, path);
                    let what = format!("{} {source} offset {offset} via {path}", format.name);
                    assert_same_image(&image, &expected, &what);
                    checked += 1;
                }
            }
        }
    }
    let n = FORMATS.len();
    let buffer = if gpu().caps.buffer { n * 3 } else { 0 };
    assert_eq!(checked, n * 2 * 3 + buffer);
}

#[test]
fn auto_picks_buffer_for_dma_bufs_and_cpu_for_regions() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::DmaBuf, 0);
    let (_, path) = render(&dev, ImportChoice::Auto, false);
    let want = if gpu().caps.buffer {
        ImportPath::Buffer
    } else {
        ImportPath::Cpu
    };
    assert_eq!(path, want);
    let dev = sim(640, 480, "XRGB8888", PlaneSource::Region, 0);
    assert_eq!(render(&dev, ImportChoice::Auto, false).1, ImportPath::Cpu);
}

#[test]
fn forcing_a_path_that_cannot_work_says_why() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::Region, 0);
    if gpu().caps.buffer {
        let mut r =
            FrameRenderer::new(gpu(), &dev, ImportChoice::Only(ImportPath::Buffer)).unwrap();
        let err = r.render_offscreen(false).unwrap_err();
        assert!(err.to_string().contains("not a dma-buf"), "{err}");
    }
    if !gpu().caps.dmabuf {
        let err = FrameRenderer::new(gpu(), &dev, ImportChoice::Only(ImportPath::Dmabuf))
            .expect_err("the dmabuf path needs the modifier extension");
        assert!(matches!(err, RenderError::PathUnavailable { .. }), "{err}");
        assert!(
            err.to_string().contains("image_drm_format_modifier"),
            "{err}"
        );
    }
}

/// Compares with a tolerance of one step per channel (GPU blending rounds in floating point),
/// and writes the actual picture beside the golden one when they differ.
fn assert_near_golden(actual: &RgbaImage, golden_name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let golden = read_png(&dir.join(golden_name));
    let worst = actual
        .data
        .iter()
        .zip(&golden.data)
        .map(|(a, g)| a.abs_diff(*g))
        .max()
        .unwrap_or(0);
    if (actual.width, actual.height) != (golden.width, golden.height) || worst > 1 {
        let out = dir.join(format!("actual-{golden_name}"));
        let file = std::fs::File::create(&out).unwrap();
        let mut enc = png::Encoder::new(file, actual.width, actual.height);
        enc.set_color(png::ColorType::Rgba);
        enc.write_header()
            .unwrap()
            .write_image_data(&actual.data)
            .unwrap();
        panic!(
            "{golden_name}: differs by up to {worst} (wrote {})",
            out.display()
        );
    }
}

#[test]
fn the_cursor_is_composited_at_its_hotspot_like_the_golden_image() {
    // A small mode, so the cursor (64x64, hotspot (4,4)) sits over the windows and the pattern.
    let dev = sim(320, 240, "XRGB8888", PlaneSource::DmaBuf, 0);
    let (image, _) = render(&dev, ImportChoice::Auto, true);
    assert_near_golden(&image, "cursor-320x240-frame7.png");
    // The CPU path agrees with the same picture.
    let reader = FrameReader::new(&dev).unwrap();
    let mut cpu = reader.capture(PlaneType::Primary).unwrap().unwrap().image;
    let cursor = reader.capture(PlaneType::Cursor).unwrap().unwrap();
    let Point { x, y } = vfio_display::frame::cursor_origin(&cursor.plane);
    cpu.composite(&cursor.image, x, y);
    assert_near_golden(&cpu, "cursor-320x240-frame7.png");
}

#[test]
fn buffer_imports_are_live_and_cached() {
    if !gpu().caps.buffer {
        return;
    }
    let dev = sim(800, 600, "XRGB8888", PlaneSource::DmaBuf, 0);
    let mut r = FrameRenderer::new(gpu(), &dev, ImportChoice::Auto).unwrap();
    let first = r.render_offscreen(false).unwrap().unwrap().1;
    assert!(first.new_import);
    // The guest draws into the other buffer, then into the first one again: the first import
    // shows the new picture without being imported again.
    dev.show_frame(20).unwrap();
    dev.show_frame(21).unwrap();
    let (image, again) = r.render_offscreen(false).unwrap().unwrap();
    assert_eq!(again.plane.buffer_id, first.plane.buffer_id);
    assert!(!again.new_import, "a cached buffer is not imported again");
    assert_same_image(
        &image,
        &cpu_reference(&dev),
        "live buffer after guest writes",
    );
    assert_eq!(
        dev.export_count(),
        1,
        "the id was exported once, not again per frame"
    );
}

#[test]
fn cached_frames_make_no_new_export_or_import() {
    for source in [PlaneSource::DmaBuf, PlaneSource::Region] {
        for path in paths_for(source) {
            let dev = sim(320, 200, "XRGB8888", source, 0);
            let mut r = FrameRenderer::new(gpu(), &dev, ImportChoice::Only(path)).unwrap();
            // Both flip buffers once, so that both are cached.
            for frame in [1, 2] {
                dev.show_frame(frame).unwrap();
                r.update(PlaneType::Primary).unwrap().unwrap();
            }
            let exports = dev.export_count();
            for frame in 3..300 {
                dev.show_frame(frame).unwrap();
                let f = r.update(PlaneType::Primary).unwrap().unwrap();
                assert!(
                    !f.new_import,
                    "{path} {source}: frame {frame} imported again"
                );
            }
            gpu().wait_idle();
            assert_eq!(
                dev.export_count(),
                exports,
                "{path} {source}: exports per frame"
            );
            let (image, _) = r.render_offscreen(false).unwrap().unwrap();
            assert_same_image(&image, &cpu_reference(&dev), "the last cached frame");
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn thousands_of_mode_switches_leak_no_fd_and_keep_the_cache_bounded() {
    let dev = sim(64, 64, "XRGB8888", PlaneSource::DmaBuf, 0);
    let mut r = FrameRenderer::new(gpu(), &dev, ImportChoice::Auto).unwrap();
    r.render_offscreen(false).unwrap();
    let fds_before = open_fds();
    for i in 0..2000u32 {
        let (w, h) = (64 + (i % 7) * 8, 64 + (i % 5) * 8);
        dev.set_mode(w, h).unwrap();
        let frame = r.render_offscreen(false).unwrap().unwrap().1;
        assert_eq!((frame.plane.width, frame.plane.height), (w, h));
        assert!(r.cached_imports() <= IMPORT_CACHE);
    }
    gpu().wait_idle();
    // Every mode switch makes two new dma-bufs; the imports of old ones (and the fds Vulkan
    // holds for them) go with the cache. Other tests run in parallel: allow some slack.
    let grown = open_fds().saturating_sub(fds_before);
    assert!(grown < 40, "{grown} more fds after 2000 mode switches");
}

mod cli {
    use crate::common::cli::{assert_clean_failure, assert_ok, path_str, run, stdout, tmp};
    use vfio_display::fourcc::FORMATS;

    #[test]
    fn screenshot_render_gpu_equals_render_cpu_for_every_sim_format() {
        let dir = tmp();
        for format in FORMATS {
            for plane in ["dmabuf", "region"] {
                let shot = |render: &str| {
                    let out_path = dir
                        .path()
                        .join(format!("{}-{plane}-{render}.png", format.name));
                    let out = run(&[
                        "screenshot",
                        "--sim",
                        "--sim-format",
                        format.name,
                        "--sim-plane",
                        plane,
                        "--sim-mode",
                        "1366x768",
                        "--sim-frame",
                        "3",
                        "--render",
                        render,
                        "-o",
                        path_str(&out_path),
                    ]);
                    assert_ok(&out);
                    (std::fs::read(&out_path).unwrap(), stdout(&out))
                };
                let (cpu, _) = shot("cpu");
                let (gpu, said) = shot("gpu");
                assert!(said.contains("GPU"), "{said}");
                assert!(
                    cpu == gpu,
                    "{} {plane}: --render gpu differs from --render cpu",
                    format.name
                );
            }
        }
    }

    #[test]
    fn info_gpu_reports_the_adapter_and_the_path_taken() {
        let out = run(&["info", "--sim", "--gpu", "--json"]);
        assert_ok(&out);
        let v: serde_json::Value = crate::common::json::parse(&out.stdout);
        let paths = v["gpu"]["adapter"]["import_paths"].as_array().unwrap();
        assert!(paths.iter().any(|p| p == "cpu"), "{v}");
        let taken = v["gpu"]["primary_import"].as_str().unwrap();
        assert!(paths.iter().any(|p| p == taken), "{taken} not in {paths:?}");
        let out = run(&["info", "--sim", "--sim-plane", "region", "--gpu"]);
        assert_ok(&out);
        assert!(
            stdout(&out).contains("imports through the cpu path"),
            "{}",
            stdout(&out)
        );
    }

    #[test]
    fn import_paths_that_cannot_work_are_refused_clearly() {
        let dir = tmp();
        let o = dir.path().join("x.png");
        let out = run(&[
            "screenshot",
            "--sim",
            "--render",
            "cpu",
            "--import",
            "cpu",
            "-o",
            path_str(&o),
        ]);
        assert_clean_failure(&out, 2, "it needs --render gpu");
        let out = run(&[
            "screenshot",
            "--sim",
            "--sim-plane",
            "region",
            "--render",
            "gpu",
            "--import",
            "buffer",
            "-o",
            path_str(&o),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = crate::common::cli::stderr(&out);
        assert!(
            err.contains("not a dma-buf") || err.contains("not available"),
            "{err}"
        );
        assert!(!o.exists());
    }

    #[test]
    fn a_format_the_shader_does_not_know_is_named_in_the_error() {
        let dir = tmp();
        let o = dir.path().join("x.png");
        let out = run(&[
            "screenshot",
            "--sim",
            "--sim-fault",
            "unknown-format",
            "--render",
            "gpu",
            "-o",
            path_str(&o),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = crate::common::cli::stderr(&out);
        assert!(
            err.contains("YU12") || err.contains("fourcc") || err.contains("format"),
            "{err}"
        );
        assert!(err.contains("modifier") || err.contains("unknown"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}
