//! The VFIO ABI: struct layouts come from `vfio-bindings`; ioctl request numbers, which that crate
//! does not carry, are defined here and tested against the literal values of `linux/vfio.h`.
//!
//! Nothing in this module performs I/O. It only names the numbers and shapes that the `vfio`
//! layer passes to the kernel.

use nix::libc::c_ulong;

pub use vfio_bindings::bindings::vfio::{
    vfio_device_gfx_plane_info, vfio_device_info, vfio_group_status, vfio_info_cap_header,
    vfio_irq_info, vfio_irq_set, vfio_region_gfx_edid, vfio_region_info,
    vfio_region_info_cap_sparse_mmap, vfio_region_info_cap_type, vfio_region_sparse_mmap_area,
};

/// `VFIO_TYPE` from `linux/vfio.h`: the ioctl "magic" character `';'`.
pub const VFIO_TYPE: u8 = b';';
/// `VFIO_BASE`: the first ioctl number of the VFIO family.
pub const VFIO_BASE: u8 = 100;

/// `_IO(type, nr)`: VFIO passes its structs through `_IO` numbers (no size encoded), as the header
/// explains, because the structs carry their own `argsz`.
const fn io(ty: u8, nr: u8) -> c_ulong {
    ((ty as c_ulong) << 8) | nr as c_ulong
}

/// `_IOW(type, nr, size)` for the dma-buf and udmabuf ioctls, which do encode a size.
const fn iow(ty: u8, nr: u8, size: usize) -> c_ulong {
    (1 << 30) | ((size as c_ulong) << 16) | ((ty as c_ulong) << 8) | nr as c_ulong
}

