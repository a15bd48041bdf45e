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
//! - a symbolic link anywhere on the path (a directory component, a link to a link, the last
//!   name) is followed only when it belongs to this user or to the owner of its directory: a
//!   link someone else planted is refused (the rule the kernel's `fs.protected_symlinks`
//!   applies to sticky directories, applied in every directory; `walk` follows the links
//!   itself, so the kernel's setting makes no difference). The file is then created and
//!   renamed beneath the directory the walk reached, held open from `resolve` to `write`;
//! - `-` (and `/dev/stdout`) is standard output.

use super::walk::{Found, Walked, walk};
use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::fcntl::{OFlag, RenameFlags, openat, renameat, renameat2};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::{AccessFlags, Gid, Uid, UnlinkatFlags, faccessat, fchown, linkat, unlinkat};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// An fd of this process (`/dev/fd/N`, `/proc/self/fd/N`): the user redirected it on
    /// purpose, so it is opened by its name and written whatever it is.
    Descriptor {
        path: PathBuf,
    },
    /// A character device or a FIFO, written where it is: opened for writing, never created,
    /// truncated or replaced.
    InPlace {
        at: Spot,
    },
    /// A regular file, or a name where nothing exists yet: replaced whole.
    File {
        at: Spot,
        existing: Option<Existing>,
    },
}

/// A name inside a directory that the walk reached through checked links only. The directory
/// stays open, so the write lands in the directory that was checked, whatever is renamed or
/// planted on the path later.
#[derive(Debug, Clone)]
struct Spot {
    dir: Arc<OwnedFd>,
    name: OsString,
}

/// The mode and owner of the file being replaced, given to its successor.
#[derive(Debug, Clone, Copy)]
struct Existing {
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Existing {
    fn of(stat: &FileStat) -> Self {
        Existing {
            mode: stat.st_mode & 0o7777,
            uid: stat.st_uid,
            gid: stat.st_gid,
        }
    }
}

/// The paths that name this process's standard output.
const STDOUT_NAMES: [&str; 4] = ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

impl OutputPath {
    /// Looks at `path` (without creating, opening for writing or changing anything) and
    /// decides how it will be written, or says why it cannot be: a directory, a socket, a block
    /// device, a planted link anywhere on the path, a missing or unwritable directory.
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
                dest: Dest::Descriptor { path: given },
            });
        }
        let walked = walk(path).with_context(|| format!("cannot write {shown}"))?;
        let dest = destination(walked, path)?;
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

    /// Starts a regular file that is written in pieces and lands whole (`Landing::land`); a
    /// device, FIFO or standard output is refused, since a file written in pieces is patched
    /// where it began (a recording's frame count).
    pub fn landing(&self, mode: WriteMode) -> Result<Landing> {
        let shown = self.display();
        match &self.dest {
            Dest::File { at, existing } => Landing::create(at, *existing, mode)
                .with_context(|| format!("cannot write {shown}")),
            _ => bail!("cannot write {shown}: it must be a regular file (or a new name)"),
        }
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
            Dest::Descriptor { path } => {
                write_descriptor(path, bytes).with_context(|| format!("cannot write {shown}"))
            }
            Dest::InPlace { at } => {
                write_in_place(at, bytes).with_context(|| format!("cannot write {shown}"))
            }
            Dest::File { at, existing } => replace_file(at, *existing, bytes, mode)
                .with_context(|| format!("cannot write {shown}")),
        }
    }
}

/// How the file the walk found is written: a regular file or a new name replaced whole, a
/// character device or a FIFO in place, anything else refused, never replaced.
fn destination(walked: Walked, given: &Path) -> Result<Dest> {
    let shown = given.display();
    let Walked {
        dir,
        dir_path,
        name,
        found,
    } = walked;
    let at = Spot {
        dir: Arc::new(dir),
        name,
    };
    let stat = match found {
        Found::ProcLink => {
            return Ok(Dest::Descriptor {
                path: given.to_path_buf(),
            });
        }
        Found::Missing => {
            check_writable(&at, &dir_path, given)?;
            return Ok(Dest::File { at, existing: None });
        }
        Found::Present(stat) => stat,
    };
    let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFREG {
        check_writable(&at, &dir_path, given)?;
        return Ok(Dest::File {
            at,
            existing: Some(Existing::of(&stat)),
        });
    }
    if kind == SFlag::S_IFCHR || kind == SFlag::S_IFIFO {
        return Ok(Dest::InPlace { at });
    }
    let what = if kind == SFlag::S_IFDIR {
        "a directory; name a file inside it"
    } else if kind == SFlag::S_IFSOCK {
        "a socket; refusing to replace it"
    } else if kind == SFlag::S_IFBLK {
        "a block device; refusing to write a picture over a disk"
    } else {
        "neither a regular file, a character device nor a FIFO; refusing to replace it"
    };
    bail!("cannot write {shown}: it is {what}")
}

