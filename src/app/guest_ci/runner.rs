//! Runs a guest test's steps on one device: the pictures come from a `Watcher`, keys and
//! pointer go through the VMM's input channel, and each step's report is printed as it ends.

use super::evidence::{self, Failure};
use super::keyboard;
use super::prepare::{check_evidence_dir, load_needles, open_input, select, where_};
use super::report::{StepReport, describe_match};
use super::steps::{Step, StepKind};
use super::{BadTest, CiOptions, StepFailed};
use crate::app::output::{OutputPath, WriteMode, encode_png};
use crate::app::signals::{self, Interrupts};
use crate::app::watch::{Shot, Watcher};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vfio_display::frame::session::error_chain;
use vfio_display::geometry::Size;
use vfio_display::image::RgbaImage;
use vfio_display::input::{Button, InputSink};
use vfio_display::needle::{Candidate, NeedleSet, search_while};
use vfio_display::render::LazyGpu;

/// The longest a wait goes without looking at signals (Ctrl-C, the VM's end).
const SIGNAL_SLICE: Duration = Duration::from_millis(200);

/// Where the run's pictures are recorded, if anywhere.
pub trait Recording {
    /// Adds a picture seen at `at` (nothing when it did not change).
    fn push(&mut self, picture: &RgbaImage, at: Instant) -> Result<()>;
    /// Ends the recording at `end`; returns a line for the user.
    fn finish(self: Box<Self>, end: Instant) -> Result<String>;
}

/// Runs `steps` on the device `opts` names. Everything that can be checked before the device
/// opens is: the needles load, every tag has a needle, every key exists, input has a channel.
pub fn run(opts: &CiOptions, steps: &[Step]) -> Result<()> {
    let needles = load_needles(opts, steps)?;
    check_evidence_dir(opts, steps)?;
    let mut input = open_input(opts, steps)?;
    let _interrupts = Interrupts::install()?;
    let dev = opts.target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    let gpu = LazyGpu::new();
    let recording = match &opts.record {
        Some(path) => Some(super::open_recording(path)?),
        None => None,
    };
    std::thread::scope(|scope| -> Result<()> {
        let watcher = Watcher::start(scope, dev.as_ref(), &gpu, &opts.watch)?;
        let mut runner = Runner {
            watcher,
            last: None,
            opts,
            needles: needles.as_ref(),
            recording,
            before_input: None,
        };
        let result = runner.run_all(steps, &mut input);
        let finished = runner.finish_recording();
        result.and(finished)
    })
}

pub(super) struct Runner<'a, 'd> {
    watcher: Watcher<'d>,
    /// The newest picture seen.
    last: Option<Shot>,
    pub(super) opts: &'a CiOptions,
    needles: Option<&'a NeedleSet>,
    recording: Option<Box<dyn Recording>>,
    /// The picture before the last step that sent input, while the step after it runs: what
    /// `wait-change` compares with, as os-autoinst's `wait_screen_change { ... }` takes its
    /// reference before the action.
    pub(super) before_input: Option<Arc<RgbaImage>>,
}

/// How a step ended, before it becomes a report.
pub(super) struct Outcome {
    pub(super) ok: bool,
    pub(super) detail: String,
    pub(super) matched: Option<Candidate>,
    pub(super) click: Option<[u32; 2]>,
    pub(super) psnr: Option<f64>,
    pub(super) evidence: Vec<std::path::PathBuf>,
}

impl Outcome {
    pub(super) fn ok(detail: impl Into<String>) -> Self {
        Outcome {
            ok: true,
            detail: detail.into(),
            matched: None,
            click: None,
            psnr: None,
            evidence: Vec::new(),
        }
    }

    pub(super) fn failed(detail: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            ..Outcome::ok(detail)
        }
    }
}

