//! Safe wrappers over the VFIO uAPI: the only layer with ioctl and mmap `unsafe`.

pub mod caps;
pub mod device;
pub mod dmabuf;
pub mod edid;
pub mod error;
pub mod fd_kind;
pub mod group;
mod ioctl;
pub mod iommufd;
pub mod irq;
pub mod mapping;
pub mod plane;
pub mod sysfs;

pub use caps::{RegionCap, RegionInfo, SparseArea};
pub use device::{BackendChoice, DeviceInfo, DeviceOrigin, VfioDevice};
pub use dmabuf::{DmaBuf, ExportCache};
pub use edid::{EdidPort, EdidRegs, LinkState, RegionIo};
pub use error::VfioError;
pub use irq::{IrqAction, IrqInfo};
pub use mapping::Mapping;
pub use plane::{PlaneInfo, PlaneSource, PlaneSupport, PlaneType};
pub use sysfs::HostPaths;
