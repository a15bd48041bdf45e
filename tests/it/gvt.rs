//! Intel GVT-g's frames on the simulator that plays it: X, Y and Yf tiled planes, packed YUV
//! 4:2:2, dma-bufs the CPU cannot map. Every layout is judged by a reference written here from
//! the layout descriptions (an address per pixel, not the product's loops), and YUV by ffmpeg's
//! swscale, a converter nobody on this project wrote.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::gpu::gpu;

use crate::common::cli::{assert_ok, path_str, run, stderr, stdout, tmp};
use crate::common::{assert_same_image, read_png};
use std::process::Command;
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::fourcc::{self, Format};
use vfio_display::frame::{FrameError, FrameReader, RgbaImage};
use vfio_display::geometry::Point;
use vfio_display::render::{
    FrameRenderer, ImportChoice, ImportPath, LazyGpu, PlaneReader, ReadChoice, ReadPath,
};
use vfio_display::tiling::Tiling;
use vfio_display::vfio::{PlaneSource, PlaneType};

/// The byte address of byte `xb` of row `y`, from the layout descriptions alone:
/// - X: 4 KiB tiles of 8 rows of 512 bytes, each row stored whole (drm_fourcc.h: "Within the
///   tile bytes are laid out row-major"); tiles row-major across the surface.
/// - Y: 4 KiB tiles of 32 rows of 128 bytes, stored as 16-byte (OWORD) chunks column-major:
///   the 32 rows of the first 16-byte column, then the next column (Mesa's isl_tiled_memcpy.c:
///   `bytes_per_column = column_width * ytile_height`).
/// - Yf at 32 bits per pixel: IGT's `yf_ptr` (lib/intel_bufops.c), term by term.
fn reference_offset(tiling: Tiling, xb: u64, y: u64, stride: u64) -> u64 {
    match tiling {
        Tiling::Linear => y * stride + xb,
        Tiling::X => {
            let tiles_per_row = stride / 512;
            let tile = (y / 8) * tiles_per_row + xb / 512;
            tile * 4096 + (y % 8) * 512 + xb % 512
        }
        Tiling::Y => {
            let tiles_per_row = stride / 128;
            let tile = (y / 32) * tiles_per_row + xb / 128;
            let column = (xb % 128) / 16;
            tile * 4096 + column * (16 * 32) + (y % 32) * 16 + xb % 16
        }
        Tiling::Yf => {
            let row_size = stride / 128 * 4096;
            (xb & 0xf)
                + (y & 0x3) * 16
                + ((y & 0x4) >> 2) * 64
                + ((xb & 0x10) >> 4) * 128
                + ((y & 0x8) >> 3) * 256
                + ((xb & 0x20) >> 5) * 512
                + ((y & 0x10) >> 4) * 1024
                + ((xb & 0x40) >> 6) * 2048
                + ((xb & !0x7f) >> 7) * 4096
                + ((y & !0x1f) >> 5) * row_size
        }
    }
}

const TILINGS: [Tiling; 3] = [Tiling::X, Tiling::Y, Tiling::Yf];

/// The formats each layout is checked with: every 4-byte and 2-byte format GVT-g reports.
fn formats_for(tiling: Tiling) -> Vec<&'static Format> {
    let names: &[&str] = match tiling {
        Tiling::Yf => &["XRGB8888", "ARGB8888", "XBGR8888", "XRGB2101010"],
        _ => &[
            "XRGB8888",
            "ARGB8888",
            "XBGR8888",
            "ABGR8888",
            "XRGB2101010",
            "XBGR2101010",
            "RGB565",
            "YUYV",
            "UYVY",
            "YVYU",
            "VYUY",
        ],
    };
    names.iter().map(|n| fourcc::parse(n).unwrap()).collect()
}

/// A frozen simulator's configuration; `gvt` plays GVT-g whole (unmappable dma-bufs), else
/// only its pointer reaching the edges.
fn config(width: u32, height: u32, format: &Format, tiling: Tiling, gvt: bool) -> SimConfig {
    let base = SimConfig::frozen(7)
        .with_mode(width, height)
        .with_format(fourcc::parse(format.name).unwrap());
    let base = if gvt {
        base.gvt()
    } else {
        base.with_pointer_to_edges()
    };
    base.with_tiling(tiling)
}

