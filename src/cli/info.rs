//! `vfio-display info`: everything the device says about itself, human or JSON. A part the
//! device refuses is reported with its error; the rest is still shown.

use super::target::DeviceArgs;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use vfio_display::device::{Backend, DisplayDevice, all_irqs, all_regions, find_edid_region};
use vfio_display::fourcc;
use vfio_display::frame::FrameReader;
use vfio_display::render::{AdapterReport, FrameRenderer, GpuContext, ImportChoice};
use vfio_display::uapi::{pci_irq_name, pci_region_name};
use vfio_display::vfio::{EdidPort, PlaneInfo, PlaneSource, PlaneType, RegionCap, RegionInfo};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also open the GPU: the adapter, the import paths it offers, and the path the primary
    /// plane takes (it is imported once to find out).
    #[arg(long)]
    gpu: bool,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    target: DeviceArgs,
}

#[derive(Debug, Serialize)]
struct Report {
    device: String,
    backend: Backend,
    flags: Vec<&'static str>,
    num_regions: u32,
    num_irqs: u32,
    regions: Vec<RegionReport>,
    irqs: Vec<IrqReport>,
    planes: PlanesReport,
    edid: Option<EdidReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu: Option<GpuReport>,
}

#[derive(Debug, Serialize)]
struct GpuReport {
    adapter: Option<AdapterReport>,
    /// The path the primary plane took with `--import auto`.
    primary_import: Option<String>,
    error: Option<String>,
}

fn gpu_report(dev: &dyn DisplayDevice) -> GpuReport {
    let ctx = match GpuContext::headless() {
        Ok(ctx) => ctx,
        Err(err) => {
            return GpuReport {
                adapter: None,
                primary_import: None,
                error: Some(err.to_string()),
            };
        }
    };
    let adapter = Some(ctx.report());
    let imported = FrameRenderer::new(&ctx, dev, ImportChoice::Auto)
        .and_then(|mut r| r.update(PlaneType::Primary));
    match imported {
        Ok(frame) => GpuReport {
            adapter,
            primary_import: frame.map(|f| f.path.to_string()),
            error: None,
        },
        Err(err) => GpuReport {
            adapter,
            primary_import: None,
            error: Some(err.to_string()),
        },
    }
}

/// One region in `info --json`: each field once (the region info's own `index` is not
/// repeated), absent fields null when the query failed.
#[derive(Debug, Serialize)]
struct RegionReport {
    index: u32,
    name: Option<String>,
    flags: Option<u32>,
    size: Option<u64>,
    offset: Option<u64>,
    caps: Option<Vec<RegionCap>>,
    flag_names: Vec<&'static str>,
    error: Option<String>,
    /// For the text report.
    #[serde(skip)]
    info: Option<RegionInfo>,
}

#[derive(Debug, Serialize)]
struct IrqReport {
    index: u32,
    name: Option<&'static str>,
    count: Option<u32>,
    flags: Vec<&'static str>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct PlanesReport {
    dmabuf: bool,
    region: bool,
    probe_error: Option<String>,
    primary: Option<PlaneReport>,
    cursor: Option<PlaneReport>,
}

#[derive(Debug, Serialize)]
struct PlaneReport {
    on: bool,
    format: Option<String>,
    /// The modifier's name ("LINEAR", "I915_X_TILED"); the number is `modifier`, from the
    /// plane info.
    #[serde(rename = "modifier_name")]
    modifier: Option<String>,
    #[serde(flatten)]
    info: Option<PlaneInfo>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct EdidReport {
    region: u32,
    registers: Option<vfio_display::vfio::EdidRegs>,
    link: Option<String>,
    preferred_mode: Option<String>,
    error: Option<String>,
}

fn region_flag_names(info: &RegionInfo) -> Vec<&'static str> {
    let mut names = Vec::new();
    for (set, name) in [
        (info.readable(), "READ"),
        (info.writable(), "WRITE"),
        (info.mappable(), "MMAP"),
    ] {
        if set {
            names.push(name);
        }
    }
    names
}

fn region_name(index: u32, info: Option<&RegionInfo>) -> Option<String> {
    if info.is_some_and(RegionInfo::is_gfx_edid) {
        return Some("GFX EDID".into());
    }
    pci_region_name(index).map(String::from)
}

