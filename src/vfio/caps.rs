//! Region info and its capability chain, parsed from the raw bytes the kernel returned.
//!
//! The bytes are untrusted: every offset is checked against the length the kernel reported
//! (`argsz`) and the buffer we own, a chain that loops is refused, and an unknown capability is
//! kept by id rather than guessed at. The simulator encodes its regions into the same byte form
//! (`encode_region_info`) so that both devices go through this one parser.

use super::error::{Result, VfioError};
use super::ioctl::{read_u16, read_u32, read_u64};
use crate::uapi::{
    VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, VFIO_REGION_INFO_CAP_SPARSE_MMAP,
    VFIO_REGION_INFO_CAP_TYPE, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_SUBTYPE_GFX_EDID,
    VFIO_REGION_TYPE_GFX,
};
use serde::{Deserialize, Serialize};

/// Size of `struct vfio_region_info` without capabilities.
pub const REGION_INFO_SIZE: usize = 32;
/// Size of `struct vfio_info_cap_header`.
const CAP_HEADER_SIZE: usize = 8;
/// The largest info buffer we accept from a device; a larger `argsz` is hostile or broken.
pub const MAX_INFO_SIZE: usize = 64 * 1024;

/// One area of a sparse-mmap capability: the parts of a region that may be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseArea {
    /// Offset of the mappable area in the region.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// A capability from a region's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cap", rename_all = "snake_case")]
pub enum RegionCap {
    /// Only these areas of the region may be mmapped.
    SparseMmap {
        /// The mappable areas.
        areas: Vec<SparseArea>,
    },
    /// The region's type and subtype (the EDID region is type 1, subtype 1).
    Type {
        /// `VFIO_REGION_TYPE_*`.
        region_type: u32,
        /// The subtype within that type.
        subtype: u32,
    },
    /// The MSI-X table may be mmapped.
    MsixMappable,
    /// A capability this program does not know, skipped.
    Unknown {
        /// Its capability id.
        id: u16,
        /// Its version.
        version: u16,
    },
}

/// What `VFIO_DEVICE_GET_REGION_INFO` said about one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    /// The region index.
    pub index: u32,
    /// `VFIO_REGION_INFO_FLAG_*` bits.
    pub flags: u32,
    /// Bytes.
    pub size: u64,
    /// Offset of the region in the device fd (for mmap and pread/pwrite).
    pub offset: u64,
    /// The capability chain, parsed.
    pub caps: Vec<RegionCap>,
}

impl RegionInfo {
    /// The region can be read.
    pub fn readable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_READ != 0
    }

    /// The region can be written.
    pub fn writable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_WRITE != 0
    }

    /// The region can be mmapped.
    pub fn mappable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_MMAP != 0
    }

    /// The (type, subtype) pair from a TYPE capability, if the region has one.
    pub fn region_type(&self) -> Option<(u32, u32)> {
        self.caps.iter().find_map(|cap| match cap {
            RegionCap::Type {
                region_type,
                subtype,
            } => Some((*region_type, *subtype)),
            _ => None,
        })
    }

    /// True for the EDID region (`VFIO_REGION_TYPE_GFX` / `VFIO_REGION_SUBTYPE_GFX_EDID`).
    pub fn is_gfx_edid(&self) -> bool {
        self.region_type() == Some((VFIO_REGION_TYPE_GFX, VFIO_REGION_SUBTYPE_GFX_EDID))
    }

    /// The sparse areas, if the region declares any.
    pub fn sparse_areas(&self) -> Option<&[SparseArea]> {
        self.caps.iter().find_map(|cap| match cap {
            RegionCap::SparseMmap { areas } => Some(areas.as_slice()),
            _ => None,
        })
    }

    /// Whether `[offset, offset + len)` of this region may be mapped: the region must allow mmap
    /// and, where it declares sparse areas, the range must lie inside one of them.
    pub fn can_map(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if !self.mappable() || end > self.size {
            return false;
        }
        match self.sparse_areas() {
            None => true,
            Some(areas) => areas.iter().any(|area| {
                area.offset <= offset
                    && area
                        .offset
                        .checked_add(area.size)
                        .is_some_and(|area_end| end <= area_end)
            }),
        }
    }
}

