//! `vfio-display list`.

use crate::app::target::host_paths;
use anyhow::Result;
use clap::Args;
use vfio_display::vfio::sysfs::list_mdevs;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ListArgs) -> Result<()> {
    let paths = host_paths();
    let listing = list_mdevs(&paths);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    if listing.parents.is_empty() {
        outln!(
            "No mdev parent devices (nothing in {}). Load a vGPU driver first, for example \
             `modprobe mbochs` or `modprobe i915 enable_gvt=1`.",
            paths.mdev_bus().display()
        );
    } else {
        outln!("Parent devices and the mdev types they offer:");
        for parent in &listing.parents {
            outln!("  {}", parent.name);
            for t in &parent.types {
                let available = t
                    .available_instances
                    .map_or("?".to_string(), |n| n.to_string());
                outln!(
                    "    {:<20} {:<10} {:<10} {} available{}",
                    t.id,
                    t.name.as_deref().unwrap_or("-"),
                    t.device_api.as_deref().unwrap_or("-"),
                    available,
                    t.description
                        .as_deref()
                        .map(|d| format!("  ({})", d.replace('\n', ", ")))
                        .unwrap_or_default()
                );
            }
        }
    }
    if listing.mdevs.is_empty() {
        outln!("No mediated devices exist.");
        if let Some(parent) = listing.parents.first()
            && let Some(t) = parent.types.first()
        {
            outln!(
                "Create one with: echo $(cat /proc/sys/kernel/random/uuid) | sudo tee {}/{}/mdev_supported_types/{}/create",
                paths.mdev_bus().display(),
                parent.name,
                t.id
            );
        }
    } else {
        outln!("Mediated devices:");
        for m in &listing.mdevs {
            outln!(
                "  {}  type {}  parent {}  driver {}  group {}",
                m.uuid,
                m.mdev_type.as_deref().unwrap_or("?"),
                m.parent.as_deref().unwrap_or("?"),
                m.driver.as_deref().unwrap_or("(none)"),
                m.iommu_group
                    .map_or("?".to_string(), |g| format!("{g} (/dev/vfio/{g})"))
            );
        }
    }
    Ok(())
}
