//! The `check --json` document: one type for the program that writes it and for whoever reads
//! it back (the tests, a CI that keeps the results).

use super::{Outcome, Report};
use crate::device::Backend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A run's results as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDocument {
    /// The device's name.
    pub device: String,
    /// How it was reached.
    pub backend: Backend,
    /// The guest driver the checker played, if any ("bochs DISPI driver", ...).
    pub driven_as: Option<String>,
    /// How many checks had each outcome.
    pub summary: Summary,
    /// Every check, in catalogue order.
    pub checks: Vec<CheckEntry>,
    /// Each check's outcome by id, for `jq .by_id["planes.primary"]`.
    pub by_id: BTreeMap<String, Outcome>,
}

/// The count of each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Checks the device passed.
    pub pass: usize,
    /// Checks it failed.
    pub fail: usize,
    /// Checks with a warning.
    pub warn: usize,
    /// Checks not run.
    pub skip: usize,
}

/// One check in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckEntry {
    /// The check's stable id.
    pub id: String,
    /// Where its rule is in the header.
    pub section: String,
    /// The rule.
    pub rule: String,
    /// The outcome.
    pub result: Outcome,
    /// What was seen, for people.
    pub evidence: String,
}

impl CheckDocument {
    /// The document of `report`, run on `device` reached through `backend`.
    pub fn new(device: String, backend: Backend, driven_as: Option<&str>, report: &Report) -> Self {
        CheckDocument {
            device,
            backend,
            driven_as: driven_as.map(str::to_string),
            summary: Summary {
                pass: report.count(Outcome::Pass),
                fail: report.count(Outcome::Fail),
                warn: report.count(Outcome::Warn),
                skip: report.count(Outcome::Skip),
            },
            checks: report
                .results
                .iter()
                .map(|r| CheckEntry {
                    id: r.id.to_string(),
                    section: r.section.to_string(),
                    rule: r.rule.to_string(),
                    result: r.result,
                    evidence: r.evidence.clone(),
                })
                .collect(),
            by_id: report
                .results
                .iter()
                .map(|r| (r.id.to_string(), r.result))
                .collect(),
        }
    }

    /// The outcome of check `id`, None when it was not in the run.
    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        self.by_id.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::CheckResult;

    #[test]
    fn the_document_reads_back_as_written() {
        let report = Report {
            results: vec![
                CheckResult {
                    id: "device.info",
                    section: "VFIO_DEVICE_GET_INFO",
                    rule: "a rule",
                    result: Outcome::Pass,
                    evidence: "3 regions".into(),
                },
                CheckResult {
                    id: "irqs.automask",
                    section: "VFIO_DEVICE_SET_IRQS",
                    rule: "another",
                    result: Outcome::Fail,
                    evidence: "fired twice".into(),
                },
            ],
        };
        let doc = CheckDocument::new(
            "sim".into(),
            Backend::Sim,
            Some("bochs DISPI driver"),
            &report,
        );
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let back: CheckDocument = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.outcome("irqs.automask"), Some(Outcome::Fail));
        assert_eq!(back.outcome("planes.primary"), None);
        assert_eq!(
            back.summary,
            Summary {
                pass: 1,
                fail: 1,
                warn: 0,
                skip: 0
            }
        );
        // The shape scripts read with jq: outcomes as lower-case words.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["by_id"]["device.info"], "pass");
        assert_eq!(value["checks"][1]["result"], "fail");
        assert_eq!(value["backend"]["kind"], "sim");
    }
}
