//! Every fault the simulator can inject, through the library: each one degrades into a clear
//! error (or "no plane"), never a panic, a hang or unbounded growth, and once the device behaves
//! again the very same reader, port or pump works and shows the right pixels.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::{assert_same_image, expected_frame};
use nix::errno::Errno;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vfio_display::device::sim::{ManualClock, SMALL_EDID_MAX_SIZE, SimConfig, SimDevice, SimFault};
use vfio_display::device::{DisplayDevice, edid_port, find_edid_region};
use vfio_display::edid::{EdidSpec, Mode, generate};
use vfio_display::fourcc;
use vfio_display::frame::{
    FrameError, FrameReader, MAPPING_CACHE, MIN_IRQ_INTERVAL, PlaneError, Pump, RefreshSource,
};
use vfio_display::vfio::{PlaneSource, PlaneType};

const FRAME: u64 = 5;

fn config(source: PlaneSource) -> SimConfig {
    SimConfig::frozen(FRAME)
        .with_mode(320, 200)
        .with_source(source)
}

fn sim(source: PlaneSource) -> SimDevice {
    SimDevice::new(config(source)).unwrap()
}

/// The reader shows the guest's frame exactly: the proof of recovery.
fn assert_recovered(dev: &SimDevice, reader: &FrameReader<'_>, what: &str) {
    dev.set_fault(SimFault::None);
    let frame = reader
        .capture(PlaneType::Primary)
        .unwrap_or_else(|e| panic!("{what}: no recovery: {e}"))
        .unwrap_or_else(|| panic!("{what}: no plane after recovery"));
    let xrgb = fourcc::parse("XRGB8888").unwrap();
    assert_same_image(
        &frame.image,
        &expected_frame(320, 200, FRAME, xrgb),
        &format!("{what}, after recovery"),
    );
}

#[test]
fn hostile_plane_fields_are_refused_then_recovered_from() {
    type Expected = fn(&PlaneError) -> bool;
    let cases: &[(SimFault, PlaneSource, Expected)] = &[
        (SimFault::StrideTooSmall, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::StrideTooSmall { .. })
        }),
        (SimFault::SizeTooSmall, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::SizeTooSmall { .. })
        }),
        (SimFault::SizeOverflow, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::BadDimensions { .. })
        }),
        (SimFault::OffsetOverflow, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::BeyondBuffer { end: u64::MAX, .. })
        }),
        (SimFault::OffsetOverflow, PlaneSource::Region, |e| {
            matches!(e, PlaneError::BeyondBuffer { end: u64::MAX, .. })
        }),
        // A dma-buf shorter than the plane.
        (SimFault::BufferTooShort, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::BeyondBuffer { .. })
        }),
        (SimFault::RegionTooSmall, PlaneSource::Region, |e| {
            matches!(e, PlaneError::BeyondBuffer { .. })
        }),
        (SimFault::UnknownFormat, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::UnknownFormat { .. }) && e.to_string().contains("NV12")
        }),
        (SimFault::CompressedModifier, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::UnsupportedModifier { .. })
        }),
        (SimFault::TiledStride, PlaneSource::DmaBuf, |e| {
            matches!(
                e,
                PlaneError::StrideNotWholeTiles {
                    tile_width: 512,
                    ..
                }
            )
        }),
        (SimFault::TiledSize, PlaneSource::DmaBuf, |e| {
            matches!(e, PlaneError::TiledSizeTooSmall { tile_rows: 32, .. })
        }),
    ];
    for (fault, source, expected) in cases {
        let what = format!("{fault} ({source})");
        let dev = sim(*source);
        let reader = FrameReader::new(&dev).unwrap();
        dev.set_fault(*fault);
        for _ in 0..3 {
            match reader.capture(PlaneType::Primary) {
                Err(FrameError::InvalidPlane { plane, error, .. }) => {
                    assert_eq!(plane, PlaneType::Primary, "{what}");
                    assert!(expected(&error), "{what}: unexpected error {error}");
                }
                other => panic!("{what}: expected an invalid plane, got {other:?}"),
            }
        }
        assert_recovered(&dev, &reader, &what);
    }
}

