//! Faults the simulator can inject, to prove that the layers above survive a hostile guest or a
//! buggy driver: each turns a correct answer into a specific wrong one.

use crate::vfio::PlaneInfo;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimFault {
    #[default]
    /// No fault.
    None,
    /// The primary plane is off (format 0, size 0), as when the guest disables its display.
    PlaneOff,
    /// The stride is smaller than width x bytes per pixel.
    StrideTooSmall,
    /// The declared size is smaller than stride x height.
    SizeTooSmall,
    /// Width, height and stride whose product overflows 32 and 64-bit arithmetic done naively.
    SizeOverflow,
    /// The plane claims more rows than its buffer holds.
    BufferTooShort,
    /// A fourcc nobody supports (NV12 for a single-plane RGB path).
    UnknownFormat,
    /// A compressed Intel modifier (Y_TILED_CCS), whose layout no reader here knows.
    CompressedModifier,
    /// Intel X tiles claimed with a stride that is not a whole number of tiles.
    TiledStride,
    /// Intel Y tiles with a height that is not whole tile rows and a size that covers only the
    /// height, not the rounded-up tile rows GVT-g's rule gives.
    TiledSize,
    /// The first query after every mode change fails with ENOMEM, as on mbochs.
    EnomemAfterModeChange,
    /// The region info's capability chain points back at itself.
    CapChainLoop,
    /// Two seconds after the first plane query the device is gone: plane queries and exports
    /// fail with ENODEV, as when the mdev is removed under a running viewer.
    DeviceLost,
    /// The device offers a request IRQ, and one second after the first plane query its driver
    /// signals it: the kernel asking userspace to let go of a device it is removing.
    RemovalRequested,
    /// The plane's offset is so large that offset + span overflows 64 bits.
    OffsetOverflow,
    /// The framebuffer region is smaller than the plane it scans out (region planes only).
    RegionTooSmall,
    /// Every primary plane query names a new dmabuf_id for the same buffer.
    NewIdEveryFrame,
    /// The primary plane is off on every other query.
    PlaneFlap,
    /// Every plane query fails with ENOMEM.
    QueryEnomem,
    /// Every plane query fails with EIO.
    QueryEio,
    /// Every plane query fails with ENODEV.
    QueryEnodev,
    /// The EDID region's edid_max_size says 64 bytes, less than any EDID.
    EdidMaxSizeSmall,
    /// The region info's first capability points outside the bytes returned.
    CapChainOutOfBounds,
    /// The display interrupt is stuck asserted: it fires again the moment it is unmasked.
    IrqStorm,
}

