//! `record`: the guest's screen to a lossless animated PNG, every changed picture with the time
//! it was shown, until a duration, a number of frames, or SIGINT/SIGTERM (the file is then
//! finished properly, and the process ends by the signal as every command does).

use crate::app::output::apng::{ApngRecorder, RecordSummary};
use crate::app::screenshot::NoPlane;
use crate::app::signals::{self, Interrupts};
use crate::app::target::Target;
use crate::app::watch::{WatchOptions, Watcher};
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::frame::Status;
use vfio_display::render::LazyGpu;

/// How often the loop looks for a signal while the guest shows nothing new.
const LOOK_FOR_SIGNALS: Duration = Duration::from_millis(50);

/// When a recording ends, besides a signal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// How long, from the first picture.
    pub duration: Option<Duration>,
    /// How many frames (changed pictures).
    pub frames: Option<u64>,
}

/// What to record, where to, and how.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The APNG file.
    pub output: PathBuf,
    /// When to stop.
    pub limits: Limits,
    /// Draw the cursor plane into the pictures.
    pub cursor: bool,
    /// How pictures are read.
    pub watch: WatchOptions,
    /// The device.
    pub target: Target,
}

/// A finished recording.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// What the files hold.
    pub summary: RecordSummary,
    /// Whether a signal (or the VM's end) stopped it.
    pub stopped: bool,
}

pub fn run(opts: &RecordOptions) -> Result<()> {
    // The file first: a bad path fails before the device is opened.
    let recorder = ApngRecorder::create(&opts.output)?;
    let _interrupts = Interrupts::install()?;
    let dev = opts.target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} recording: {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let recorded = record(
        dev.as_ref(),
        recorder,
        opts.limits,
        opts.cursor,
        &opts.watch,
        |frames, bytes, elapsed| {
            bar.set_message(format!(
                "{frames} frames, {}, {:.1} s",
                indicatif::HumanBytes(bytes),
                elapsed.as_secs_f64()
            ));
            bar.tick();
        },
    );
    bar.finish_and_clear();
    let recorded = recorded?;
    let s = &recorded.summary;
    if s.files.is_empty() {
        errln!("vfio-display: {}: nothing recorded", signals::stop_cause());
        signals::check()?;
        return Ok(());
    }
    outln!(
        "recorded {}: {} frame{}, {} bytes, {:.3} s",
        shown(s),
        s.frames,
        if s.frames == 1 { "" } else { "s" },
        s.bytes,
        s.duration.as_secs_f64()
    );
    if recorded.stopped {
        errln!(
            "vfio-display: {}: the recording ended there",
            signals::stop_cause()
        );
        signals::check()?;
    }
    Ok(())
}

/// The files of a recording, for a message.
fn shown(s: &RecordSummary) -> String {
    let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
    files.join(", ")
}

/// Records `dev` into `recorder` until `limits` or a signal; `progress` hears the frames,
/// bytes and time so far after each frame and while the guest is still.
pub fn record(
    dev: &dyn DisplayDevice,
    mut recorder: ApngRecorder,
    limits: Limits,
    cursor: bool,
    watch: &WatchOptions,
    mut progress: impl FnMut(u64, u64, Duration),
) -> Result<Recorded> {
    let gpu = LazyGpu::new();
    std::thread::scope(|scope| -> Result<Recorded> {
        let mut watcher = Watcher::start(scope, dev, &gpu, watch)?;
        let began = Instant::now();
        let mut first: Option<Instant> = None;
        let mut frames = 0u64;
        let (end, stopped) = loop {
            if signals::received().is_some() {
                break (Instant::now(), true);
            }
            // A lost device shows nothing more: the recording ends there, as an error.
            if let Status::Lost { cause, .. } = watcher.status() {
                let cause = cause.clone();
                drop(watcher);
                let kept = if frames > 0 {
                    let s = recorder.finish(Instant::now())?;
                    format!("; what was recorded until then is in {}", shown(&s))
                } else {
                    String::new()
                };
                bail!("the device was lost ({cause}){kept}");
            }
            let deadline = limits.duration.map(|d| first.unwrap_or(began) + d);
            let now = Instant::now();
            if let Some(deadline) = deadline
                && now >= deadline
            {
                break (deadline, false);
            }
            let wake = deadline.map_or(now + LOOK_FOR_SIGNALS, |d| d.min(now + LOOK_FOR_SIGNALS));
            let Some(shot) = watcher.next(wake)? else {
                if let Some(start) = first {
                    progress(frames, recorder.bytes(), start.elapsed());
                }
                continue;
            };
            // A picture seen after the deadline belongs to after the recording.
            if deadline.is_some_and(|d| shot.at > d) {
                continue;
            }
            if recorder.push(&shot.picture(cursor), shot.at)? {
                frames += 1;
                let start = *first.get_or_insert(shot.at);
                progress(frames, recorder.bytes(), shot.at - start);
                if limits.frames.is_some_and(|n| frames >= n) {
                    break (Instant::now(), false);
                }
            }
        };
        drop(watcher);
        if frames == 0 && !stopped {
            return Err(NoPlane {
                message: format!(
                    "no plane: the primary plane of {} stayed off for the whole recording; \
                     nothing was written",
                    dev.name()
                ),
            }
            .into());
        }
        if frames == 0 {
            // Stopped before any picture: there is nothing to keep, and that is no error.
            return Ok(Recorded {
                summary: RecordSummary::default(),
                stopped,
            });
        }
        let summary = recorder.finish(end)?;
        Ok(Recorded { summary, stopped })
    })
}
