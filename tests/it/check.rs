//! `check` on the simulator: a well-behaved device passes every check it can run, and every
//! injected fault makes the check of the rule it breaks fail (or warn, where the header allows
//! what the fault does), with the evidence in the report.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, run, stdout};
use vfio_display::conformance::{CheckDocument, Outcome, id};

/// `check --sim --json ARGS`: the exit code and the document, read back as the library's type.
fn check(args: &[&str]) -> (i32, CheckDocument) {
    let mut all = vec!["check", "--sim", "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    let doc: CheckDocument = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("check --json is not a check document ({e}): {text}"));
    (out.status.code().unwrap_or(-1), doc)
}

fn not_passing(doc: &CheckDocument) -> Vec<(String, Outcome)> {
    doc.checks
        .iter()
        .filter(|c| matches!(c.result, Outcome::Fail | Outcome::Warn))
        .map(|c| (c.id.clone(), c.result))
        .collect()
}

fn evidence<'a>(doc: &'a CheckDocument, check: &str) -> &'a str {
    doc.checks
        .iter()
        .find(|c| c.id == check)
        .map_or("", |c| c.evidence.as_str())
}

#[test]
fn a_well_behaved_simulator_passes_everything_it_can_run() {
    let (code, v) = check(&[]);
    assert_eq!(code, 0, "{v:#?}");
    assert_eq!((v.summary.fail, v.summary.warn), (0, 0), "{v:#?}");
    assert_eq!(v.checks.len(), vfio_display::conformance::CATALOGUE.len());
    for c in &v.checks {
        assert!(!c.rule.is_empty() && !c.evidence.is_empty(), "{c:?}");
    }
    // The simulator is driven, so the mode-change checks ran.
    assert_eq!(
        v.outcome(id::PLANES_NEW_ID_AFTER_MODE_CHANGE),
        Some(Outcome::Pass)
    );
    assert_eq!(v.outcome(id::IRQS_AUTOMASK), Some(Outcome::Pass));
    // Only what needs a real device's raw ioctls (or a risky flag) is skipped.
    assert_eq!(v.outcome(id::REGIONS_ARGSZ_SHORT), Some(Outcome::Skip));
    assert_eq!(v.outcome(id::DMABUF_SECOND_EXPORT), Some(Outcome::Skip));
}

