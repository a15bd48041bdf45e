//! Guest CI: drive a guest test by its screen, as openQA's os-autoinst does. Steps wait for a
//! needle (a PNG and its areas, matched as os-autoinst's tinycv matches them), click where a
//! needle matched, press keys, type text and wait for the screen to change or to hold still.
//! Unlike os-autoinst, which samples the screen every half second, every step looks at each
//! new picture the guest shows, lossless and (by default) without the pointer, so a step ends
//! at the flip that satisfies it. A failed step leaves evidence: the last picture and every
//! candidate needle with its areas' similarities.

mod evidence;
mod keyboard;
mod prepare;
mod psnr;
mod report;
mod runner;
mod screen_waits;
mod steps;
pub mod words;

pub use keyboard::check_typeable;
pub use prepare::check;
pub use runner::{Recording, run};
pub use steps::{Step, StepKind};

use crate::app::output::apng::ApngRecorder;
use crate::app::target::Target;
use crate::app::watch::WatchOptions;
use std::path::PathBuf;
use std::time::Instant;

/// What every guest-CI command shares.
#[derive(Debug, Clone)]
pub struct CiOptions {
    /// The needles directory, walked recursively.
    pub needles: PathBuf,
    /// Tags whose needles are left out (as distributions unregister tags).
    pub exclude_tags: Vec<String>,
    /// Match against the primary plane with the cursor plane drawn in.
    pub with_cursor: bool,
    /// One JSON object per step on stdout instead of a line of text.
    pub json: bool,
    /// Where a failed step writes its evidence.
    pub evidence: PathBuf,
    /// How pictures are read.
    pub watch: WatchOptions,
    /// QEMU's QMP socket, for keys and pointer.
    pub qmp: Option<PathBuf>,
    /// Keys per second, as os-autoinst's `TYPING_LIMIT` (30 there).
    pub typing_limit: f64,
    /// Record the changed pictures of the run into this animated PNG.
    pub record: Option<PathBuf>,
    /// The device.
    pub target: Target,
}

/// A step did not get what it waited for (a needle, a change, a still screen): exit status 1,
/// as `wait`'s timeout. Its report was printed already.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StepFailed {
    /// What the user reads.
    pub message: String,
}

/// The needles, the script or a step cannot be used as given (a bad needle, no needle with a
/// tag, a key no keyboard has): exit status 2, like a usage error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BadTest {
    /// What the user reads.
    pub message: String,
}

/// The recording `--record` asks for: the APNG recorder, behind the runner's own trait so that
/// the runner needs nothing of how pictures are stored.
fn open_recording(path: &std::path::Path) -> anyhow::Result<Box<dyn Recording>> {
    Ok(Box::new(ApngRecorder::create(path)?))
}

impl Recording for ApngRecorder {
    fn push(
        &mut self,
        picture: &vfio_display::image::RgbaImage,
        at: Instant,
    ) -> anyhow::Result<()> {
        ApngRecorder::push(self, picture, at).map(|_| ())
    }

    fn finish(self: Box<Self>, end: Instant) -> anyhow::Result<String> {
        let summary = ApngRecorder::finish(*self, end)?;
        let files: Vec<String> = summary
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        Ok(format!(
            "recorded {} frames in {:.1} s ({} bytes) to {}",
            summary.frames,
            summary.duration.as_secs_f64(),
            summary.bytes,
            files.join(", ")
        ))
    }
}
