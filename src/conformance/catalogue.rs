//! Every check: its stable id, the section of `linux/vfio.h` it tests, and the header's words.

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
        "device.info",
        "VFIO_DEVICE_GET_INFO",
        "struct vfio_device_info: flags, num_regions, num_irqs",
    ),
    c(
        "regions.cap-chain",
        "struct vfio_info_cap_header",
        "\"next: Offset of next capability\": every capability inside the returned argsz, no loops",
    ),
    c(
        "regions.argsz-short",
        "INFO ioctls, capability chains",
        "\"Callers of INFO ioctls passing insufficiently sized buffers will see the capability chain flag bit set, a zero value for the first capability offset ..., and argsz will be updated to report the necessary buffer size\"",
    ),
    c(
        "regions.argsz-large",
        "struct vfio_device_info, argsz",
        "\"As structure fields are added, argsz will increase to match\": a caller's larger argsz is legal",
    ),
    c(
        "regions.plane-region",
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"region_index: region index\": the region a plane names exists, is mappable and holds the plane",
    ),
    c(
        "regions.pread-mmap",
        "VFIO_DEVICE_GET_REGION_INFO",
        "\"offset: Region offset from start of device fd\": read() at an offset and the mmap show the same bytes",
    ),
    c(
        "planes.probe",
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"VFIO_GFX_PLANE_TYPE_PROBE and VFIO_GFX_PLANE_TYPE_DMABUF [or _REGION] are set to ask if the mdev supports dma-buf [region]. 0 on support, -EINVAL on no support\": PROBE agrees with real queries",
    ),
    c(
        "planes.query",
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"Return: 0 on success, -errno on other failure\": the primary plane query succeeds",
    ),
    c(
        "planes.empty",
        "VFIO_DEVICE_QUERY_GFX_PLANE, note 1",
        "\"Plane could be disabled by guest. In that case, success will be returned with zero-initialized drm_format, size, width and height fields\"",
    ),
    c(
        "planes.fourcc",
        "struct vfio_device_gfx_plane_info",
        "\"drm_format: drm format of plane\": a DRM fourcc",
    ),
    c(
        "planes.modifier",
        "struct vfio_device_gfx_plane_info",
        "\"drm_format_mod: tiled mode\": LINEAR, or Intel's X, Y or Yf tiles, which are detiled; other layouts cannot be read",
    ),
    c(
        "planes.stride",
        "struct vfio_device_gfx_plane_info",
        "\"stride: stride of plane\": at least width x bytes per pixel",
    ),
    c(
        "planes.size",
        "struct vfio_device_gfx_plane_info",
        "\"size: size of plane in bytes, align on page\": at least stride x height, sides within DRM's 16384",
    ),
    c(
        "planes.bounds",
        "struct vfio_device_gfx_plane_info",
        "the plane's rows lie inside the buffer it names (its dma-buf or region)",
    ),
    c(
        "planes.stable-id",
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"The dmabuf_id is returned from VFIO_DEVICE_QUERY_GFX_PLANE as a token of the exposed guest framebuffer\": stable while the framebuffer is (a few ids for a flipping guest), and the plane does not flap",
    ),
    c(
        "planes.first-query-after-mode-change",
        "VFIO_DEVICE_QUERY_GFX_PLANE",
        "\"Return: 0 on success\": the first query after the guest sets a mode succeeds",
    ),
    c(
        "planes.new-id-after-mode-change",
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "a new framebuffer is a new token: the id changes with the mode",
    ),
    c(
        "planes.type",
        "struct vfio_device_gfx_plane_info",
        "\"drm_plane_type: type of plane: DRM_PLANE_TYPE_*\" (in): a cursor query does not answer with the primary plane",
    ),
    c(
        "planes.cursor-hotspot",
        "VFIO_DEVICE_QUERY_GFX_PLANE, note 2",
        "\"x_hot/y_hot is set to 0xFFFFFFFF if no hotspot information available\": otherwise inside the cursor",
    ),
    c(
        "dmabuf.unknown-id",
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"a new dma-buf file descriptor for an exposed guest framebuffer described by the provided dmabuf_id\": any other id fails (ENOENT)",
    ),
    c(
        "dmabuf.size",
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "the exported dma-buf holds the plane (offset + stride x rows)",
    ),
    c(
        "dmabuf.cpu-access",
        "dma-buf uAPI (linux/dma-buf.h)",
        "an exported dma-buf can be mmapped by the CPU and bracketed by DMA_BUF_IOCTL_SYNC (an exporter that gives no CPU mapping, ENODEV as i915 for GVT-g, is a warning: frames go through the GPU)",
    ),
    c(
        "dmabuf.second-export",
        "VFIO_DEVICE_GET_GFX_DMABUF",
        "\"Return a new dma-buf file descriptor\": on every call, also for an id whose first fd is open (crashes stock mbochs: --allow-risky)",
    ),
    c(
        "edid.registers",
        "struct vfio_region_gfx_edid",
        "\"edid_offset: location of the edid blob, relative to the start of the region (readonly)\": registers readable with 4-byte accesses, the blob window inside the region",
    ),
    c(
        "edid.max-size",
        "struct vfio_region_gfx_edid",
        "\"edid_max_size: max size of the edid blob\": at least one 128-byte EDID block",
    ),
    c(
        "edid.max-res",
        "struct vfio_region_gfx_edid",
        "\"max_xres: max display width (0 == no limitation)\": both limits set or both 0",
    ),
    c(
        "edid.protocol",
        "struct vfio_region_gfx_edid",
        "\"EDID update protocol: (1) set link-state to down. (2) update edid blob and size. (3) set link-state to up.\": the blob and the link read back as written",
    ),
    c(
        "edid.oversize",
        "struct vfio_region_gfx_edid",
        "\"edid_max_size: max size of the edid blob\": an edid_size above it is refused",
    ),
    c(
        "irqs.request",
        "VFIO_PCI_REQ_IRQ_INDEX",
        "a device offers a request IRQ (an eventfd at VFIO_PCI_REQ_IRQ_INDEX) through which the kernel asks userspace to release it before removal; without one, removing the mdev waits until every process has closed it",
    ),
    c(
        "irqs.eventfd",
        "VFIO_DEVICE_SET_IRQS",
        "\"The EVENTFD flag indicates the interrupt index supports eventfd based signaling\": DATA_EVENTFD|ACTION_TRIGGER is accepted",
    ),
    c(
        "irqs.loopback",
        "VFIO_DEVICE_SET_IRQS",
        "\"DATA_NONE ... with ACTION_TRIGGER to perform kernel level interrupt loopback testing\": the eventfd fires",
    ),
    c(
        "irqs.automask",
        "struct vfio_irq_info",
        "\"AUTOMASKED indicates that after signaling, the interrupt line is automatically masked by VFIO and the user needs to unmask the line to receive new interrupts\": silent while masked, and silent after an unmask with nothing pending",
    ),
    c(
        "device.reset",
        "struct vfio_device_info",
        "\"VFIO_DEVICE_FLAGS_RESET: Device supports reset\": the flag and VFIO_DEVICE_RESET agree",
    ),
];

/// The catalogue entry of `id`.
pub fn spec(id: &str) -> Option<&'static CheckSpec> {
    CATALOGUE.iter().find(|s| s.id == id)
}
