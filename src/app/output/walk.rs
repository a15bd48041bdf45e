//! Finds where an output path leads, one component at a time, following symbolic links here
//! rather than in the kernel, so that every link on the way (a directory component, a link to a
//! link, the last component) passes the same ownership rule: a link is followed only when it
//! belongs to the user running the tool or to the owner of the directory that holds it.
//!
//! Each component is opened with `O_PATH|O_NOFOLLOW` beneath the directory reached so far and
//! examined through that descriptor (`fstat`, `readlinkat` on the link itself), so nothing can
//! be swapped between the look and the step. The kernel never follows a link for us, which makes
//! the result the same whatever `fs.protected_symlinks` is set to. The walk ends holding the
//! directory the file lands in, and the writer creates and renames beneath that descriptor.

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The most links one path may lead through, the kernel's own bound (`MAXSYMLINKS`).
pub(super) const MAX_LINKS: usize = 40;

/// Where a walk ended.
#[derive(Debug)]
pub(super) struct Walked {
    /// The directory that holds, or will hold, the file: reached through checked links only.
    pub dir: OwnedFd,
    /// That directory's path with every link replaced by where it leads, for messages.
    pub dir_path: PathBuf,
    /// The file's name inside `dir`: never empty, `.`, `..` or a link.
    pub name: OsString,
    pub found: Found,
}

/// What is at `dir/name`.
#[derive(Debug)]
pub(super) enum Found {
    /// Nothing yet: the file is new.
    Missing,
    /// A file of this kind (never a symbolic link: links were followed).
    Present(FileStat),
    /// A link of the process file system (`/proc/self/fd/N`, where `/dev/stderr` leads): it
    /// names an open file of a process, not a path, so it is opened where the user named it.
    ProcLink,
}

/// Walks `path` from the root or the working directory, following each link only after the
/// ownership rule allowed it.
pub(super) fn walk(path: &Path) -> Result<Walked> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        bail!("an empty path names no file");
    }
    let mut pending = components(bytes);
    let (mut dir, mut dir_path) = start(bytes)?;
    let mut links = 0;
    // Whether the name now last came from a link that stood last: a link to nothing is
    // refused rather than turned into a new file at a place the user never named.
    let mut last_came_from_link = false;
    while let Some(name) = pending.pop_front() {
        let last = pending.is_empty();
        if name == "." || name == ".." {
            if name == ".." {
                dir = open_dir(&dir, OsStr::new(".."), &dir_path)?;
                dir_path = parent_of(&dir_path);
            }
            if last {
                bail!("it is a directory; name a file inside it");
            }
            continue;
        }
        let here = dir_path.join(&name);
        let fd = match openat(
            &dir,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if last && last_came_from_link => bail!(
                "it is a symbolic link to a missing file ({}); remove the link or name the \
                 file itself",
                here.display()
            ),
            Err(Errno::ENOENT) if last => {
                return Ok(Walked {
                    dir,
                    dir_path,
                    name,
                    found: Found::Missing,
                });
            }
            Err(Errno::ENOENT) => bail!("directory {} is missing", here.display()),
            Err(errno) => {
                return Err(errno).with_context(|| format!("cannot open {}", here.display()));
            }
        };
        let stat = fstat(&fd).with_context(|| format!("cannot examine {}", here.display()))?;
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            check_link_owner(&dir, &here, &stat)?;
            if last && on_procfs(&dir) {
                return Ok(Walked {
                    dir,
                    dir_path,
                    name,
                    found: Found::ProcLink,
                });
            }
            if let Some(root) = follow_link(&fd, &here, &mut links, &mut pending)? {
                (dir, dir_path) = root;
            }
            last_came_from_link = last;
        } else if last {
            return Ok(Walked {
                dir,
                dir_path,
                name,
                found: Found::Present(stat),
            });
        } else if kind == SFlag::S_IFDIR {
            dir = fd;
            dir_path = here;
        } else {
            bail!("{} is not a directory", here.display());
        }
    }
    // `components` never returns an empty list, and every pass either returns, bails or
    // leaves a name behind it.
    bail!("the path names no file")
}

/// Follows the link `fd` (at `here`, its owner already checked): counts it against
/// `MAX_LINKS` and puts its target's names in front of the `pending` ones. Returns the root
/// (or working directory) to restart from when the target is absolute.
fn follow_link(
    fd: &OwnedFd,
    here: &Path,
    links: &mut usize,
    pending: &mut VecDeque<OsString>,
) -> Result<Option<(OwnedFd, PathBuf)>> {
    *links += 1;
    if *links > MAX_LINKS {
        bail!(
            "it leads through more than {MAX_LINKS} symbolic links (a loop?); the last was {}",
            here.display()
        );
    }
    // Read through the descriptor of the link just checked, not by name again.
    let target = readlinkat(fd, "")
        .with_context(|| format!("cannot read the symbolic link {}", here.display()))?;
    let target = target.as_bytes();
    if target.is_empty() {
        bail!("{} is an empty symbolic link", here.display());
    }
    let restart = if target.starts_with(b"/") {
        Some(start(target)?)
    } else {
        None
    };
    for step in components(target).into_iter().rev() {
        pending.push_front(step);
    }
    Ok(restart)
}

