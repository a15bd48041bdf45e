//! The `vfio-display` binary end to end: every command on the simulator with pixels compared,
//! and every bad input with its message and exit code.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, bin, path_str, run, stderr, stdout, tmp};
use crate::common::{assert_pattern, assert_same_image, expected_frame, read_png};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vfio_display::device::sim::desktop::{CURSOR_TIP, pointer_position};
use vfio_display::fourcc;
use vfio_display::geometry::Point;

#[test]
fn screenshot_of_the_default_simulator_has_the_exact_pattern() {
    let dir = tmp();
    let png = dir.path().join("s.png");
    let out = run(&["screenshot", "--sim", "-o", path_str(&png)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1024x768 XR24 (XRGB8888)"),
        "{}",
        stdout(&out)
    );
    let image = read_png(&png);
    assert_eq!((image.width, image.height), (1024, 768));
    assert_pattern(&image, "default screenshot");
}

#[test]
fn screenshots_equal_the_guest_frame_in_every_format_and_source() {
    let dir = tmp();
    for plane in ["dmabuf", "region"] {
        for format in [
            "XRGB8888",
            "ARGB8888",
            "XBGR8888",
            "ABGR8888",
            "RGB565",
            "XRGB2101010",
            "BGR888",
        ] {
            let png = dir.path().join(format!("{plane}-{format}.png"));
            let out = run(&[
                "screenshot",
                "--sim",
                "--sim-mode",
                "1366x768",
                "--sim-format",
                format,
                "--sim-plane",
                plane,
                "--sim-frame",
                "123",
                "-o",
                path_str(&png),
            ]);
            assert!(out.status.success(), "{plane} {format}: {}", stderr(&out));
            let expected = expected_frame(1366, 768, 123, fourcc::parse(format).unwrap());
            assert_same_image(&read_png(&png), &expected, &format!("{plane} {format}"));
        }
    }
}

#[test]
fn screenshot_with_cursor_puts_the_tip_on_the_pointer() {
    let dir = tmp();
    let png = dir.path().join("c.png");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-frame",
        "40",
        "--cursor",
        "-o",
        path_str(&png),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let image = read_png(&png);
    let Point { x, y } = pointer_position(1024, 768, 40);
    assert_eq!(image.pixel(x, y), CURSOR_TIP);
    // Below and right of the tip lies the arrow's black outline, not the desktop.
    assert_eq!(image.pixel(x, y + 1), [0, 0, 0, 255]);
    let without = dir.path().join("n.png");
    run(&[
        "screenshot",
        "--sim",
        "--sim-frame",
        "40",
        "-o",
        path_str(&without),
    ]);
    assert_ne!(read_png(&without).pixel(x, y + 1), [0, 0, 0, 255]);
}

#[test]
fn a_series_is_numbered() {
    let dir = tmp();
    let png = dir.path().join("shot.png");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-mode",
        "320x200",
        "--count",
        "3",
        "--interval",
        "20",
        "-o",
        path_str(&png),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for n in 1..=3 {
        let p = dir.path().join(format!("shot-{n:04}.png"));
        assert_pattern(&read_png(&p), &p.display().to_string());
    }
    assert!(!png.exists());
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn no_plane_waits_for_the_timeout_and_exits_3() {
    let dir = tmp();
    let png = dir.path().join("off.png");
    let start = Instant::now();
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-fault",
        "plane-off",
        "--timeout",
        "0.5",
        "-o",
        path_str(&png),
    ]);
    let elapsed = start.elapsed().as_secs_f64();
    assert_clean_failure(&out, 3, "no plane");
    assert!(
        stderr(&out).contains("after waiting 0.5 s"),
        "{}",
        stderr(&out)
    );
    assert!(elapsed >= 0.5, "gave up after {elapsed} s");
    assert!(!png.exists(), "nothing written");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-fault",
        "plane-off",
        "-o",
        path_str(&png),
    ]);
    assert_clean_failure(&out, 3, "--timeout");
}

