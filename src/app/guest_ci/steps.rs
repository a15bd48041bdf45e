//! The steps of a guest test, as `wait`, `click`, `key`, `type`, `wait-still`, `wait-change`
//! and `screenshot` take them, on the command line or one per line of a script.

use std::path::PathBuf;
use std::time::Duration;
use vfio_display::input::{Button, QCode};

/// One step, with where it was written.
#[derive(Debug, Clone)]
pub struct Step {
    /// What to do.
    pub kind: StepKind,
    /// The script's line (1-based), when the step comes from a script.
    pub line: Option<usize>,
    /// The step as written, for progress and errors.
    pub text: String,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Until a needle with one of the tags matches.
    Wait {
        /// Any of these.
        tags: Vec<String>,
        /// How long.
        timeout: Duration,
    },
    /// A wait, then a click at the matched needle's click point.
    Click {
        /// Any of these.
        tags: Vec<String>,
        /// How long to wait for the match.
        timeout: Duration,
        /// Which button.
        button: Button,
        /// Two clicks.
        double: bool,
    },
    /// Key combinations (`ctrl-alt-delete`), each pressed and released, one after another.
    Key {
        /// Each as written, with its keys in the order they are pressed.
        combos: Vec<(String, Vec<QCode>)>,
    },
    /// Text typed a key at a time.
    Type {
        /// The text.
        text: String,
        /// os-autoinst's `max_interval` (1-250): below 250, typing slows down.
        max_interval: u32,
    },
    /// Until the screen held still for `still`.
    WaitStill {
        /// How long the screen must not change.
        still: Duration,
        /// How long to try.
        timeout: Duration,
        /// PSNR (dB) below which two pictures differ.
        similarity: f64,
    },
    /// Until the screen differs from the one at the step's start.
    WaitChange {
        /// How long.
        timeout: Duration,
        /// PSNR (dB) below which two pictures differ.
        similarity: f64,
    },
    /// The picture of this moment, to a PNG.
    Screenshot {
        /// Where.
        output: PathBuf,
    },
}

impl StepKind {
    /// The step's verb, as written.
    pub fn verb(&self) -> &'static str {
        match self {
            StepKind::Wait { .. } => "wait",
            StepKind::Click { .. } => "click",
            StepKind::Key { .. } => "key",
            StepKind::Type { .. } => "type",
            StepKind::WaitStill { .. } => "wait-still",
            StepKind::WaitChange { .. } => "wait-change",
            StepKind::Screenshot { .. } => "screenshot",
        }
    }

    /// Whether the step sends keys or pointer events to the guest.
    pub fn needs_input(&self) -> bool {
        matches!(
            self,
            StepKind::Click { .. } | StepKind::Key { .. } | StepKind::Type { .. }
        )
    }

    /// Whether the step matches needles.
    pub fn needs_needles(&self) -> bool {
        matches!(self, StepKind::Wait { .. } | StepKind::Click { .. })
    }
}
