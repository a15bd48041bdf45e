//! Finding mediated devices in sysfs: resolving a UUID or a sysfs path to its IOMMU group, and
//! listing mdev parents, their types and the existing mdevs.
//!
//! The roots are parameters (`HostPaths`) so that tests can build a fake tree.

use super::error::{Result, VfioError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where sysfs and /dev are. `HostPaths::default()` is the real system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// Where sysfs is (`/sys`).
    pub sysfs: PathBuf,
    /// Where device nodes are (`/dev`).
    pub dev: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            sysfs: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

impl HostPaths {
    /// `/sys/bus/mdev/devices`.
    pub fn mdev_devices(&self) -> PathBuf {
        self.sysfs.join("bus/mdev/devices")
    }
    /// `/sys/class/mdev_bus`.
    pub fn mdev_bus(&self) -> PathBuf {
        self.sysfs.join("class/mdev_bus")
    }
    /// `/dev/vfio/vfio`.
    pub fn vfio_container(&self) -> PathBuf {
        self.dev.join("vfio/vfio")
    }
    /// `/dev/vfio/<group>`.
    pub fn vfio_group(&self, group: u32) -> PathBuf {
        self.dev.join(format!("vfio/{group}"))
    }
    /// The device cdev `name` (`vfioN`), on kernels with VFIO_DEVICE_CDEV.
    pub fn vfio_cdev(&self, name: &str) -> PathBuf {
        self.dev.join("vfio/devices").join(name)
    }
    /// The iommufd node.
    pub fn iommu(&self) -> PathBuf {
        self.dev.join("iommu")
    }
}

/// The device's cdev name (`vfioN`) from `<mdev>/vfio-dev/`, where the kernel has the cdev.
pub fn cdev_name(mdev_sysfs_path: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(mdev_sysfs_path.join("vfio-dev"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("vfio")
                .is_some_and(|d| d.parse::<u32>().is_ok())
        })
        .collect();
    names.sort();
    names.into_iter().next()
}

/// True for the canonical 8-4-4-4-12 hex form of a UUID.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A mediated device found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdevTarget {
    /// The mdev's UUID.
    pub uuid: String,
    /// Its sysfs directory.
    pub sysfs_path: PathBuf,
    /// Its IOMMU group.
    pub iommu_group: u32,
}

/// Resolves what the user typed (a UUID, or a sysfs path of an mdev) to the mdev and its group.
pub fn resolve_mdev(spec: &str, paths: &HostPaths) -> Result<MdevTarget> {
    let not_mdev = |path: PathBuf, reason: String| VfioError::NotMdev { path, reason };
    let path = if is_uuid(spec) {
        let path = paths.mdev_devices().join(spec.to_ascii_lowercase());
        if !path.exists() {
            return Err(VfioError::NoSuchMdev {
                path,
                uuid: spec.to_string(),
            });
        }
        path
    } else if spec.contains('/') {
        let path = PathBuf::from(spec);
        if !path.exists() {
            return Err(not_mdev(path, "no such file or directory".into()));
        }
        path
    } else {
        return Err(VfioError::NotADeviceName {
            spec: spec.to_string(),
        });
    };
    let canonical = path
        .canonicalize()
        .map_err(|e| not_mdev(path.clone(), format!("cannot resolve the path: {e}")))?;
    let uuid = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| is_uuid(n))
        .ok_or_else(|| {
            not_mdev(
                canonical.clone(),
                "not a mediated device (its name is not a UUID)".into(),
            )
        })?
        .to_string();
    let group_link = canonical.join("iommu_group");
    let group_target = std::fs::read_link(&group_link).map_err(|e| {
        not_mdev(
            canonical.clone(),
            format!("has no iommu_group ({e}); is it bound to vfio_mdev?"),
        )
    })?;
    let iommu_group = group_target
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            not_mdev(
                group_link.clone(),
                format!(
                    "iommu_group points at {}, not a group number",
                    group_target.display()
                ),
            )
        })?;
    Ok(MdevTarget {
        uuid,
        sysfs_path: canonical,
        iommu_group,
    })
}

