//! Embedding vfio-display in a VMM: read frames of a display device through the library.
//!
//! Run with `cargo run --example capture`: it uses the simulated vGPU, so it needs no device.
//! A VMM that owns a real mdev would build a `RealDevice` from its device fd instead
//! (`RealDevice::from_fd(fd)`), and everything below stays the same.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure
#![allow(clippy::disallowed_macros)] // an example prints plainly

use std::time::Duration;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::frame::FrameReader;
use vfio_display::vfio::PlaneType;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = SimDevice::new(SimConfig::default())?;
    let reader = FrameReader::new(&device)?;
    for _ in 0..3 {
        match reader.capture(PlaneType::Primary)? {
            Some(frame) => println!(
                "frame {}x{} {} via {} {} (first pixel {:?})",
                frame.image.width,
                frame.image.height,
                frame.format.name,
                frame.plane.source,
                frame.plane.buffer_id,
                frame.image.pixel(0, 0)
            ),
            None => println!("display off"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
