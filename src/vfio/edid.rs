//! The EDID region (`VFIO_REGION_SUBTYPE_GFX_EDID`): its registers, the blob, the link state, and
//! the update protocol of `linux/vfio.h` (link down, blob and size, link up).
//!
//! Registers are accessed 4 bytes at a time (mbochs refuses other widths). The register values
//! come from the device and are checked before the blob window is used.

use super::caps::RegionInfo;
use super::error::{Result, VfioError};
use crate::uapi::{VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP, edid_reg};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Reads and writes a device region by offset (pread/pwrite on the device fd for a real device).
/// The EDID region is reached through this, never through a mapping.
pub trait RegionIo {
    /// Reads `buf.len()` bytes of region `index` at `offset`.
    fn read_region(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Writes `buf` to region `index` at `offset`.
    fn write_region(&self, index: u32, offset: u64, buf: &[u8]) -> Result<()>;
}

/// Region access has nothing to show but that it is there.
impl std::fmt::Debug for dyn RegionIo + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionIo").finish_non_exhaustive()
    }
}

/// The EDID blob may be at most this large whatever the device claims (a 256-block EDID).
pub const MAX_EDID_BLOB: u32 = 256 * 128;

/// The registers of `struct vfio_region_gfx_edid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdidRegs {
    /// Where the blob starts in the region.
    pub edid_offset: u32,
    /// The largest blob the device takes.
    pub edid_max_size: u32,
    /// The blob's size now.
    pub edid_size: u32,
    /// The widest mode the device says it supports (0: no limit).
    pub max_xres: u32,
    /// The tallest mode (0: no limit).
    pub max_yres: u32,
    /// 1 up, 2 down (anything else is shown as it is).
    pub link_state: u32,
}

/// The display link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The virtual monitor is plugged in.
    Up,
    /// It is unplugged.
    Down,
    /// Any other value; mbochs starts at 0 before anyone set the link.
    Unset(u32),
}

impl LinkState {
    /// The state a `link_state` register value means (anything but 1 is down).
    pub fn from_reg(value: u32) -> Self {
        match value {
            VFIO_DEVICE_GFX_LINK_STATE_UP => LinkState::Up,
            VFIO_DEVICE_GFX_LINK_STATE_DOWN => LinkState::Down,
            other => LinkState::Unset(other),
        }
    }
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkState::Up => f.write_str("up"),
            LinkState::Down => f.write_str("down"),
            LinkState::Unset(v) => write!(f, "not set ({v})"),
        }
    }
}

impl EdidRegs {
    /// Whether `width` x `height` is above the device's declared maximum (0 means no limit).
    /// A fact the device states, not a guarantee: mbochs accepts modes above it.
    pub fn exceeds_max(&self, width: u32, height: u32) -> bool {
        (self.max_xres != 0 && width > self.max_xres)
            || (self.max_yres != 0 && height > self.max_yres)
    }

    /// The link state.
    pub fn link(&self) -> LinkState {
        LinkState::from_reg(self.link_state)
    }
}

/// Access to one device's EDID region.
#[derive(Debug)]
pub struct EdidPort<'a> {
    io: &'a dyn RegionIo,
    index: u32,
    region_size: u64,
}

impl<'a> EdidPort<'a> {
    /// Wraps region `info`, which must be the EDID region and large enough for the registers.
    pub fn new(io: &'a dyn RegionIo, info: &RegionInfo) -> Result<Self> {
        let target = format!("EDID region {}", info.index);
        if !info.is_gfx_edid() {
            return Err(VfioError::invalid(target, "not a GFX/EDID region"));
        }
        if info.size < edid_reg::BLOCK_SIZE {
            return Err(VfioError::invalid(
                target,
                format!("{} bytes cannot hold the 24-byte register block", info.size),
            ));
        }
        if !info.readable() || !info.writable() {
            return Err(VfioError::invalid(
                target,
                "region is not readable and writable",
            ));
        }
        Ok(EdidPort {
            io,
            index: info.index,
            region_size: info.size,
        })
    }

