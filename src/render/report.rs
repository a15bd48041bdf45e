//! What `info --gpu` says about the GPU: the adapter, its import paths, and the path the
//! primary plane takes.

use super::{AdapterReport, FrameRenderer, GpuContext, ImportChoice};
use crate::device::DisplayDevice;
use crate::frame::session::error_chain;
use crate::inspect::DeviceReport;
use crate::vfio::PlaneType;
use serde::{Deserialize, Serialize};

/// The `info --json` document: the device's own report (`inspect`) and, when asked, the GPU's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoReport {
    /// What the device says about itself.
    #[serde(flatten)]
    pub device: DeviceReport,
    /// The GPU part (`info --gpu`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gpu: Option<GpuReport>,
}

/// The GPU part of a device report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuReport {
    /// The adapter, if one opened.
    pub adapter: Option<AdapterReport>,
    /// The path the primary plane took with `ImportChoice::Auto`.
    pub primary_import: Option<String>,
    /// Why the GPU or the import failed.
    pub error: Option<String>,
}

/// Opens the GPU and imports the primary plane once to see which path it takes.
pub fn gpu_report(dev: &dyn DisplayDevice) -> GpuReport {
    let ctx = match GpuContext::headless() {
        Ok(ctx) => ctx,
        Err(err) => {
            return GpuReport {
                adapter: None,
                primary_import: None,
                error: Some(error_chain(&err)),
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
            error: Some(error_chain(&err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::sim::{SimConfig, SimDevice};
    use crate::inspect::inspect;
    use crate::vfio::PlaneSource;

    #[test]
    fn the_info_document_round_trips_through_json() {
        for source in [PlaneSource::DmaBuf, PlaneSource::Region] {
            let dev = SimDevice::new(SimConfig::frozen(0).with_source(source)).unwrap();
            let gpu = GpuReport {
                adapter: None,
                primary_import: Some("buffer".into()),
                error: None,
            };
            for gpu in [None, Some(gpu)] {
                let report = InfoReport {
                    device: inspect(&dev),
                    gpu,
                };
                let text = serde_json::to_string_pretty(&report).unwrap();
                let back: InfoReport = serde_json::from_str(&text).unwrap();
                assert_eq!(back, report);
                assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
            }
        }
    }
}
