//! What a device says about itself, as one report: flags, regions with their capabilities, IRQs,
//! plane support and the current planes, the EDID region. A part the device refuses is reported
//! with its error; the rest is still there. `vfio-display info --json` prints this type (with the
//! GPU part, `render::GpuReport`, beside it); a program reads it back with serde.

use crate::device::{Backend, DisplayDevice, all_irqs, all_regions, find_edid_region};
use crate::fourcc;
use crate::frame::session::query_plane;
use crate::uapi::{pci_irq_name, pci_region_name};
use crate::vfio::{EdidPort, EdidRegs, PlaneInfo, PlaneSource, PlaneType, RegionCap, RegionInfo};
use serde::{Deserialize, Serialize};

/// Everything `inspect` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// The device's name (its UUID, "device fd N", "simulated vGPU").
    pub device: String,
    /// How it was reached.
    pub backend: Backend,
    /// Shared with the VMM that runs the guest: only planes are read and the EDID written.
    pub shared: bool,
    /// `VFIO_DEVICE_FLAGS_*` names.
    pub flags: Vec<String>,
    /// The region and IRQ counts the device declares.
    pub num_regions: u32,
    /// See `num_regions`.
    pub num_irqs: u32,
    /// Every declared region, and regions that planes name beyond `num_regions`.
    pub regions: Vec<RegionReport>,
    /// Every declared IRQ index.
    pub irqs: Vec<IrqReport>,
    /// Plane support and the current planes.
    pub planes: PlanesReport,
    /// The EDID region, if the device has one.
    pub edid: Option<EdidReport>,
}

/// One region: each field once, null where the query failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionReport {
    /// The region index.
    pub index: u32,
    /// "BAR0", "VGA", "GFX EDID", ...
    pub name: Option<String>,
    /// `VFIO_REGION_INFO_FLAG_*` bits.
    pub flags: Option<u32>,
    /// Bytes.
    pub size: Option<u64>,
    /// Where the region is in the device fd.
    pub offset: Option<u64>,
    /// Its capability chain.
    pub caps: Option<Vec<RegionCap>>,
    /// READ, WRITE, MMAP.
    pub flag_names: Vec<String>,
    /// Why the query failed.
    pub error: Option<String>,
}

/// One IRQ index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IrqReport {
    /// The IRQ index.
    pub index: u32,
    /// "INTX", "MSI", ...
    pub name: Option<String>,
    /// Vectors.
    pub count: Option<u32>,
    /// `VFIO_IRQ_INFO_*` names.
    pub flags: Vec<String>,
    /// Why the query failed.
    pub error: Option<String>,
}

/// Which plane sources the device describes, and its planes now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanesReport {
    /// The dma-buf PROBE succeeded.
    pub dmabuf: bool,
    /// The region PROBE succeeded.
    pub region: bool,
    /// Why both probes failed.
    pub probe_error: Option<String>,
    /// The primary plane (absent without plane support).
    pub primary: Option<PlaneReport>,
    /// The cursor plane.
    pub cursor: Option<PlaneReport>,
}

/// One plane: the raw answer (`modifier` is its number) and names for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneReport {
    /// Not "no plane".
    pub on: bool,
    /// "XR24 (XRGB8888)".
    pub format: Option<String>,
    /// "LINEAR", "I915_X_TILED".
    pub modifier_name: Option<String>,
    /// The device's answer, flattened into this object.
    #[serde(flatten)]
    pub info: Option<PlaneInfo>,
    /// Why the query failed.
    pub error: Option<String>,
    /// How its pixels can be read, and why: "cpu" where the buffer maps, "gpu" where the CPU
    /// cannot map it (Intel GVT-g's dma-bufs), or why it cannot be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_path: Option<String>,
}

/// How a plane's pixels can be read, in words: tries the mapping the CPU path would use.
pub fn read_path(dev: &dyn DisplayDevice, p: &PlaneInfo) -> String {
    // One export, for its size and then its mapping.
    let (dmabuf, buffer_len) = match p.source {
        PlaneSource::DmaBuf => match dev.dmabuf(p.buffer_id) {
            Ok(buf) => {
                let len = buf.size();
                (Some(buf), len)
            }
            Err(e) => return cannot_open(p, &e),
        },
        PlaneSource::Region => match dev.region_info(p.buffer_id) {
            Ok(region) => (None, region.size),
            Err(e) => return cannot_open(p, &e),
        },
    };
    let valid = match crate::frame::validate(p, buffer_len) {
        Ok(v) => v,
        Err(e) => return format!("cannot be read: {e}"),
    };
    let tiles = match valid.tiling {
        crate::tiling::Tiling::Linear => None,
        t => Some(format!("{} tiles", t.name().to_uppercase())),
    };
    let cpu_detiles = tiles
        .as_ref()
        .map_or(String::new(), |t| format!("; detiling {t}"));
    let Some(buf) = dmabuf else {
        return format!("cpu (a region mapping{cpu_detiles})");
    };
    let gpu_detiles = tiles
        .as_ref()
        .map_or(String::new(), |t| format!(" (detiling {t})"));
    match buf.map_read() {
        Ok(_) => format!("cpu (the dma-buf maps{cpu_detiles})"),
        // The exporter gives no CPU mapping by design (i915 for GVT-g): the GPU reads it.
        Err(e) if e.no_cpu_mapping() => format!(
            "gpu (the CPU cannot map the dma-buf: ENODEV; frames are imported into the GPU, \
             unpacked{gpu_detiles} and read back)"
        ),
        Err(e) => format!("cannot be read: {e}"),
    }
}

