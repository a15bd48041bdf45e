//! The simulator's regions: the table `VFIO_DEVICE_GET_REGION_INFO` reports (with capability
//! chains, through the kernel's byte layout), the memory behind the mappable ones, and reads
//! and writes, the EDID region's included.

use super::buffer::SharedBuffer;
use super::edid::{self, EdidEvent};
use super::fault::SimFault;
use super::state::{SimState, sim_errno};
use crate::device::{DeviceError, Result};
use crate::uapi::{
    VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
    VFIO_REGION_SUBTYPE_GFX_EDID, VFIO_REGION_TYPE_GFX,
};
use crate::vfio::caps::{encode_region_info, parse_region_info};
use crate::vfio::{
    AccessFailure, Mapping, PlaneSource, RegionCap, RegionInfo, SparseArea, VfioError,
};
use nix::errno::Errno;
use std::os::fd::AsFd;

/// Region indexes of the simulated device (PCI layout; device-specific regions from 9 on).
pub const VRAM_REGION: u32 = 0;
/// The MMIO region (BAR2).
pub const MMIO_REGION: u32 = 2;
/// The PCI config space region.
pub const CONFIG_REGION: u32 = 7;
/// The EDID region.
pub const EDID_REGION: u32 = 9;
/// In region mode the framebuffer is region 16 while `num_regions` is 10, as on mdpy.
pub const FB_REGION: u32 = 16;
/// The cursor's region (region planes).
pub const CURSOR_REGION: u32 = 17;
/// The `num_regions` the device reports.
pub(super) const NUM_REGIONS: u32 = 10;
/// The edid_max_size the `edid-max-size-small` fault reports.
pub const SMALL_EDID_MAX_SIZE: u32 = 64;

/// The error of a region read or write that the device refuses with `errno`.
fn access_err(op: &'static str, index: u32, offset: u64, len: usize, errno: Errno) -> VfioError {
    let target = format!("region {index}");
    VfioError::access(op, target, offset, len as u64, AccessFailure::Errno(errno))
}

impl SimState {
    fn region(&self, index: u32) -> Option<RegionInfo> {
        let rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        let whole = |size: u64| RegionCap::SparseMmap {
            areas: vec![SparseArea { offset: 0, size }],
        };
        let (flags, size, caps) = match index {
            VRAM_REGION => (rw | VFIO_REGION_INFO_FLAG_MMAP, self.cfg.vram_bytes, vec![]),
            MMIO_REGION => (rw, 4096, vec![]),
            CONFIG_REGION => (rw, 256, vec![]),
            1 | 3..=6 | 8 => (0, 0, vec![]),
            EDID_REGION => (
                rw,
                edid::REGION_SIZE,
                vec![RegionCap::Type {
                    region_type: VFIO_REGION_TYPE_GFX,
                    subtype: VFIO_REGION_SUBTYPE_GFX_EDID,
                }],
            ),
            FB_REGION if self.cfg.source == PlaneSource::Region => {
                let mut size = self.fb_region.as_ref().map_or(0, SharedBuffer::size);
                if self.cfg.fault == SimFault::RegionTooSmall {
                    size = u64::from(self.stride) * u64::from(self.height) / 2;
                }
                (rw | VFIO_REGION_INFO_FLAG_MMAP, size, vec![whole(size)])
            }
            CURSOR_REGION if self.cfg.source == PlaneSource::Region => {
                let size = self.cursor.mem.size();
                (rw | VFIO_REGION_INFO_FLAG_MMAP, size, vec![whole(size)])
            }
            _ => return None,
        };
        Some(RegionInfo {
            index,
            flags,
            size,
            // As vfio-pci does: each region at index << 40 in the device fd.
            offset: u64::from(index) << 40,
            caps,
        })
    }

    fn backing(&mut self, index: u32) -> Result<&SharedBuffer> {
        match index {
            VRAM_REGION => {
                if self.vram.is_none() {
                    self.vram = Some(SharedBuffer::new("sim-vram", self.cfg.vram_bytes)?);
                }
                Ok(self.vram.as_ref().expect("just created"))
            }
            FB_REGION if self.fb_region.is_some() => Ok(self.fb_region.as_ref().expect("checked")),
            CURSOR_REGION if self.cfg.source == PlaneSource::Region => Ok(&self.cursor.mem),
            _ => Err(sim_errno("mmap", format!("region {index}"), Errno::EINVAL)),
        }
    }

