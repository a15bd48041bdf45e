//! Finding the host's display devices for `serve --all`: every running QEMU that holds an mdev
//! (adopted as `attach` adopts it, by the pidfd_getfd of its device fd), and every mdev no
//! process holds (opened as `serve DEVICE` opens it). With `--sim`, a fixed set of simulated
//! devices instead.

use crate::app::target::{Target, host_paths};
use crate::app::vmm::attach::{AttachOptions, LIBVIRT_RUN_DIR};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vfio_display::device::sim::{SimConfig, SimFault};
use vfio_display::vfio::BackendChoice;
use vfio_display::vfio::sysfs::list_mdevs;
use vfio_display::vmm;

/// The longest device name: names go into paths, URLs and log lines.
pub const MAX_NAME: usize = 64;

/// Where the devices come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The host's mdevs and QEMUs; idle mdevs only when `idle`.
    Host { backend: BackendChoice, idle: bool },
    /// `count` simulated devices, `sim0`.., device K frozen at frame `frozen + K` (so their
    /// pictures differ) when frozen, except `busy`, which animates; the fault only on
    /// `fault_on` when it names one.
    Sim {
        config: SimConfig,
        count: usize,
        fault_on: Option<String>,
        busy: Option<String>,
    },
}

/// A device found, and how to open it.
#[derive(Debug, Clone)]
pub enum Found {
    /// Opened by this process.
    Open(Target),
    /// Held by a running QEMU: taken from it; `qmp` is the QMP socket on its command line.
    Adopt {
        options: AttachOptions,
        qmp: Option<PathBuf>,
    },
}

impl Found {
    /// Which device this is, whatever it is named: an mdev's UUID (one mdev is served once),
    /// or a simulated device's name.
    pub fn identity(&self, name: &str) -> String {
        match self {
            Found::Open(Target::Mdev { spec, .. }) => spec.clone(),
            Found::Adopt { options, .. } => options.mdev.clone().unwrap_or_default(),
            Found::Open(_) => name.to_string(),
        }
    }
}

/// The devices there are now, by name.
pub fn scan(source: &Source) -> BTreeMap<String, Found> {
    match source {
        Source::Sim {
            config,
            count,
            fault_on,
            busy,
        } => (0..*count)
            .map(|k| {
                let name = format!("sim{k}");
                let mut config = config.clone();
                if let Some(frame) = config.frozen_frame {
                    config.frozen_frame = Some(frame + k as u64);
                }
                if busy.as_ref().is_some_and(|b| *b == name) {
                    config.frozen_frame = None;
                }
                if fault_on.as_ref().is_some_and(|on| *on != name) {
                    config.fault = SimFault::None;
                }
                (name, Found::Open(Target::Sim(config)))
            })
            .collect(),
        Source::Host { backend, idle } => host(*backend, *idle),
    }
}

