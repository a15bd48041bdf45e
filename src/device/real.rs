//! The real VFIO device behind the `DisplayDevice` trait.

use super::{Backend, DisplayDevice, Result};
use crate::vfio::{
    BackendChoice, DeviceInfo, DmaBuf, HostPaths, IrqAction, IrqInfo, Mapping, PlaneInfo,
    PlaneSource, PlaneType, RegionInfo, RegionIo, VfioDevice, VfioError,
};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

/// An mdev opened through its group, or a device fd handed over by a VMM.
#[derive(Debug)]
pub struct RealDevice {
    dev: VfioDevice,
}

impl RealDevice {
    /// Opens an mdev by UUID or sysfs path (the cdev where the kernel has one, else the group).
    pub fn open(spec: &str, paths: &HostPaths) -> Result<Self> {
        Self::open_with(spec, paths, BackendChoice::Auto)
    }

    /// Opens an mdev through the path `choice` names.
    pub fn open_with(spec: &str, paths: &HostPaths, choice: BackendChoice) -> Result<Self> {
        Ok(RealDevice {
            dev: VfioDevice::open_mdev_with(spec, paths, choice)?,
        })
    }

    /// Adopts fd number `raw` inherited from the parent process (see
    /// `VfioDevice::adopt_inherited_fd`).
    pub fn adopt_inherited_fd(raw: i32) -> Result<Self> {
        Ok(RealDevice {
            dev: VfioDevice::adopt_inherited_fd(raw)?,
        })
    }

    /// Adopts an open VFIO device fd.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        Ok(RealDevice {
            dev: VfioDevice::from_fd(fd)?,
        })
    }

    /// The underlying VFIO device.
    pub fn vfio(&self) -> &VfioDevice {
        &self.dev
    }
}

impl RegionIo for RealDevice {
    fn read_region(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<(), VfioError> {
        self.dev.read_region(index, offset, buf)
    }
    fn write_region(&self, index: u32, offset: u64, buf: &[u8]) -> Result<(), VfioError> {
        self.dev.write_region(index, offset, buf)
    }
}

impl DisplayDevice for RealDevice {
    fn vfio(&self) -> Option<&VfioDevice> {
        Some(&self.dev)
    }

    fn name(&self) -> String {
        self.dev.name()
    }

    fn shared(&self) -> bool {
        self.dev.is_shared()
    }

    fn backend(&self) -> Backend {
        self.dev.origin().into()
    }

    fn info(&self) -> DeviceInfo {
        self.dev.info()
    }

    fn region_info(&self, index: u32) -> Result<RegionInfo> {
        Ok(self.dev.region_info(index)?)
    }

    fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        Ok(self.dev.irq_info(index)?)
    }

    fn set_irq_eventfds(
        &self,
        index: u32,
        start: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<()> {
        Ok(self.dev.set_irq_eventfds(index, start, fds)?)
    }

    fn disable_irq(&self, index: u32) -> Result<()> {
        Ok(self.dev.disable_irq(index)?)
    }

    fn irq_action(&self, action: IrqAction, index: u32, start: u32, count: u32) -> Result<()> {
        Ok(self.dev.irq_action(action, index, start, count)?)
    }

    fn probe_planes(&self, source: PlaneSource) -> Result<bool> {
        Ok(self.dev.probe_planes(source)?)
    }

    fn query_plane(&self, plane_type: PlaneType, source: PlaneSource) -> Result<PlaneInfo> {
        Ok(self.dev.query_plane(plane_type, source)?)
    }

    fn dmabuf(&self, dmabuf_id: u32) -> Result<Arc<DmaBuf>> {
        Ok(self.dev.dmabuf(dmabuf_id)?)
    }

    fn map_region(&self, index: u32, offset: u64, len: u64, writable: bool) -> Result<Mapping> {
        Ok(self.dev.map_region(index, offset, len, writable)?)
    }

    fn reset(&self) -> Result<()> {
        Ok(self.dev.reset()?)
    }
}