    /// `VFIO_DEVICE_GET_REGION_INFO`, through the kernel's byte layout and the same parser as a
    /// real device, so that the faults that corrupt those bytes reach the parser.
    pub(super) fn region_info(&self, index: u32) -> Result<RegionInfo> {
        let info = self.region(index).ok_or_else(|| {
            sim_errno(
                "VFIO_DEVICE_GET_REGION_INFO",
                format!("region {index}"),
                Errno::EINVAL,
            )
        })?;
        let bytes = self
            .cfg
            .fault
            .corrupt_region_info(encode_region_info(&info));
        Ok(parse_region_info(index, &bytes)?)
    }

    /// A `pread` of a region.
    pub(super) fn read_region(
        &mut self,
        index: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), VfioError> {
        let len = buf.len();
        let err = |errno: Errno| access_err("pread", index, offset, len, errno);
        match index {
            EDID_REGION => {
                self.edid.read(offset, buf).map_err(err)?;
                if self.cfg.fault == SimFault::EdidMaxSizeSmall
                    && offset == crate::uapi::edid_reg::EDID_MAX_SIZE
                    && len == 4
                {
                    buf.copy_from_slice(&SMALL_EDID_MAX_SIZE.to_ne_bytes());
                }
                Ok(())
            }
            MMIO_REGION | CONFIG_REGION => {
                buf.fill(0);
                Ok(())
            }
            // The memory regions read like their mappings, as a correct driver's do.
            index => {
                let size = self.region(index).map_or(0, |r| r.size);
                let end = offset
                    .checked_add(len as u64)
                    .ok_or_else(|| err(Errno::EINVAL))?;
                if end > size {
                    return Err(err(Errno::EINVAL));
                }
                let backing = self.backing(index).map_err(|_| err(Errno::EINVAL))?;
                let read =
                    nix::sys::uio::pread(backing.memfd(), buf, offset as i64).map_err(err)?;
                if read != len {
                    return Err(err(Errno::EIO));
                }
                Ok(())
            }
        }
    }

    /// A `pwrite` to a region: the EDID region's registers and blob, or the ignored registers.
    pub(super) fn write_region(
        &mut self,
        index: u32,
        offset: u64,
        buf: &[u8],
    ) -> Result<(), VfioError> {
        if index != EDID_REGION {
            self.refuse_if_shared("writes its registers (only the EDID region)")?;
        }
        let err = |errno: Errno| access_err("pwrite", index, offset, buf.len(), errno);
        match index {
            EDID_REGION => {
                // The device that reports a small edid_max_size also enforces it, as the
                // kernel's drivers do.
                if self.cfg.fault == SimFault::EdidMaxSizeSmall
                    && offset == crate::uapi::edid_reg::EDID_SIZE
                    && buf.len() == 4
                    && u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) > SMALL_EDID_MAX_SIZE
                {
                    return Err(err(Errno::EINVAL));
                }
                if self.edid.write(offset, buf).map_err(err)? == EdidEvent::LinkUp {
                    self.on_link_up();
                    self.switch_if_frozen()
                        .map_err(|e| VfioError::invalid("simulated guest", e.to_string()))?;
                }
                Ok(())
            }
            MMIO_REGION | CONFIG_REGION => Ok(()),
            _ => Err(err(Errno::EINVAL)),
        }
    }

    /// Maps `len` bytes of a region at `offset`, within what its region info allows.
    pub(super) fn map_region(
        &mut self,
        index: u32,
        offset: u64,
        len: u64,
        writable: bool,
    ) -> Result<Mapping> {
        if writable {
            self.refuse_if_shared("maps its regions writable")?;
        }
        let info = self.region_info(index)?;
        if !info.can_map(offset, len) {
            return Err(DeviceError::Vfio(VfioError::invalid(
                format!("region {index}"),
                format!(
                    "{len} bytes at offset {offset:#x} cannot be mapped (region size {})",
                    info.size
                ),
            )));
        }
        let backing = self.backing(index)?;
        Ok(Mapping::map(
            backing.memfd().as_fd(),
            offset,
            len,
            writable,
            format!("region {index}"),
        )?)
    }
}
