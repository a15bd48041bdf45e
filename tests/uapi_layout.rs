//! Layout and number tests for the uAPI layer: every struct we hand to the kernel must have the
//! size and field offsets of `linux/vfio.h`, and every ioctl number must equal the header's value.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use std::mem::{offset_of, size_of};
use vfio_display::uapi::*;

#[test]
fn ioctl_numbers_match_the_header() {
    // _IO(';', 100 + n) = 0x3b00 | (100 + n)
    assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
    assert_eq!(VFIO_CHECK_EXTENSION, 0x3b65);
    assert_eq!(VFIO_SET_IOMMU, 0x3b66);
    assert_eq!(VFIO_GROUP_GET_STATUS, 0x3b67);
    assert_eq!(VFIO_GROUP_SET_CONTAINER, 0x3b68);
    assert_eq!(VFIO_GROUP_UNSET_CONTAINER, 0x3b69);
    assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
    assert_eq!(VFIO_DEVICE_GET_INFO, 0x3b6b);
    assert_eq!(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
    assert_eq!(VFIO_DEVICE_GET_IRQ_INFO, 0x3b6d);
    assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
    assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
    assert_eq!(VFIO_DEVICE_QUERY_GFX_PLANE, 0x3b72);
    assert_eq!(VFIO_DEVICE_GET_GFX_DMABUF, 0x3b73);
    assert_eq!(DMA_BUF_IOCTL_SYNC, 0x4008_6200);
    assert_eq!(UDMABUF_CREATE, 0x4018_7542);
}

#[test]
fn constants_match_the_header() {
    assert_eq!(VFIO_TYPE1_IOMMU, 1);
    assert_eq!(VFIO_TYPE1v2_IOMMU, 3);
    assert_eq!(VFIO_GROUP_FLAGS_VIABLE, 1);
    assert_eq!(VFIO_DEVICE_FLAGS_RESET, 1);
    assert_eq!(VFIO_DEVICE_FLAGS_PCI, 2);
    assert_eq!(VFIO_DEVICE_FLAGS_CAPS, 1 << 7);
    assert_eq!(VFIO_REGION_INFO_FLAG_CAPS, 1 << 3);
    assert_eq!(VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1);
    assert_eq!(VFIO_REGION_INFO_CAP_TYPE, 2);
    assert_eq!(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 3);
    assert_eq!(VFIO_REGION_TYPE_GFX, 1);
    assert_eq!(VFIO_REGION_SUBTYPE_GFX_EDID, 1);
    assert_eq!(VFIO_DEVICE_GFX_LINK_STATE_UP, 1);
    assert_eq!(VFIO_DEVICE_GFX_LINK_STATE_DOWN, 2);
    assert_eq!(VFIO_GFX_PLANE_TYPE_PROBE, 1);
    assert_eq!(VFIO_GFX_PLANE_TYPE_DMABUF, 2);
    assert_eq!(VFIO_GFX_PLANE_TYPE_REGION, 4);
    assert_eq!(VFIO_IRQ_SET_DATA_NONE, 1);
    assert_eq!(VFIO_IRQ_SET_DATA_BOOL, 2);
    assert_eq!(VFIO_IRQ_SET_DATA_EVENTFD, 4);
    assert_eq!(VFIO_IRQ_SET_ACTION_MASK, 8);
    assert_eq!(VFIO_IRQ_SET_ACTION_UNMASK, 16);
    assert_eq!(VFIO_IRQ_SET_ACTION_TRIGGER, 32);
    assert_eq!(VFIO_IRQ_INFO_EVENTFD, 1);
    assert_eq!(VFIO_IRQ_INFO_MASKABLE, 2);
    assert_eq!(VFIO_IRQ_INFO_AUTOMASKED, 4);
    assert_eq!(VFIO_IRQ_INFO_NORESIZE, 8);
}

#[test]
fn group_status_layout() {
    assert_eq!(size_of::<vfio_group_status>(), 8);
    assert_eq!(offset_of!(vfio_group_status, argsz), 0);
    assert_eq!(offset_of!(vfio_group_status, flags), 4);
}

#[test]
fn device_info_layout() {
    assert_eq!(size_of::<vfio_device_info>(), 24);
    assert_eq!(offset_of!(vfio_device_info, argsz), 0);
    assert_eq!(offset_of!(vfio_device_info, flags), 4);
    assert_eq!(offset_of!(vfio_device_info, num_regions), 8);
    assert_eq!(offset_of!(vfio_device_info, num_irqs), 12);
    assert_eq!(offset_of!(vfio_device_info, cap_offset), 16);
}

#[test]
fn region_info_layout() {
    // 32 bytes: mbochs refuses a larger argsz on the first query (ARCHITECTURE.md, section 5).
    assert_eq!(size_of::<vfio_region_info>(), 32);
    assert_eq!(offset_of!(vfio_region_info, argsz), 0);
    assert_eq!(offset_of!(vfio_region_info, flags), 4);
    assert_eq!(offset_of!(vfio_region_info, index), 8);
    assert_eq!(offset_of!(vfio_region_info, cap_offset), 12);
    assert_eq!(offset_of!(vfio_region_info, size), 16);
    assert_eq!(offset_of!(vfio_region_info, offset), 24);
}

#[test]
fn capability_layouts() {
    assert_eq!(size_of::<vfio_info_cap_header>(), 8);
    assert_eq!(offset_of!(vfio_info_cap_header, id), 0);
    assert_eq!(offset_of!(vfio_info_cap_header, version), 2);
    assert_eq!(offset_of!(vfio_info_cap_header, next), 4);
    assert_eq!(size_of::<vfio_region_info_cap_sparse_mmap>(), 16);
    assert_eq!(offset_of!(vfio_region_info_cap_sparse_mmap, nr_areas), 8);
    assert_eq!(offset_of!(vfio_region_info_cap_sparse_mmap, areas), 16);
    assert_eq!(size_of::<vfio_region_sparse_mmap_area>(), 16);
    assert_eq!(offset_of!(vfio_region_sparse_mmap_area, size), 8);
    assert_eq!(size_of::<vfio_region_info_cap_type>(), 16);
    assert_eq!(offset_of!(vfio_region_info_cap_type, type_), 8);
    assert_eq!(offset_of!(vfio_region_info_cap_type, subtype), 12);
}

#[test]
fn irq_layouts() {
    assert_eq!(size_of::<vfio_irq_info>(), 16);
    assert_eq!(offset_of!(vfio_irq_info, index), 8);
    assert_eq!(offset_of!(vfio_irq_info, count), 12);
    assert_eq!(size_of::<vfio_irq_set>(), 20);
    assert_eq!(offset_of!(vfio_irq_set, index), 8);
    assert_eq!(offset_of!(vfio_irq_set, start), 12);
    assert_eq!(offset_of!(vfio_irq_set, count), 16);
    assert_eq!(offset_of!(vfio_irq_set, data), 20);
}

#[test]
fn gfx_plane_info_layout() {
    assert_eq!(size_of::<vfio_device_gfx_plane_info>(), 64);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, flags), 4);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, drm_plane_type), 8);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, drm_format), 12);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, drm_format_mod), 16);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, width), 24);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, height), 28);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, stride), 32);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, size), 36);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, x_pos), 40);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, y_pos), 44);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, x_hot), 48);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, y_hot), 52);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, __bindgen_anon_1), 56);
    assert_eq!(offset_of!(vfio_device_gfx_plane_info, reserved), 60);
}

