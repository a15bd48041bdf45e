//! From planes to frames: validation of untrusted plane fields, the CPU read path (dma-buf
//! mappings with sync, region mappings) and conversion to RGBA, the refresh pump, and the
//! session (one device's display state over time). No GPU code.

mod error;
pub mod image;
mod pump;
mod reader;
pub mod session;
pub mod validate;

pub use error::FrameError;
pub use image::{RgbaImage, cursor_origin};
pub use pump::{
    IrqChoice, MIN_IRQ_INTERVAL, Pump, PumpStats, RefreshSource, STORM_THROTTLES, StormDetector,
    choose_source,
};
pub use reader::{CpuFrame, FrameReader, MAPPING_CACHE, decode_rows};
pub use session::{Changed, Counters, Session, Status, WaitOutcome};
pub use validate::{PlaneError, ValidPlane, validate};