/// The directory a file lands in must be writable by us.
fn check_writable(at: &Spot, dir_path: &Path, given: &Path) -> Result<()> {
    faccessat(
        &*at.dir,
        ".",
        AccessFlags::W_OK | AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .map_err(|errno| {
        let dir = if dir_path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir_path
        };
        anyhow!(
            "cannot write {}: directory {} is not writable ({})",
            given.display(),
            dir.display(),
            errno.desc()
        )
    })
}

/// Opens a device or FIFO beneath its checked directory, without following a link, creating
/// or truncating anything; checks it is still a device or FIFO (the name may have changed
/// since `resolve`), and writes.
fn write_in_place(at: &Spot, bytes: &[u8]) -> Result<()> {
    let mut file = open_in_place(&at.name, |flags| {
        openat(
            &*at.dir,
            at.name.as_os_str(),
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
    })?;
    let kind = file.metadata()?.file_type();
    if !(kind.is_char_device() || kind.is_fifo()) {
        bail!("it changed into something other than a device or FIFO while being written");
    }
    file.write_all(bytes)?;
    file.flush()?;
    Ok(())
}

/// Opens one of this process's descriptors by its name and writes, whatever it is.
fn write_descriptor(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = open_in_place(path.as_os_str(), |flags| {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(flags.bits())
            .open(path)
            .map(OwnedFd::from)
            .map_err(|err| Errno::from_raw(err.raw_os_error().unwrap_or(nix::libc::EIO)))
    })?;
    file.write_all(bytes)?;
    file.flush()?;
    Ok(())
}

/// Opens for writing without blocking: a FIFO without a reader is waited for here, where
/// SIGINT and SIGTERM can end the wait (a blocking open would outlast them, since the standard
/// library retries it after a signal).
fn open_in_place(shown: &OsStr, open: impl Fn(OFlag) -> nix::Result<OwnedFd>) -> Result<File> {
    let mut told = false;
    loop {
        let flags = OFlag::O_WRONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        match open(flags) {
            Ok(fd) => {
                // Writes block as usual from here: a slow reader is not an error.
                let file = File::from(fd);
                let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL)?;
                let mut flags = OFlag::from_bits_truncate(flags);
                flags.remove(OFlag::O_NONBLOCK);
                nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags))?;
                return Ok(file);
            }
            Err(Errno::ENXIO) => {
                crate::app::signals::check()?;
                if !told {
                    errln!(
                        "vfio-display: waiting for a reader on {}",
                        Path::new(shown).display()
                    );
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(errno) => return Err(std::io::Error::from(errno).into()),
        }
    }
}

/// Removes the temporary on drop unless it was renamed into place.
struct TempGuard<'a> {
    dir: &'a OwnedFd,
    name: Option<OsString>,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = unlinkat(self.dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir);
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

