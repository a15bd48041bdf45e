//! What `info --gpu` says about the GPU: the adapter, its import paths, and the path the
//! primary plane takes.

use super::{AdapterReport, FrameRenderer, GpuContext, ImportChoice};
use crate::device::DisplayDevice;
use crate::frame::session::error_chain;
use crate::vfio::PlaneType;
use serde::{Deserialize, Serialize};

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