/// The simulator `config` describes.
fn sim(width: u32, height: u32, format: &Format, tiling: Tiling, gvt: bool) -> SimDevice {
    SimDevice::new(config(width, height, format, tiling, gvt)).unwrap()
}

/// The primary plane's bytes as linear rows of `row_bytes`, read from the mapped dma-buf byte
/// by byte through `reference_offset`.
fn reference_rows(dev: &SimDevice, tiling: Tiling) -> Vec<u8> {
    let plane = dev
        .query_plane(PlaneType::Primary, PlaneSource::DmaBuf)
        .unwrap();
    let format = fourcc::lookup(plane.drm_format).unwrap();
    let row_bytes = format.row_bytes(plane.width);
    let buf = dev.dmabuf(plane.buffer_id).unwrap();
    let map = buf.map_read().unwrap();
    let mut all = vec![0u8; buf.size() as usize];
    map.read_into(0, &mut all).unwrap();
    let mut rows = Vec::with_capacity((row_bytes * u64::from(plane.height)) as usize);
    for y in 0..u64::from(plane.height) {
        for xb in 0..row_bytes {
            let at = plane.offset + reference_offset(tiling, xb, y, u64::from(plane.stride));
            rows.push(all[at as usize]);
        }
    }
    rows
}

/// The same guest frame in linear rows: what the simulator writes with no tiling.
fn linear_rows(width: u32, height: u32, format: &Format) -> Vec<u8> {
    reference_rows(
        &sim(width, height, format, Tiling::Linear, false),
        Tiling::Linear,
    )
}

#[test]
fn the_reference_addresses_are_a_permutation_and_match_known_points() {
    // Points from the sources' own words: an X row is 512 bytes, a Y column 16 bytes of 32
    // rows, and a Yf tile's last byte is its 4095th.
    assert_eq!(reference_offset(Tiling::X, 0, 1, 1024), 512);
    assert_eq!(reference_offset(Tiling::Y, 16, 0, 1024), 512);
    assert_eq!(reference_offset(Tiling::Y, 0, 1, 1024), 16);
    assert_eq!(reference_offset(Tiling::Yf, 127, 31, 1024), 4095);
    for tiling in TILINGS {
        let tile = tiling.tile_size();
        let (w, h) = (tile.width_bytes, tile.rows);
        let stride = u64::from(w) * 3;
        let rows = u64::from(h) * 2;
        let mut seen = vec![false; (stride * rows) as usize];
        for y in 0..rows {
            for x in 0..stride {
                let at = reference_offset(tiling, x, y, stride);
                assert_eq!(at, tiling.offset(x, y, stride), "{tiling:?} ({x}, {y})");
                assert!(!std::mem::replace(&mut seen[at as usize], true));
            }
        }
    }
}

#[test]
fn the_simulator_lays_out_tiles_as_the_reference_says() {
    // 1366 x 100: rows not a whole number of tiles wide, height not whole tile rows.
    for tiling in TILINGS {
        for format in formats_for(tiling) {
            let dev = sim(1366, 100, format, tiling, false);
            let plane = dev
                .query_plane(PlaneType::Primary, PlaneSource::DmaBuf)
                .unwrap();
            let tile = tiling.tile_size();
            let (tile_width, tile_rows) = (tile.width_bytes, tile.rows);
            assert_eq!(plane.modifier, tiling.modifier());
            assert_eq!(plane.stride % tile_width, 0);
            // GVT-g's size rule: the stride times the height rounded up to whole tile rows.
            assert_eq!(
                plane.size,
                plane.stride * 100u32.next_multiple_of(tile_rows)
            );
            assert!(
                reference_rows(&dev, tiling) == linear_rows(1366, 100, format),
                "{tiling:?} {}: the simulator's bytes are not where the reference puts them",
                format.name
            );
        }
    }
}