/// Creates a new temporary beside the target, never following or reusing anything at its name.
fn create_temp<'a>(
    dir: &'a OwnedFd,
    name: &OsStr,
    mode: u32,
) -> std::io::Result<(File, TempGuard<'a>)> {
    let mut last = None;
    for _ in 0..16 {
        let tmp = temp_name(name);
        match openat(
            dir,
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        ) {
            Ok(fd) => {
                return Ok((
                    File::from(fd),
                    TempGuard {
                        dir,
                        name: Some(tmp),
                    },
                ));
            }
            Err(Errno::EEXIST) => last = Some(Errno::EEXIST.into()),
            Err(errno) => return Err(errno.into()),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

fn replace_file(
    at: &Spot,
    existing: Option<Existing>,
    bytes: &[u8],
    mode: WriteMode,
) -> std::io::Result<()> {
    let mut file = Landing::create(at, existing, mode)?;
    file.file().write_all(bytes)?;
    file.land()
}

/// A regular file written in pieces (a recording): a temporary beside the target, created as
/// `replace_file` creates it, and renamed over the target by `land`, so that the name shows
/// either what was there before or the whole new file. Dropped without `land`, the temporary
/// is removed and the target left as it was.
#[derive(Debug)]
pub struct Landing {
    file: File,
    dir: Arc<OwnedFd>,
    tmp: Option<OsString>,
    target: OsString,
    existing: Option<Existing>,
    mode: WriteMode,
}

impl Landing {
    fn create(at: &Spot, existing: Option<Existing>, mode: WriteMode) -> std::io::Result<Self> {
        // A file that replaces a private one is private from its first byte; a new one gets
        // the usual 0666 less the umask.
        let create_mode = if existing.is_some() { 0o600 } else { 0o666 };
        let (file, mut guard) = create_temp(&at.dir, &at.name, create_mode)?;
        let tmp = guard.name.take();
        Ok(Landing {
            file,
            dir: Arc::clone(&at.dir),
            tmp,
            target: at.name.clone(),
            existing,
            mode,
        })
    }

    /// The temporary, open for writing and seeking.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Gives the file the replaced file's mode and owner, flushes it to disk and renames it
    /// over the target.
    pub fn land(mut self) -> std::io::Result<()> {
        let dir = Arc::clone(&self.dir);
        if let Some(old) = self.existing {
            let meta = self.file.metadata()?;
            if (meta.uid(), meta.gid()) != (old.uid, old.gid) {
                // Root can give the file back to its owner; anyone else keeps their own (the
                // kernel refuses, and that is fine).
                match fchown(
                    &self.file,
                    Some(Uid::from_raw(old.uid)),
                    Some(Gid::from_raw(old.gid)),
                ) {
                    Ok(()) | Err(Errno::EPERM) => {}
                    Err(errno) => return Err(errno.into()),
                }
            }
            // After the chown, which clears set-id bits.
            self.file
                .set_permissions(std::fs::Permissions::from_mode(old.mode))?;
        }
        self.file.sync_all()?;
        let Some(tmp) = self.tmp.clone() else {
            return Err(std::io::Error::other("the temporary file vanished"));
        };
        if self.existing.is_some() && self.mode == WriteMode::Replace {
            renameat(&*dir, tmp.as_os_str(), &*dir, self.target.as_os_str())?;
        } else {
            rename_no_replace(&dir, &tmp, &self.target)?;
        }
        self.tmp = None;
        // The rename is durable once the directory is; a failure here loses nothing written.
        if let Ok(d) = openat(
            &*dir,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            let _ = File::from(d).sync_all();
        }
        Ok(())
    }
}

impl Write for Landing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl std::io::Seek for Landing {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if let Some(name) = self.tmp.take() {
            let _ = unlinkat(&*self.dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// Moves the temporary to a name that must not exist: something that appeared there since
/// `resolve` is left alone.
fn rename_no_replace(dir: &OwnedFd, tmp: &OsStr, target: &OsStr) -> std::io::Result<()> {
    match renameat2(dir, tmp, dir, target, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the file appeared while it was being written; not replaced",
        )),
        // File systems without RENAME_NOREPLACE: a hard link fails just as atomically.
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            linkat(dir, tmp, dir, target, nix::fcntl::AtFlags::empty())?;
            unlinkat(dir, tmp, UnlinkatFlags::NoRemoveDir)?;
            Ok(())
        }
        Err(errno) => Err(errno.into()),
    }
}

/// Writes `bytes` to a name the program chose, never replacing a file: `path` if it is free,
/// else the first free numbered name after it ("shot.png", then "shot-0002.png", ...), at most
/// `tries` names in all. Returns the path written.
pub fn write_new(path: &Path, bytes: &[u8], tries: u32) -> Result<PathBuf> {
    let mut candidate = path.to_path_buf();
    for n in 2..=tries.max(1) + 1 {
        let written =
            OutputPath::resolve(&candidate).and_then(|out| out.write(bytes, WriteMode::NoClobber));
        match written {
            Ok(()) => return Ok(candidate),
            // Something has the name: try the next one. Any other failure is the answer.
            Err(e) if std::fs::symlink_metadata(&candidate).is_ok() => {
                tracing::debug!("{e:#}; trying another name");
                candidate = numbered(path, n);
            }
            Err(e) => return Err(e),
        }
    }
    bail!(
        "{} and {} numbered names after it exist already",
        path.display(),
        tries.saturating_sub(1)
    )
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
    fn a_new_name_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("shot.png");
        assert_eq!(write_new(&first, b"one", 3).unwrap(), first);
        let second = write_new(&first, b"two", 3).unwrap();
        assert_eq!(second, dir.path().join("shot-0002.png"));
        assert_eq!(
            write_new(&first, b"three", 3).unwrap(),
            dir.path().join("shot-0003.png")
        );
        let err = write_new(&first, b"four", 3).unwrap_err();
        assert!(format!("{err:#}").contains("exist already"), "{err:#}");
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
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
        let reader = std::thread::Builder::new().spawn(move || std::fs::read(reader_path).unwrap());
        OutputPath::resolve(&fifo)
            .unwrap()
            .write(b"through the pipe", WriteMode::Replace)
            .unwrap();
        assert_eq!(reader.unwrap().join().unwrap(), b"through the pipe");
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