#[test]
fn each_fault_fails_the_check_of_the_rule_it_breaks() {
    for (fault, plane, expected) in [
        (
            "stride-too-small",
            "dmabuf",
            &[(id::PLANES_STRIDE, Outcome::Fail)][..],
        ),
        (
            "size-too-small",
            "dmabuf",
            &[(id::PLANES_SIZE, Outcome::Fail)][..],
        ),
        (
            "size-overflow",
            "dmabuf",
            &[(id::PLANES_SIZE, Outcome::Fail)][..],
        ),
        (
            "buffer-too-short",
            "dmabuf",
            &[
                (id::PLANES_BOUNDS, Outcome::Fail),
                (id::DMABUF_SIZE, Outcome::Fail),
            ][..],
        ),
        (
            "offset-overflow",
            "dmabuf",
            &[(id::PLANES_BOUNDS, Outcome::Fail)][..],
        ),
        (
            "region-too-small",
            "region",
            &[(id::PLANES_BOUNDS, Outcome::Fail)][..],
        ),
        (
            "unknown-format",
            "dmabuf",
            &[(id::PLANES_FOURCC, Outcome::Fail)][..],
        ),
        (
            "compressed-modifier",
            "dmabuf",
            &[(id::PLANES_MODIFIER, Outcome::Warn)][..],
        ),
        (
            "tiled-stride",
            "dmabuf",
            &[(id::PLANES_STRIDE, Outcome::Fail)][..],
        ),
        (
            "tiled-size",
            "dmabuf",
            &[(id::PLANES_SIZE, Outcome::Fail)][..],
        ),
        (
            "enomem-after-mode-change",
            "dmabuf",
            &[(id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE, Outcome::Fail)][..],
        ),
        (
            "new-id-every-frame",
            "dmabuf",
            &[(id::PLANES_STABLE_ID, Outcome::Fail)][..],
        ),
        (
            "plane-flap",
            "dmabuf",
            &[(id::PLANES_STABLE_ID, Outcome::Fail)][..],
        ),
        (
            "plane-off",
            "dmabuf",
            &[(id::PLANES_NEW_ID_AFTER_MODE_CHANGE, Outcome::Fail)][..],
        ),
        (
            "query-enomem",
            "dmabuf",
            &[(id::PLANES_QUERY, Outcome::Fail)][..],
        ),
        (
            "query-eio",
            "dmabuf",
            &[(id::PLANES_QUERY, Outcome::Fail)][..],
        ),
        (
            "query-enodev",
            "dmabuf",
            &[(id::PLANES_QUERY, Outcome::Fail)][..],
        ),
        (
            "cap-chain-loop",
            "dmabuf",
            &[(id::REGIONS_CAP_CHAIN, Outcome::Fail)][..],
        ),
        (
            "cap-chain-out-of-bounds",
            "dmabuf",
            &[(id::REGIONS_CAP_CHAIN, Outcome::Fail)][..],
        ),
        (
            "edid-max-size-small",
            "dmabuf",
            &[(id::EDID_MAX_SIZE, Outcome::Fail)][..],
        ),
        (
            "irq-storm",
            "dmabuf",
            &[(id::IRQS_AUTOMASK, Outcome::Fail)][..],
        ),
    ] {
        let (code, v) = check(&["--sim-plane", plane, "--sim-fault", fault]);
        let got = not_passing(&v);
        for (check, result) in expected {
            assert!(
                got.contains(&(check.to_string(), *result)),
                "{fault}: expected {check} to {result:?}, got {got:?}"
            );
        }
        let fails = got.iter().any(|(_, r)| *r == Outcome::Fail);
        assert_eq!(code, if fails { 1 } else { 0 }, "{fault}: exit code");
        // The evidence names the values seen.
        assert!(!evidence(&v, expected[0].0).is_empty(), "{fault}");
    }
}

#[test]
fn only_list_and_usage() {
    let (code, v) = check(&["--only", "planes.stride,edid.max-size"]);
    assert_eq!(code, 0);
    let ids: Vec<&str> = v.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [id::PLANES_STRIDE, id::EDID_MAX_SIZE]);
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
    let dir = crate::common::cli::tmp();
    let png = dir.path().join("shot.png");
    let png = crate::common::cli::path_str(&png);
    for command in [&["check"][..], &["screenshot", "-o", png][..]] {
        let mut args = command.to_vec();
        args.extend_from_slice(&["--sim", "--sim-fault", "region-too-small"]);
        let out = run(&args);
        assert_clean_failure(&out, 2, "add --sim-plane region");
    }
    // With region planes the fault is honoured: the bounds check fails.
    let (code, v) = check(&["--sim-plane", "region", "--sim-fault", "region-too-small"]);
    assert_eq!(code, 1, "{v:#?}");
    assert!(
        not_passing(&v).contains(&(id::PLANES_BOUNDS.to_string(), Outcome::Fail)),
        "{v:#?}"
    );
}

#[test]
fn the_checker_says_whether_the_driver_has_a_request_path() {
    // The simulator, like the kernel's sample drivers, offers no request IRQ: removing such a
    // device waits until every holder has closed it, and the report says so.
    let (code, v) = check(&["--only", "irqs.request"]);
    assert_eq!(code, 0, "{v:#?}");
    assert_eq!(v.outcome(id::IRQS_REQUEST), Some(Outcome::Skip), "{v:#?}");
    let evidence = evidence(&v, id::IRQS_REQUEST);
    assert!(evidence.contains("no request path"), "{evidence}");
}