fn region_report(dev: &dyn DisplayDevice, index: u32) -> RegionReport {
    match dev.region_info(index) {
        Ok(info) => RegionReport {
            index,
            name: region_name(index, Some(&info)),
            flags: Some(info.flags),
            size: Some(info.size),
            offset: Some(info.offset),
            caps: Some(info.caps.clone()),
            flag_names: region_flag_names(&info),
            info: Some(info),
            error: None,
        },
        Err(err) => RegionReport {
            index,
            name: region_name(index, None),
            flags: None,
            size: None,
            offset: None,
            caps: None,
            info: None,
            flag_names: vec![],
            error: Some(err.to_string()),
        },
    }
}

fn plane_report(reader: &FrameReader<'_>, plane_type: PlaneType) -> PlaneReport {
    match reader.query(plane_type) {
        Ok(plane) => PlaneReport {
            on: !plane.is_off(),
            format: (!plane.is_off()).then(|| fourcc::describe(plane.drm_format)),
            modifier: (!plane.is_off()).then(|| fourcc::describe_modifier(plane.modifier)),
            info: Some(plane),
            error: None,
        },
        Err(err) => PlaneReport {
            on: false,
            format: None,
            modifier: None,
            info: None,
            error: Some(err.to_string()),
        },
    }
}