#[test]
fn every_layout_and_format_reads_like_the_linear_frame_on_the_cpu_and_the_gpu() {
    // CI's lavapipe imports dma-bufs as buffers: the shader's detiling must be tested, not
    // skipped (the renderer's cpu path uploads rows the CPU already detiled).
    assert!(
        gpu().caps.buffer,
        "the adapter cannot import dma-bufs as buffers: the shader's detiling goes untested"
    );
    let mut checked = 0;
    let mut expected = 0;
    for tiling in TILINGS {
        for format in formats_for(tiling) {
            // An odd width (a YUV row ending in half a pair, rows not whole tiles wide); the
            // first formats also at an odd offset into the buffer.
            let offsets: &[u64] = if format.name == "XRGB8888" || format.name == "YUYV" {
                &[0, 4099]
            } else {
                &[0]
            };
            for &offset in offsets {
                let what =
                    |path: &str| format!("{tiling:?} {} offset {offset} via {path}", format.name);
                let at_offset = |tiling| {
                    SimDevice::new(
                        config(1365, 100, format, tiling, false).with_plane_offset(offset),
                    )
                    .unwrap()
                };
                let linear = at_offset(Tiling::Linear);
                let want = FrameReader::new(&linear)
                    .unwrap()
                    .capture(PlaneType::Primary)
                    .unwrap()
                    .unwrap()
                    .image;
                let dev = at_offset(tiling);
                let cpu = FrameReader::new(&dev)
                    .unwrap()
                    .capture(PlaneType::Primary)
                    .unwrap()
                    .unwrap();
                assert_eq!(cpu.plane.offset, offset);
                assert_same_image(&cpu.image, &want, &what("the cpu reader"));
                for path in [ImportPath::Cpu, ImportPath::Buffer] {
                    let mut renderer =
                        FrameRenderer::new(gpu(), &dev, ImportChoice::Only(path)).unwrap();
                    let (image, frame) = renderer.render_offscreen(false).unwrap().unwrap();
                    assert_eq!(frame.path, path);
                    assert_same_image(&image, &want, &what(&format!("the GPU {path} path")));
                    checked += 1;
                }
                expected += 2;
            }
        }
    }
    assert_eq!(checked, expected);
    // X and Y: 11 formats, two of them at two offsets; Yf: 4 formats, one at two offsets.
    assert_eq!(
        expected,
        (13 + 13 + 5) * 2,
        "layouts x formats x offsets x paths"
    );
}

#[test]
fn unmappable_dma_bufs_are_read_through_the_gpu_without_being_asked() {
    let format = fourcc::parse("XRGB8888").unwrap();
    let dev = sim(800, 600, format, Tiling::Y, true);
    let reader = FrameReader::new(&dev).unwrap();
    let plane = reader.query(PlaneType::Primary).unwrap();
    let err = reader.read(&plane).unwrap_err();
    assert!(
        matches!(&err, FrameError::CpuMap { error, .. } if error.errno() == Some(nix::errno::Errno::ENODEV)),
        "{err}"
    );
    let want = FrameReader::new(&sim(800, 600, format, Tiling::Linear, false))
        .unwrap()
        .capture(PlaneType::Primary)
        .unwrap()
        .unwrap()
        .image;
    let lazy = LazyGpu::new();
    let mut planes = PlaneReader::new(&dev, &lazy, ReadChoice::Auto, ImportChoice::Auto).unwrap();
    assert!(
        !lazy.is_open(),
        "auto opens the GPU only when a frame needs it"
    );
    let (frame, path) = planes.read(&plane).unwrap();
    assert_eq!(path, ReadPath::Gpu(ImportPath::Buffer));
    assert!(planes.through_gpu());
    assert_same_image(
        &frame.image,
        &want,
        "auto read of an unmappable Y-tiled frame",
    );
    // The cursor's dma-buf cannot be mapped either; it comes through the GPU as well, the same
    // pixels as a mappable twin's cursor read on the CPU.
    let cursor = reader.query(PlaneType::Cursor).unwrap();
    let (shape, path) = planes.read(&cursor).unwrap();
    assert_eq!(path, ReadPath::Gpu(ImportPath::Buffer));
    let twin = sim(800, 600, format, Tiling::Y, false);
    let twin_cursor = FrameReader::new(&twin)
        .unwrap()
        .capture(PlaneType::Cursor)
        .unwrap()
        .unwrap();
    assert_same_image(
        &shape.image,
        &twin_cursor.image,
        "the cursor read through the GPU",
    );
    // Told to stay on the CPU, the reader says why it cannot.
    let mut cpu_only = PlaneReader::new(&dev, &lazy, ReadChoice::Cpu, ImportChoice::Auto).unwrap();
    let err = cpu_only.read(&plane).unwrap_err();
    assert!(
        err.to_string().contains("cannot be mapped by the CPU"),
        "{err}"
    );
}