impl Runner<'_, '_> {
    fn run_all(&mut self, steps: &[Step], input: &mut Option<Box<dyn InputSink>>) -> Result<()> {
        let mut previous_sent_input = false;
        for (index, step) in steps.iter().enumerate() {
            let started = Instant::now();
            if step.kind.needs_input() {
                // The screen as the input finds it: the latest picture, without waiting.
                self.next_shot(Instant::now())?;
                self.before_input = self
                    .last
                    .as_ref()
                    .map(|shot| shot.picture(self.opts.with_cursor));
            } else if !previous_sent_input {
                self.before_input = None;
            }
            let outcome = self
                .run_step(index + 1, step, input)
                .with_context(|| format!("step {} ({})", index + 1, where_(step)))?;
            previous_sent_input = step.kind.needs_input();
            let report = StepReport {
                step: index + 1,
                of: steps.len(),
                line: step.line,
                verb: step.kind.verb(),
                text: step.text.clone(),
                result: if outcome.ok { "ok" } else { "fail" },
                seconds: started.elapsed().as_secs_f64(),
                detail: outcome.detail,
                matched: outcome.matched,
                click: outcome.click,
                psnr: outcome.psnr,
                evidence: outcome.evidence,
            };
            report.print(self.opts.json)?;
            if !report.ok() {
                return Err(StepFailed {
                    message: format!(
                        "step {} of {} failed ({})",
                        report.step,
                        report.of,
                        where_(step)
                    ),
                }
                .into());
            }
        }
        Ok(())
    }

    fn run_step(
        &mut self,
        index: usize,
        step: &Step,
        input: &mut Option<Box<dyn InputSink>>,
    ) -> Result<Outcome> {
        match &step.kind {
            StepKind::Wait { tags, timeout } => {
                self.wait(index, step, tags, *timeout).map(|(o, _)| o)
            }
            StepKind::Click {
                tags,
                timeout,
                button,
                double,
            } => self.click(index, step, tags, *timeout, *button, *double, input),
            StepKind::Key { combos } => {
                let time = Duration::from_secs_f64(1.0 / self.opts.typing_limit.max(0.01));
                let sink = take_sink(input)?;
                let mut pressed = Vec::new();
                for (combo, keys) in combos {
                    keyboard::press(sink, keys, time, &mut |d| self.idle(d))?;
                    let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
                    pressed.push(format!("{combo} ({})", names.join("+")));
                }
                Ok(Outcome::ok(format!("pressed {}", pressed.join(", "))))
            }
            StepKind::Type { text, max_interval } => {
                let per_key = keyboard::seconds_per_key(self.opts.typing_limit, *max_interval);
                let sink = take_sink(input)?;
                keyboard::type_text(sink, text, per_key, &mut |d| self.idle(d))?;
                Ok(Outcome::ok(format!(
                    "typed {} characters",
                    text.chars().count()
                )))
            }
            StepKind::WaitStill {
                still,
                timeout,
                similarity,
            } => self.wait_still(*still, *timeout, *similarity),
            StepKind::WaitChange {
                timeout,
                similarity,
            } => self.wait_change(*timeout, *similarity),
            StepKind::Screenshot { output } => {
                let deadline = Instant::now() + Duration::from_secs(10);
                let Some(shot) = self.now_or_first(deadline)? else {
                    return Ok(Outcome::failed("the display stayed off for 10 s"));
                };
                let picture = shot.picture(self.opts.with_cursor);
                let out = OutputPath::resolve(output)?;
                out.write(&encode_png(&picture, false)?, WriteMode::Replace)?;
                Ok(Outcome::ok(format!(
                    "{}x{} to {}",
                    picture.width,
                    picture.height,
                    out.display()
                )))
            }
        }
    }