/// `VFIO_GET_API_VERSION` (container): the uAPI version, `VFIO_API_VERSION`.
pub const VFIO_GET_API_VERSION: c_ulong = io(VFIO_TYPE, VFIO_BASE);
/// `VFIO_CHECK_EXTENSION` (container): whether an IOMMU model is offered.
pub const VFIO_CHECK_EXTENSION: c_ulong = io(VFIO_TYPE, VFIO_BASE + 1);
/// `VFIO_SET_IOMMU` (container): chooses the IOMMU model.
pub const VFIO_SET_IOMMU: c_ulong = io(VFIO_TYPE, VFIO_BASE + 2);
/// `VFIO_GROUP_GET_STATUS` (group): viable, container set.
pub const VFIO_GROUP_GET_STATUS: c_ulong = io(VFIO_TYPE, VFIO_BASE + 3);
/// `VFIO_GROUP_SET_CONTAINER` (group): attaches the group to a container.
pub const VFIO_GROUP_SET_CONTAINER: c_ulong = io(VFIO_TYPE, VFIO_BASE + 4);
/// `VFIO_GROUP_UNSET_CONTAINER` (group): detaches it.
pub const VFIO_GROUP_UNSET_CONTAINER: c_ulong = io(VFIO_TYPE, VFIO_BASE + 5);
/// `VFIO_GROUP_GET_DEVICE_FD` (group): a device fd by device name.
pub const VFIO_GROUP_GET_DEVICE_FD: c_ulong = io(VFIO_TYPE, VFIO_BASE + 6);
/// `VFIO_DEVICE_GET_INFO`: flags and region and IRQ counts.
pub const VFIO_DEVICE_GET_INFO: c_ulong = io(VFIO_TYPE, VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_REGION_INFO`: one region, with its capability chain.
pub const VFIO_DEVICE_GET_REGION_INFO: c_ulong = io(VFIO_TYPE, VFIO_BASE + 8);
/// `VFIO_DEVICE_GET_IRQ_INFO`: one IRQ index.
pub const VFIO_DEVICE_GET_IRQ_INFO: c_ulong = io(VFIO_TYPE, VFIO_BASE + 9);
/// `VFIO_DEVICE_SET_IRQS`: eventfds, trigger, mask, unmask.
pub const VFIO_DEVICE_SET_IRQS: c_ulong = io(VFIO_TYPE, VFIO_BASE + 10);
/// `VFIO_DEVICE_RESET`.
pub const VFIO_DEVICE_RESET: c_ulong = io(VFIO_TYPE, VFIO_BASE + 11);
/// `VFIO_DEVICE_QUERY_GFX_PLANE`: probe or describe a primary or cursor plane.
pub const VFIO_DEVICE_QUERY_GFX_PLANE: c_ulong = io(VFIO_TYPE, VFIO_BASE + 14);
/// `VFIO_DEVICE_GET_GFX_DMABUF`: a dma-buf fd for a plane's `dmabuf_id`.
pub const VFIO_DEVICE_GET_GFX_DMABUF: c_ulong = io(VFIO_TYPE, VFIO_BASE + 15);

// The VFIO device cdev and iommufd (linux/vfio.h and linux/iommufd.h since 6.6). Debian 12's
// headers (6.1) have neither, and vfio-bindings carries no iommufd structs, so they are defined
// here from the kernel's headers and tested against the header's numbers and layouts.

/// `VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18)`.
pub const VFIO_DEVICE_BIND_IOMMUFD: c_ulong = io(VFIO_TYPE, VFIO_BASE + 18);
/// `VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19)`.
pub const VFIO_DEVICE_ATTACH_IOMMUFD_PT: c_ulong = io(VFIO_TYPE, VFIO_BASE + 19);
/// `VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20)`.
pub const VFIO_DEVICE_DETACH_IOMMUFD_PT: c_ulong = io(VFIO_TYPE, VFIO_BASE + 20);
/// `IOMMUFD_TYPE` is `';'` too; its commands start at 0x80.
const IOMMUFD_CMD_BASE: u8 = 0x80;
/// `IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)`.
pub const IOMMU_DESTROY: c_ulong = io(VFIO_TYPE, IOMMUFD_CMD_BASE);
/// `IOMMU_IOAS_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)`.
pub const IOMMU_IOAS_ALLOC: c_ulong = io(VFIO_TYPE, IOMMUFD_CMD_BASE + 1);

/// `struct vfio_device_bind_iommufd`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct vfio_device_bind_iommufd {
    /// Bytes of this struct the caller passes.
    pub argsz: u32,
    /// Must be 0.
    pub flags: u32,
    /// The iommufd to bind to.
    pub iommufd: i32,
    /// The device id in that iommufd (out).
    pub out_devid: u32,
}

/// `struct vfio_device_attach_iommufd_pt` (without the `pasid` member later kernels add behind a
/// flag: `argsz` tells the kernel which layout we pass).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct vfio_device_attach_iommufd_pt {
    /// Bytes of this struct the caller passes.
    pub argsz: u32,
    /// Must be 0.
    pub flags: u32,
    /// The IOAS (or hardware page table) to attach to.
    pub pt_id: u32,
}

/// `struct vfio_device_detach_iommufd_pt` (likewise without `pasid`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct vfio_device_detach_iommufd_pt {
    /// Bytes of this struct the caller passes.
    pub argsz: u32,
    /// Must be 0.
    pub flags: u32,
}

/// `struct iommu_destroy`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct iommu_destroy {
    /// Bytes of this struct.
    pub size: u32,
    /// The object to destroy (an IOAS id).
    pub id: u32,
}

/// `struct iommu_ioas_alloc`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct iommu_ioas_alloc {
    /// Bytes of this struct.
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// The new IOAS's id (out).
    pub out_ioas_id: u32,
}

/// `struct dma_buf_sync { __u64 flags; }` from `linux/dma-buf.h`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct dma_buf_sync {
    /// `DMA_BUF_SYNC_*` bits.
    pub flags: u64,
}
/// The CPU reads the buffer.
pub const DMA_BUF_SYNC_READ: u64 = 1;
/// The CPU writes the buffer.
pub const DMA_BUF_SYNC_WRITE: u64 = 2;
/// A CPU access begins.
pub const DMA_BUF_SYNC_START: u64 = 0;
/// A CPU access ends.
pub const DMA_BUF_SYNC_END: u64 = 1 << 2;
/// `DMA_BUF_IOCTL_SYNC = _IOW(DMA_BUF_BASE 'b', 0, struct dma_buf_sync)`.
pub const DMA_BUF_IOCTL_SYNC: c_ulong = iow(b'b', 0, std::mem::size_of::<dma_buf_sync>());

/// `struct udmabuf_create` from `linux/udmabuf.h`: turns a sealed memfd into a real dma-buf.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct udmabuf_create {
    /// The sealed memfd holding the pages.
    pub memfd: u32,
    /// `UDMABUF_FLAGS_*`.
    pub flags: u32,
    /// Where the buffer starts in the memfd (page aligned).
    pub offset: u64,
    /// Bytes (page aligned).
    pub size: u64,
}
/// The new dma-buf fd is close-on-exec.
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;
/// `UDMABUF_CREATE = _IOW('u', 0x42, struct udmabuf_create)`.
pub const UDMABUF_CREATE: c_ulong = iow(b'u', 0x42, std::mem::size_of::<udmabuf_create>());

// Constants of linux/vfio.h used by the layers above, re-exported under one roof.
pub use vfio_bindings::bindings::vfio::{
    VFIO_API_VERSION, VFIO_DEVICE_FLAGS_CAPS, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PLATFORM,
    VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP,
    VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE, VFIO_GFX_PLANE_TYPE_REGION,
    VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_IRQ_INFO_AUTOMASKED,
    VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE,
    VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK,
    VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE,
    VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, VFIO_REGION_INFO_CAP_SPARSE_MMAP,
    VFIO_REGION_INFO_CAP_TYPE, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_SUBTYPE_GFX_EDID,
    VFIO_REGION_TYPE_GFX, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU,
};

/// `VFIO_PCI_REQ_IRQ_INDEX`: the IRQ through which the kernel asks userspace to release a
/// device it is removing (a device without it makes removal wait for the last fd).
pub const VFIO_PCI_REQ_IRQ_INDEX: u32 = vfio_bindings::bindings::vfio::VFIO_PCI_REQ_IRQ_INDEX;

/// `VFIO_PCI_ERR_IRQ_INDEX`: the IRQ through which the kernel reports an AER error.
pub const VFIO_PCI_ERR_IRQ_INDEX: u32 = vfio_bindings::bindings::vfio::VFIO_PCI_ERR_IRQ_INDEX;

/// `DRM_PLANE_TYPE_PRIMARY` and `DRM_PLANE_TYPE_CURSOR` (from `drm_mode.h`), the values
/// `drm_plane_type` takes in `VFIO_DEVICE_QUERY_GFX_PLANE`.
pub const DRM_PLANE_TYPE_PRIMARY: u32 = 1;
/// The cursor plane.
pub const DRM_PLANE_TYPE_CURSOR: u32 = 2;

/// The "no hotspot" marker of `x_hot`/`y_hot`.
pub const NO_HOTSPOT: u32 = 0xFFFF_FFFF;

/// Offsets of the registers of `struct vfio_region_gfx_edid` inside the EDID region.
pub mod edid_reg {
    /// `edid_offset`: where the blob starts in the region.
    pub const EDID_OFFSET: u64 = 0;
    /// `edid_max_size`: the largest blob the device takes.
    pub const EDID_MAX_SIZE: u64 = 4;
    /// `edid_size`: the blob's size now.
    pub const EDID_SIZE: u64 = 8;
    /// `max_xres`: the widest mode the device says it supports (0: no limit).
    pub const MAX_XRES: u64 = 12;
    /// `max_yres`: the tallest mode (0: no limit).
    pub const MAX_YRES: u64 = 16;
    /// `link_state`: 1 up, 2 down.
    pub const LINK_STATE: u64 = 20;
    /// Size of the register block: the blob must not overlap it.
    pub const BLOCK_SIZE: u64 = 24;
}

/// Human names of the PCI region indexes (`VFIO_PCI_*_REGION_INDEX`).
pub fn pci_region_name(index: u32) -> Option<&'static str> {
    Some(match index {
        0 => "BAR0",
        1 => "BAR1",
        2 => "BAR2",
        3 => "BAR3",
        4 => "BAR4",
        5 => "BAR5",
        6 => "ROM",
        7 => "config",
        8 => "VGA",
        _ => return None,
    })
}

/// Human names of the PCI IRQ indexes (`VFIO_PCI_*_IRQ_INDEX`).
pub fn pci_irq_name(index: u32) -> Option<&'static str> {
    Some(match index {
        0 => "INTx",
        1 => "MSI",
        2 => "MSI-X",
        3 => "ERR",
        4 => "REQ",
        _ => return None,
    })
}
