//! ZRLE: an arbitrary picture, pixel format and rectangles through one long-lived encoder,
//! decoded by the reference decoder and compared pixel for pixel (see `round_trip.rs`).
#![no_main]

mod round_trip;

use libfuzzer_sys::fuzz_target;
use vfio_display::rfb::Encoding;

fuzz_target!(|data: &[u8]| round_trip::run(data, Encoding::Zrle));
