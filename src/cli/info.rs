//! `vfio-display info`: everything the device says about itself, human or JSON. A part the
//! device refuses is reported with its error; the rest is still shown.

use super::target::DeviceArgs;
use anyhow::Result;
use clap::Args;
use vfio_display::device::Backend;
use vfio_display::inspect::{DeviceReport, PlaneReport, inspect};
use vfio_display::render::{GpuReport, InfoReport, gpu_report};
use vfio_display::vfio::{PlaneType, RegionCap};

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
    pub target: DeviceArgs,
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
                plane.modifier_name.as_deref().unwrap_or("?"),
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
            if let Some(path) = &plane.read_path {
                outln!("  {:<8} read: {path}", "");
            }
        }
        (None, None) => {}
    }
    Ok(())
}

/// Prints the device report as text: the device, its regions, interrupts, planes and EDID.
fn print_human(r: &DeviceReport) -> Result<()> {
    outln!("Device:  {} ({})", r.device, describe_backend(&r.backend));
    if r.shared {
        outln!(
            "Shared:  with the VMM that runs the guest (planes are read, the EDID may be \
             written; no interrupts, resets or register writes)"
        );
    }
    outln!("Flags:   {}", r.flags.join(" "));
    print_regions(r)?;
    print_irqs(r)?;
    print_planes(r)?;
    print_edid(r)
}

/// How the device was reached, in words.
fn describe_backend(backend: &Backend) -> String {
    match backend {
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
    }
}

/// The region lines.
fn print_regions(r: &DeviceReport) -> Result<()> {
    outln!("Regions: {} listed", r.num_regions);
    for reg in &r.regions {
        let name = reg.name.clone().unwrap_or_default();
        match (reg.size, reg.offset, &reg.error) {
            (Some(0), _, _) => outln!("  {:>3} {:<9} (empty)", reg.index, name),
            (Some(size), Some(offset), _) => {
                let caps: Vec<String> = reg.caps.iter().flatten().map(describe_cap).collect();
                outln!(
                    "  {:>3} {:<9} size {:#x} offset {:#x} {}{}",
                    reg.index,
                    name,
                    size,
                    offset,
                    reg.flag_names.join("|"),
                    if caps.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", caps.join("; "))
                    }
                );
            }
            (_, _, Some(err)) => outln!("  {:>3} {:<9} error: {err}", reg.index, name),
            _ => {}
        }
    }
    Ok(())
}

/// The interrupt lines.
fn print_irqs(r: &DeviceReport) -> Result<()> {
    outln!("IRQs:    {} listed", r.num_irqs);
    for irq in &r.irqs {
        let name = irq.name.as_deref().unwrap_or("");
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
    Ok(())
}

/// The plane kinds the device offers and its primary and cursor planes.
fn print_planes(r: &DeviceReport) -> Result<()> {
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
    Ok(())
}

/// The EDID region's line.
fn print_edid(r: &DeviceReport) -> Result<()> {
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
    let report = InfoReport {
        device: inspect(dev.as_ref()),
        gpu: args.gpu.then(|| gpu_report(dev.as_ref())),
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report.device)?;
        if let Some(gpu) = &report.gpu {
            print_gpu(gpu)?;
        }
    }
    Ok(())
}