/// The host's devices: QEMUs' first, then idle mdevs (an mdev a QEMU holds is its VM's).
fn host(backend: BackendChoice, idle: bool) -> BTreeMap<String, Found> {
    let paths = host_paths();
    let mut found = BTreeMap::new();
    let mut held = Vec::new();
    let me = std::process::id() as i32;
    let vms: Vec<(i32, Vec<String>)> = qemu_pids()
        .into_iter()
        .filter(|&p| p != me)
        .map(|pid| (pid, vmm::cmdline(pid).unwrap_or_default()))
        .collect();
    // A name two running QEMUs share names neither: each is served as NAME-UUID, so that a
    // password set for NAME can never land on the other VM.
    let names: Vec<Option<String>> = vms.iter().map(|(_, args)| vm_name(args)).collect();
    let shared = |name: &str| names.iter().flatten().filter(|n| *n == name).count() > 1;
    for (pid, args) in &vms {
        let pid = *pid;
        // A QEMU we may not look into (another user's, without root) is skipped: `attach`
        // explains ptrace rights to the user who asks for it by name.
        let Ok(fds) = vmm::vfio_device_fds(pid) else {
            continue;
        };
        // A cdev fd names its mdev; a device fd from a group (the legacy backend) does not, so
        // the mdevs of QEMU's groups and its command line's sysfsdev= are taken as well.
        let mut uuids: Vec<String> = Vec::new();
        let named = fds.iter().filter_map(|fd| fd.device_name(&paths.sysfs));
        let listed = vmm::qemu_args::vfio_pci_devices(args)
            .into_iter()
            .filter_map(|d| Some(d.sysfsdev?.rsplit('/').next()?.to_string()));
        for uuid in named.chain(listed).chain(group_devices(pid, &paths)) {
            if valid_name(&uuid)
                && paths.mdev_devices().join(&uuid).exists()
                && !uuids.contains(&uuid)
            {
                uuids.push(uuid);
            }
        }
        let vm = vm_name(args);
        let qmp = vmm::qemu_args::qmp_socket(args);
        for uuid in &uuids {
            let name = match &vm {
                Some(vm) if uuids.len() == 1 && !shared(vm) => vm.clone(),
                Some(vm) => format!("{vm}-{}", &uuid[..uuid.len().min(8)]),
                None => uuid.clone(),
            };
            held.push(uuid.clone());
            found.insert(
                unique(&found, name),
                Found::Adopt {
                    options: AttachOptions {
                        pid: Some(pid),
                        vm: None,
                        mdev: Some(uuid.clone()),
                        force: false,
                        exports: true,
                        libvirt_run_dir: PathBuf::from(LIBVIRT_RUN_DIR),
                        stand_in_fd: None,
                    },
                    qmp: qmp.clone(),
                },
            );
        }
    }
    if idle {
        for mdev in list_mdevs(&paths).mdevs {
            if held.contains(&mdev.uuid) || !valid_name(&mdev.uuid) {
                continue;
            }
            found.insert(
                mdev.uuid.clone(),
                Found::Open(Target::Mdev {
                    spec: mdev.uuid,
                    backend,
                }),
            );
        }
    }
    found
}

/// The devices of the VFIO groups process `pid` holds open (`/dev/vfio/N`), by their sysfs
/// names.
fn group_devices(pid: i32, paths: &vfio_display::vfio::HostPaths) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.take(MAX_FDS)
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let group = target.to_str()?.strip_prefix("/dev/vfio/")?;
            group.parse::<u32>().ok().map(|_| group.to_string())
        })
        .flat_map(|group| {
            let dir = paths
                .sysfs
                .join("kernel/iommu_groups")
                .join(group)
                .join("devices");
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(|d| Some(d.ok()?.file_name().to_str()?.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The most fds of one process looked at.
const MAX_FDS: usize = 65536;

/// `name`, or `name-2`, `name-3`.. when a device already has it (two names that collide).
fn unique(found: &BTreeMap<String, Found>, name: String) -> String {
    if !found.contains_key(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name}-{n}"))
        .find(|n| !found.contains_key(n))
        .unwrap_or(name)
}

/// The processes that look like QEMU (`qemu-system-*`, `qemu-kvm`).
fn qemu_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| vmm::comm(pid).starts_with("qemu"))
        .collect()
}

/// The VM's name from QEMU's `-name guest=NAME,...` or `-name NAME`, when it makes a valid
/// device name.
fn vm_name(args: &[String]) -> Option<String> {
    let value = args
        .iter()
        .position(|a| a == "-name")
        .and_then(|i| args.get(i + 1))?;
    let first = value.split(',').next()?;
    let name = first.strip_prefix("guest=").unwrap_or(first);
    valid_name(name).then(|| name.to_string())
}

/// Whether `name` can name a device: 1 to 64 bytes of letters, digits, `.`, `_` and `-`, not
/// starting with a dot (names become file names and URL paths).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_a_directory_or_a_url_path_are_refused() {
        for good in ["sim0", "vm-1.prod_a", "0123456789abcdef"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a b",
            "é",
            "a%2f",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn simulated_devices_differ_by_frame_and_only_the_named_one_is_faulty() {
        let config = SimConfig {
            frozen_frame: Some(5),
            fault: SimFault::DeviceLost,
            ..SimConfig::default()
        };
        let source = Source::Sim {
            config,
            count: 3,
            fault_on: Some("sim1".into()),
            busy: Some("sim2".into()),
        };
        let found = scan(&source);
        let names: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(names, ["sim0", "sim1", "sim2"]);
        let sims: Vec<(Option<u64>, SimFault)> = found
            .values()
            .map(|f| match f {
                Found::Open(Target::Sim(c)) => (c.frozen_frame, c.fault),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            sims,
            [
                (Some(5), SimFault::None),
                (Some(6), SimFault::DeviceLost),
                (None, SimFault::None)
            ]
        );
    }
}
