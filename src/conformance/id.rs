//! Every check's stable id, once: the catalogue, the checks, the skip lists and the tests name
//! them through these constants, so that a misspelt id is a compile error, not a check that
//! never matches.

/// `device.info`.
pub const DEVICE_INFO: &str = "device.info";
/// `regions.cap-chain`.
pub const REGIONS_CAP_CHAIN: &str = "regions.cap-chain";
/// `regions.argsz-short`.
pub const REGIONS_ARGSZ_SHORT: &str = "regions.argsz-short";
/// `regions.argsz-large`.
pub const REGIONS_ARGSZ_LARGE: &str = "regions.argsz-large";
/// `regions.plane-region`.
pub const REGIONS_PLANE_REGION: &str = "regions.plane-region";
/// `regions.pread-mmap`.
pub const REGIONS_PREAD_MMAP: &str = "regions.pread-mmap";
/// `planes.probe`.
pub const PLANES_PROBE: &str = "planes.probe";
/// `planes.query`.
pub const PLANES_QUERY: &str = "planes.query";
/// `planes.empty`.
pub const PLANES_EMPTY: &str = "planes.empty";
/// `planes.fourcc`.
pub const PLANES_FOURCC: &str = "planes.fourcc";
/// `planes.modifier`.
pub const PLANES_MODIFIER: &str = "planes.modifier";
/// `planes.stride`.
pub const PLANES_STRIDE: &str = "planes.stride";
/// `planes.size`.
pub const PLANES_SIZE: &str = "planes.size";
/// `planes.bounds`.
pub const PLANES_BOUNDS: &str = "planes.bounds";
/// `planes.stable-id`.
pub const PLANES_STABLE_ID: &str = "planes.stable-id";
/// `planes.first-query-after-mode-change`.
pub const PLANES_FIRST_QUERY_AFTER_MODE_CHANGE: &str = "planes.first-query-after-mode-change";
/// `planes.new-id-after-mode-change`.
pub const PLANES_NEW_ID_AFTER_MODE_CHANGE: &str = "planes.new-id-after-mode-change";
/// `planes.type`.
pub const PLANES_TYPE: &str = "planes.type";
/// `planes.cursor-hotspot`.
pub const PLANES_CURSOR_HOTSPOT: &str = "planes.cursor-hotspot";
/// `dmabuf.unknown-id`.
pub const DMABUF_UNKNOWN_ID: &str = "dmabuf.unknown-id";
/// `dmabuf.size`.
pub const DMABUF_SIZE: &str = "dmabuf.size";
/// `dmabuf.cpu-access`.
pub const DMABUF_CPU_ACCESS: &str = "dmabuf.cpu-access";
/// `dmabuf.second-export`.
pub const DMABUF_SECOND_EXPORT: &str = "dmabuf.second-export";
/// `edid.registers`.
pub const EDID_REGISTERS: &str = "edid.registers";
/// `edid.max-size`.
pub const EDID_MAX_SIZE: &str = "edid.max-size";
/// `edid.max-res`.
pub const EDID_MAX_RES: &str = "edid.max-res";
/// `edid.protocol`.
pub const EDID_PROTOCOL: &str = "edid.protocol";
/// `edid.oversize`.
pub const EDID_OVERSIZE: &str = "edid.oversize";
/// `irqs.request`.
pub const IRQS_REQUEST: &str = "irqs.request";
/// `irqs.eventfd`.
pub const IRQS_EVENTFD: &str = "irqs.eventfd";
/// `irqs.loopback`.
pub const IRQS_LOOPBACK: &str = "irqs.loopback";
/// `irqs.automask`.
pub const IRQS_AUTOMASK: &str = "irqs.automask";
/// `device.reset`.
pub const DEVICE_RESET: &str = "device.reset";
