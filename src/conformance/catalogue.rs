//! Every check: its stable id, the section of `linux/vfio.h` it tests, and the header's words.

use super::id;

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct CheckSpec {
    /// The stable id ("planes.primary").
    pub id: &'static str,
    /// Where the rule is in the header.
    pub section: &'static str,
    /// The rule, quoted or paraphrased from `linux/vfio.h`.
    pub rule: &'static str,
}

const fn c(id: &'static str, section: &'static str, rule: &'static str) -> CheckSpec {
    CheckSpec { id, section, rule }
}

/// The catalogue, in the order the checks run and are reported.
pub const CATALOGUE: &[CheckSpec] = &[
    c(
        id::DEVICE_INFO,
        "VFIO_DEVICE_GET_INFO",
        "struct vfio_device_info: flags, num_regions, num_irqs",
    ),
    c(
        id::REGIONS_CAP_CHAIN,
        "struct vfio_info_cap_header",
        "\"next: Offset of next capability\": every capability inside the returned argsz, no loops",
    ),
    c(
        id::REGIONS_ARGSZ_SHORT,
        "INFO ioctls, capability chains",
        "\"Callers of INFO ioctls passing insufficiently sized buffers will see the capability chain flag bit set, a zero value for the first capability offset ..., and argsz will be updated to report the necessary buffer size\"",
    ),
    c(
        id::REGIONS_ARGSZ_LARGE,
        "struct vfio_device_info, argsz",
        "\"As structure fields are added, argsz will increase to match\": a caller's larger argsz is legal",
    ),
    c(
        id::REGIONS_PLANE_REGION,
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"region_index: region index\": the region a plane names exists, is mappable and holds the plane",
    ),
    c(
        id::REGIONS_PREAD_MMAP,
        "VFIO_DEVICE_GET_REGION_INFO",
        "\"offset: Region offset from start of device fd\": read() at an offset and the mmap show the same bytes",
    ),
    c(
        id::PLANES_PROBE,
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"VFIO_GFX_PLANE_TYPE_PROBE and VFIO_GFX_PLANE_TYPE_DMABUF [or _REGION] are set to ask if the mdev supports dma-buf [region]. 0 on support, -EINVAL on no support\": PROBE agrees with real queries",
    ),
    c(
        id::PLANES_QUERY,
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"Return: 0 on success, -errno on other failure\": the primary plane query succeeds",
    ),
    c(
        id::PLANES_EMPTY,
        "VFIO_DEVICE_QUERY_GFX_PLANE, note 1",
        "\"Plane could be disabled by guest. In that case, success will be returned with zero-initialized drm_format, size, width and height fields\"",
    ),
    c(
        id::PLANES_FOURCC,
        "struct vfio_device_gfx_plane_info",
        "\"drm_format: drm format of plane\": a DRM fourcc",
    ),
    c(
        id::PLANES_MODIFIER,
        "struct vfio_device_gfx_plane_info",
        "\"drm_format_mod: tiled mode\": LINEAR, or Intel's X, Y or Yf tiles, which are detiled; other layouts cannot be read",
    ),
    c(
        id::PLANES_STRIDE,
        "struct vfio_device_gfx_plane_info",
        "\"stride: stride of plane\": at least width x bytes per pixel",
    ),
    c(
        id::PLANES_SIZE,
        "struct vfio_device_gfx_plane_info",
        "\"size: size of plane in bytes, align on page\": at least stride x height, sides within DRM's 16384",
    ),
    c(
        id::PLANES_BOUNDS,
        "struct vfio_device_gfx_plane_info",
        "the plane's rows lie inside the buffer it names (its dma-buf or region)",
    ),
    c(
        id::PLANES_STABLE_ID,
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"The dmabuf_id is returned from VFIO_DEVICE_QUERY_GFX_PLANE as a token of the exposed guest framebuffer\": stable while the framebuffer is (a few ids for a flipping guest), and the plane does not flap",
    ),
    c(
        id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE,
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"Return: 0 on success\": the first query after the guest sets a mode succeeds",
    ),
    c(
        id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "a new framebuffer is a new token: the id changes with the mode",
    ),
    c(
        id::PLANES_TYPE,
        "struct vfio_device_gfx_plane_info",
        "\"drm_plane_type: type of plane: DRM_PLANE_TYPE_*\" (in): a cursor query does not answer with the primary plane",
    ),
    c(
        id::PLANES_CURSOR_HOTSPOT,
        "VFIO_DEVICE_QUERY_GFX_PLANE, note 2",
        "\"x_hot/y_hot is set to 0xFFFFFFFF if no hotspot information available\": otherwise inside the cursor",
    ),
    c(
        id::DMABUF_UNKNOWN_ID,
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"a new dma-buf file descriptor for an exposed guest framebuffer described by the provided dmabuf_id\": any other id fails (ENOENT)",
    ),
    c(
        id::DMABUF_SIZE,
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "the exported dma-buf holds the plane (offset + stride x rows)",
    ),
    c(
        id::DMABUF_CPU_ACCESS,
        "dma-buf uAPI (linux/dma-buf.h)",
        "an exported dma-buf can be mmapped by the CPU and bracketed by DMA_BUF_IOCTL_SYNC (an exporter that gives no CPU mapping, ENODEV as i915 for GVT-g, is a warning: frames go through the GPU)",
    ),
    c(
        id::DMABUF_SECOND_EXPORT,
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"Return a new dma-buf file descriptor\": on every call, also for an id whose first fd is open (crashes stock mbochs: --allow-risky)",
    ),
    c(
        id::EDID_REGISTERS,
        "struct vfio_region_gfx_edid",
        "\"edid_offset: location of the edid blob, relative to the start of the region (readonly)\": registers readable with 4-byte accesses, the blob window inside the region",
    ),
    c(
        id::EDID_MAX_SIZE,
        "struct vfio_region_gfx_edid",
        "\"edid_max_size: max size of the edid blob\": at least one 128-byte EDID block",
    ),
    c(
        id::EDID_MAX_RES,
        "struct vfio_region_gfx_edid",
        "\"max_xres: max display width (0 == no limitation)\": both limits set or both 0",
    ),
    c(
        id::EDID_PROTOCOL,
        "struct vfio_region_gfx_edid",
        "\"EDID update protocol: (1) set link-state to down. (2) update edid blob and size. (3) set link-state to up.\": the blob and the link read back as written",
    ),
    c(
        id::EDID_OVERSIZE,
        "struct vfio_region_gfx_edid",
        "\"edid_max_size: max size of the edid blob\": an edid_size above it is refused",
    ),
    c(
        id::IRQS_REQUEST,
        "VFIO_PCI_REQ_IRQ_INDEX",
        "a device offers a request IRQ (an eventfd at VFIO_PCI_REQ_IRQ_INDEX) through which the kernel asks userspace to release it before removal; without one, removing the mdev waits until every process has closed it",
    ),
    c(
        id::IRQS_EVENTFD,
        "VFIO_DEVICE_SET_IRQS",
        "\"The EVENTFD flag indicates the interrupt index supports eventfd based signaling\": DATA_EVENTFD|ACTION_TRIGGER is accepted",
    ),
    c(
        id::IRQS_LOOPBACK,
        "VFIO_DEVICE_SET_IRQS",
        "\"DATA_NONE ... with ACTION_TRIGGER to perform kernel level interrupt loopback testing\": the eventfd fires",
    ),
    c(
        id::IRQS_AUTOMASK,
        "struct vfio_irq_info",
        "\"AUTOMASKED indicates that after signaling, the interrupt line is automatically masked by VFIO and the user needs to unmask the line to receive new interrupts\": silent while masked, and silent after an unmask with nothing pending",
    ),
    c(
        id::DEVICE_RESET,
        "struct vfio_device_info",
        "\"VFIO_DEVICE_FLAGS_RESET: Device supports reset\": the flag and VFIO_DEVICE_RESET agree",
    ),
];

/// The catalogue entry of `id`.
pub fn spec(id: &str) -> Option<&'static CheckSpec> {
    CATALOGUE.iter().find(|s| s.id == id)
}