impl SimFault {
    /// Every fault with its command-line name and what it does.
    pub const ALL: &'static [(SimFault, &'static str, &'static str)] = &[
        (SimFault::None, "none", "no fault"),
        (
            SimFault::PlaneOff,
            "plane-off",
            "the primary plane is off (format 0, size 0)",
        ),
        (
            SimFault::StrideTooSmall,
            "stride-too-small",
            "stride < width x bytes per pixel",
        ),
        (
            SimFault::SizeTooSmall,
            "size-too-small",
            "plane size < stride x height",
        ),
        (
            SimFault::SizeOverflow,
            "size-overflow",
            "width, height and stride that overflow",
        ),
        (
            SimFault::BufferTooShort,
            "buffer-too-short",
            "more rows than the buffer holds",
        ),
        (SimFault::UnknownFormat, "unknown-format", "fourcc NV12"),
        (
            SimFault::CompressedModifier,
            "compressed-modifier",
            "a compressed Intel modifier (Y_TILED_CCS) no reader knows",
        ),
        (
            SimFault::TiledStride,
            "tiled-stride",
            "X tiles claimed with a stride that is not whole tiles",
        ),
        (
            SimFault::TiledSize,
            "tiled-size",
            "Y tiles with a size that misses the height's last partial tile row",
        ),
        (
            SimFault::EnomemAfterModeChange,
            "enomem-after-mode-change",
            "ENOMEM from the first plane query after a mode change (mbochs)",
        ),
        (
            SimFault::CapChainLoop,
            "cap-chain-loop",
            "region capability chains loop",
        ),
        (
            SimFault::DeviceLost,
            "device-lost",
            "ENODEV from plane queries and exports 2 s after the first query (mdev removed)",
        ),
        (
            SimFault::RemovalRequested,
            "removal-requested",
            "the request IRQ asks for the device back 1 s after the first query (mdev removal)",
        ),
        (
            SimFault::OffsetOverflow,
            "offset-overflow",
            "a plane offset where offset + size overflows 64 bits",
        ),
        (
            SimFault::RegionTooSmall,
            "region-too-small",
            "the framebuffer region is half the plane (with --sim-plane region)",
        ),
        (
            SimFault::NewIdEveryFrame,
            "new-id-every-frame",
            "a new dmabuf_id on every primary plane query",
        ),
        (
            SimFault::PlaneFlap,
            "plane-flap",
            "the primary plane is off on every other query",
        ),
        (
            SimFault::QueryEnomem,
            "query-enomem",
            "ENOMEM from every plane query",
        ),
        (
            SimFault::QueryEio,
            "query-eio",
            "EIO from every plane query",
        ),
        (
            SimFault::QueryEnodev,
            "query-enodev",
            "ENODEV from every plane query",
        ),
        (
            SimFault::EdidMaxSizeSmall,
            "edid-max-size-small",
            "the EDID region's edid_max_size is 64 bytes, smaller than any EDID",
        ),
        (
            SimFault::CapChainOutOfBounds,
            "cap-chain-out-of-bounds",
            "a region capability points past the bytes returned",
        ),
        (
            SimFault::IrqStorm,
            "irq-storm",
            "the display interrupt fires again as soon as it is unmasked (stuck line)",
        ),
    ];

    /// The errno every plane query fails with under this fault, if any.
    pub fn query_errno(self) -> Option<nix::errno::Errno> {
        use nix::errno::Errno;
        match self {
            SimFault::QueryEnomem => Some(Errno::ENOMEM),
            SimFault::QueryEio => Some(Errno::EIO),
            SimFault::QueryEnodev => Some(Errno::ENODEV),
            _ => None,
        }
    }

    /// The name `--sim-fault` takes.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("none", |(_, n, _)| n)
    }

    /// Applies the fault to a correct primary plane.
    pub fn corrupt_plane(self, mut plane: PlaneInfo) -> PlaneInfo {
        match self {
            SimFault::PlaneOff => return PlaneInfo::off(plane.plane_type, plane.source),
            SimFault::StrideTooSmall => plane.stride = plane.width * 4 - 4,
            SimFault::SizeTooSmall => plane.size = plane.stride * (plane.height - 1),
            SimFault::SizeOverflow => {
                plane.width = 0x4000_0000;
                plane.height = 0x4000_0000;
                plane.stride = 0xffff_fff0;
                plane.size = 0xffff_f000;
            }
            SimFault::BufferTooShort => {
                plane.height += 100;
                plane.size = plane.stride * plane.height;
            }
            SimFault::UnknownFormat => plane.drm_format = drm_fourcc::DrmFourcc::Nv12 as u32,
            SimFault::CompressedModifier => plane.modifier = 0x0100_0000_0000_0004,
            SimFault::TiledStride => {
                plane.modifier = crate::tiling::I915_FORMAT_MOD_X_TILED;
                // Whatever the width, 64 bytes past a whole number of 512-byte tiles.
                plane.stride = plane.stride.next_multiple_of(512) + 64;
                plane.size = plane.stride * plane.height;
            }
            SimFault::TiledSize => {
                plane.modifier = crate::tiling::I915_FORMAT_MOD_Y_TILED;
                plane.height -= 1;
                plane.size = plane.stride * plane.height;
            }
            SimFault::OffsetOverflow => plane.offset = u64::MAX - 0xfff,
            _ => {}
        }
        plane
    }

    /// Applies the fault to a region info in the kernel's byte layout.
    pub fn corrupt_region_info(self, mut bytes: Vec<u8>) -> Vec<u8> {
        // The first capability's header is at byte 32 (right after the struct); its `next` field
        // is at 36.
        if bytes.len() >= 40 {
            match self {
                // It points at itself.
                SimFault::CapChainLoop => bytes[36..40].copy_from_slice(&32u32.to_ne_bytes()),
                // It points far past the bytes the kernel returned.
                SimFault::CapChainOutOfBounds => {
                    bytes[36..40].copy_from_slice(&0x0010_0000u32.to_ne_bytes())
                }
                _ => {}
            }
        }
        bytes
    }
}

impl std::str::FromStr for SimFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, name, _)| *name == s)
            .map(|(f, _, _)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(_, n, _)| *n).collect();
                format!("unknown fault '{s}'; one of: {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for SimFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
