//! The error type of the `device` layer.

use crate::vfio::VfioError;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    Vfio(#[from] VfioError),
    #[error("{device} has no EDID region (VFIO_REGION_TYPE_GFX / VFIO_REGION_SUBTYPE_GFX_EDID)")]
    NoEdidRegion { device: String },
    #[error("simulator: {0}")]
    Sim(String),
}

impl DeviceError {
    /// The errno behind this error, where the kernel (or the simulated kernel) gave one.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            DeviceError::Vfio(e) => e.errno(),
            _ => None,
        }
    }
}
