//! What each step did, for people (one line) and machines (one JSON object per line).

use serde::Serialize;
use std::path::PathBuf;
use vfio_display::needle::Candidate;

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    /// Steps in all.
    pub of: usize,
    /// The script's line, when there is a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The step's verb.
    pub verb: &'static str,
    /// The step as written.
    pub text: String,
    /// "ok" or "fail".
    pub result: &'static str,
    /// How long the step took.
    pub seconds: f64,
    /// One line on what happened.
    pub detail: String,
    /// The needle that matched (wait, click).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<Candidate>,
    /// Where the click went, in the screen's pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click: Option<[u32; 2]>,
    /// How alike the last two pictures compared were (wait-still, wait-change), in dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psnr: Option<f64>,
    /// The files a failed step left.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<PathBuf>,
}

impl StepReport {
    /// Whether the step got what it waited for.
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }

    /// The line a person reads.
    pub fn line_text(&self) -> String {
        let mut line = format!(
            "[{}/{}] {}: {} in {:.2} s: {}",
            self.step, self.of, self.text, self.result, self.seconds, self.detail
        );
        if !self.evidence.is_empty() {
            let files: Vec<String> = self
                .evidence
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            line.push_str(&format!("; evidence: {}", files.join(", ")));
        }
        line
    }

    /// Prints the report: a line, or with `json` one JSON object.
    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            outln!("{}", serde_json::to_string(self)?);
        } else {
            outln!("{}", self.line_text());
        }
        Ok(())
    }
}

/// How a matched candidate reads in a line: its name, its areas' lowest similarity and where
/// the first area was found.
pub fn describe_match(candidate: &Candidate) -> String {
    let lowest = candidate
        .area
        .iter()
        .map(|a| a.similarity)
        .fold(f64::INFINITY, f64::min);
    match candidate.area.first() {
        Some(first) => format!(
            "needle {} (similarity {:.3}, at {},{})",
            candidate.needle, lowest, first.x, first.y
        ),
        None => format!("needle {}", candidate.needle),
    }
}
