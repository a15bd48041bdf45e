//! What a failed wait leaves behind: the last picture it looked at and a JSON of every
//! candidate needle with each area's position, size, similarity and result, the shape
//! os-autoinst reports a needle's candidates in. Files get new names (a time stamp, then
//! numbered), never replacing one.

use crate::app::output::{encode_png, utc_stamp, write_new};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use vfio_display::image::RgbaImage;
use vfio_display::needle::Candidate;

/// The JSON beside the picture.
#[derive(Debug, Serialize)]
struct Evidence<'a> {
    /// The step as written.
    step: &'a str,
    /// The tags waited for.
    tags: &'a [String],
    /// How long it waited.
    timeout_seconds: f64,
    /// The picture file (its name, beside this file), or none while the display was off.
    frame: Option<String>,
    /// The display's state at the end.
    display: &'a str,
    /// The needles that were tried on the last picture, best first.
    candidates: &'a [Candidate],
}

/// What a failed wait saw.
#[derive(Debug)]
pub struct Failure<'a> {
    /// The step as written.
    pub step: &'a str,
    /// Its tags.
    pub tags: &'a [String],
    /// How long it waited.
    pub timeout: std::time::Duration,
    /// The last picture, if the display was ever on.
    pub picture: Option<&'a RgbaImage>,
    /// The display's state.
    pub display: &'a str,
    /// The candidates on the last picture.
    pub candidates: &'a [Candidate],
}

/// Writes the evidence of `failure` into `dir` (created if missing); returns the files.
pub fn write(dir: &Path, index: usize, failure: &Failure<'_>) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tag = failure
        .tags
        .first()
        .map(|t| sanitize(t))
        .unwrap_or_default();
    let stem = format!(
        "{}-step{index}-{tag}",
        utc_stamp(std::time::SystemTime::now())
    );
    let mut files = Vec::new();
    let frame = match failure.picture {
        Some(picture) => {
            let path = write_new(
                &dir.join(format!("{stem}.png")),
                &encode_png(picture, false)?,
                100,
            )?;
            files.push(path.clone());
            path.file_name().map(|n| n.to_string_lossy().into_owned())
        }
        None => None,
    };
    let evidence = Evidence {
        step: failure.step,
        tags: failure.tags,
        timeout_seconds: failure.timeout.as_secs_f64(),
        frame,
        display: failure.display,
        candidates: failure.candidates,
    };
    let mut json = serde_json::to_vec_pretty(&evidence)?;
    json.push(b'\n');
    files.push(write_new(&dir.join(format!("{stem}.json")), &json, 100)?);
    Ok(files)
}

/// A tag as a file name's part: letters, digits, '-', '_' and '.', the rest '_'.
fn sanitize(tag: &str) -> String {
    tag.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_safe_file_names() {
        assert_eq!(sanitize("login-prompt"), "login-prompt");
        assert_eq!(sanitize("../etc/passwd"), ".._etc_passwd");
        assert_eq!(sanitize("a b"), "a_b");
    }
}