/// One mdev type a parent offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdevType {
    /// The type's id ("mbochs-1").
    pub id: String,
    /// Its `name` attribute.
    pub name: Option<String>,
    /// Its `description` attribute.
    pub description: Option<String>,
    /// "vfio-pci" and the like.
    pub device_api: Option<String>,
    /// How many more can be created.
    pub available_instances: Option<u32>,
}

/// A device that can create mdevs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdevParent {
    /// The parent device.
    pub name: String,
    /// The mdev types it offers.
    pub types: Vec<MdevType>,
}

/// An existing mdev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mdev {
    /// The mdev's UUID.
    pub uuid: String,
    /// Its parent device.
    pub parent: Option<String>,
    /// Its type.
    pub mdev_type: Option<String>,
    /// The driver bound to it.
    pub driver: Option<String>,
    /// Its IOMMU group.
    pub iommu_group: Option<u32>,
}

/// Everything `list` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MdevListing {
    /// Parent devices with their types.
    pub parents: Vec<MdevParent>,
    /// Existing mdevs.
    pub mdevs: Vec<Mdev>,
}

/// The most of a sysfs attribute we read: the kernel's attributes fit one page by contract, so
/// anything longer is not a real attribute and is cut there.
pub const MAX_ATTRIBUTE: u64 = 4096;

fn read_trimmed(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_ATTRIBUTE).read_to_end(&mut bytes))
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).trim().to_string()).filter(|s| !s.is_empty())
}