#[test]
fn an_off_or_flapping_plane_is_no_plane_not_an_error() {
    let dev = sim(PlaneSource::DmaBuf);
    let reader = FrameReader::new(&dev).unwrap();
    dev.set_fault(SimFault::PlaneOff);
    assert!(reader.capture(PlaneType::Primary).unwrap().is_none());
    assert_recovered(&dev, &reader, "plane-off");

    dev.set_fault(SimFault::PlaneFlap);
    let xrgb = fourcc::parse("XRGB8888").unwrap();
    let expected = expected_frame(320, 200, FRAME, xrgb);
    let mut shown = 0;
    for n in 0..40 {
        if let Some(frame) = reader.capture(PlaneType::Primary).unwrap() {
            assert_same_image(&frame.image, &expected, &format!("flap {n}"));
            shown += 1;
        }
    }
    assert_eq!(shown, 20, "every other query has the plane");
    assert_recovered(&dev, &reader, "plane-flap");
}

#[test]
fn plane_query_errors_keep_their_errno_and_pass() {
    for (fault, errno) in [
        (SimFault::QueryEnomem, Errno::ENOMEM),
        (SimFault::QueryEio, Errno::EIO),
        (SimFault::QueryEnodev, Errno::ENODEV),
    ] {
        let dev = sim(PlaneSource::DmaBuf);
        let reader = FrameReader::new(&dev).unwrap();
        dev.set_fault(fault);
        let err = reader.capture(PlaneType::Primary).unwrap_err();
        assert_eq!(err.errno(), Some(errno), "{fault}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("VFIO_DEVICE_QUERY_GFX_PLANE") && text.contains("primary plane"),
            "{fault}: {text}"
        );
        assert_recovered(&dev, &reader, fault.name());
    }
}

#[test]
fn a_device_removed_mid_stream_fails_queries_and_exports_with_enodev() {
    // The device's time is the test's: the fault falls due when the clock is moved, not after
    // two seconds of sleep.
    let clock = ManualClock::new();
    let dev = SimDevice::new(config(PlaneSource::DmaBuf).with_clock(clock.clone())).unwrap();
    let reader = FrameReader::new(&dev).unwrap();
    reader.capture(PlaneType::Primary).unwrap().unwrap(); // starts the device's clock
    dev.set_fault(SimFault::DeviceLost);
    let plane = dev
        .query_plane(PlaneType::Primary, PlaneSource::DmaBuf)
        .unwrap();
    // The fault removes the device 2 s after the first query, and not a moment before.
    clock.advance(Duration::from_millis(1999));
    reader.capture(PlaneType::Primary).unwrap().unwrap();
    clock.advance(Duration::from_millis(1));
    let err = reader.capture(PlaneType::Primary).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENODEV), "{err}");
    reader.clear_cache();
    let err = dev.dmabuf(plane.buffer_id + 1000).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENODEV), "{err}");
    assert_recovered(&dev, &reader, "device-lost");
}

#[test]
fn a_new_dmabuf_id_every_frame_keeps_exports_bounded() {
    let dev = sim(PlaneSource::DmaBuf);
    let reader = FrameReader::new(&dev).unwrap();
    dev.set_fault(SimFault::NewIdEveryFrame);
    let xrgb = fourcc::parse("XRGB8888").unwrap();
    let expected = expected_frame(320, 200, FRAME, xrgb);
    let mut ids = std::collections::HashSet::new();
    for n in 0..300 {
        let frame = reader.capture(PlaneType::Primary).unwrap().unwrap();
        assert!(ids.insert(frame.plane.buffer_id), "id repeated at {n}");
        if n % 50 == 0 {
            assert_same_image(&frame.image, &expected, &format!("frame {n}"));
        }
        assert!(
            dev.open_exports() <= MAPPING_CACHE,
            "{} exports open after {n} frames",
            dev.open_exports()
        );
    }
    assert_eq!(dev.export_count(), 300, "one export per new id");
    assert_recovered(&dev, &reader, "new-id-every-frame");
}