fn cannot_open(p: &PlaneInfo, e: &dyn std::fmt::Display) -> String {
    format!("cannot be read: {} cannot be opened: {e}", p.buffer_label())
}

/// The EDID region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdidReport {
    /// Its region index.
    pub region: u32,
    /// Its registers.
    pub registers: Option<EdidRegs>,
    /// "up" or "down".
    pub link: Option<String>,
    /// The blob's preferred mode.
    pub preferred_mode: Option<String>,
    /// Why the registers could not be read.
    pub error: Option<String>,
}

fn region_flag_names(info: &RegionInfo) -> Vec<String> {
    [
        (info.readable(), "READ"),
        (info.writable(), "WRITE"),
        (info.mappable(), "MMAP"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect()
}

fn region_report(dev: &dyn DisplayDevice, index: u32) -> RegionReport {
    match dev.region_info(index) {
        Ok(info) => RegionReport {
            index,
            name: if info.is_gfx_edid() {
                Some("GFX EDID".into())
            } else {
                pci_region_name(index).map(String::from)
            },
            flags: Some(info.flags),
            size: Some(info.size),
            offset: Some(info.offset),
            flag_names: region_flag_names(&info),
            caps: Some(info.caps),
            error: None,
        },
        Err(err) => RegionReport {
            index,
            name: pci_region_name(index).map(String::from),
            flags: None,
            size: None,
            offset: None,
            caps: None,
            flag_names: vec![],
            error: Some(err.to_string()),
        },
    }
}

fn plane_report(dev: &dyn DisplayDevice, source: PlaneSource, plane: PlaneType) -> PlaneReport {
    match query_plane(dev, plane, source) {
        Ok(p) => PlaneReport {
            on: !p.is_off(),
            format: (!p.is_off()).then(|| fourcc::describe(p.drm_format)),
            modifier_name: (!p.is_off()).then(|| fourcc::describe_modifier(p.modifier)),
            read_path: (!p.is_off()).then(|| read_path(dev, &p)),
            info: Some(p),
            error: None,
        },
        Err(err) => PlaneReport {
            on: false,
            format: None,
            modifier_name: None,
            info: None,
            error: Some(err.to_string()),
            read_path: None,
        },
    }
}

fn edid_report(dev: &dyn DisplayDevice, region: &RegionInfo) -> EdidReport {
    match EdidPort::new(dev, region) {
        Ok(port) => {
            let registers = port.registers();
            let blob = port.read_blob();
            EdidReport {
                region: region.index,
                link: registers.as_ref().ok().map(|r| r.link().to_string()),
                registers: registers.as_ref().ok().copied(),
                preferred_mode: blob
                    .ok()
                    .and_then(|b| crate::edid::preferred_mode(&b).ok())
                    .map(|m| m.to_string()),
                error: registers.err().map(|e| e.to_string()),
            }
        }
        Err(err) => EdidReport {
            region: region.index,
            registers: None,
            link: None,
            preferred_mode: None,
            error: Some(err.to_string()),
        },
    }
}

/// Asks the device everything the report holds. Read-only: plane queries, region and IRQ infos,
/// the EDID registers and blob.
pub fn inspect(dev: &dyn DisplayDevice) -> DeviceReport {
    let info = dev.info();
    let mut regions: Vec<RegionReport> = all_regions(dev)
        .into_iter()
        .map(|(i, _)| region_report(dev, i))
        .collect();
    let irqs = all_irqs(dev)
        .into_iter()
        .map(|(index, result)| {
            let name = pci_irq_name(index).map(String::from);
            match result {
                Ok(irq) => IrqReport {
                    index,
                    name,
                    count: Some(irq.count),
                    flags: irq.flag_names().into_iter().map(String::from).collect(),
                    error: None,
                },
                Err(err) => IrqReport {
                    index,
                    name,
                    count: None,
                    flags: vec![],
                    error: Some(err.to_string()),
                },
            }
        })
        .collect();
    let support = crate::device::plane_support(dev);
    let (dmabuf, region, probe_error) = match &support {
        Ok(s) => (s.dmabuf, s.region, None),
        Err(err) => (false, false, Some(err.to_string())),
    };
    let (primary, cursor) = match support.ok().and_then(|s| s.preferred()) {
        Some(source) => (
            Some(plane_report(dev, source, PlaneType::Primary)),
            Some(plane_report(dev, source, PlaneType::Cursor)),
        ),
        None => (None, None),
    };
    // Regions that planes name beyond num_regions (mdpy's framebuffer is region 16 of 9).
    for plane in [&primary, &cursor].into_iter().flatten() {
        if let Some(p) = &plane.info
            && p.source == PlaneSource::Region
            && !p.is_off()
            && !regions.iter().any(|r| r.index == p.buffer_id)
        {
            regions.push(region_report(dev, p.buffer_id));
        }
    }
    DeviceReport {
        device: dev.name(),
        backend: dev.backend(),
        shared: dev.shared(),
        flags: info.flag_names().into_iter().map(String::from).collect(),
        num_regions: info.num_regions,
        num_irqs: info.num_irqs,
        regions,
        irqs,
        planes: PlanesReport {
            dmabuf,
            region,
            probe_error,
            primary,
            cursor,
        },
        edid: find_edid_region(dev).map(|r| edid_report(dev, &r)),
    }
}