/// Parses `struct vfio_region_info` and its capability chain from `bytes`.
///
/// `index` is the index we asked for; it names the region in errors.
pub fn parse_region_info(index: u32, bytes: &[u8]) -> Result<RegionInfo> {
    let chain_error = |reason: String| VfioError::CapChain { index, reason };
    if bytes.len() < REGION_INFO_SIZE {
        return Err(chain_error(format!(
            "region info is {} bytes, shorter than the {REGION_INFO_SIZE}-byte struct",
            bytes.len()
        )));
    }
    let field = |off| read_u32(bytes, off).unwrap_or(0);
    let argsz = field(0) as usize;
    let flags = field(4);
    let cap_offset = field(12) as usize;
    let size = read_u64(bytes, 16).unwrap_or(0);
    let offset = read_u64(bytes, 24).unwrap_or(0);

    let mut info = RegionInfo {
        index,
        flags,
        size,
        offset,
        caps: Vec::new(),
    };
    if flags & VFIO_REGION_INFO_FLAG_CAPS == 0 || cap_offset == 0 {
        return Ok(info);
    }
    // The chain may only use bytes that both the kernel wrote (argsz) and we own.
    let limit = argsz.min(bytes.len());
    let mut next = cap_offset;
    let mut visited = Vec::new();
    while next != 0 {
        if next < REGION_INFO_SIZE {
            return Err(chain_error(format!(
                "capability at offset {next} overlaps the region info struct"
            )));
        }
        if visited.contains(&next) {
            return Err(chain_error(format!(
                "capability chain loops back to offset {next}"
            )));
        }
        visited.push(next);
        let header_end = next.saturating_add(CAP_HEADER_SIZE);
        if header_end > limit {
            return Err(chain_error(format!(
                "capability header at offset {next} runs past the {limit} bytes returned"
            )));
        }
        let id = read_u16(bytes, next).unwrap_or(0);
        let version = read_u16(bytes, next + 2).unwrap_or(0);
        let following = read_u32(bytes, next + 4).unwrap_or(0) as usize;
        let cap = parse_cap(id, version, &bytes[next..limit])
            .map_err(|reason| chain_error(format!("capability {id} at offset {next}: {reason}")))?;
        info.caps.push(cap);
        next = following;
    }
    Ok(info)
}

/// Parses one capability; `body` starts at its header and ends at the chain's limit.
fn parse_cap(id: u16, version: u16, body: &[u8]) -> std::result::Result<RegionCap, String> {
    match u32::from(id) {
        VFIO_REGION_INFO_CAP_SPARSE_MMAP => {
            let nr_areas = read_u32(body, 8).ok_or("truncated sparse-mmap header")? as usize;
            let needed = nr_areas
                .checked_mul(16)
                .and_then(|n| n.checked_add(16))
                .ok_or("area count overflows")?;
            if needed > body.len() {
                return Err(format!(
                    "{nr_areas} sparse areas need {needed} bytes, only {} returned",
                    body.len()
                ));
            }
            let areas = (0..nr_areas)
                .map(|i| SparseArea {
                    offset: read_u64(body, 16 + i * 16).unwrap_or(0),
                    size: read_u64(body, 24 + i * 16).unwrap_or(0),
                })
                .collect();
            Ok(RegionCap::SparseMmap { areas })
        }
        VFIO_REGION_INFO_CAP_TYPE => {
            let region_type = read_u32(body, 8).ok_or("truncated type capability")?;
            let subtype = read_u32(body, 12).ok_or("truncated type capability")?;
            Ok(RegionCap::Type {
                region_type,
                subtype,
            })
        }
        VFIO_REGION_INFO_CAP_MSIX_MAPPABLE => Ok(RegionCap::MsixMappable),
        _ => Ok(RegionCap::Unknown { id, version }),
    }
}