fn build(dev: &dyn DisplayDevice) -> Report {
    let info = dev.info();
    let mut regions: Vec<RegionReport> = all_regions(dev)
        .into_iter()
        .map(|(i, _)| region_report(dev, i))
        .collect();
    let irqs = all_irqs(dev)
        .into_iter()
        .map(|(index, result)| match result {
            Ok(irq) => IrqReport {
                index,
                name: pci_irq_name(index),
                count: Some(irq.count),
                flags: irq.flag_names(),
                error: None,
            },
            Err(err) => IrqReport {
                index,
                name: pci_irq_name(index),
                count: None,
                flags: vec![],
                error: Some(err.to_string()),
            },
        })
        .collect();
    let support = vfio_display::device::plane_support(dev);
    let (dmabuf, region, probe_error) = match &support {
        Ok(s) => (s.dmabuf, s.region, None),
        Err(err) => (false, false, Some(err.to_string())),
    };
    let source = support.ok().and_then(|s| s.preferred());
    let (primary, cursor) = match source {
        Some(source) => {
            let reader = FrameReader::with_source(dev, source);
            (
                Some(plane_report(&reader, PlaneType::Primary)),
                Some(plane_report(&reader, PlaneType::Cursor)),
            )
        }
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
    let edid = find_edid_region(dev).map(|region| match EdidPort::new(dev, &region) {
        Ok(port) => {
            let registers = port.registers();
            let blob = port.read_blob();
            EdidReport {
                region: region.index,
                link: registers.as_ref().ok().map(|r| r.link().to_string()),
                registers: registers.as_ref().ok().copied(),
                preferred_mode: blob
                    .ok()
                    .and_then(|b| vfio_display::edid::preferred_mode(&b).ok())
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
    });
    Report {
        device: dev.name(),
        backend: dev.backend(),
        flags: info.flag_names(),
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
        edid,
        gpu: None,
    }
}

fn describe_cap(cap: &RegionCap) -> String {
    match cap {
        RegionCap::SparseMmap { areas } => {
            let list: Vec<String> = areas
                .iter()
                .map(|a| format!("{:#x}+{:#x}", a.offset, a.size))
                .collect();
            format!("sparse-mmap [{}]", list.join(", "))
        }
        RegionCap::Type {
            region_type,
            subtype,
        } => format!("type {region_type}/{subtype}"),
        RegionCap::MsixMappable => "msix-mappable".into(),
        RegionCap::Unknown { id, version } => format!("unknown cap {id} v{version}"),
    }
}

fn print_plane(label: &str, plane: &Option<PlaneReport>) -> Result<()> {
    let Some(plane) = plane else {
        return Ok(());
    };
    match (&plane.info, &plane.error) {
        (_, Some(err)) => outln!("  {label:<8} error: {err}"),
        (Some(p), None) if p.is_off() => outln!("  {label:<8} off"),
        (Some(p), None) => {
            let buffer = p.buffer_label();
            out!(
                "  {label:<8} {}x{} {} {} stride {} size {} {buffer}",
                p.width,
                p.height,
                plane.format.as_deref().unwrap_or("?"),
                plane.modifier.as_deref().unwrap_or("?"),
                p.stride,
                p.size
            );
            if p.plane_type == PlaneType::Cursor {
                out!(
                    " at ({}, {}) hotspot ({}, {})",
                    p.x_pos as i32,
                    p.y_pos as i32,
                    p.x_hot as i32,
                    p.y_hot as i32
                );
            }
            outln!();
        }
        (None, None) => {}
    }
    Ok(())
}

fn print_human(r: &Report) -> Result<()> {
    let backend = match &r.backend {
        Backend::Group { group, uuid } => {
            format!("mdev {uuid} via its group /dev/vfio/{group} (legacy container path)")
        }
        Backend::Cdev {
            uuid,
            cdev,
            ioas_id,
        } => format!("mdev {uuid} via its cdev {cdev}, bound to /dev/iommu, IOAS {ioas_id}"),
        Backend::DeviceFd {
            fd,
            bound_here: false,
        } => format!("adopted device fd {fd}"),
        Backend::DeviceFd {
            fd,
            bound_here: true,
        } => format!("adopted device fd {fd}, a cdev we bound to /dev/iommu"),
        Backend::Sim => "built-in simulator".into(),
    };
    outln!("Device:  {} ({backend})", r.device);
    outln!("Flags:   {}", r.flags.join(" "));
    outln!("Regions: {} listed", r.num_regions);
    for reg in &r.regions {
        let name = reg.name.clone().unwrap_or_default();
        match (&reg.info, &reg.error) {
            (Some(info), _) if info.size == 0 => outln!("  {:>3} {:<9} (empty)", reg.index, name),
            (Some(info), _) => {
                let caps: Vec<String> = info.caps.iter().map(describe_cap).collect();
                outln!(
                    "  {:>3} {:<9} size {:#x} offset {:#x} {}{}",
                    reg.index,
                    name,
                    info.size,
                    info.offset,
                    reg.flag_names.join("|"),
                    if caps.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", caps.join("; "))
                    }
                );
            }
            (None, Some(err)) => outln!("  {:>3} {:<9} error: {err}", reg.index, name),
            (None, None) => {}
        }
    }
    outln!("IRQs:    {} listed", r.num_irqs);
    for irq in &r.irqs {
        let name = irq.name.unwrap_or("");
        match (&irq.count, &irq.error) {
            (Some(count), _) => outln!(
                "  {:>3} {:<6} count {count} {}",
                irq.index,
                name,
                irq.flags.join("|")
            ),
            (None, Some(err)) => outln!("  {:>3} {:<6} error: {err}", irq.index, name),
            _ => {}
        }
    }
    let mut kinds = Vec::new();
    if r.planes.dmabuf {
        kinds.push("dmabuf");
    }
    if r.planes.region {
        kinds.push("region");
    }
    outln!(
        "Planes:  {}",
        match (&r.planes.probe_error, kinds.is_empty()) {
            (Some(err), _) => format!("probe error: {err}"),
            (None, true) => "none (neither dma-buf nor region planes)".into(),
            (None, false) => kinds.join(", "),
        }
    );
    print_plane("primary", &r.planes.primary)?;
    print_plane("cursor", &r.planes.cursor)?;
    match &r.edid {
        None => outln!("EDID:    no EDID region"),
        Some(e) => match (&e.registers, &e.error) {
            (Some(regs), _) => outln!(
                "EDID:    region {}, link {}, {} of {} bytes, max {}x{}{}",
                e.region,
                e.link.as_deref().unwrap_or("?"),
                regs.edid_size,
                regs.edid_max_size,
                regs.max_xres,
                regs.max_yres,
                e.preferred_mode
                    .as_deref()
                    .map(|m| format!(", preferred mode {m}"))
                    .unwrap_or_default()
            ),
            (None, Some(err)) => outln!("EDID:    region {}: error: {err}", e.region),
            _ => {}
        },
    }
    Ok(())
}

fn print_gpu(gpu: &GpuReport) -> Result<()> {
    if let Some(a) = &gpu.adapter {
        outln!(
            "GPU:     {} ({}, {}); import paths: {}",
            a.name,
            a.device_type,
            a.driver.trim(),
            a.import_paths.join(", ")
        );
    }
    if let Some(path) = &gpu.primary_import {
        outln!("         the primary plane imports through the {path} path");
    }
    if let Some(err) = &gpu.error {
        outln!("GPU:     {err}");
    }
    Ok(())
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let dev = args.target.open()?;
    let mut report = build(dev.as_ref());
    if args.gpu {
        report.gpu = Some(gpu_report(dev.as_ref()));
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report)?;
        if let Some(gpu) = &report.gpu {
            print_gpu(gpu)?;
        }
    }
    Ok(())
}
