//! The one way this program writes a file the user named (PNGs, EDIDs, the viewer's F12).
//!
//! The tool usually runs as root, often in shared directories (/tmp, a CI workspace), so a write
//! must never be turned against the machine:
//! - a regular file (or a new path) is written whole to an unpredictable temporary created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW` beside it, flushed to disk, then renamed over the target, keeping
//!   an existing file's mode and (where permitted) its owner; a failed or interrupted write leaves
//!   the old file as it was and no temporary behind;
//! - a character device or a FIFO (`/dev/null`, a pipe a script reads) is written in place and
//!   never replaced; a directory, socket or block device is refused;
//! - a symbolic link is followed, and its target written, only when the link belongs to this
//!   user or to the owner of its directory: a link someone else planted is refused (the rule
//!   the kernel's `fs.protected_symlinks` applies to sticky directories, applied everywhere);
//! - `-` (and `/dev/stdout`) is standard output.

use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use nix::unistd::{AccessFlags, Gid, Uid, faccessat, fchown};
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a write may do to a regular file that already exists at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace it whole (the user named the path: `-o shot.png`).
    Replace,
    /// Never replace it: fail if the path exists by the time the file lands (names the program
    /// chose itself, like the viewer's F12 pictures).
    NoClobber,
}

/// Where one output goes, decided by looking at the path without changing anything.
#[derive(Debug, Clone)]
pub struct OutputPath {
    given: PathBuf,
    dest: Dest,
}

#[derive(Debug, Clone)]
enum Dest {
    Stdout,
    /// A character device or a FIFO (or an fd of this process under /dev/fd), written where it
    /// is: opened for writing, never created, truncated or replaced.
    InPlace {
        path: PathBuf,
    },
    /// A regular file, or a path where nothing exists yet: replaced whole.
    File {
        target: PathBuf,
        existing: Option<Existing>,
    },
}

/// The mode and owner of the file being replaced, given to its successor.
#[derive(Debug, Clone, Copy)]
struct Existing {
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Existing {
    fn of(meta: &Metadata) -> Self {
        Existing {
            mode: meta.permissions().mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }
}

/// The paths that name this process's standard output.
const STDOUT_NAMES: [&str; 4] = ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

impl OutputPath {
    /// Looks at `path` (without creating, opening or changing anything) and decides how it will
    /// be written, or says why it cannot be: a directory, a socket, a block device, a planted
    /// link, a missing or unwritable directory.
    pub fn resolve(path: &Path) -> Result<Self> {
        let given = path.to_path_buf();
        if STDOUT_NAMES.iter().any(|n| path == Path::new(n)) {
            return Ok(OutputPath {
                given,
                dest: Dest::Stdout,
            });
        }
        let shown = path.display();
        // The process's own descriptors: the user redirected one on purpose.
        if path.starts_with("/dev/fd") || path.starts_with("/proc/self/fd") {
            return Ok(OutputPath {
                given: given.clone(),
                dest: Dest::InPlace { path: given },
            });
        }
        let dest = match std::fs::symlink_metadata(path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                check_directory(path)?;
                Dest::File {
                    target: path.to_path_buf(),
                    existing: None,
                }
            }
            Err(err) => return Err(err).with_context(|| format!("cannot write {shown}")),
            Ok(meta) if meta.file_type().is_symlink() => {
                check_link_owner(path, &meta)?;
                let target_meta = match std::fs::metadata(path) {
                    Ok(m) => m,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
                        "cannot write {shown}: it is a symbolic link to a missing file; \
                         remove the link or name the file itself"
                    ),
                    Err(err) => return Err(err).with_context(|| format!("cannot write {shown}")),
                };
                if target_meta.is_file() {
                    let target = std::fs::canonicalize(path)
                        .with_context(|| format!("cannot write {shown}"))?;
                    check_directory(&target)?;
                    Dest::File {
                        target,
                        existing: Some(Existing::of(&target_meta)),
                    }
                } else {
                    special(path, &target_meta)?
                }
            }
            Ok(meta) if meta.is_file() => {
                check_directory(path)?;
                Dest::File {
                    target: path.to_path_buf(),
                    existing: Some(Existing::of(&meta)),
                }
            }
            Ok(meta) => special(path, &meta)?,
        };
        Ok(OutputPath { given, dest })
    }

