//! Safe wrappers over the VFIO uAPI: the only layer with ioctl and mmap `unsafe`.

pub mod caps;
// unsafe: device ioctls (info, regions, IRQs, planes, dma-buf export) on the device fd
#[allow(unsafe_code)]
pub mod device;
// unsafe: DMA_BUF_IOCTL_SYNC and udmabuf creation
#[allow(unsafe_code)]
pub mod dmabuf;
pub mod edid;
pub mod error;
pub mod fd_kind;
// unsafe: container and group ioctls
#[allow(unsafe_code)]
pub mod group;
// unsafe: the raw ioctl(2) calls
#[allow(unsafe_code)]
mod ioctl;
// unsafe: iommufd and cdev bind/attach ioctls
#[allow(unsafe_code)]
pub mod iommufd;
pub mod irq;
// unsafe: mmap and munmap of device regions and dma-bufs
#[allow(unsafe_code)]
pub mod mapping;
// unsafe: reading the union of the kernel's plane struct
#[allow(unsafe_code)]
pub mod plane;
pub mod sysfs;

pub use caps::{RegionCap, RegionInfo, SparseArea};
pub use device::{BackendChoice, DeviceInfo, DeviceOrigin, VfioDevice};
pub use dmabuf::{DmaBuf, ExportCache};
pub use edid::{EdidPort, EdidRegs, LinkState, RegionIo};
pub use error::{AccessFailure, VfioError};
pub use irq::{IrqAction, IrqInfo};
pub use mapping::Mapping;
pub use plane::{PlaneInfo, PlaneSource, PlaneSupport, PlaneType};
pub use sysfs::HostPaths;