    /// The next new picture before `deadline`, recorded; `None` at the deadline.
    pub(super) fn next_shot(&mut self, deadline: Instant) -> Result<Option<Shot>> {
        loop {
            signals::check()?;
            let slice = deadline.min(Instant::now() + SIGNAL_SLICE);
            if let Some(shot) = self.watcher.next(slice)? {
                if let Some(recording) = &mut self.recording {
                    recording.push(&shot.picture(self.opts.with_cursor), shot.at)?;
                }
                self.last = Some(shot.clone());
                return Ok(Some(shot));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// The picture of this moment: a new one if the guest changed it, else the last one; or
    /// the first to come before `deadline` while the display is off.
    pub(super) fn now_or_first(&mut self, deadline: Instant) -> Result<Option<Shot>> {
        if let Some(shot) = self.next_shot(Instant::now())? {
            return Ok(Some(shot));
        }
        if let Some(last) = &self.last {
            return Ok(Some(last.clone()));
        }
        self.next_shot(deadline)
    }

    /// Waits `time`, taking pictures meanwhile.
    fn idle(&mut self, time: Duration) -> Result<()> {
        let until = Instant::now() + time;
        while self.next_shot(until)?.is_some() {}
        Ok(())
    }

    pub(super) fn display_state(&self) -> &'static str {
        self.watcher.status().name()
    }

    /// Waits for a needle with one of `tags`; the outcome and, on a match, the picture it
    /// matched.
    fn wait(
        &mut self,
        index: usize,
        step: &Step,
        tags: &[String],
        timeout: Duration,
    ) -> Result<(Outcome, Option<Arc<RgbaImage>>)> {
        let needles = self
            .needles
            .map(|set| select(set, tags, &self.opts.exclude_tags))
            .unwrap_or_default();
        let deadline = Instant::now() + timeout;
        let mut shot = self.now_or_first(deadline)?;
        let mut last: Option<(Arc<RgbaImage>, Vec<Candidate>)> = None;
        loop {
            if let Some(current) = shot.take() {
                let picture = current.picture(self.opts.with_cursor);
                // Thousands of needles must not hold the step past its timeout or a signal.
                let mut keep_going = || Instant::now() < deadline && signals::check().is_ok();
                let found =
                    search_while(&picture, &needles, 0.0, 0.0, &mut keep_going).map_err(|err| {
                        BadTest {
                            message: format!("needles: {}", error_chain(&err)),
                        }
                    })?;
                signals::check()?;
                let Some(found) = found else {
                    break;
                };
                if let Some(best) = found.best {
                    let detail = describe_match(&best);
                    let outcome = Outcome {
                        matched: Some(best),
                        ..Outcome::ok(detail)
                    };
                    return Ok((outcome, Some(picture)));
                }
                last = Some((picture, found.candidates));
            }
            if Instant::now() >= deadline {
                break;
            }
            shot = self.next_shot(deadline)?;
        }
        let (picture, candidates) = match &last {
            Some((picture, candidates)) => (Some(&**picture), candidates.as_slice()),
            None => (None, &[][..]),
        };
        let written = evidence::write(
            &self.opts.evidence,
            index,
            &Failure {
                step: &step.text,
                tags,
                timeout,
                picture,
                display: self.display_state(),
                candidates,
            },
        );
        // The step's report is printed whatever happens to its evidence.
        let (files, unwritten) = match written {
            Ok(files) => (files, String::new()),
            Err(err) => (Vec::new(), format!("; evidence not written: {err:#}")),
        };
        let detail = match candidates.first() {
            Some(best) => format!(
                "no needle matched in {:.1} s; closest: {}",
                timeout.as_secs_f64(),
                describe_candidate(best)
            ),
            None if picture.is_none() => format!(
                "the display stayed {} for {:.1} s",
                self.display_state(),
                timeout.as_secs_f64()
            ),
            None => format!("no needle matched in {:.1} s", timeout.as_secs_f64()),
        } + &unwritten;
        Ok((
            Outcome {
                evidence: files,
                ..Outcome::failed(detail)
            },
            None,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn click(
        &mut self,
        index: usize,
        step: &Step,
        tags: &[String],
        timeout: Duration,
        button: Button,
        double: bool,
        input: &mut Option<Box<dyn InputSink>>,
    ) -> Result<Outcome> {
        let (mut outcome, picture) = self.wait(index, step, tags, timeout)?;
        let (Some(picture), Some(matched)) = (picture, &outcome.matched) else {
            return Ok(outcome);
        };
        let size = Size::new(picture.width, picture.height);
        let Some(at) = matched.click_position(size) else {
            return Ok(Outcome::failed(format!(
                "needle {} has no area to click",
                matched.needle
            )));
        };
        let sink = take_sink(input)?;
        keyboard::click(sink, at, size, button, double, &mut |d| self.idle(d))?;
        outcome.click = Some([at.x, at.y]);
        outcome.detail = format!(
            "{}; clicked {} at {},{}",
            outcome.detail,
            button.name(),
            at.x,
            at.y
        );
        Ok(outcome)
    }

    fn finish_recording(&mut self) -> Result<()> {
        if let Some(recording) = self.recording.take() {
            let line = recording.finish(Instant::now())?;
            errln!("vfio-display: {line}");
        }
        Ok(())
    }
}

fn take_sink<'a>(
    input: &'a mut Option<Box<dyn InputSink>>,
) -> Result<&'a mut (dyn InputSink + 'static)> {
    input
        .as_deref_mut()
        .context("no input channel (this is a bug: it is opened before the steps run)")
}

fn describe_candidate(candidate: &Candidate) -> String {
    let areas: Vec<String> = candidate
        .area
        .iter()
        .map(|a| format!("{:.3} {} at {},{}", a.similarity, a.result, a.x, a.y))
        .collect();
    format!("{} ({})", candidate.needle, areas.join("; "))
}