#[test]
fn a_broken_capability_chain_is_an_error_then_the_edid_region_returns() {
    for (fault, needle) in [
        (SimFault::CapChainLoop, "loops back"),
        (SimFault::CapChainOutOfBounds, "runs past"),
    ] {
        let dev = sim(PlaneSource::DmaBuf);
        dev.set_fault(fault);
        let err = dev.region_info(9).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains("region 9"),
            "{fault}: {err}"
        );
        assert!(find_edid_region(&dev).is_none(), "{fault}");
        dev.set_fault(SimFault::None);
        assert_eq!(find_edid_region(&dev).map(|r| r.index), Some(9), "{fault}");
    }
}

#[test]
fn an_edid_max_size_below_the_blob_is_refused_both_ways() {
    let dev = sim(PlaneSource::DmaBuf);
    let blob = generate(&EdidSpec::new(Mode::new(800, 600, 60))).unwrap();
    dev.set_fault(SimFault::EdidMaxSizeSmall);
    {
        let port = edid_port(&dev).unwrap();
        assert_eq!(port.registers().unwrap().edid_max_size, SMALL_EDID_MAX_SIZE);
        let err = port.read_blob().unwrap_err().to_string();
        assert!(err.contains("exceeds edid_max_size 64"), "{err}");
        let err = port.update(&blob, Duration::ZERO).unwrap_err().to_string();
        assert!(err.contains("does not fit edid_max_size 64"), "{err}");
    }
    dev.set_fault(SimFault::None);
    let port = edid_port(&dev).unwrap();
    port.update(&blob, Duration::ZERO).unwrap();
    assert_eq!(dev.guest_edid().unwrap(), blob);
}

#[test]
fn an_interrupt_storm_is_throttled_and_ends_with_the_fault() {
    let dev = sim(PlaneSource::DmaBuf); // frozen: no flips, only the stuck line fires
    let pump = Pump::new(RefreshSource::Irq {
        index: 0,
        automasked: true,
    })
    .unwrap();
    let woken = AtomicU64::new(0);
    dev.set_fault(SimFault::IrqStorm);
    let window = Duration::from_secs(1);
    let (during, after) = std::thread::scope(|s| {
        let runner = s.spawn(|| {
            pump.run(&dev, &|| {
                woken.fetch_add(1, Ordering::Relaxed);
            })
        });
        // A consumer presenting at 100 Hz.
        let start = Instant::now();
        while start.elapsed() < window {
            std::thread::sleep(Duration::from_millis(10));
            pump.presented(true);
        }
        let during = dev.interrupts_delivered();
        dev.set_fault(SimFault::None);
        std::thread::sleep(Duration::from_millis(100));
        let settled = dev.interrupts_delivered();
        std::thread::sleep(Duration::from_millis(300));
        let after = dev.interrupts_delivered() - settled;
        pump.stop();
        runner.join().unwrap().unwrap();
        (during, after)
    });
    // Unthrottled, a stuck line is handled as fast as one core can read and unmask (tens of
    // thousands per second); throttled, at most one per MIN_IRQ_INTERVAL.
    let bound = window.as_millis() as u64 / MIN_IRQ_INTERVAL.as_millis() as u64 + 50;
    assert!(during > 50, "the storm reached the pump ({during})");
    assert!(
        during <= bound,
        "{during} interrupts handled in {window:?}, bound {bound}"
    );
    assert!(pump.stats.throttled.load(Ordering::Relaxed) > 0);
    assert!(woken.load(Ordering::Relaxed) <= during);
    assert_eq!(after, 0, "the line is quiet once the fault ends");
}
