//! `check`: a conformance checker for display mdev drivers. Each check has a stable id, the rule
//! of `linux/vfio.h` it tests (the header's words), a result and the evidence (the values seen).
//!
//! The checker only uses the `DisplayDevice` trait (and, on a real device, a few raw ioctls for
//! the argsz protocol and the risky second export), so the simulator and a real mdev run the same
//! checks. Where it can play the guest (`GuestDriver`) it sets modes itself; otherwise it checks
//! what the guest shows and skips what needs a mode change.

mod catalogue;
mod device_checks;
mod document;
mod edid_checks;
pub mod id;
mod irq_checks;
mod plane_checks;
mod region_checks;

pub use catalogue::{CATALOGUE, CheckSpec, spec};
pub use document::{CheckDocument, CheckEntry, Summary};

use crate::device::DisplayDevice;
use crate::device::guest::GuestDriver;
use serde::{Deserialize, Serialize};

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The device follows the rule.
    Pass,
    /// It breaks the rule.
    Fail,
    /// Legal by the header's words but a known trap for front ends, or not enforced.
    Warn,
    /// Not applicable here, or needs something the run does not have (a driver, --allow-risky).
    Skip,
}

impl Outcome {
    /// "pass", "fail", "warn" or "skip".
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The check's stable id.
    pub id: &'static str,
    /// Where its rule is in the header.
    pub section: &'static str,
    /// The rule.
    pub rule: &'static str,
    /// The outcome.
    pub result: Outcome,
    /// What was seen, for people.
    pub evidence: String,
}

/// What a run may do.
#[derive(Debug)]
pub struct Options<'a> {
    /// Only these ids (empty: all).
    pub only: Vec<String>,
    /// Run checks that can crash buggy drivers (a second export of an open dma-buf id).
    pub allow_risky: bool,
    /// The guest driver to set modes with, if the checker can play the guest.
    pub driver: Option<&'a dyn GuestDriver>,
}

/// The results of a run, in catalogue order.
#[derive(Debug)]
pub struct Report {
    /// Every check that ran or was skipped, in catalogue order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// How many checks had `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.result == outcome).count()
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }

    /// The result of check `id`.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }
}

/// Collects results as the checks run.
pub(crate) struct Recorder<'o> {
    only: &'o [String],
    results: Vec<CheckResult>,
}

impl Recorder<'_> {
    /// Whether check `id` is still to run: asked for and not yet recorded (a check skipped
    /// up front, as on a shared device, is not run).
    pub(crate) fn wants(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|o| o == id))
            && !self.results.iter().any(|r| r.id == id)
    }

    pub(crate) fn record(
        &mut self,
        id: &'static str,
        result: Outcome,
        evidence: impl Into<String>,
    ) {
        if !self.wants(id) {
            return;
        }
        let spec = spec(id);
        self.results.push(CheckResult {
            id,
            section: spec.map_or("", |s| s.section),
            rule: spec.map_or("", |s| s.rule),
            result,
            evidence: evidence.into(),
        });
    }

    pub(crate) fn pass(&mut self, id: &'static str, evidence: impl Into<String>) {
        self.record(id, Outcome::Pass, evidence);
    }
    pub(crate) fn fail(&mut self, id: &'static str, evidence: impl Into<String>) {
        self.record(id, Outcome::Fail, evidence);
    }
    pub(crate) fn warn(&mut self, id: &'static str, evidence: impl Into<String>) {
        self.record(id, Outcome::Warn, evidence);
    }
    pub(crate) fn skip(&mut self, id: &'static str, evidence: impl Into<String>) {
        self.record(id, Outcome::Skip, evidence);
    }
}

/// Rejects ids that are not in the catalogue (so a typo in `--only` is an error, not a silent
/// empty run).
pub fn unknown_ids(ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| spec(id).is_none())
        .cloned()
        .collect()
}

/// The checks that change the device: skipped on a shared device. The plane checks that set
/// modes need a guest driver, which the CLI refuses for a shared device.
pub const SHARED_SKIPS: &[&str] = &[
    id::EDID_PROTOCOL,
    id::EDID_OVERSIZE,
    id::IRQS_EVENTFD,
    id::IRQS_LOOPBACK,
    id::IRQS_AUTOMASK,
    id::DEVICE_RESET,
    id::DMABUF_SECOND_EXPORT,
];

/// Runs the catalogue against `dev`.
pub fn run(dev: &dyn DisplayDevice, opts: &Options<'_>) -> Report {
    let mut rec = Recorder {
        only: &opts.only,
        results: Vec::new(),
    };
    if dev.shared() {
        // The guest owns the device: nothing that changes its state runs.
        for id in SHARED_SKIPS {
            rec.skip(
                id,
                "shared with the VMM that runs the guest, and this check changes the device",
            );
        }
    }
    device_checks::info(dev, &mut rec);
    region_checks::run(dev, &mut rec);
    plane_checks::run(dev, opts, &mut rec);
    region_checks::pread_matches_mmap(dev, &mut rec);
    edid_checks::run(dev, &mut rec);
    irq_checks::request(dev, &mut rec);
    if !dev.shared() {
        irq_checks::run(dev, &mut rec);
    }
    // Last: a reset undoes the mode the driver set.
    device_checks::reset(dev, &mut rec);
    // Anything the run never reached (a section that did not apply) is listed as skipped.
    for spec in CATALOGUE {
        rec.skip(
            spec.id,
            "not reached: an earlier step did not apply (see the checks above)",
        );
    }
    let mut results = rec.results;
    results.sort_by_key(|r| CATALOGUE.iter().position(|s| s.id == r.id));
    Report { results }
}