#[test]
fn the_cursor_hangs_past_the_left_and_top_edges() {
    // Frame 0 puts the pointer on the left edge, frame 270 on the top edge: the 64x64 cursor's
    // hotspot (4, 4) puts its image 4 pixels past the edge. The GPU's composite equals the
    // CPU's, which the picture tests prove against golden images.
    let format = fourcc::parse("XRGB8888").unwrap();
    for frame in [0, 270] {
        let dev = SimDevice::new(
            SimConfig::frozen(frame)
                .with_mode(640, 480)
                .with_format(format)
                .with_tiling(Tiling::X)
                .with_pointer_to_edges(),
        )
        .unwrap();
        let reader = FrameReader::new(&dev).unwrap();
        let cursor = reader.capture(PlaneType::Cursor).unwrap().unwrap();
        let Point { x, y } = vfio_display::frame::cursor_origin(&cursor.plane);
        let past = if frame == 0 { x < 0 } else { y < 0 };
        assert!(past, "frame {frame}: cursor at ({x}, {y})");
        let mut want = reader.capture(PlaneType::Primary).unwrap().unwrap().image;
        want.composite(&cursor.image, x, y);
        let mut renderer = FrameRenderer::new(gpu(), &dev, ImportChoice::Auto).unwrap();
        let (image, _) = renderer.render_offscreen(true).unwrap().unwrap();
        assert_same_image(
            &image,
            &want,
            &format!("cursor past the edge at frame {frame}"),
        );
    }
}

/// Packed YUV pairs as ffmpeg names them, and how to make ffmpeg's bytes of ours (VYUY, which
/// ffmpeg lacks, is UYVY with the chroma bytes swapped).
fn ffmpeg_format(name: &str) -> (&'static str, fn(&mut [u8])) {
    fn keep(_: &mut [u8]) {}
    fn swap_chroma(pair: &mut [u8]) {
        pair.swap(0, 2);
    }
    match name {
        "YUYV" => ("yuyv422", keep),
        "UYVY" => ("uyvy422", keep),
        "YVYU" => ("yvyu422", keep),
        "VYUY" => ("uyvy422", swap_chroma),
        other => panic!("no ffmpeg name for {other}"),
    }
}

