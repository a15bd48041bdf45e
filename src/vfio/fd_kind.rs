//! What an fd handed to us is, found with `fstat` and the name the kernel gives the open file,
//! before any ioctl is sent to it: a VFIO ioctl number means something else to a terminal, a
//! socket or another driver, so an fd that is not a VFIO device never gets one.

use nix::sys::stat::{SFlag, fstat, major, minor};
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The name the kernel gives a device fd from `VFIO_GROUP_GET_DEVICE_FD`.
const GROUP_DEVICE_NAME: &str = "anon_inode:[vfio-device]";
/// The misc device number of the container node, /dev/vfio/vfio.
const CONTAINER_DEVICE: (u64, u64) = (10, 196);

/// What an fd is, as far as adopting it as a VFIO device goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    /// A device fd from a VFIO group (`anon_inode:[vfio-device]`).
    GroupDevice,
    /// A VFIO device cdev (`/dev/vfio/devices/vfioN`, the "vfio-dev" character major).
    DeviceCdev,
    /// Anything else, described for the user ("a terminal", "a socket", ...).
    Other(String),
}

/// Classifies `fd` without sending it an ioctl.
pub fn classify(fd: BorrowedFd<'_>) -> FdKind {
    let name = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == GROUP_DEVICE_NAME {
        return FdKind::GroupDevice;
    }
    let stat = match fstat(fd) {
        Ok(s) => s,
        Err(errno) => return FdKind::Other(format!("fstat failed ({errno})")),
    };
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFCHR => {
            let (maj, min) = (major(stat.st_rdev), minor(stat.st_rdev));
            let majors = char_majors();
            let named = |wanted: &str| majors.iter().any(|(m, n)| *m == maj && n == wanted);
            if named("vfio-dev") {
                FdKind::DeviceCdev
            } else if named("vfio") {
                FdKind::Other(format!(
                    "it is a VFIO group ({name}), not a device: pass the fd that \
                     VFIO_GROUP_GET_DEVICE_FD returned, or a device cdev"
                ))
            } else if (maj, min) == CONTAINER_DEVICE {
                FdKind::Other("it is the VFIO container (/dev/vfio/vfio), not a device".into())
            } else if nix::unistd::isatty(fd).unwrap_or(false) {
                FdKind::Other(format!("it is a terminal ({name})"))
            } else {
                FdKind::Other(format!(
                    "it is a character device {maj}:{min} ({}) that is not a VFIO device",
                    if name.is_empty() { "unnamed" } else { &name }
                ))
            }
        }
        SFlag::S_IFIFO => FdKind::Other("it is a pipe or FIFO".into()),
        SFlag::S_IFSOCK => FdKind::Other("it is a socket".into()),
        SFlag::S_IFDIR => FdKind::Other(format!("it is a directory ({name})")),
        SFlag::S_IFBLK => FdKind::Other(format!("it is a block device ({name})")),
        SFlag::S_IFREG if !name.starts_with("anon_inode:") => {
            FdKind::Other(format!("it is a regular file ({name})"))
        }
        _ if name.starts_with("anon_inode:") => FdKind::Other(format!("it is an {name}")),
        _ => FdKind::Other(format!(
            "it is neither a VFIO device fd nor a VFIO device cdev ({})",
            if name.is_empty() { "unnamed" } else { &name }
        )),
    }
}

/// The character device majors and their names, from /proc/devices (at most 64 KiB of it).
fn char_majors() -> Vec<(u64, String)> {
    let mut text = String::new();
    let read = std::fs::File::open("/proc/devices")
        .and_then(|f| f.take(64 * 1024).read_to_string(&mut text));
    if read.is_err() {
        return Vec::new();
    }
    text.lines()
        .skip_while(|l| !l.starts_with("Character devices"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let major = words.next()?.parse().ok()?;
            Some((major, words.next()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn described(kind: FdKind) -> String {
        match kind {
            FdKind::Other(text) => text,
            other => panic!("{other:?} is not what this fd is"),
        }
    }

    #[test]
    fn everyday_fds_are_named_for_what_they_are() {
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(described(classify(null.as_fd())).contains("character device 1:3"));
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(described(classify(a.as_fd())), "it is a socket");
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert_eq!(described(classify(r.as_fd())), "it is a pipe or FIFO");
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        assert!(described(classify(file.as_fd())).starts_with("it is a regular file"));
        let event = nix::sys::eventfd::EventFd::new().unwrap();
        assert_eq!(
            described(classify(event.as_fd())),
            "it is an anon_inode:[eventfd]"
        );
    }

    #[test]
    fn proc_devices_lists_character_majors() {
        let majors = char_majors();
        assert!(
            majors.iter().any(|(m, n)| *m == 1 && n == "mem"),
            "{majors:?}"
        );
    }
}
