//! `check` on the simulator: a well-behaved device passes every check it can run, and every
//! injected fault makes the check of the rule it breaks fail (or warn, where the header allows
//! what the fault does), with the evidence in the report.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

mod common;

use common::cli::{assert_clean_failure, run, stdout};
use serde_json::Value;

fn check(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--sim", "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v: Value = common::json::parse(&out.stdout);
    (out.status.code().unwrap_or(-1), v)
}

fn not_passing(v: &Value) -> Vec<(String, String)> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "fail" || c["result"] == "warn")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_well_behaved_simulator_passes_everything_it_can_run() {
    let (code, v) = check(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["fail"], 0, "{v:#}");
    assert_eq!(v["summary"]["warn"], 0, "{v:#}");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), vfio_display::conformance::CATALOGUE.len());
    for c in checks {
        assert!(!c["rule"].as_str().unwrap().is_empty(), "{c}");
        assert!(!c["evidence"].as_str().unwrap().is_empty(), "{c}");
    }
    // The simulator is driven, so the mode-change checks ran.
    assert_eq!(v["by_id"]["planes.new-id-after-mode-change"], "pass");
    assert_eq!(v["by_id"]["irqs.automask"], "pass");
    // Only what needs a real device's raw ioctls (or a risky flag) is skipped.
    assert_eq!(v["by_id"]["regions.argsz-short"], "skip");
    assert_eq!(v["by_id"]["dmabuf.second-export"], "skip");
}

#[test]
fn each_fault_fails_the_check_of_the_rule_it_breaks() {
    for (fault, plane, expected) in [
        (
            "stride-too-small",
            "dmabuf",
            &[("planes.stride", "fail")][..],
        ),
        ("size-too-small", "dmabuf", &[("planes.size", "fail")][..]),
        ("size-overflow", "dmabuf", &[("planes.size", "fail")][..]),
        (
            "buffer-too-short",
            "dmabuf",
            &[("planes.bounds", "fail"), ("dmabuf.size", "fail")][..],
        ),
        (
            "offset-overflow",
            "dmabuf",
            &[("planes.bounds", "fail")][..],
        ),
        (
            "region-too-small",
            "region",
            &[("planes.bounds", "fail")][..],
        ),
        ("unknown-format", "dmabuf", &[("planes.fourcc", "fail")][..]),
        (
            "compressed-modifier",
            "dmabuf",
            &[("planes.modifier", "warn")][..],
        ),
        ("tiled-stride", "dmabuf", &[("planes.stride", "fail")][..]),
        ("tiled-size", "dmabuf", &[("planes.size", "fail")][..]),
        (
            "enomem-after-mode-change",
            "dmabuf",
            &[("planes.first-query-after-mode-change", "fail")][..],
        ),
        (
            "new-id-every-frame",
            "dmabuf",
            &[("planes.stable-id", "fail")][..],
        ),
        ("plane-flap", "dmabuf", &[("planes.stable-id", "fail")][..]),
        (
            "plane-off",
            "dmabuf",
            &[("planes.new-id-after-mode-change", "fail")][..],
        ),
        ("query-enomem", "dmabuf", &[("planes.query", "fail")][..]),
        ("query-eio", "dmabuf", &[("planes.query", "fail")][..]),
        ("query-enodev", "dmabuf", &[("planes.query", "fail")][..]),
        (
            "cap-chain-loop",
            "dmabuf",
            &[("regions.cap-chain", "fail")][..],
        ),
        (
            "cap-chain-out-of-bounds",
            "dmabuf",
            &[("regions.cap-chain", "fail")][..],
        ),
        (
            "edid-max-size-small",
            "dmabuf",
            &[("edid.max-size", "fail")][..],
        ),
        ("irq-storm", "dmabuf", &[("irqs.automask", "fail")][..]),
    ] {
        let (code, v) = check(&["--sim-plane", plane, "--sim-fault", fault]);
        let got = not_passing(&v);
        for (id, result) in expected {
            assert!(
                got.contains(&(id.to_string(), result.to_string())),
                "{fault}: expected {id} to {result}, got {got:?}"
            );
        }
        let fails = got.iter().any(|(_, r)| r == "fail");
        assert_eq!(code, if fails { 1 } else { 0 }, "{fault}: exit code");
        // The evidence names the values seen.
        let evidence = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == expected[0].0)
            .map(|c| c["evidence"].as_str().unwrap().to_string())
            .unwrap();
        assert!(!evidence.is_empty(), "{fault}");
    }
}

#[test]
fn only_list_and_usage() {
    let (code, v) = check(&["--only", "planes.stride,edid.max-size"]);
    assert_eq!(code, 0);
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["planes.stride", "edid.max-size"]);
    let out = run(&["check", "--sim", "--only", "planes.strid"]);
    assert_clean_failure(&out, 2, "unknown check id planes.strid");
    let out = run(&["check", "--help"]);
    assert!(
        stdout(&out).contains("CRASHES THE KERNEL"),
        "the risky check is explained"
    );
    for spec in vfio_display::conformance::CATALOGUE {
        assert!(stdout(&out).contains(spec.id), "--help lists {}", spec.id);
    }
    // The table: one line per check and the summary, failures with their rule.
    let out = run(&["check", "--sim", "--sim-fault", "stride-too-small"]);
    assert_clean_failure(&out, 1, "checks failed on simulated vGPU");
    let table = stdout(&out);
    assert!(table.contains("FAIL  planes.stride"), "{table}");
    assert!(
        table.contains("rule (struct vfio_device_gfx_plane_info)"),
        "{table}"
    );
}

#[test]
fn a_region_fault_on_dma_buf_planes_is_refused_not_ignored() {
    // The fault shrinks the framebuffer region; dma-buf planes have none, so every check would
    // pass and prove nothing.
    let dir = common::cli::tmp();
    let png = dir.path().join("shot.png");
    let png = common::cli::path_str(&png);
    for command in [&["check"][..], &["screenshot", "-o", png][..]] {
        let mut args = command.to_vec();
        args.extend_from_slice(&["--sim", "--sim-fault", "region-too-small"]);
        let out = run(&args);
        assert_clean_failure(&out, 2, "add --sim-plane region");
    }
    // With region planes the fault is honoured: the bounds check fails.
    let (code, v) = check(&["--sim-plane", "region", "--sim-fault", "region-too-small"]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        not_passing(&v).contains(&("planes.bounds".to_string(), "fail".to_string())),
        "{v:#}"
    );
}

#[test]
fn the_checker_says_whether_the_driver_has_a_request_path() {
    // The simulator, like the kernel's sample drivers, offers no request IRQ: removing such a
    // device waits until every holder has closed it, and the report says so.
    let (code, v) = check(&["--only", "irqs.request"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["by_id"]["irqs.request"], "skip", "{v:#}");
    let evidence = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "irqs.request")
        .and_then(|c| c["evidence"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(evidence.contains("no request path"), "{evidence}");
}
