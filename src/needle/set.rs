//! A needles directory, read as `needle.pm` `needle::init` reads it (`File::Find` over the
//! tree, every `*.json` a needle), and selection by tag (`needle::tags`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::NeedleError;
use super::file::Needle;

/// How many needles a directory may hold before [`NeedleSet::load_dir`] refuses it.
pub const DEFAULT_MAX_NEEDLES: usize = 100_000;

/// The needles of a directory tree.
#[derive(Debug, Default)]
pub struct NeedleSet {
    needles: Vec<Needle>,
    rejected: Vec<NeedleError>,
}

impl NeedleSet {
    /// Loads every `*.json` under `dir` with [`DEFAULT_MAX_NEEDLES`].
    pub fn load_dir(dir: &Path) -> Result<NeedleSet, NeedleError> {
        Self::load_dir_limited(dir, DEFAULT_MAX_NEEDLES)
    }

    /// Loads every `*.json` under `dir`, at most `limit` of them.
    ///
    /// Subdirectories are walked; symbolic links to files are followed, links to directories
    /// are not (so a link loop cannot make the walk endless; `needle.pm` follows them with
    /// `File::Find`'s loop detection). A needle that does not load is skipped, as
    /// `needle.pm` skips it with a warning, and its error kept in [`NeedleSet::rejected`].
    /// Only the PNGs' headers are read here (each picture is decoded on its first match), so
    /// thousands of needles cost little memory.
    pub fn load_dir_limited(dir: &Path, limit: usize) -> Result<NeedleSet, NeedleError> {
        let mut jsons = Vec::new();
        walk(dir, dir, limit, &mut jsons)?;
        jsons.sort();
        let mut set = NeedleSet::default();
        for json in jsons {
            match Needle::load(&json) {
                Ok(n) => set.needles.push(n),
                Err(e) => set.rejected.push(e),
            }
        }
        Ok(set)
    }

    /// A set of needles loaded one by one.
    pub fn from_needles(mut needles: Vec<Needle>) -> NeedleSet {
        needles.sort_by(|a, b| a.json_path().cmp(b.json_path()));
        NeedleSet {
            needles,
            rejected: Vec::new(),
        }
    }

    /// How many needles loaded.
    pub fn len(&self) -> usize {
        self.needles.len()
    }

    /// Whether no needle loaded.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Every needle, ordered by JSON path.
    pub fn needles(&self) -> &[Needle] {
        &self.needles
    }

    /// Why each skipped JSON was skipped.
    pub fn rejected(&self) -> &[NeedleError] {
        &self.rejected
    }

    /// The needles with at least one of `any_tags` and none of `exclude_tags`, ordered by JSON
    /// path. As in `needle::tags`, an entry of `any_tags` with spaces (`"desktop gnome"`)
    /// asks for all its words; `exclude_tags` is what distributions pass to
    /// `unregister_needle_tags` (a needle with any of them is left out).
    pub fn select(&self, any_tags: &[String], exclude_tags: &[String]) -> Vec<&Needle> {
        self.needles
            .iter()
            .filter(|n| {
                any_tags.iter().any(|want| {
                    let mut words = want.split(' ').filter(|w| !w.is_empty()).peekable();
                    words.peek().is_some() && words.all(|w| n.has_tag(w))
                }) && !exclude_tags.iter().any(|t| n.has_tag(t))
            })
            .collect()
    }

    /// Every tag of every needle.
    pub fn all_tags(&self) -> BTreeSet<&str> {
        self.needles
            .iter()
            .flat_map(|n| n.tags().iter().map(String::as_str))
            .collect()
    }
}

fn walk(root: &Path, dir: &Path, limit: usize, out: &mut Vec<PathBuf>) -> Result<(), NeedleError> {
    let io = |source| NeedleError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        // `file_type` does not follow links: a link to a directory is a link, never walked.
        let ty = entry.file_type().map_err(io)?;
        if ty.is_dir() {
            walk(root, &path, limit, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let is_file = ty.is_file()
                || (ty.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
            if is_file {
                if out.len() >= limit {
                    return Err(NeedleError::TooManyNeedles {
                        dir: root.to_path_buf(),
                        limit,
                    });
                }
                out.push(path);
            }
        }
    }
    Ok(())
}