#[test]
fn edid_region_layout() {
    assert_eq!(size_of::<vfio_region_gfx_edid>(), 24);
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, edid_offset) as u64,
        edid_reg::EDID_OFFSET
    );
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, edid_max_size) as u64,
        edid_reg::EDID_MAX_SIZE
    );
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, edid_size) as u64,
        edid_reg::EDID_SIZE
    );
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, max_xres) as u64,
        edid_reg::MAX_XRES
    );
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, max_yres) as u64,
        edid_reg::MAX_YRES
    );
    assert_eq!(
        offset_of!(vfio_region_gfx_edid, link_state) as u64,
        edid_reg::LINK_STATE
    );
}

#[test]
fn dma_buf_structs_layout() {
    assert_eq!(size_of::<dma_buf_sync>(), 8);
    assert_eq!(size_of::<udmabuf_create>(), 24);
    assert_eq!(offset_of!(udmabuf_create, offset), 8);
    assert_eq!(offset_of!(udmabuf_create, size), 16);
}

#[test]
fn cdev_and_iommufd_numbers_and_layouts_match_the_headers() {
    // The values of linux/vfio.h and linux/iommufd.h (6.6 and later), which Debian 12's headers
    // lack.
    assert_eq!(VFIO_DEVICE_BIND_IOMMUFD, 0x3b76);
    assert_eq!(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
    assert_eq!(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3b78);
    assert_eq!(IOMMU_DESTROY, 0x3b80);
    assert_eq!(IOMMU_IOAS_ALLOC, 0x3b81);
    assert_eq!(size_of::<vfio_device_bind_iommufd>(), 16);
    assert_eq!(offset_of!(vfio_device_bind_iommufd, iommufd), 8);
    assert_eq!(offset_of!(vfio_device_bind_iommufd, out_devid), 12);
    assert_eq!(size_of::<vfio_device_attach_iommufd_pt>(), 12);
    assert_eq!(offset_of!(vfio_device_attach_iommufd_pt, pt_id), 8);
    assert_eq!(size_of::<vfio_device_detach_iommufd_pt>(), 8);
    assert_eq!(size_of::<iommu_destroy>(), 8);
    assert_eq!(offset_of!(iommu_destroy, id), 4);
    assert_eq!(size_of::<iommu_ioas_alloc>(), 12);
    assert_eq!(offset_of!(iommu_ioas_alloc, out_ioas_id), 8);
}