/// Encodes a region info and its capabilities in the kernel's byte layout. The simulator answers
/// region queries with these bytes, so its regions pass through `parse_region_info` too.
pub fn encode_region_info(info: &RegionInfo) -> Vec<u8> {
    let mut caps: Vec<Vec<u8>> = Vec::new();
    for cap in &info.caps {
        let mut body = Vec::new();
        let (id, version) = match cap {
            RegionCap::SparseMmap { areas } => {
                body.extend_from_slice(&(areas.len() as u32).to_ne_bytes());
                body.extend_from_slice(&0u32.to_ne_bytes());
                for area in areas {
                    body.extend_from_slice(&area.offset.to_ne_bytes());
                    body.extend_from_slice(&area.size.to_ne_bytes());
                }
                (VFIO_REGION_INFO_CAP_SPARSE_MMAP as u16, 1)
            }
            RegionCap::Type {
                region_type,
                subtype,
            } => {
                body.extend_from_slice(&region_type.to_ne_bytes());
                body.extend_from_slice(&subtype.to_ne_bytes());
                (VFIO_REGION_INFO_CAP_TYPE as u16, 1)
            }
            RegionCap::MsixMappable => (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE as u16, 1),
            RegionCap::Unknown { id, version } => (*id, *version),
        };
        let mut encoded = Vec::with_capacity(CAP_HEADER_SIZE + body.len());
        encoded.extend_from_slice(&id.to_ne_bytes());
        encoded.extend_from_slice(&version.to_ne_bytes());
        encoded.extend_from_slice(&0u32.to_ne_bytes());
        encoded.extend_from_slice(&body);
        caps.push(encoded);
    }
    let total = REGION_INFO_SIZE + caps.iter().map(Vec::len).sum::<usize>();
    let mut flags = info.flags & !VFIO_REGION_INFO_FLAG_CAPS;
    if !caps.is_empty() {
        flags |= VFIO_REGION_INFO_FLAG_CAPS;
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&info.index.to_ne_bytes());
    let first_cap = if caps.is_empty() {
        0
    } else {
        REGION_INFO_SIZE as u32
    };
    out.extend_from_slice(&first_cap.to_ne_bytes());
    out.extend_from_slice(&info.size.to_ne_bytes());
    out.extend_from_slice(&info.offset.to_ne_bytes());
    let count = caps.len();
    for (i, mut cap) in caps.into_iter().enumerate() {
        if i + 1 < count {
            let next = (out.len() + cap.len()) as u32;
            cap[4..8].copy_from_slice(&next.to_ne_bytes());
        }
        out.extend_from_slice(&cap);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegionInfo {
        RegionInfo {
            index: 16,
            flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP,
            size: 0x10_0000,
            offset: 16 << 40,
            caps: vec![
                RegionCap::SparseMmap {
                    areas: vec![
                        SparseArea {
                            offset: 0,
                            size: 0x8000,
                        },
                        SparseArea {
                            offset: 0x1_0000,
                            size: 0xf_0000,
                        },
                    ],
                },
                RegionCap::Type {
                    region_type: 1,
                    subtype: 1,
                },
                RegionCap::MsixMappable,
                RegionCap::Unknown { id: 77, version: 3 },
            ],
        }
    }

    #[test]
    fn encoded_chain_parses_back() {
        let info = sample();
        let bytes = encode_region_info(&info);
        let parsed = parse_region_info(16, &bytes).unwrap();
        assert_eq!(parsed.caps, info.caps);
        assert_eq!(parsed.size, info.size);
        assert_eq!(parsed.offset, info.offset);
        assert!(parsed.flags & VFIO_REGION_INFO_FLAG_CAPS != 0);
        assert!(parsed.is_gfx_edid());
    }

    #[test]
    fn no_caps_flag_means_no_chain_walk() {
        let mut bytes = encode_region_info(&sample());
        // Clear the CAPS flag: the garbage after the struct must then be ignored.
        let flags = read_u32(&bytes, 4).unwrap() & !VFIO_REGION_INFO_FLAG_CAPS;
        bytes[4..8].copy_from_slice(&flags.to_ne_bytes());
        assert!(parse_region_info(16, &bytes).unwrap().caps.is_empty());
    }

    #[test]
    fn a_looping_chain_is_refused() {
        let mut bytes = encode_region_info(&sample());
        // Point the second capability back at the first.
        let second = read_u32(&bytes, 32 + 4).unwrap() as usize;
        bytes[second + 4..second + 8].copy_from_slice(&32u32.to_ne_bytes());
        let err = parse_region_info(16, &bytes).unwrap_err().to_string();
        assert!(err.contains("loops back to offset 32"), "{err}");
    }

    #[test]
    fn a_capability_past_argsz_is_refused() {
        let mut bytes = encode_region_info(&sample());
        // Claim the kernel wrote only 48 bytes: the sparse header fits, its two areas do not.
        bytes[0..4].copy_from_slice(&48u32.to_ne_bytes());
        let err = parse_region_info(16, &bytes).unwrap_err().to_string();
        assert!(err.contains("sparse areas need"), "{err}");
    }

    #[test]
    fn a_pointer_outside_the_buffer_is_refused() {
        let mut bytes = encode_region_info(&sample());
        bytes[12..16].copy_from_slice(&0xffff_fff0u32.to_ne_bytes());
        let err = parse_region_info(16, &bytes).unwrap_err().to_string();
        assert!(err.contains("runs past"), "{err}");
    }

    #[test]
    fn a_pointer_into_the_struct_is_refused() {
        let mut bytes = encode_region_info(&sample());
        bytes[12..16].copy_from_slice(&8u32.to_ne_bytes());
        let err = parse_region_info(16, &bytes).unwrap_err().to_string();
        assert!(err.contains("overlaps"), "{err}");
    }

    #[test]
    fn an_overflowing_area_count_is_refused() {
        let mut bytes = encode_region_info(&sample());
        bytes[32 + 8..32 + 12].copy_from_slice(&u32::MAX.to_ne_bytes());
        let err = parse_region_info(16, &bytes).unwrap_err().to_string();
        assert!(err.contains("sparse areas need"), "{err}");
    }

    #[test]
    fn a_short_buffer_is_refused() {
        assert!(parse_region_info(0, &[0u8; 31]).is_err());
    }

    #[test]
    fn every_truncation_is_handled_without_panic() {
        let bytes = encode_region_info(&sample());
        for len in 0..bytes.len() {
            let mut cut = bytes[..len].to_vec();
            if len >= 4 {
                cut[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
            }
            let _ = parse_region_info(16, &cut);
        }
    }

    #[test]
    fn can_map_honours_sparse_areas() {
        let info = sample();
        assert!(info.can_map(0, 0x8000));
        assert!(!info.can_map(0, 0x8001));
        assert!(info.can_map(0x1_0000, 0xf_0000));
        assert!(!info.can_map(0x8000, 0x100));
        assert!(!info.can_map(u64::MAX, 2));
    }
}
