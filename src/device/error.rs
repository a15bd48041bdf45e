//! The error type of the `device` layer.

use crate::vfio::VfioError;

#[derive(Debug, thiserror::Error)]
/// The errors of the `device` layer.
#[non_exhaustive]
pub enum DeviceError {
    #[error(transparent)]
    /// The VFIO call failed.
    Vfio(#[from] VfioError),
    #[error("{device} has no EDID region (VFIO_REGION_TYPE_GFX / VFIO_REGION_SUBTYPE_GFX_EDID)")]
    /// The device has no EDID region.
    NoEdidRegion {
        /// The device.
        device: String,
    },
    #[error("simulator: {0}")]
    /// The simulator refused (a mode too large, a fault).
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