    /// The path as the user gave it, for messages.
    pub fn display(&self) -> String {
        match self.dest {
            Dest::Stdout => "standard output".into(),
            _ => self.given.display().to_string(),
        }
    }

    /// Whether this is standard output (messages then go to stderr).
    pub fn is_stdout(&self) -> bool {
        matches!(self.dest, Dest::Stdout)
    }

    /// Whether the path is a file that is replaced whole (a series numbers its pictures only
    /// then; a device, FIFO or stdout takes them all in turn).
    pub fn is_file(&self) -> bool {
        matches!(self.dest, Dest::File { .. })
    }

    /// Writes `bytes` to the destination decided by `resolve`.
    pub fn write(&self, bytes: &[u8], mode: WriteMode) -> Result<()> {
        let shown = self.display();
        match &self.dest {
            Dest::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .map_err(super::stdio::StdoutError)?;
                Ok(())
            }
            Dest::InPlace { path } => {
                write_in_place(path, bytes).with_context(|| format!("cannot write {shown}"))
            }
            Dest::File { target, existing } => replace_file(target, *existing, bytes, mode)
                .with_context(|| format!("cannot write {shown}")),
        }
    }
}

/// Character devices and FIFOs are written in place; everything else that is not a regular file
/// is refused, never replaced.
fn special(path: &Path, meta: &Metadata) -> Result<Dest> {
    let shown = path.display();
    let kind = meta.file_type();
    if kind.is_char_device() || kind.is_fifo() {
        return Ok(Dest::InPlace {
            path: path.to_path_buf(),
        });
    }
    let what = if kind.is_dir() {
        "a directory; name a file inside it"
    } else if kind.is_socket() {
        "a socket; refusing to replace it"
    } else if kind.is_block_device() {
        "a block device; refusing to write a picture over a disk"
    } else {
        "neither a regular file, a character device nor a FIFO; refusing to replace it"
    };
    bail!("cannot write {shown}: it is {what}")
}