    /// The EDID region's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    fn reg(&self, offset: u64) -> Result<u32> {
        let mut bytes = [0u8; 4];
        self.io.read_region(self.index, offset, &mut bytes)?;
        Ok(u32::from_ne_bytes(bytes))
    }

    fn set_reg(&self, offset: u64, value: u32) -> Result<()> {
        self.io
            .write_region(self.index, offset, &value.to_ne_bytes())
    }

    /// Reads all six registers.
    pub fn registers(&self) -> Result<EdidRegs> {
        Ok(EdidRegs {
            edid_offset: self.reg(edid_reg::EDID_OFFSET)?,
            edid_max_size: self.reg(edid_reg::EDID_MAX_SIZE)?,
            edid_size: self.reg(edid_reg::EDID_SIZE)?,
            max_xres: self.reg(edid_reg::MAX_XRES)?,
            max_yres: self.reg(edid_reg::MAX_YRES)?,
            link_state: self.reg(edid_reg::LINK_STATE)?,
        })
    }

    /// Checks the device's blob window: after the registers, inside the region, of a sane size.
    /// Returns (offset, capacity).
    fn blob_window(&self, regs: &EdidRegs) -> Result<(u64, u32)> {
        let target = format!("EDID region {}", self.index);
        let start = u64::from(regs.edid_offset);
        if start < edid_reg::BLOCK_SIZE {
            return Err(VfioError::invalid(
                target,
                format!("edid_offset {start:#x} overlaps the registers"),
            ));
        }
        let end = start + u64::from(regs.edid_max_size);
        if end > self.region_size {
            return Err(VfioError::invalid(
                target,
                format!(
                    "blob window {start:#x}..{end:#x} runs past the {}-byte region",
                    self.region_size
                ),
            ));
        }
        Ok((start, regs.edid_max_size.min(MAX_EDID_BLOB)))
    }

    /// Reads the current blob (`edid_size` bytes, bounded by the window).
    pub fn read_blob(&self) -> Result<Vec<u8>> {
        let regs = self.registers()?;
        let (start, capacity) = self.blob_window(&regs)?;
        if regs.edid_size > capacity {
            return Err(VfioError::invalid(
                format!("EDID region {}", self.index),
                format!(
                    "edid_size {} exceeds edid_max_size {}",
                    regs.edid_size, regs.edid_max_size
                ),
            ));
        }
        let mut blob = vec![0u8; regs.edid_size as usize];
        self.io.read_region(self.index, start, &mut blob)?;
        Ok(blob)
    }

    /// Sets the link state register.
    pub fn set_link(&self, up: bool) -> Result<()> {
        let value = if up {
            VFIO_DEVICE_GFX_LINK_STATE_UP
        } else {
            VFIO_DEVICE_GFX_LINK_STATE_DOWN
        };
        self.set_reg(edid_reg::LINK_STATE, value)
    }

    /// Writes `blob` and `edid_size`. Call with the link down (see `update`).
    pub fn write_blob(&self, blob: &[u8]) -> Result<()> {
        let regs = self.registers()?;
        let (start, capacity) = self.blob_window(&regs)?;
        if blob.len() > capacity as usize {
            return Err(VfioError::invalid(
                format!("EDID region {}", self.index),
                format!(
                    "the {}-byte EDID does not fit edid_max_size {}",
                    blob.len(),
                    regs.edid_max_size
                ),
            ));
        }
        self.io.write_region(self.index, start, blob)?;
        self.set_reg(edid_reg::EDID_SIZE, blob.len() as u32)
    }

    /// The update protocol: link down, blob and size, wait `link_delay`, link up.
    pub fn update(&self, blob: &[u8], link_delay: Duration) -> Result<()> {
        self.update_with(blob, || std::thread::sleep(link_delay))
    }

    /// The update protocol with the caller's wait between the blob and link up (one that a
    /// signal can cut short). The link comes up again however the wait ends; only a failed
    /// blob write leaves it down, since raising it would show the guest a half-written EDID.
    pub fn update_with(&self, blob: &[u8], wait: impl FnOnce()) -> Result<()> {
        self.set_link(false)?;
        self.write_blob(blob)?;
        wait();
        self.set_link(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::{VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE};
    use crate::vfio::caps::RegionCap;
    use std::sync::Mutex;

    /// A plain byte array standing in for the region, recording the order of writes.
    struct FakeRegion {
        bytes: Mutex<Vec<u8>>,
        writes: Mutex<Vec<(u64, usize)>>,
    }

    impl RegionIo for FakeRegion {
        fn read_region(&self, _: u32, offset: u64, buf: &mut [u8]) -> Result<()> {
            let bytes = self.bytes.lock().unwrap();
            let start = offset as usize;
            buf.copy_from_slice(&bytes[start..start + buf.len()]);
            Ok(())
        }
        fn write_region(&self, _: u32, offset: u64, buf: &[u8]) -> Result<()> {
            let mut bytes = self.bytes.lock().unwrap();
            let start = offset as usize;
            bytes[start..start + buf.len()].copy_from_slice(buf);
            self.writes.lock().unwrap().push((offset, buf.len()));
            Ok(())
        }
    }

    fn fake(edid_offset: u32, max: u32) -> (FakeRegion, RegionInfo) {
        let mut bytes = vec![0u8; 0x1000];
        bytes[0..4].copy_from_slice(&edid_offset.to_ne_bytes());
        bytes[4..8].copy_from_slice(&max.to_ne_bytes());
        let info = RegionInfo {
            index: 9,
            flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
            size: 0x1000,
            offset: 0,
            caps: vec![RegionCap::Type {
                region_type: 1,
                subtype: 1,
            }],
        };
        let region = FakeRegion {
            bytes: Mutex::new(bytes),
            writes: Mutex::new(Vec::new()),
        };
        (region, info)
    }

    #[test]
    fn update_follows_the_protocol_order() {
        let (region, info) = fake(0x800, 1024);
        let port = EdidPort::new(&region, &info).unwrap();
        let blob: Vec<u8> = (0..128).map(|i| i as u8).collect();
        port.update(&blob, Duration::ZERO).unwrap();
        let writes = region.writes.lock().unwrap().clone();
        assert_eq!(
            writes,
            [
                (edid_reg::LINK_STATE, 4),
                (0x800, 128),
                (edid_reg::EDID_SIZE, 4),
                (edid_reg::LINK_STATE, 4)
            ]
        );
        let regs = port.registers().unwrap();
        assert_eq!(regs.link(), LinkState::Up);
        assert_eq!(regs.edid_size, 128);
        assert_eq!(port.read_blob().unwrap(), blob);
    }

    #[test]
    fn an_oversized_blob_is_refused() {
        let (region, info) = fake(0x800, 128);
        let port = EdidPort::new(&region, &info).unwrap();
        let err = port.write_blob(&[0u8; 256]).unwrap_err().to_string();
        assert!(err.contains("does not fit edid_max_size 128"), "{err}");
    }

    #[test]
    fn a_hostile_window_is_refused() {
        let (region, info) = fake(0xff0, 1024);
        let port = EdidPort::new(&region, &info).unwrap();
        assert!(
            port.read_blob()
                .unwrap_err()
                .to_string()
                .contains("runs past")
        );
        let (region, info) = fake(8, 16);
        let port = EdidPort::new(&region, &info).unwrap();
        assert!(
            port.read_blob()
                .unwrap_err()
                .to_string()
                .contains("overlaps")
        );
    }

    #[test]
    fn a_size_beyond_the_maximum_is_refused_on_read() {
        let (region, info) = fake(0x800, 128);
        region.bytes.lock().unwrap()[8..12].copy_from_slice(&4096u32.to_ne_bytes());
        let port = EdidPort::new(&region, &info).unwrap();
        assert!(
            port.read_blob()
                .unwrap_err()
                .to_string()
                .contains("exceeds")
        );
    }

    #[test]
    fn a_region_that_is_not_edid_is_refused() {
        let (region, mut info) = fake(0x800, 128);
        info.caps.clear();
        assert!(EdidPort::new(&region, &info).is_err());
    }
}
