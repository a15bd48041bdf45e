//! `vfio-display bench` on the simulator: every figure is there, consistent with its reference,
//! and bad input is refused. No timing is asserted here: the figures themselves are the
//! measurement (TESTING.md, "Performance"). The window figures run under Xvfb in this test binary
//! rather than beside the viewer tests, so that the bench's load does not slow those.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, assert_ok, bin, run, stdout};
use crate::common::xvfb::Xvfb;
use serde_json::Value;

fn figure<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["figures"]
        .as_array()
        .expect("a figures array")
        .iter()
        .find(|f| f["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no figure {name:?} in {report:#}"))
}

fn value(fig: &Value) -> f64 {
    let v = fig["value"].as_f64().expect("a number");
    assert!(v.is_finite() && v > 0.0, "{fig}");
    v
}

/// A quick headless `bench --sim` at `sizes`: short figures, `runs` screenshot processes, no
/// window, no fleet (its own test measures it); `extra` options after those.
fn quick_bench(sizes: &str, runs: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "--sim",
        "--sizes",
        sizes,
        "--seconds",
        "0.05",
        "--screenshot-runs",
        runs,
        "--no-window",
        "--fleet-devices",
        "0",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn bench_sim_reports_every_headless_figure_with_its_reference() {
    let out = quick_bench("320x240,640x480", "2", &["--json"]);
    assert_ok(&out);
    let report: Value = crate::common::json::parse(&out.stdout);
    assert!(!report["machine"]["cpu"].as_str().unwrap().is_empty());
    assert!(!report["machine"]["adapter"].as_str().unwrap().is_empty());

    let queries = figure(&report, "plane queries (primary)");
    // The ratio is the rate over the 120 queries per second a 60 Hz viewer makes.
    let rate = value(queries);
    let ratio = queries["ratio"].as_f64().unwrap();
    assert!((ratio * 120.0 - rate).abs() <= rate * 1e-9, "{queries}");

    for size in ["320x240", "640x480"] {
        let memcpy = value(figure(&report, &format!("memcpy, {size}")));
        let copy = figure(
            &report,
            &format!("cpu upload: copy out of guest memory, {size}"),
        );
        // The ratio is memcpy's time over the copy's, and the goal is judged on it.
        let ratio = copy["ratio"].as_f64().unwrap();
        assert!(
            (ratio * value(copy) - memcpy).abs() <= memcpy * 1e-9,
            "{copy}"
        );
        assert_eq!(
            copy["target"]["met"].as_bool(),
            Some(ratio >= 0.8),
            "{copy}"
        );
        value(figure(
            &report,
            &format!("cpu path: frame to texture, {size}"),
        ));
        // lavapipe offers the buffer path (ARCHITECTURE.md, section 6): its front-end CPU is reported.
        value(figure(
            &report,
            &format!("buffer path: frame to texture, {size}"),
        ));
        let cpu = figure(
            &report,
            &format!("buffer path: front-end CPU per cached frame, {size}"),
        );
        assert_eq!(cpu["unit"], "us");
        assert_eq!(
            cpu["target"]["met"].as_bool(),
            Some(value(cpu) < 50.0),
            "{cpu}"
        );
    }
    let irq = figure(&report, "interrupt to texture ready, 1080p (buffer path)");
    assert!(
        irq["detail"]
            .as_str()
            .unwrap()
            .contains("interrupt to submitted"),
        "{irq}"
    );
    let shot = figure(&report, "screenshot end to end, 1080p");
    assert_eq!(shot["target"]["met"].as_bool(), Some(value(shot) < 150.0));

    // The remote figures: the encoders, flip to socket, the idle server, and TigerVNC's Xvnc
    // (scripts/install-test-deps.sh installs it) serving the same picture to the same client.
    for enc in ["raw", "zrle", "tight"] {
        let full = figure(&report, &format!("rfb full update, 1080p desktop, {enc}"));
        value(full);
        assert!(
            full["detail"].as_str().unwrap().contains(" bytes ("),
            "{full}"
        );
    }
    for enc in ["zrle", "tight"] {
        value(figure(
            &report,
            &format!("rfb typical update (a window moved), 1080p, {enc}"),
        ));
        let bytes = figure(&report, &format!("bytes per full 1080p update, {enc}"));
        value(bytes);
        let detail = bytes["detail"].as_str().unwrap();
        assert!(detail.starts_with("TigerVNC's Xvnc: "), "{bytes}");
        let theirs: f64 = detail["TigerVNC's Xvnc: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let ratio = bytes["ratio"].as_f64().unwrap();
        assert!((ratio * theirs - value(bytes)).abs() <= 1.0, "{bytes}");
        value(figure(
            &report,
            &format!("server CPU per full 1080p update, {enc}"),
        ));
    }
    value(figure(
        &report,
        "guest flip to update on the socket, 1080p, zrle",
    ));
    for refresh in ["IRQ refresh", "30 Hz timer (devices without an IRQ)"] {
        let idle = figure(
            &report,
            &format!("serve idle CPU over 1 s, static 1080p guest, {refresh}"),
        );
        assert!(
            idle["detail"].as_str().unwrap().starts_with("0 bytes sent"),
            "a static guest sent bytes: {idle}"
        );
    }

    // Recording the animated desktop: some frames kept, a file that grows, a CPU share.
    assert!(value(figure(&report, "recorded frames, 1024x768")) > 0.0);
    assert!(value(figure(&report, "recording size, 1024x768")) > 0.0);
    assert!(value(figure(&report, "recording CPU, 1024x768")) >= 0.0);

    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["viewer frame time", "idle CPU", "fleet figures"]);
}

#[test]
fn bench_prints_a_table_with_targets_met_or_missed() {
    let out = quick_bench("320x240", "1", &[]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("figure"), "{text}");
    assert!(text.contains("x memcpy"), "{text}");
    assert!(text.contains(">= 0.8x memcpy"), "{text}");
    assert!(
        text.contains("viewer frame time: not measured: --no-window"),
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    assert!(summary.ends_with("targets met"), "{summary}");
    // Progress goes to stderr, so that stdout stays the report.
    assert!(crate::common::cli::stderr(&out).contains("bench: frame costs at 320x240"));
}

#[test]
fn bench_refuses_bad_sizes_and_a_missing_device() {
    let out = run(&["bench", "--sim", "--sizes", "9000x10"]);
    assert_clean_failure(&out, 2, "at most 8192x8192");
    let out = run(&["bench", "--sim", "--sizes", "huge"]);
    assert_clean_failure(&out, 2, "1080p");
    let out = run(&["bench", "--sim", "--seconds", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["bench"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["bench", "--sim", "--qmp", "/run/vm.qmp"]);
    assert_clean_failure(&out, 2, "the simulator has no guest to type into");
    // A shared simulator would be measured as an unshared one: refused, not ignored.
    let out = run(&["bench", "--sim", "--sim-shared"]);
    assert_clean_failure(&out, 2, "--sim-shared is for the other commands");
    let out = run(&["bench", "--sim", "--keys", "1"]);
    assert_eq!(out.status.code(), Some(2));
    // The fleet runs simulated devices only, with at least one viewer each.
    let out = run(&["bench", "--fleet-only"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["bench", "--sim", "--fleet-only", "--fleet-devices", "0"]);
    assert_clean_failure(&out, 2, "--fleet-only measures simulated devices");
    let out = run(&["bench", "--sim", "--fleet-clients", "0"]);
    assert_clean_failure(&out, 2, "give 1 to 256 clients");
}

#[test]
fn bench_of_region_planes_times_the_cpu_path_only() {
    // A region plane is device memory, not a dma-buf: the zero-copy paths cannot import it,
    // and bench once stopped with an error at the first of them.
    let out = quick_bench("320x240", "1", &["--sim-plane", "region", "--json"]);
    assert_ok(&out);
    let report: Value = crate::common::json::parse(&out.stdout);
    let paths: Vec<&str> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .filter(|name| name.ends_with("path: frame to texture, 320x240"))
        .collect();
    assert_eq!(paths, ["cpu path: frame to texture, 320x240"]);
}

#[test]
fn bench_measures_the_viewer_and_idle_cpu_in_a_window() {
    let x = Xvfb::start();
    let out = bin()
        .args([
            "bench",
            "--sim",
            "--sizes",
            "320x240",
            "--seconds",
            "0.2",
            "--screenshot-runs",
            "1",
            "--idle-seconds",
            "3",
            "--fleet-devices",
            "0",
            "--json",
        ])
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let report: Value = crate::common::json::parse(&out.stdout);
    let find = |name: &str| -> f64 {
        report["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"].as_str() == Some(name))
            .and_then(|f| f["value"].as_f64())
            .unwrap_or_else(|| panic!("no figure {name:?}: {report:#}"))
    };
    assert!(find("viewer frame time, 1080p") > 0.0);
    assert!(find("viewer refresh to picture presented, 1080p") > 0.0);
    let irq = find("idle CPU over 3 s, IRQ refresh");
    let poll = find("idle CPU over 3 s, 30 ms polling timer");
    let timer = find("idle CPU over 3 s, our timer (33 Hz, backs off)");
    // An idle guest raises no interrupt, so the IRQ-driven viewer does next to nothing, while a
    // poll redraws 33 times a second: the gap is two orders of magnitude, not a close call.
    assert!(irq * 5.0 < poll, "IRQ {irq}% vs poll {poll}%");
    assert!(timer < poll, "backing-off timer {timer}% vs poll {poll}%");
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report:#}");
    assert_eq!(skipped[0]["why"], "--fleet-devices 0");
}

#[test]
fn bench_fleet_measures_devices_and_clients_of_one_serve_all() {
    let out = run(&[
        "bench",
        "--sim",
        "--fleet-only",
        "--fleet-devices",
        "3",
        "--fleet-clients",
        "2",
        "--fleet-size",
        "320x240",
        "--seconds",
        "0.2",
        "--json",
    ]);
    assert_ok(&out);
    let report: Value = crate::common::json::parse(&out.stdout);
    let names: Vec<&str> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("fleet ")), "{names:?}");
    assert!(
        report["skipped"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let label = "3 devices x 2 clients, 320x240";

    // Still guests under IRQ refresh: the target is judged on the value, and nothing is sent.
    let cpu = figure(&report, &format!("fleet idle CPU per device, {label}"));
    let per_device = value(cpu);
    assert_eq!(cpu["target"]["met"].as_bool(), Some(per_device <= 1.0));
    let detail = cpu["detail"].as_str().unwrap();
    assert!(detail.contains("refresh from IRQ"), "{cpu}");
    assert!(detail.ends_with("; 0 bytes sent"), "{cpu}");

    // A device and a client each cost some memory, and not a whole 1080p frame's worth at
    // 320x240 (a frame is 0.3 MiB there).
    for name in ["device", "client"] {
        let mib = value(figure(
            &report,
            &format!("fleet memory per {name}, 320x240"),
        ));
        assert!(mib < 64.0, "{name}: {mib} MiB");
    }

    let median = value(figure(
        &report,
        &format!("fleet connect to first picture, median, {label}"),
    ));
    let p95 = value(figure(
        &report,
        &format!("fleet connect to first picture, p95, {label}"),
    ));
    assert!(median <= p95 && p95 < 60_000.0, "{median} ms, p95 {p95} ms");

    // The busy guest flips at 60 Hz: its viewers get updates, at most one a flip.
    let fps = value(figure(
        &report,
        "fleet busy device's updates, 1 of 3 flipping at 60 Hz",
    ));
    assert!(fps <= 66.0, "{fps} fps");
    for name in [
        format!("fleet idle device's full refresh beside a busy one, {label}"),
        format!("fleet idle device's connect to first picture beside a busy one, {label}"),
    ] {
        let fig = figure(&report, &name);
        value(fig);
        let ratio = fig["ratio"].as_f64().unwrap();
        assert!(ratio > 0.0, "{fig}");
        assert_eq!(fig["target"]["met"].as_bool(), Some(ratio <= 2.0), "{fig}");
    }
    // An animating guest costs the server CPU that still ones do not.
    let busy = figure(
        &report,
        "fleet server CPU, 1 of 3 devices busy, 2 clients each",
    );
    assert!(value(busy) > per_device * 3.0, "{busy}");
}