fn link_name(path: &Path) -> Option<String> {
    std::fs::read_link(path)
        .ok()?
        .file_name()?
        .to_str()
        .map(String::from)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// Lists mdev parents with their types, and the existing mdevs. A missing sysfs directory means
/// "none", not an error: the mdev modules may simply not be loaded.
pub fn list_mdevs(paths: &HostPaths) -> MdevListing {
    let parents = sorted_entries(&paths.mdev_bus())
        .into_iter()
        .map(|parent| {
            let types = sorted_entries(&parent.join("mdev_supported_types"))
                .into_iter()
                .map(|t| MdevType {
                    id: t
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    name: read_trimmed(&t.join("name")),
                    description: read_trimmed(&t.join("description")),
                    device_api: read_trimmed(&t.join("device_api")),
                    available_instances: read_trimmed(&t.join("available_instances"))
                        .and_then(|s| s.parse().ok()),
                })
                .collect();
            MdevParent {
                name: parent
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                types,
            }
        })
        .collect();
    let mdevs = sorted_entries(&paths.mdev_devices())
        .into_iter()
        .map(|dev| {
            let canonical = dev.canonicalize().unwrap_or_else(|_| dev.clone());
            Mdev {
                uuid: dev
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                parent: canonical
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned()),
                mdev_type: link_name(&dev.join("mdev_type")),
                driver: link_name(&dev.join("driver")),
                iommu_group: link_name(&dev.join("iommu_group")).and_then(|g| g.parse().ok()),
            }
        })
        .collect();
    MdevListing { parents, mdevs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    pub(crate) fn fake_tree(root: &Path) -> HostPaths {
        let sys = root.join("sys");
        let parent = sys.join("devices/virtual/mbochs/mbochs");
        let t = parent.join("mdev_supported_types/mbochs-1");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("name"), "small\n").unwrap();
        std::fs::write(t.join("available_instances"), "3\n").unwrap();
        std::fs::write(t.join("device_api"), "vfio-pci\n").unwrap();
        std::fs::create_dir_all(sys.join("class/mdev_bus")).unwrap();
        symlink(&parent, sys.join("class/mdev_bus/mbochs")).unwrap();
        let uuid = "0b2e9a3c-5c4d-4f3e-9a1b-2c3d4e5f6a7b";
        let dev = parent.join(uuid);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(sys.join("kernel/iommu_groups/12")).unwrap();
        symlink(sys.join("kernel/iommu_groups/12"), dev.join("iommu_group")).unwrap();
        symlink(&t, dev.join("mdev_type")).unwrap();
        std::fs::create_dir_all(sys.join("bus/mdev/drivers/vfio_mdev")).unwrap();
        symlink(sys.join("bus/mdev/drivers/vfio_mdev"), dev.join("driver")).unwrap();
        std::fs::create_dir_all(sys.join("bus/mdev/devices")).unwrap();
        symlink(&dev, sys.join("bus/mdev/devices").join(uuid)).unwrap();
        HostPaths {
            sysfs: sys,
            dev: root.join("dev"),
        }
    }

    #[test]
    fn attributes_are_read_within_one_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("description");
        std::fs::write(&path, "x".repeat(1 << 20)).unwrap();
        assert_eq!(read_trimmed(&path).unwrap().len(), MAX_ATTRIBUTE as usize);
        assert_eq!(read_trimmed(Path::new("/dev/zero")).unwrap().len(), 4096);
        std::fs::write(&path, " \n").unwrap();
        assert_eq!(read_trimmed(&path), None);
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("0b2e9a3c-5c4d-4f3e-9a1b-2c3d4e5f6a7b"));
        assert!(is_uuid("0B2E9A3C-5C4D-4F3E-9A1B-2C3D4E5F6A7B"));
        assert!(!is_uuid("0b2e9a3c-5c4d-4f3e-9a1b-2c3d4e5f6a7"));
        assert!(!is_uuid("0b2e9a3c5c4d4f3e9a1b2c3d4e5f6a7b"));
        assert!(!is_uuid("zb2e9a3c-5c4d-4f3e-9a1b-2c3d4e5f6a7b"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn resolves_uuid_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let paths = fake_tree(dir.path());
        let uuid = "0b2e9a3c-5c4d-4f3e-9a1b-2c3d4e5f6a7b";
        let by_uuid = resolve_mdev(uuid, &paths).unwrap();
        assert_eq!(by_uuid.iommu_group, 12);
        assert_eq!(by_uuid.uuid, uuid);
        let path = paths.mdev_devices().join(uuid);
        let by_path = resolve_mdev(path.to_str().unwrap(), &paths).unwrap();
        assert_eq!(by_path, by_uuid);
    }

    #[test]
    fn clear_errors_for_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let paths = fake_tree(dir.path());
        let missing = resolve_mdev("11111111-2222-3333-4444-555555555555", &paths)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("no mediated device with UUID"),
            "{missing}"
        );
        let garbage = resolve_mdev("not-a-uuid", &paths).unwrap_err().to_string();
        assert!(garbage.contains("neither an mdev UUID"), "{garbage}");
        let not_mdev = resolve_mdev(paths.sysfs.to_str().unwrap(), &paths)
            .unwrap_err()
            .to_string();
        assert!(not_mdev.contains("not a mediated device"), "{not_mdev}");
    }

    #[test]
    fn lists_parents_types_and_mdevs() {
        let dir = tempfile::tempdir().unwrap();
        let paths = fake_tree(dir.path());
        let listing = list_mdevs(&paths);
        assert_eq!(listing.parents.len(), 1);
        assert_eq!(listing.parents[0].name, "mbochs");
        assert_eq!(listing.parents[0].types[0].id, "mbochs-1");
        assert_eq!(listing.parents[0].types[0].available_instances, Some(3));
        assert_eq!(listing.mdevs.len(), 1);
        assert_eq!(listing.mdevs[0].driver.as_deref(), Some("vfio_mdev"));
        assert_eq!(listing.mdevs[0].mdev_type.as_deref(), Some("mbochs-1"));
        assert_eq!(listing.mdevs[0].iommu_group, Some(12));
        assert_eq!(listing.mdevs[0].parent.as_deref(), Some("mbochs"));
    }

    #[test]
    fn an_empty_system_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            sysfs: dir.path().join("sys"),
            dev: dir.path().join("dev"),
        };
        assert_eq!(list_mdevs(&paths), MdevListing::default());
    }
}