/// The names in a path, `.` and empty ones left out, except that a path ending in `/`, `.` or
/// `..` ends in `.` (it names a directory, which a walk then refuses as a file to write).
fn components(bytes: &[u8]) -> VecDeque<OsString> {
    let mut names: VecDeque<OsString> = bytes
        .split(|&b| b == b'/')
        .filter(|name| !name.is_empty() && *name != b".")
        .map(|name| OsStr::from_bytes(name).to_os_string())
        .collect();
    let names_a_directory = bytes.ends_with(b"/")
        || bytes.ends_with(b"/.")
        || bytes == b"."
        || names.back().is_some_and(|name| name == "..");
    if names_a_directory || names.is_empty() {
        names.push_back(OsString::from("."));
    }
    names
}

/// Where a path starts: the root for an absolute one, the working directory otherwise.
fn start(bytes: &[u8]) -> Result<(OwnedFd, PathBuf)> {
    let (from, shown) = if bytes.starts_with(b"/") {
        ("/", PathBuf::from("/"))
    } else {
        (".", PathBuf::new())
    };
    let dir = openat(
        AT_FDCWD,
        from,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {from}"))?;
    Ok((dir, shown))
}

fn open_dir(dir: &OwnedFd, name: &OsStr, dir_path: &Path) -> Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", dir_path.join(name).display()))
}

/// The path of a walked directory's parent: its last name removed, since no walked directory
/// is a link; `..` kept where the walk started in the working directory and climbs above it.
fn parent_of(path: &Path) -> PathBuf {
    match path.components().next_back() {
        Some(Component::Normal(_)) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        Some(Component::RootDir) => path.to_path_buf(),
        _ => path.join(".."),
    }
}

/// A link is followed only when this user or the owner of the directory holding it made it:
/// the rule of the kernel's `fs.protected_symlinks` for sticky directories, applied in every
/// directory and to every component.
fn check_link_owner(dir: &OwnedFd, link: &Path, stat: &FileStat) -> Result<()> {
    let dir_owner = fstat(dir)
        .with_context(|| format!("cannot examine the directory holding {}", link.display()))?
        .st_uid;
    let me = nix::unistd::geteuid().as_raw();
    if stat.st_uid == me || stat.st_uid == dir_owner {
        return Ok(());
    }
    bail!(
        "{} is a symbolic link owned by uid {}{} in a directory owned by uid {}{}; not \
         following a link someone else may have planted (remove it, or name its target)",
        link.display(),
        stat.st_uid,
        user_name(stat.st_uid),
        dir_owner,
        user_name(dir_owner),
    )
}

/// " (name)" for a uid the password database knows, nothing otherwise.
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => format!(" ({})", user.name),
        _ => String::new(),
    }
}

fn on_procfs(dir: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(dir)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(path: &str) -> Vec<String> {
        components(path.as_bytes())
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn components_keep_dot_dot_and_mark_directories() {
        assert_eq!(names("a//./b/c.png"), ["a", "b", "c.png"]);
        assert_eq!(names("/a/../b"), ["a", "..", "b"]);
        assert_eq!(names("a/"), ["a", "."]);
        assert_eq!(names("a/.."), ["a", "..", "."]);
        assert_eq!(names("/"), ["."]);
        assert_eq!(names("."), ["."]);
    }

    #[test]
    fn parents_of_walked_paths() {
        assert_eq!(parent_of(Path::new("/a/b")), Path::new("/a"));
        assert_eq!(parent_of(Path::new("/")), Path::new("/"));
        assert_eq!(parent_of(Path::new("a")), Path::new(""));
        assert_eq!(parent_of(Path::new("")), Path::new(".."));
        assert_eq!(parent_of(Path::new("..")), Path::new("../.."));
    }

    #[test]
    fn dot_dot_climbs_from_where_a_link_led() {
        // `a/link/../x` is `elsewhere/../x` = `x` beside `elsewhere`, as the kernel reads it,
        // not the `a/x` that removing `link/..` from the text would give.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("b/elsewhere")).unwrap();
        symlink("../b/elsewhere", dir.path().join("a/link")).unwrap();
        let walked = walk(&dir.path().join("a/link/../x.png")).unwrap();
        assert_eq!(walked.dir_path, dir.path().join("b"));
        assert_eq!(walked.name, "x.png");
        assert!(matches!(walked.found, Found::Missing));
    }

    #[test]
    fn a_loop_of_links_ends_with_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = walk(&dir.path().join("a/x.png")).unwrap_err();
        assert!(
            format!("{err:#}").contains("more than 40 symbolic links"),
            "{err:#}"
        );
    }

    #[test]
    fn a_file_in_the_middle_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"").unwrap();
        let err = walk(&dir.path().join("f/x.png")).unwrap_err();
        assert!(format!("{err:#}").contains("is not a directory"), "{err:#}");
    }
}