/// Converts packed YUV rows with ffmpeg (BT.601 limited range, its default for untagged
/// input) to RGB24, with its accurate arithmetic. (Its fast default path is up to 3 levels off
/// exact; `full_chroma_int` interpolates the chroma between pairs, which the comparison below
/// steps around.)
fn ffmpeg_rgb(dir: &std::path::Path, rows: &[u8], width: u32, height: u32, pix: &str) -> Vec<u8> {
    let input = dir.join(format!("{pix}.yuv"));
    let output = dir.join(format!("{pix}.rgb"));
    std::fs::write(&input, rows).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix, "-s"])
        .arg(format!("{width}x{height}"))
        .args(["-i", path_str(&input)])
        .args(["-sws_flags", "accurate_rnd+bitexact+full_chroma_int"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", path_str(&output)])
        .output()
        .expect("ffmpeg (scripts/install-test-deps.sh installs it)");
    assert!(out.status.success(), "ffmpeg: {}", stderr(&out));
    std::fs::read(&output).unwrap()
}

#[test]
fn yuv_decodes_within_two_levels_of_ffmpeg_on_the_cpu_and_the_gpu() {
    let dir = tmp();
    let (width, height) = (640u32, 96u32);
    for name in ["YUYV", "UYVY", "YVYU", "VYUY"] {
        let format = fourcc::parse(name).unwrap();
        let dev = sim(width, height, format, Tiling::Y, false);
        let mut rows = linear_rows(width, height, format);
        let (pix, to_ffmpeg) = ffmpeg_format(name);
        rows.chunks_exact_mut(4).for_each(to_ffmpeg);
        let want = ffmpeg_rgb(dir.path(), &rows, width, height, pix);
        let cpu = FrameReader::new(&dev)
            .unwrap()
            .capture(PlaneType::Primary)
            .unwrap()
            .unwrap()
            .image;
        let mut renderer = FrameRenderer::new(gpu(), &dev, ImportChoice::Auto).unwrap();
        let (gpu_image, _) = renderer.render_offscreen(false).unwrap().unwrap();
        // The CPU and the shader share their arithmetic: the same to the bit.
        assert_same_image(&gpu_image, &cpu, &format!("{name}: GPU against CPU"));
        // ffmpeg interpolates chroma between pairs (a bicubic filter, two pairs either side), we
        // give both pixels of a pair their own pair's: compare where the pairs around share the
        // chroma, so that the two agree on what the chroma is and only the conversion is
        // judged. Most of the desktop is flat.
        let pairs = width as usize / 2;
        // Both chroma bytes of a pair, wherever the format keeps them (rows are in ffmpeg's
        // order now: Y first for YUYV and YVYU, chroma first for UYVY).
        let luma_first = pix != "uyvy422";
        let chroma = |row: usize, pair: usize| {
            let at = (row * pairs + pair) * 4;
            if luma_first {
                (rows[at + 1], rows[at + 3])
            } else {
                (rows[at], rows[at + 2])
            }
        };
        let (mut compared, mut worst) = (0usize, 0u8);
        for y in 0..height as usize {
            for x in 0..width as usize {
                let k = x / 2;
                let here = chroma(y, k);
                let around = k.saturating_sub(2)..(k + 3).min(pairs);
                let flat = around.into_iter().all(|j| chroma(y, j) == here);
                if !flat {
                    continue;
                }
                let i = y * width as usize + x;
                for c in 0..3 {
                    worst = worst.max(cpu.data[i * 4 + c].abs_diff(want[i * 3 + c]));
                }
                compared += 1;
            }
        }
        assert!(worst <= 2, "{name}: {worst} levels from ffmpeg");
        assert!(
            compared * 10 >= (width * height) as usize * 8,
            "{name}: only {compared} pixels compared"
        );
        assert!(cpu.data.chunks_exact(4).all(|p| p[3] == 255));
    }
}

/// Runs `screenshot` and returns the picture, failing the test on a non-zero exit.
fn screenshot(dir: &std::path::Path, name: &str, args: &[&str]) -> (RgbaImage, String) {
    let out_path = dir.join(name);
    let mut all = vec!["screenshot", "-v", "-o", path_str(&out_path)];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_ok(&out);
    (read_png(&out_path), stdout(&out) + &stderr(&out))
}

#[test]
fn screenshot_of_the_gvt_profile_goes_through_the_gpu_and_equals_the_linear_frame() {
    let dir = tmp();
    let base = ["--sim", "--sim-frame", "4", "--sim-mode", "1366x768"];
    for (tiling, format) in [
        ("x", "XRGB8888"),
        ("y", "XRGB8888"),
        ("yf", "XRGB8888"),
        ("x", "RGB565"),
        ("y", "YUYV"),
        ("x", "UYVY"),
    ] {
        let mut linear = base.to_vec();
        linear.extend(["--sim-format", format, "--sim-tiling", "linear"]);
        let (want, _) = screenshot(dir.path(), &format!("want-{tiling}-{format}.png"), &linear);
        let mut gvt = base.to_vec();
        gvt.extend([
            "--sim-profile",
            "gvt",
            "--sim-format",
            format,
            "--sim-tiling",
            tiling,
        ]);
        let (got, said) = screenshot(dir.path(), &format!("gvt-{tiling}-{format}.png"), &gvt);
        assert!(said.contains("GPU buffer import"), "{said}");
        assert!(
            said.contains("ENODEV"),
            "-v says why the GPU was used: {said}"
        );
        assert_same_image(&got, &want, &format!("screenshot of gvt {tiling} {format}"));
    }
    // The same tiled frame, mappable, on the CPU: equal too, and no GPU opened.
    let (got, said) = screenshot(
        dir.path(),
        "cpu.png",
        &[
            "--sim",
            "--sim-frame",
            "4",
            "--sim-mode",
            "1366x768",
            "--sim-tiling",
            "y",
        ],
    );
    let (want, _) = screenshot(
        dir.path(),
        "linear.png",
        &["--sim", "--sim-frame", "4", "--sim-mode", "1366x768"],
    );
    assert!(said.contains("on the CPU while the frames map"), "{said}");
    assert!(
        !said.contains("on the GPU") && !said.contains("GPU buffer"),
        "{said}"
    );
    assert_same_image(&got, &want, "a mappable Y-tiled frame on the CPU");
}

#[test]
fn screenshot_says_how_to_read_a_gvt_frame_when_told_to_stay_on_the_cpu() {
    let dir = tmp();
    let png = dir.path().join("shot.png");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-profile",
        "gvt",
        "--render",
        "cpu",
        "-o",
        path_str(&png),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("cannot be mapped by the CPU"), "{err}");
    assert!(
        err.contains("--render auto"),
        "the advice names the fix: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!png.exists());
}

#[test]
fn bad_tiled_options_are_refused_with_the_reason() {
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-format",
        "RGB565",
        "--sim-tiling",
        "yf",
        "-o",
        "x.png",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("yf tiles"), "{}", stderr(&out));
    let out = run(&["screenshot", "--sim", "--sim-tiling", "w", "-o", "x.png"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("linear, x, y, yf"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_of_the_gvt_profile_shows_vncdotool_the_linear_frame() {
    use crate::common::clients::{reference, vncdo};
    use crate::common::serve::Server;
    let dir = tmp();
    for (tiling, format) in [("x", "XRGB8888"), ("y", "YUYV")] {
        let sim = [
            "--sim",
            "--sim-frame",
            "5",
            "--sim-mode",
            "800x600",
            "--sim-profile",
            "gvt",
            "--sim-format",
            format,
        ];
        // The reference: the same guest's frame laid out linearly (still unmappable, so it too
        // comes through the GPU, but with no detiling to get wrong).
        let linear = [&sim[..], &["--sim-tiling", "linear"]].concat();
        let want = reference(dir.path(), &format!("ref-{format}.png"), &linear);
        let served = [&sim[..], &["--sim-tiling", tiling, "-v"]].concat();
        let server = Server::start(&served);
        for encoding in ["raw", "zrle"] {
            let out = dir
                .path()
                .join(format!("got-{tiling}-{format}-{encoding}.png"));
            vncdo(server.port, &out, encoding, "rgb32", &want, &[]);
        }
        let (_, log) = server.stop();
        assert!(log.contains("reading frames through the GPU"), "{log}");
        assert!(!log.contains("display: error"), "{log}");
    }
}

#[test]
fn serve_told_to_stay_on_the_cpu_opens_no_gpu_and_says_why_it_shows_nothing() {
    use crate::common::serve::Server;
    let server = Server::start(&["--sim", "--sim-profile", "gvt", "--render", "cpu", "-v"]);
    server.wait_log("cannot be mapped by the CPU");
    let (_, log) = server.stop();
    assert!(log.contains("display: error"), "{log}");
    assert!(!log.contains("through the GPU instead"), "{log}");
}
