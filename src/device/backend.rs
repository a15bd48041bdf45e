//! How a device was reached, as `info` and messages show it: the VFIO layer's `DeviceOrigin`
//! restated for the device layer, plus the simulator, which has no VFIO origin.

use crate::vfio::DeviceOrigin;
use serde::{Deserialize, Serialize};

/// How a device was reached, for `info` and messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    /// Opened through `/dev/vfio/<group>`.
    Group {
        /// The group number.
        group: u32,
        /// The mdev's UUID.
        uuid: String,
    },
    /// Opened through the device cdev, bound to an iommufd with IOAS `ioas_id` attached.
    Cdev {
        /// The mdev's UUID.
        uuid: String,
        /// The cdev's path.
        cdev: String,
        /// The IOAS attached.
        ioas_id: u32,
    },
    /// A device fd handed over by another process; `bound_here` when it was an unbound cdev
    /// that we bound to an iommufd.
    DeviceFd {
        /// The fd number.
        fd: i32,
        /// It was an unbound cdev that this process bound.
        bound_here: bool,
    },
    /// The built-in simulated vGPU.
    Sim,
}

/// The one place a VFIO origin becomes a backend, so the facts of how a device was opened are
/// stated by the VFIO layer and only renamed here (an adopted fd is shown as `device_fd`).
impl From<&DeviceOrigin> for Backend {
    fn from(origin: &DeviceOrigin) -> Self {
        match origin {
            DeviceOrigin::Group { group, uuid } => Backend::Group {
                group: *group,
                uuid: uuid.clone(),
            },
            DeviceOrigin::Cdev {
                uuid,
                cdev,
                ioas_id,
            } => Backend::Cdev {
                uuid: uuid.clone(),
                cdev: cdev.clone(),
                ioas_id: *ioas_id,
            },
            DeviceOrigin::AdoptedFd { fd, bound_here } => Backend::DeviceFd {
                fd: *fd,
                bound_here: *bound_here,
            },
        }
    }
}
