//! One measured figure (value, what it is compared with, the target it must meet) and the
//! report: an aligned table for people, JSON for scripts.

use serde::Serialize;

/// A goal from ARCHITECTURE.md, section 7, and whether the figure meets it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub goal: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured, with its size ("cpu path frame, 1080p").
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// The measured reference, as a ratio (value / reference or reference / value, as `compare`
    /// says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// What the ratio means ("x memcpy").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Spread, sample count, or why a figure could not be taken.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// How many samples the value is the median of, where a script may want to check it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
}

impl Figure {
    pub fn new(name: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Figure {
            name: name.into(),
            value,
            unit,
            ratio: None,
            compare: None,
            target: None,
            detail: String::new(),
            samples: None,
        }
    }

    pub fn ratio(mut self, ratio: f64, compare: impl Into<String>) -> Self {
        self.ratio = Some(ratio);
        self.compare = Some(compare.into());
        self
    }

    /// A goal the value must stay below.
    pub fn below(mut self, limit: f64, goal: impl Into<String>) -> Self {
        self.target = Some(Target {
            goal: goal.into(),
            met: self.value < limit,
        });
        self
    }

    /// A goal the value must not exceed.
    pub fn at_most(mut self, limit: f64, goal: impl Into<String>) -> Self {
        self.target = Some(Target {
            goal: goal.into(),
            met: self.value <= limit,
        });
        self
    }

    /// A goal the ratio must reach.
    pub fn ratio_at_least(mut self, min: f64, goal: impl Into<String>) -> Self {
        self.target = Some(Target {
            goal: goal.into(),
            met: self.ratio.is_some_and(|r| r >= min),
        });
        self
    }

    /// A goal the ratio must stay at or under.
    pub fn ratio_at_most(mut self, max: f64, goal: impl Into<String>) -> Self {
        self.target = Some(Target {
            goal: goal.into(),
            met: self.ratio.is_some_and(|r| r <= max),
        });
        self
    }

    pub fn samples(mut self, count: usize) -> Self {
        self.samples = Some(count);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// A figure that could not be measured here, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub name: String,
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub adapter: String,
    pub device: String,
    pub build: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub figures: Vec<Figure>,
    pub skipped: Vec<Skipped>,
}

/// A value with a sensible number of digits for its size.
fn format_value(value: f64, unit: &str) -> String {
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// A ratio with two significant digits below 1 (0.0013x), at most two decimals above.
fn format_ratio(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{ratio:.0}")
    } else if ratio >= 1.0 || ratio == 0.0 {
        format!("{ratio:.2}")
    } else {
        let digits = (1.0 - ratio.log10().floor()).clamp(2.0, 8.0) as usize;
        format!("{ratio:.digits$}")
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.machine;
        writeln!(f, "Device:  {}", m.device)?;
        writeln!(
            f,
            "Machine: {} ({} cores), Linux {}",
            m.cpu, m.cores, m.kernel
        )?;
        writeln!(f, "GPU:     {}", m.adapter)?;
        if m.build == "debug" {
            writeln!(
                f,
                "Build:   debug (figures are not representative: use `cargo run --release`)"
            )?;
        }
        writeln!(f)?;
        let rows: Vec<[String; 4]> = self
            .figures
            .iter()
            .map(|fig| {
                let ratio = match (&fig.ratio, &fig.compare) {
                    (Some(r), Some(c)) => format!("{}{c}", format_ratio(*r)),
                    _ => String::new(),
                };
                let target = fig.target.as_ref().map_or(String::new(), |t| {
                    format!("{} {}", t.goal, if t.met { "met" } else { "MISSED" })
                });
                [
                    fig.name.clone(),
                    format_value(fig.value, fig.unit),
                    ratio,
                    target,
                ]
            })
            .collect();
        let header = [
            "figure".to_string(),
            "value".to_string(),
            "ratio".to_string(),
            "target".to_string(),
        ];
        let mut widths = [0usize; 4];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for (row, fig) in
            std::iter::once((&header, None)).chain(rows.iter().zip(self.figures.iter().map(Some)))
        {
            let line = format!(
                "{:<w0$}  {:>w1$}  {:<w2$}  {:<w3$}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
            writeln!(f, "{}", line.trim_end())?;
            if let Some(fig) = fig
                && !fig.detail.is_empty()
            {
                writeln!(f, "    {}", fig.detail)?;
            }
        }
        for s in &self.skipped {
            writeln!(f, "{}: not measured: {}", s.name, s.why)?;
        }
        let missed = self
            .figures
            .iter()
            .filter(|f| f.target.as_ref().is_some_and(|t| !t.met))
            .count();
        let goals = self.figures.iter().filter(|f| f.target.is_some()).count();
        write!(f, "\n{} of {goals} targets met", goals - missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_judged_on_value_or_ratio() {
        assert!(
            Figure::new("a", 40.0, "us")
                .below(50.0, "< 50 us")
                .target
                .unwrap()
                .met
        );
        assert!(
            !Figure::new("a", 50.0, "us")
                .below(50.0, "< 50 us")
                .target
                .unwrap()
                .met
        );
        // At most: equal is met.
        assert!(
            Figure::new("t", 0.0, "%")
                .at_most(0.0, "<=")
                .target
                .unwrap()
                .met
        );
        assert!(
            !Figure::new("t", 2.5, "%")
                .at_most(2.0, "<=")
                .target
                .unwrap()
                .met
        );
        let fig = Figure::new("b", 2.0, "ms").ratio(0.79, "x memcpy");
        assert!(!fig.ratio_at_least(0.8, ">= 0.8x").target.unwrap().met);
        // No ratio measured: the goal is not met.
        assert!(
            !Figure::new("c", 1.0, "ms")
                .ratio_at_least(0.8, "x")
                .target
                .unwrap()
                .met
        );
    }

    #[test]
    fn values_keep_three_significant_digits() {
        assert_eq!(format_value(1234.4, "ms"), "1234 ms");
        assert_eq!(format_value(12.345, "ms"), "12.3 ms");
        assert_eq!(format_value(0.1234, "ms"), "0.12 ms");
    }

    #[test]
    fn ratios_keep_two_significant_digits_when_small() {
        assert_eq!(format_ratio(58909.47), "58909");
        assert_eq!(format_ratio(1.094), "1.09");
        assert_eq!(format_ratio(0.3012), "0.30");
        assert_eq!(format_ratio(0.0321), "0.032");
        assert_eq!(format_ratio(0.00134), "0.0013");
        assert_eq!(format_ratio(0.0), "0.00");
    }
}
