//! `--listen unix:PATH`: a unix socket made so that no other user can connect to it before it
//! has its mode and owner, that never replaces what is not a stale socket of ours, and that is
//! removed when the server ends.
//!
//! The socket is bound and given its mode and owner inside a private directory (mode 0700,
//! made with mkdtemp beside PATH), then renamed to PATH with `RENAME_NOREPLACE`: the name
//! appears with its final mode and owner, and a file that appears at PATH meanwhile is never
//! replaced. A socket already at PATH is removed only when nothing answers on it (a server that
//! died); a symbolic link, a regular file or anything else there is refused.

use anyhow::{Context, Result, bail};
use nix::fcntl::{AtFlags, OFlag, RenameFlags, open, renameat2};
use nix::sys::stat::{FchmodatFlags, Mode, fchmodat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, mkdtemp, unlinkat};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The mode and owner given to every unix socket `serve` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAccess {
    /// Permission bits (0600 unless `--socket-mode` says otherwise).
    pub mode: u32,
    /// The owner, with `--socket-owner` (None: the server's user).
    pub uid: Option<u32>,
    /// The group, with `--socket-owner USER:GROUP` or `:GROUP` (None: the server's group).
    pub gid: Option<u32>,
}

impl Default for SocketAccess {
    fn default() -> Self {
        SocketAccess {
            mode: 0o600,
            uid: None,
            gid: None,
        }
    }
}

/// The longest path a unix socket address holds (`sun_path` less its terminating NUL).
const MAX_PATH: usize = 107;

/// The socket's name while it is made, inside the private directory.
const TEMP_NAME: &str = "s";

/// A socket file this server made: removed when dropped, if it is still the one it made.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Only our own socket goes: a file someone put in its place meanwhile stays.
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino);
        if ours && let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!("removing {}: {err}", self.path.display());
        }
    }
}

impl SocketFile {
    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What is at the socket's path now.
enum AtPath {
    Nothing,
    /// A socket nothing answers on.
    Stale,
}

/// Finds out whether `path` may take the new socket: nothing there, or a stale socket.
fn check_path(path: &Path) -> Result<AtPath> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(AtPath::Nothing),
        Err(e) => return Err(e).with_context(|| format!("looking at {}", path.display())),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        bail!(
            "{} is a symbolic link: serve never replaces one (remove it, or give another path)",
            path.display()
        );
    }
    if !kind.is_socket() {
        bail!(
            "{} exists and is not a socket: serve never replaces it (remove it, or give another \
             path)",
            path.display()
        );
    }
    match UnixStream::connect(path) {
        Ok(_) => bail!(
            "{}: a server answers on this socket already (is another serve running?)",
            path.display()
        ),
        Err(e) if e.raw_os_error() == Some(nix::libc::ECONNREFUSED) => Ok(AtPath::Stale),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{}: a socket is there and trying it failed; not replacing it",
                path.display()
            )
        }),
    }
}

/// A private directory beside the socket's path (mode 0700), removed with what is in it when
/// dropped.
struct PrivateDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl PrivateDir {
    fn new(parent: &Path) -> Result<PrivateDir> {
        let template = parent.join(".vfio-display-XXXXXX");
        let path = mkdtemp(template.as_path())
            .with_context(|| format!("making a private directory in {}", parent.display()))?;
        let fd = match open(
            &path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                return Err(e).with_context(|| format!("opening {}", path.display()));
            }
        };
        Ok(PrivateDir { path, fd })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = unlinkat(&self.fd, TEMP_NAME, UnlinkatFlags::NoRemoveDir);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Makes the listening socket at `path` with `access`; see the module's comment.
pub fn bind(path: &Path, access: SocketAccess) -> Result<(UnixListener, SocketFile)> {
    use std::os::unix::ffi::OsStrExt;
    let name = path
        .file_name()
        .filter(|n| !n.is_empty())
        .with_context(|| format!("unix:{}: the path names no file", path.display()))?;
    if path.as_os_str().as_bytes().len() > MAX_PATH {
        bail!(
            "unix:{}: a unix socket's path has at most {MAX_PATH} bytes",
            path.display()
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_fd = open(
        parent,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening the directory {}", parent.display()))?;
    let at_path = check_path(path)?;
    let private = PrivateDir::new(parent)?;
    let temp = private.path.join(TEMP_NAME);
    if temp.as_os_str().as_bytes().len() > MAX_PATH {
        bail!(
            "unix:{}: the socket is made in {} first, and that path is longer than a unix \
             socket's {MAX_PATH} bytes: give a shorter path",
            path.display(),
            private.path.display()
        );
    }
    let listener = UnixListener::bind(&temp)
        .with_context(|| format!("binding a unix socket in {}", private.path.display()))?;
    let mode = Mode::from_bits_truncate(access.mode);
    fchmodat(&private.fd, TEMP_NAME, mode, FchmodatFlags::FollowSymlink)
        .with_context(|| format!("giving the socket mode {:04o}", access.mode))?;
    if access.uid.is_some() || access.gid.is_some() {
        fchownat(
            &private.fd,
            TEMP_NAME,
            access.uid.map(Uid::from_raw),
            access.gid.map(Gid::from_raw),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .context("giving the socket its owner (--socket-owner needs root or CAP_CHOWN)")?;
    }
    let made = std::fs::symlink_metadata(&temp)
        .with_context(|| format!("looking at {}", temp.display()))?;
    if let AtPath::Stale = at_path {
        // Not followed if it became a link meanwhile: unlinkat removes the name only.
        match unlinkat(&parent_fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing the stale {}", path.display()));
            }
        }
        tracing::info!("removed the stale socket {}", path.display());
    }
    place(&private, &parent_fd, name, path)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            dev: made.dev(),
            ino: made.ino(),
        },
    ))
}

/// Moves the finished socket to its name, never over anything.
fn place(private: &PrivateDir, parent: &impl AsFd, name: &OsStr, path: &Path) -> Result<()> {
    match renameat2(
        &private.fd,
        TEMP_NAME,
        parent.as_fd(),
        name,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EEXIST) => bail!(
            "{} appeared while the socket was made: serve never replaces it",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("putting the socket at {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_socket_is_made_0600_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vd.sock");
        let (listener, file) = bind(&path, SocketAccess::default()).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        UnixStream::connect(&path).unwrap();
        assert!(listener.accept().is_ok());
        // Only the socket is left in the directory: the private directory is gone.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_a_file_and_a_link_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vd.sock");
        let (_listener, _file) = bind(&path, SocketAccess::default()).unwrap();
        let err = format!("{:#}", bind(&path, SocketAccess::default()).unwrap_err());
        assert!(
            err.contains("a server answers on this socket already"),
            "{err}"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, b"keep").unwrap();
        let err = format!("{:#}", bind(&file, SocketAccess::default()).unwrap_err());
        assert!(err.contains("exists and is not a socket"), "{err}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/nonexistent", &link).unwrap();
        let err = format!("{:#}", bind(&link, SocketAccess::default()).unwrap_err());
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_long_path_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vd.sock");
        drop(UnixListener::bind(&path).unwrap());
        let before = std::fs::symlink_metadata(&path).unwrap().ino();
        let (_listener, _file) = bind(&path, SocketAccess::default()).unwrap();
        assert_ne!(std::fs::symlink_metadata(&path).unwrap().ino(), before);
        let long = dir.path().join("x".repeat(120));
        let err = format!("{:#}", bind(&long, SocketAccess::default()).unwrap_err());
        assert!(err.contains("at most 107 bytes"), "{err}");
    }
}
