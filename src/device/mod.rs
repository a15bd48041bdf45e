//! The display device abstraction: one trait, implemented by the real VFIO device and by the
//! simulated vGPU, so that everything above this layer runs and is tested on both.

mod backend;
mod error;
pub mod guest;
mod real;
pub mod sim;

pub use backend::Backend;
pub use error::DeviceError;
pub use real::RealDevice;

use crate::vfio::{
    DeviceInfo, DmaBuf, EdidPort, IrqAction, IrqInfo, Mapping, PlaneInfo, PlaneSource,
    PlaneSupport, PlaneType, RegionInfo, RegionIo,
};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// A result with a `DeviceError`.
pub type Result<T, E = DeviceError> = std::result::Result<T, E>;

/// A VFIO display device: the uAPI operations the front end needs, nothing more.
///
/// All methods take `&self` and implementations are `Send + Sync`: the refresh pump and the UI use
/// one device from different threads. Every value returned is untrusted (it comes from the kernel
/// driver or the guest) and is validated by the `frame` layer before use.
pub trait DisplayDevice: RegionIo + Send + Sync {
    /// A short name for messages (a UUID, "device fd 5", "simulated vGPU").
    fn name(&self) -> String;
    /// How the device was reached.
    fn backend(&self) -> Backend;
    /// `VFIO_DEVICE_GET_INFO`, as read when the device was opened.
    fn info(&self) -> DeviceInfo;
    /// `VFIO_DEVICE_GET_REGION_INFO` with the capability chain parsed.
    fn region_info(&self, index: u32) -> Result<RegionInfo>;
    /// `VFIO_DEVICE_GET_IRQ_INFO`.
    fn irq_info(&self, index: u32) -> Result<IrqInfo>;
    /// Binds eventfds to vectors `start..` of IRQ `index` (`None` unbinds one).
    fn set_irq_eventfds(
        &self,
        index: u32,
        start: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<()>;
    /// Disables IRQ `index`.
    fn disable_irq(&self, index: u32) -> Result<()>;
    /// Loopback trigger, mask or unmask.
    fn irq_action(&self, action: IrqAction, index: u32, start: u32, count: u32) -> Result<()>;
    /// PROBE: does the device describe planes through `source`?
    fn probe_planes(&self, source: PlaneSource) -> Result<bool>;
    /// `VFIO_DEVICE_QUERY_GFX_PLANE`.
    fn query_plane(&self, plane_type: PlaneType, source: PlaneSource) -> Result<PlaneInfo>;
    /// The dma-buf of `dmabuf_id`; at most one export per id is ever open.
    fn dmabuf(&self, dmabuf_id: u32) -> Result<Arc<DmaBuf>>;
    /// Maps part of a region `MAP_SHARED`.
    fn map_region(&self, index: u32, offset: u64, len: u64, writable: bool) -> Result<Mapping>;
    /// `VFIO_DEVICE_RESET`.
    fn reset(&self) -> Result<()>;
    /// Shared with the VMM that runs the guest (a bound fd handed over or taken from QEMU):
    /// the device then refuses SET_IRQS, reset, register writes and writable maps, and
    /// everything above refreshes by timer and keeps to reads and the EDID region.
    fn shared(&self) -> bool {
        false
    }
    /// The VFIO device underneath, for the raw ioctls of the conformance checker.
    fn vfio(&self) -> Option<&crate::vfio::VfioDevice> {
        None
    }
    /// The simulator, where this is one (the checker then plays its guest).
    fn as_sim(&self) -> Option<&sim::SimDevice> {
        None
    }
}

/// A device shows as its name in debug output (the types that hold one derive `Debug`).
impl std::fmt::Debug for dyn DisplayDevice + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplayDevice")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// Which plane sources the device supports (both PROBE queries).
pub fn plane_support(dev: &dyn DisplayDevice) -> Result<PlaneSupport> {
    Ok(PlaneSupport {
        dmabuf: dev.probe_planes(PlaneSource::DmaBuf)?,
        region: dev.probe_planes(PlaneSource::Region)?,
    })
}

/// The info of every region `0..num_regions`; a region the device refuses is reported with its
/// error rather than ending the listing.
pub fn all_regions(dev: &dyn DisplayDevice) -> Vec<(u32, Result<RegionInfo>)> {
    (0..dev.info().num_regions.min(64))
        .map(|index| (index, dev.region_info(index)))
        .collect()
}

/// The info of every IRQ index `0..num_irqs`.
pub fn all_irqs(dev: &dyn DisplayDevice) -> Vec<(u32, Result<IrqInfo>)> {
    (0..dev.info().num_irqs.min(64))
        .map(|index| (index, dev.irq_info(index)))
        .collect()
}

/// The device's request IRQ (`VFIO_PCI_REQ_IRQ_INDEX` with eventfd signalling), if it offers
/// one: the kernel signals it to ask userspace to let go of a device it is removing. Without
/// it, removing the mdev waits until every process that holds it has closed it.
pub fn request_irq(dev: &dyn DisplayDevice) -> Option<IrqInfo> {
    let index = crate::uapi::VFIO_PCI_REQ_IRQ_INDEX;
    if index >= dev.info().num_irqs {
        return None;
    }
    dev.irq_info(index)
        .ok()
        .filter(|info| info.count > 0 && info.eventfd())
}

/// Finds the EDID region: device-specific regions live at indexes `num_regions` and above (the
/// PCI ones first), so every index the device lists is searched.
pub fn find_edid_region(dev: &dyn DisplayDevice) -> Option<RegionInfo> {
    all_regions(dev)
        .into_iter()
        .filter_map(|(_, info)| info.ok())
        .find(RegionInfo::is_gfx_edid)
}

/// An `EdidPort` on the device's EDID region, or a clear error if it has none.
pub fn edid_port(dev: &dyn DisplayDevice) -> Result<EdidPort<'_>> {
    let info =
        find_edid_region(dev).ok_or_else(|| DeviceError::NoEdidRegion { device: dev.name() })?;
    Ok(EdidPort::new(dev, &info)?)
}