/// The directory a new file lands in must exist and be writable by us.
fn check_directory(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let meta = std::fs::metadata(&dir).with_context(|| {
        format!(
            "cannot write {}: directory {} is missing",
            path.display(),
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        bail!(
            "cannot write {}: {} is not a directory",
            path.display(),
            dir.display()
        );
    }
    faccessat(
        AT_FDCWD,
        &dir,
        AccessFlags::W_OK | AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .map_err(|errno| {
        anyhow!(
            "cannot write {}: directory {} is not writable ({})",
            path.display(),
            dir.display(),
            errno.desc()
        )
    })
}

/// A link is followed only when this user or the owner of the directory holding it made it.
fn check_link_owner(link: &Path, meta: &Metadata) -> Result<()> {
    let dir = parent_dir(link);
    let dir_owner = std::fs::metadata(&dir)
        .with_context(|| format!("cannot write {}", link.display()))?
        .uid();
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() == me || meta.uid() == dir_owner {
        return Ok(());
    }
    bail!(
        "cannot write {}: it is a symbolic link owned by uid {} in a directory owned by uid {}; \
         not following a link someone else may have planted (remove it, or name its target)",
        link.display(),
        meta.uid(),
        dir_owner
    )
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens a device or FIFO for writing without creating or truncating anything, checks that it
/// is still not a regular file (the path may have changed since `resolve`), and writes.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = open_in_place(path)?;
    let kind = file.metadata()?.file_type();
    let fd_path = path.starts_with("/dev/fd") || path.starts_with("/proc/self/fd");
    if !(kind.is_char_device() || kind.is_fifo() || fd_path) {
        bail!("it changed into something other than a device or FIFO while being written");
    }
    file.write_all(bytes)?;
    file.flush()?;
    Ok(())
}

/// Opens for writing without blocking: a FIFO without a reader is waited for here, where
/// SIGINT and SIGTERM can end the wait (a blocking open would outlast them, since the standard
/// library retries it after a signal).
fn open_in_place(path: &Path) -> Result<File> {
    let mut told = false;
    loop {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
            .open(path);
        match opened {
            Ok(file) => {
                // Writes block as usual from here: a slow reader is not an error.
                let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL)?;
                let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
                flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
                nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags))?;
                return Ok(file);
            }
            Err(err) if err.raw_os_error() == Some(nix::libc::ENXIO) => {
                crate::app::signals::check()?;
                if !told {
                    errln!("vfio-display: waiting for a reader on {}", path.display());
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Removes the temporary on drop unless it was renamed into place.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An unpredictable name: the target's name (shortened to stay under NAME_MAX) and 64 random
/// bits from a randomly keyed hasher.
fn temp_name(name: &OsStr) -> OsString {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let bytes = name.as_bytes();
    let short = &bytes[..bytes.len().min(200)];
    let mut out = OsString::from(".");
    out.push(OsStr::from_bytes(short));
    out.push(format!(".{:016x}.tmp", hasher.finish()));
    out
}

/// Creates a new temporary beside `target`, never following or reusing anything at its name.
fn create_temp(dir: &Path, name: &OsStr, mode: u32) -> std::io::Result<(File, TempGuard)> {
    let mut last = None;
    for _ in 0..16 {
        let path = dir.join(temp_name(name));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(file) => return Ok((file, TempGuard(Some(path)))),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

fn replace_file(
    target: &Path,
    existing: Option<Existing>,
    bytes: &[u8],
    mode: WriteMode,
) -> std::io::Result<()> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    // A file that replaces a private one is private from its first byte; a new one gets the
    // usual 0666 less the umask.
    let create_mode = if existing.is_some() { 0o600 } else { 0o666 };
    let (mut file, mut guard) = create_temp(&dir, name, create_mode)?;
    file.write_all(bytes)?;
    if let Some(old) = existing {
        let meta = file.metadata()?;
        if (meta.uid(), meta.gid()) != (old.uid, old.gid) {
            // Root can give the file back to its owner; anyone else keeps their own (the
            // kernel refuses, and that is fine).
            match fchown(
                &file,
                Some(Uid::from_raw(old.uid)),
                Some(Gid::from_raw(old.gid)),
            ) {
                Ok(()) | Err(Errno::EPERM) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        // After the chown, which clears set-id bits.
        file.set_permissions(std::fs::Permissions::from_mode(old.mode))?;
    }
    file.sync_all()?;
    drop(file);
    let Some(tmp) = guard.0.clone() else {
        return Err(std::io::Error::other("the temporary file vanished"));
    };
    if existing.is_some() && mode == WriteMode::Replace {
        std::fs::rename(&tmp, target)?;
    } else {
        rename_no_replace(&tmp, target)?;
    }
    guard.0 = None;
    // The rename is durable once the directory is; a failure here loses nothing written.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Moves the temporary to a path that must not exist: something that appeared there since
/// `resolve` is left alone.
fn rename_no_replace(tmp: &Path, target: &Path) -> std::io::Result<()> {
    match renameat2(
        AT_FDCWD,
        tmp,
        AT_FDCWD,
        target,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the file appeared while it was being written; not replaced",
        )),
        // File systems without RENAME_NOREPLACE: a hard link fails just as atomically.
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            std::fs::hard_link(tmp, target)?;
            std::fs::remove_file(tmp)
        }
        Err(errno) => Err(errno.into()),
    }
}

/// The path of picture `n` (1-based) of a series: "shot.png" becomes "shot-0001.png".
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "png".into());
    path.with_file_name(format!("{stem}-{n:04}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn numbering() {
        assert_eq!(
            numbered(Path::new("out/s.png"), 3),
            PathBuf::from("out/s-0003.png")
        );
        assert_eq!(numbered(Path::new("s"), 12), PathBuf::from("s-0012.png"));
    }

    #[test]
    fn a_new_file_is_written_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.png");
        let out = OutputPath::resolve(&target).unwrap();
        assert!(out.is_file());
        out.write(b"data", WriteMode::Replace).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
        assert_eq!(listing(dir.path()), ["x.png"]);
    }

    #[test]
    fn a_missing_directory_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let err = OutputPath::resolve(&dir.path().join("missing/x.png")).unwrap_err();
        assert!(format!("{err:#}").contains("is missing"), "{err:#}");
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn replacing_keeps_the_mode_of_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret.png");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = std::fs::metadata(&target).unwrap().ino();
        OutputPath::resolve(&target)
            .unwrap()
            .write(b"new", WriteMode::Replace)
            .unwrap();
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_ne!(meta.ino(), before, "replaced whole, through a new inode");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["secret.png"]);
    }

    #[test]
    fn no_clobber_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f12.png");
        let out = OutputPath::resolve(&target).unwrap();
        // Something else creates the file between the look and the write.
        std::fs::write(&target, b"theirs").unwrap();
        let err = out.write(b"ours", WriteMode::NoClobber).unwrap_err();
        assert!(format!("{err:#}").contains("appeared"), "{err:#}");
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
        assert_eq!(listing(dir.path()), ["f12.png"]);
    }

    #[test]
    fn dev_null_is_written_in_place_and_stays_a_device() {
        let out = OutputPath::resolve(Path::new("/dev/null")).unwrap();
        assert!(!out.is_file());
        out.write(b"bytes", WriteMode::Replace).unwrap();
        let meta = std::fs::symlink_metadata("/dev/null").unwrap();
        assert!(meta.file_type().is_char_device());
    }

    #[test]
    fn dev_full_is_an_error_not_a_replacement() {
        let out = OutputPath::resolve(Path::new("/dev/full")).unwrap();
        let err = out.write(b"bytes", WriteMode::Replace).unwrap_err();
        let io = err.root_cause().downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.raw_os_error(), Some(nix::libc::ENOSPC));
        assert!(
            std::fs::symlink_metadata("/dev/full")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn a_fifo_is_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader_path = fifo.clone();
        let reader = std::thread::spawn(move || std::fs::read(reader_path).unwrap());
        OutputPath::resolve(&fifo)
            .unwrap()
            .write(b"through the pipe", WriteMode::Replace)
            .unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }

    #[test]
    fn directories_and_sockets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = OutputPath::resolve(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("is a directory"), "{err:#}");
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let err = OutputPath::resolve(&sock).unwrap_err();
        assert!(format!("{err:#}").contains("is a socket"), "{err:#}");
    }

    #[test]
    fn a_link_of_ours_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.png");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.png");
        symlink(&real, &link).unwrap();
        OutputPath::resolve(&link)
            .unwrap()
            .write(b"new", WriteMode::Replace)
            .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["link.png", "real.png"]);
    }

    #[test]
    fn a_dangling_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.png");
        symlink(dir.path().join("nowhere"), &link).unwrap();
        let err = OutputPath::resolve(&link).unwrap_err();
        assert!(format!("{err:#}").contains("missing file"), "{err:#}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn temporary_names_are_hidden_and_unpredictable() {
        let a = temp_name(OsStr::new("shot.png"));
        let b = temp_name(OsStr::new("shot.png"));
        assert_ne!(a, b);
        let a = a.to_string_lossy();
        assert!(a.starts_with(".shot.png.") && a.ends_with(".tmp"), "{a}");
        assert!(!a.contains(&std::process::id().to_string()) || a.len() > 30);
        let long = "x".repeat(255);
        assert!(temp_name(OsStr::new(&long)).len() <= 255);
    }
}
