//! The simulator's EDID region, with the kernel's semantics: 4-byte register accesses only,
//! read-only geometry registers, `edid_size` bounded by `edid_max_size`, and a link state that
//! the guest reacts to when it goes up.

use crate::uapi::{VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP, edid_reg};
use nix::errno::Errno;

/// Size of the simulated EDID region.
pub const REGION_SIZE: u64 = 0x1000;
/// Where the blob starts in the region.
pub const BLOB_OFFSET: u32 = 0x800;

/// What a register write changed, for the guest to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdidEvent {
    /// Nothing for the guest to do.
    None,
    /// The link came up: the guest reads the EDID.
    LinkUp,
    /// The link went down.
    LinkDown,
}

#[derive(Debug, Clone)]
/// The simulated EDID region: its registers and blob.
pub struct SimEdid {
    /// `edid_max_size`.
    pub max_size: u32,
    /// `edid_size`.
    pub size: u32,
    /// `max_xres`.
    pub max_xres: u32,
    /// `max_yres`.
    pub max_yres: u32,
    /// `link_state`.
    pub link_state: u32,
    /// The blob area.
    pub blob: Vec<u8>,
}

impl SimEdid {
    /// A region with these limits holding `initial`, link up.
    pub fn new(max_size: u32, max_xres: u32, max_yres: u32, initial: &[u8]) -> Self {
        let mut blob = vec![0u8; max_size as usize];
        let n = initial.len().min(blob.len());
        blob[..n].copy_from_slice(&initial[..n]);
        SimEdid {
            max_size,
            size: n as u32,
            max_xres,
            max_yres,
            link_state: VFIO_DEVICE_GFX_LINK_STATE_UP,
            blob,
        }
    }

    /// The blob as the guest sees it: only while the link is up, as on mbochs.
    pub fn guest_view(&self) -> Option<&[u8]> {
        (self.link_state == VFIO_DEVICE_GFX_LINK_STATE_UP).then(|| &self.blob[..self.size as usize])
    }

    fn register(&self, offset: u64) -> Option<u32> {
        Some(match offset {
            edid_reg::EDID_OFFSET => BLOB_OFFSET,
            edid_reg::EDID_MAX_SIZE => self.max_size,
            edid_reg::EDID_SIZE => self.size,
            edid_reg::MAX_XRES => self.max_xres,
            edid_reg::MAX_YRES => self.max_yres,
            edid_reg::LINK_STATE => self.link_state,
            _ => return None,
        })
    }

    fn blob_range(&self, offset: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let start = offset.checked_sub(u64::from(BLOB_OFFSET))? as usize;
        let end = start.checked_add(len)?;
        (end <= self.blob.len()).then_some(start..end)
    }

    /// Reads registers or blob, as the kernel's region read would.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if offset < edid_reg::BLOCK_SIZE {
            if buf.len() != 4 || !offset.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let value = self.register(offset).ok_or(Errno::EINVAL)?;
            buf.copy_from_slice(&value.to_ne_bytes());
            return Ok(());
        }
        let range = self.blob_range(offset, buf.len()).ok_or(Errno::EINVAL)?;
        buf.copy_from_slice(&self.blob[range]);
        Ok(())
    }

    /// Writes registers or blob; says what changed for the guest.
    pub fn write(&mut self, offset: u64, buf: &[u8]) -> Result<EdidEvent, Errno> {
        if offset < edid_reg::BLOCK_SIZE {
            if buf.len() != 4 || !offset.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let value = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            return match offset {
                edid_reg::EDID_SIZE => {
                    if value > self.max_size {
                        return Err(Errno::EINVAL);
                    }
                    self.size = value;
                    Ok(EdidEvent::None)
                }
                edid_reg::LINK_STATE => {
                    let was = self.link_state;
                    match value {
                        VFIO_DEVICE_GFX_LINK_STATE_UP | VFIO_DEVICE_GFX_LINK_STATE_DOWN => {}
                        _ => return Err(Errno::EINVAL),
                    }
                    self.link_state = value;
                    Ok(match (was == value, value) {
                        (true, _) => EdidEvent::None,
                        (false, VFIO_DEVICE_GFX_LINK_STATE_UP) => EdidEvent::LinkUp,
                        (false, _) => EdidEvent::LinkDown,
                    })
                }
                // edid_offset, edid_max_size and max_xres/yres are read-only.
                _ => Err(Errno::EINVAL),
            };
        }
        let range = self.blob_range(offset, buf.len()).ok_or(Errno::EINVAL)?;
        self.blob[range].copy_from_slice(buf);
        Ok(EdidEvent::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_need_four_byte_accesses() {
        let e = SimEdid::new(1024, 1920, 1080, &[1, 2, 3]);
        let mut two = [0u8; 2];
        assert_eq!(e.read(0, &mut two), Err(Errno::EINVAL));
        let mut four = [0u8; 4];
        assert_eq!(e.read(2, &mut four), Err(Errno::EINVAL));
        e.read(edid_reg::EDID_MAX_SIZE, &mut four).unwrap();
        assert_eq!(u32::from_ne_bytes(four), 1024);
    }

    #[test]
    fn link_transitions_and_read_only_registers() {
        let mut e = SimEdid::new(256, 0, 0, &[]);
        let down = VFIO_DEVICE_GFX_LINK_STATE_DOWN.to_ne_bytes();
        let up = VFIO_DEVICE_GFX_LINK_STATE_UP.to_ne_bytes();
        assert_eq!(
            e.write(edid_reg::LINK_STATE, &down),
            Ok(EdidEvent::LinkDown)
        );
        assert!(e.guest_view().is_none());
        assert_eq!(e.write(edid_reg::LINK_STATE, &up), Ok(EdidEvent::LinkUp));
        assert_eq!(e.write(edid_reg::LINK_STATE, &up), Ok(EdidEvent::None));
        assert_eq!(
            e.write(edid_reg::LINK_STATE, &7u32.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        assert_eq!(e.write(edid_reg::MAX_XRES, &up), Err(Errno::EINVAL));
        assert_eq!(
            e.write(edid_reg::EDID_SIZE, &257u32.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            e.write(u64::from(BLOB_OFFSET) + 250, &[0; 7]),
            Err(Errno::EINVAL)
        );
    }
}
