//! What a guest test checks before it touches the device: its needles load and every tag it
//! waits for has a usable one, its evidence has a directory, and a step that sends input has a
//! channel for it.

use super::steps::{Step, StepKind};
use super::{BadTest, CiOptions};
use anyhow::Result;
use vfio_display::frame::session::error_chain;
use vfio_display::input::InputSink;
use vfio_display::needle::{AreaKind, Needle, NeedleSet};

/// How many skipped needles are named one by one; the rest are counted.
const SKIPPED_SHOWN: usize = 10;

pub(super) fn load_needles(opts: &CiOptions, steps: &[Step]) -> Result<Option<NeedleSet>> {
    if !steps.iter().any(|s| s.kind.needs_needles()) {
        return Ok(None);
    }
    let set = NeedleSet::load_dir(&opts.needles).map_err(|err| BadTest {
        message: format!("needles: {}", error_chain(&err)),
    })?;
    // A needle that cannot be used is skipped, as os-autoinst skips it, but never silently;
    // nor is one with an ocr area, which this program cannot read (os-autoinst runs tesseract).
    let mut skipped: Vec<String> = set.rejected().iter().map(|e| error_chain(e)).collect();
    skipped.extend(set.needles().iter().filter(|n| !usable(n)).map(|n| {
        format!(
            "{}: an ocr area, which this program cannot read",
            n.json_path().display()
        )
    }));
    for why in skipped.iter().take(SKIPPED_SHOWN) {
        errln!("vfio-display: warning: needle skipped: {why}");
    }
    if skipped.len() > SKIPPED_SHOWN {
        errln!(
            "vfio-display: warning: {} more needles skipped",
            skipped.len() - SKIPPED_SHOWN
        );
    }
    for step in steps {
        let (StepKind::Wait { tags, .. } | StepKind::Click { tags, .. }) = &step.kind else {
            continue;
        };
        if !select(&set, tags, &opts.exclude_tags).is_empty() {
            continue;
        }
        let why = if !select(&set, tags, &[]).is_empty() {
            format!(
                "every needle with it has a tag --exclude-tag leaves out ({})",
                opts.exclude_tags.join(", ")
            )
        } else if set.select(tags, &[]).is_empty() {
            format!(
                "{} needles there; their tags: {}",
                set.len(),
                known_tags(&set)
            )
        } else {
            "every needle with it was skipped (see the warnings)".to_string()
        };
        let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
        return Err(BadTest {
            message: format!(
                "{}: no usable needle in {} has the tag{} {}: {why}",
                where_(step),
                opts.needles.display(),
                if tags.len() == 1 { "" } else { "s" },
                tags.join(", "),
            ),
        }
        .into());
    }
    Ok(Some(set))
}

/// Whether a needle can be matched here: not one with an ocr area.
fn usable(needle: &Needle) -> bool {
    !needle.areas().iter().any(|a| a.kind == AreaKind::Ocr)
}

/// The usable needles with one of `tags` and none of `exclude`.
pub(super) fn select<'n>(
    set: &'n NeedleSet,
    tags: &[String],
    exclude: &[String],
) -> Vec<&'n Needle> {
    set.select(tags, exclude)
        .into_iter()
        .filter(|n| usable(n))
        .collect()
}

fn known_tags(set: &NeedleSet) -> String {
    let tags: Vec<&str> = set.all_tags().into_iter().take(20).collect();
    if tags.is_empty() {
        "none".into()
    } else {
        tags.join(" ")
    }
}

pub(super) fn where_(step: &Step) -> String {
    match step.line {
        Some(line) => format!("line {line} ({})", step.text),
        None => step.text.clone(),
    }
}

/// Checks what can be checked without the device: the needles load and every tag has one,
/// and input has a channel where a step needs it.
pub fn check(opts: &CiOptions, steps: &[Step]) -> Result<()> {
    load_needles(opts, steps)?;
    check_evidence_dir(opts, steps)?;
    // The input channel is the run's (run and attach give one): not needed to check a script.
    Ok(())
}

/// A wait's evidence must have a directory to land in: refused before the wait, not after it.
pub(super) fn check_evidence_dir(opts: &CiOptions, steps: &[Step]) -> Result<()> {
    if !steps.iter().any(|s| s.kind.needs_needles()) {
        return Ok(());
    }
    match std::fs::metadata(&opts.evidence) {
        Ok(meta) if !meta.is_dir() => Err(BadTest {
            message: format!("--evidence {}: not a directory", opts.evidence.display()),
        }
        .into()),
        _ => Ok(()),
    }
}

pub(super) fn open_input(opts: &CiOptions, steps: &[Step]) -> Result<Option<Box<dyn InputSink>>> {
    Ok(match input_channel(opts, steps)? {
        Some(path) => Some(Box::new(crate::app::vmm::qmp_input::QmpInput::connect(
            path,
        )?)),
        None => None,
    })
}

/// The QMP socket, where a step needs input.
fn input_channel<'o>(opts: &'o CiOptions, steps: &[Step]) -> Result<Option<&'o std::path::Path>> {
    let Some(first) = steps.iter().find(|s| s.kind.needs_input()) else {
        return Ok(None);
    };
    match &opts.qmp {
        Some(path) => Ok(Some(path)),
        None => Err(BadTest {
            message: format!(
                "{} sends keys or pointer to the guest, which needs its VMM's input channel: \
                 --qmp SOCKET, or run/attach --qmp ({})",
                where_(first),
                crate::app::guest_input::no_input_because(&opts.target)
            ),
        }
        .into()),
    }
}