#[test]
fn inconsistent_planes_from_the_simulator_are_clear_errors() {
    let dir = tmp();
    let png = dir.path().join("bad.png");
    for (fault, needle) in [
        (
            "stride-too-small",
            "stride 4092 is smaller than a row of 1024 pixels",
        ),
        ("size-too-small", "declared size"),
        ("size-overflow", "outside 1..=16384"),
        ("buffer-too-short", "past the end of the"),
        ("unknown-format", "NV12"),
        ("compressed-modifier", "cannot be read"),
        ("tiled-stride", "is not a whole number of 512-byte tiles"),
        ("tiled-size", "rounded up to whole 32-row tiles"),
    ] {
        let out = run(&[
            "screenshot",
            "--sim",
            "--sim-frame",
            "1",
            "--sim-fault",
            fault,
            "-o",
            path_str(&png),
        ]);
        assert_clean_failure(&out, 1, needle);
        assert!(
            stderr(&out).contains("primary plane"),
            "{fault}: {}",
            stderr(&out)
        );
        assert!(!png.exists());
    }
    // The ENOMEM quirk is survived, not reported.
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-frame",
        "1",
        "--sim-fault",
        "enomem-after-mode-change",
        "-o",
        path_str(&png),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn info_json_lists_regions_irqs_planes_and_edid() {
    let out = run(&["info", "--sim", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert_eq!(v["backend"]["kind"], "sim");
    let regions = v["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 10);
    let edid = regions.iter().find(|r| r["index"] == 9).unwrap();
    assert_eq!(edid["name"], "GFX EDID");
    assert_eq!(edid["caps"][0]["cap"], "type");
    assert_eq!(edid["caps"][0]["region_type"], 1);
    assert_eq!(edid["caps"][0]["subtype"], 1);
    let irqs = v["irqs"].as_array().unwrap();
    assert_eq!(irqs.len(), 1);
    assert_eq!(
        irqs[0]["flags"],
        serde_json::json!(["EVENTFD", "MASKABLE", "AUTOMASKED"])
    );
    assert_eq!(v["planes"]["dmabuf"], true);
    assert_eq!(v["planes"]["region"], false);
    assert_eq!(v["planes"]["primary"]["on"], true);
    assert_eq!(v["planes"]["primary"]["width"], 1024);
    assert_eq!(v["planes"]["primary"]["format"], "XR24 (XRGB8888)");
    assert_eq!(v["planes"]["cursor"]["x_hot"], 4);
    assert_eq!(v["edid"]["registers"]["edid_max_size"], 1024);
    assert_eq!(v["edid"]["link"], "up");
}

#[test]
fn info_reports_the_region_plane_beyond_num_regions() {
    let out = run(&["info", "--sim", "--sim-plane", "region", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert_eq!(v["planes"]["primary"]["source"], "region");
    assert_eq!(v["planes"]["primary"]["buffer_id"], 16);
    let fb = v["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["index"] == 16)
        .expect("region 16 listed");
    assert_eq!(fb["caps"][0]["cap"], "sparse_mmap");
    let text = run(&["info", "--sim", "--sim-plane", "region"]);
    assert!(stdout(&text).contains("region 16"), "{}", stdout(&text));
}

#[test]
fn edid_show_prints_registers_and_blob() {
    let out = run(&["edid", "show", "--sim"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("edid_max_size 1024"), "{text}");
    assert!(text.contains("link_state    1 (up)"), "{text}");
    assert!(text.contains("0000  00 ff ff ff ff ff ff 00"), "{text}");
    assert!(text.contains("Preferred mode: 1024x768"), "{text}");
    let out = run(&["edid", "show", "--sim", "--sim-mode", "800x600", "--json"]);
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert!(
        v["blob_hex"]
            .as_str()
            .unwrap()
            .starts_with("00ffffffffffff00")
    );
    assert_eq!(v["registers"]["edid_size"], 128);
    assert!(v["preferred_mode"].as_str().unwrap().starts_with("800x600"));
}

/// A sysfs tree with one mbochs parent and one mdev in group 12, and an empty /dev.
fn fake_host(root: &Path) -> (PathBuf, PathBuf, &'static str) {
    let sys = root.join("sys");
    let parent = sys.join("devices/virtual/mbochs/mbochs");
    let t = parent.join("mdev_supported_types/mbochs-1");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(t.join("name"), "small\n").unwrap();
    std::fs::write(t.join("available_instances"), "1\n").unwrap();
    std::fs::write(t.join("device_api"), "vfio-pci\n").unwrap();
    std::fs::create_dir_all(sys.join("class/mdev_bus")).unwrap();
    symlink(&parent, sys.join("class/mdev_bus/mbochs")).unwrap();
    let uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    let dev = parent.join(uuid);
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::create_dir_all(sys.join("kernel/iommu_groups/12")).unwrap();
    symlink(sys.join("kernel/iommu_groups/12"), dev.join("iommu_group")).unwrap();
    symlink(&t, dev.join("mdev_type")).unwrap();
    std::fs::create_dir_all(sys.join("bus/mdev/devices")).unwrap();
    symlink(&dev, sys.join("bus/mdev/devices").join(uuid)).unwrap();
    let devdir = root.join("dev");
    std::fs::create_dir_all(devdir.join("vfio")).unwrap();
    (sys, devdir, uuid)
}

#[test]
fn list_shows_parents_types_and_mdevs() {
    let dir = tmp();
    let (sys, devdir, uuid) = fake_host(dir.path());
    let out = bin()
        .args(["list"])
        .env("VFIO_DISPLAY_SYSFS", &sys)
        .env("VFIO_DISPLAY_DEV", &devdir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("mbochs-1"), "{text}");
    assert!(text.contains("1 available"), "{text}");
    assert!(text.contains(uuid), "{text}");
    assert!(text.contains("/dev/vfio/12"), "{text}");
    let out = bin()
        .args(["list", "--json"])
        .env("VFIO_DISPLAY_SYSFS", &sys)
        .output()
        .unwrap();
    let v: serde_json::Value = crate::common::json::parse(&out.stdout);
    assert_eq!(v["mdevs"][0]["uuid"], uuid);
    assert_eq!(v["parents"][0]["types"][0]["available_instances"], 1);
    let empty = bin()
        .args(["list"])
        .env("VFIO_DISPLAY_SYSFS", dir.path().join("nothing"))
        .output()
        .unwrap();
    assert!(stdout(&empty).contains("No mdev parent devices"));
}

/// Runs the binary against a fake host's sysfs and /dev, with `backend` in
/// VFIO_DISPLAY_BACKEND (none: the variable is unset).
fn on_host(
    sys: &Path,
    devdir: &Path,
    backend: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(args)
        .env("VFIO_DISPLAY_SYSFS", sys)
        .env("VFIO_DISPLAY_DEV", devdir)
        .env_remove("VFIO_DISPLAY_BACKEND");
    if let Some(backend) = backend {
        cmd.env("VFIO_DISPLAY_BACKEND", backend);
    }
    cmd.output().unwrap()
}

#[test]
fn device_errors_say_what_to_do() {
    let dir = tmp();
    let (sys, devdir, uuid) = fake_host(dir.path());
    let png = dir.path().join("x.png");
    let with_host = |args: &[&str]| on_host(&sys, &devdir, None, args);
    // A malformed UUID.
    let out = with_host(&["screenshot", "1234-not-a-uuid", "-o", path_str(&png)]);
    assert_clean_failure(&out, 1, "give an mdev UUID");
    // A UUID with no such mdev.
    let out = with_host(&["info", "11111111-2222-3333-4444-555555555555"]);
    assert_clean_failure(
        &out,
        1,
        "no mediated device with UUID 11111111-2222-3333-4444-555555555555",
    );
    // A path that is not an mdev.
    let out = with_host(&["info", path_str(&sys)]);
    assert_clean_failure(&out, 1, "not a mediated device");
    // The mdev exists but its /dev/vfio node does not.
    let out = with_host(&["info", uuid]);
    assert_clean_failure(&out, 1, "vfio/12");
    assert!(stderr(&out).contains("modprobe"), "{}", stderr(&out));
    // Something at /dev/vfio/12 that is not a VFIO group.
    std::fs::write(devdir.join("vfio/12"), b"").unwrap();
    let out = with_host(&["info", uuid]);
    assert_clean_failure(&out, 1, "VFIO_GROUP_GET_STATUS");
    assert!(!png.exists());
}

#[test]
fn device_fd_errors() {
    // fd 0 is /dev/null here: open, but not a VFIO device.
    let out = bin()
        .args(["info", "--device-fd", "0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_clean_failure(&out, 1, "is not a VFIO device");
    let out = run(&["info", "--device-fd", "987"]);
    assert_clean_failure(&out, 1, "not open in this process");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = run(&["screenshot", "--sim", "--sim-mode", "big", "-o", "x.png"]);
    assert_clean_failure(&out, 2, "WIDTHxHEIGHT");
    let out = run(&["screenshot", "--sim", "--sim-format", "NV12", "-o", "x.png"]);
    assert_clean_failure(&out, 2, "unknown format 'NV12'");
    let out = run(&["screenshot", "-o", "x.png"]);
    assert_clean_failure(&out, 2, "DEVICE");
    let out = run(&[
        "screenshot",
        "--sim",
        "11111111-2222-3333-4444-555555555555",
        "-o",
        "x.png",
    ]);
    assert_clean_failure(&out, 2, "cannot be used with");
    let out = run(&["screenshot", "--sim", "--count", "0", "-o", "x.png"]);
    assert_clean_failure(&out, 2, "--count");
}

#[test]
fn an_unwritable_output_fails_before_capturing() {
    let out = run(&["screenshot", "--sim", "-o", "/nonexistent-dir/s.png"]);
    assert_clean_failure(&out, 1, "cannot write /nonexistent-dir/s.png");
    let dir = tmp();
    let out = run(&["screenshot", "--sim", "-o", path_str(dir.path())]);
    assert_clean_failure(&out, 1, "is a directory");
}

#[test]
fn an_impossible_simulator_mode_is_a_clear_error() {
    let out = run(&["info", "--sim", "--sim-mode", "20x20"]);
    assert_clean_failure(&out, 1, "outside 64..8192");
}

#[test]
fn help_names_every_command() {
    let out = run(&["--help"]);
    let text = stdout(&out);
    for word in ["list", "info", "screenshot", "edid", "Exit codes"] {
        assert!(text.contains(word), "{word}: {text}");
    }
}

#[test]
fn every_simulator_fault_ends_in_one_clear_line_or_is_survived() {
    let dir = tmp();
    let png = dir.path().join("fault.png");
    let shot = |fault: &str, extra: &[&str]| {
        let _ = std::fs::remove_file(&png);
        let mut args = vec![
            "screenshot",
            "--sim",
            "--sim-frame",
            "1",
            "--sim-fault",
            fault,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-o", path_str(&png)]);
        run(&args)
    };
    for (fault, extra, needle) in [
        (
            "offset-overflow",
            &[][..],
            "rows end at byte 18446744073709551615",
        ),
        (
            "region-too-small",
            &["--sim-plane", "region"][..],
            "past the end of the 1572864-byte buffer",
        ),
        (
            "query-enomem",
            &[][..],
            "VFIO_DEVICE_QUERY_GFX_PLANE on primary plane (dmabuf) failed: ENOMEM",
        ),
        ("query-eio", &[][..], "failed: EIO"),
        ("query-enodev", &[][..], "failed: ENODEV"),
    ] {
        let out = shot(fault, extra);
        assert_clean_failure(&out, 1, needle);
        assert!(!png.exists(), "{fault}: nothing written");
    }
    // Faults a capture survives: each still writes the guest's frame.
    for (fault, extra) in [
        ("new-id-every-frame", &[][..]),
        ("plane-flap", &["--timeout", "2"][..]),
        ("cap-chain-out-of-bounds", &[][..]),
        ("cap-chain-loop", &[][..]),
        ("irq-storm", &[][..]),
    ] {
        let out = shot(fault, extra);
        assert!(out.status.success(), "{fault}: {}", stderr(&out));
        crate::common::assert_pattern(&read_png(&png), fault);
    }
    // A broken capability chain hides the EDID region, and says so.
    let out = run(&["info", "--sim", "--sim-fault", "cap-chain-out-of-bounds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("malformed capability chain: capability header at offset 1048576 runs past the 48 bytes returned"),
        "{}",
        stdout(&out)
    );
    let out = run(&[
        "edid",
        "show",
        "--sim",
        "--sim-fault",
        "cap-chain-out-of-bounds",
    ]);
    assert_clean_failure(&out, 1, "has no EDID region");
    // The fault list is its own help.
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-fault",
        "help",
        "-o",
        path_str(&png),
    ]);
    for (_, name, _) in vfio_display::device::sim::SimFault::ALL {
        assert!(
            stdout(&out).contains(name) || stderr(&out).contains(name),
            "{name} listed"
        );
    }
}

#[test]
fn the_cdev_backend_says_what_is_missing_at_each_step() {
    let dir = tmp();
    let (sys, devdir, uuid) = fake_host(dir.path());
    let with_host = |args: &[&str]| on_host(&sys, &devdir, None, args);
    // A kernel without VFIO_DEVICE_CDEV: no vfio-dev directory under the mdev.
    let out = with_host(&["info", "--backend", "cdev", uuid]);
    assert_clean_failure(&out, 1, "has no VFIO device cdev");
    assert!(stderr(&out).contains("--backend group"), "{}", stderr(&out));
    // The kernel has the cdev.
    let mdev = sys.join("devices/virtual/mbochs/mbochs").join(uuid);
    std::fs::create_dir_all(mdev.join("vfio-dev/vfio3")).unwrap();
    let out = with_host(&["info", "--backend", "cdev", uuid]);
    assert_clean_failure(&out, 1, "vfio/devices/vfio3");
    // The node exists but there is no /dev/iommu.
    std::fs::create_dir_all(devdir.join("vfio/devices")).unwrap();
    std::fs::write(devdir.join("vfio/devices/vfio3"), b"").unwrap();
    let out = with_host(&["info", "--backend", "cdev", uuid]);
    assert_clean_failure(&out, 1, "this kernel has no iommufd");
    // Auto without /dev/iommu takes the group (whose node is missing here).
    let out = with_host(&["info", uuid]);
    assert_clean_failure(&out, 1, "vfio/12");
    // /dev/iommu is there but the cdev is not a device: the bind is refused, with its errno.
    std::fs::write(devdir.join("iommu"), b"").unwrap();
    let out = with_host(&["info", "--backend", "cdev", uuid]);
    assert_clean_failure(&out, 1, "VFIO_DEVICE_BIND_IOMMUFD on");
    assert!(stderr(&out).contains("ENOTTY"), "{}", stderr(&out));
    // Auto now prefers the cdev, so the same refusal; the variable picks the group.
    let out = with_host(&["info", uuid]);
    assert_clean_failure(&out, 1, "VFIO_DEVICE_BIND_IOMMUFD");
    let out = on_host(&sys, &devdir, Some("group"), &["info", uuid]);
    assert_clean_failure(&out, 1, "vfio/12");
    let out = with_host(&["info", "--backend", "iommu", uuid]);
    assert_clean_failure(&out, 2, "possible values");
}
