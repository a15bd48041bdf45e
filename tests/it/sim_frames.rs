//! The library against the simulated vGPU: frames through every format and both plane sources,
//! mode changes, injected faults, IRQ semantics and the EDID hot-plug protocol.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::{assert_pattern, assert_same_image, expected_frame};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;
use std::time::Duration;
use vfio_display::device::sim::desktop::{CURSOR_TIP, pointer_position};
use vfio_display::device::sim::{FB_REGION, SimConfig, SimDevice, SimFault};
use vfio_display::device::{DisplayDevice, edid_port, find_edid_region};
use vfio_display::edid::{EdidSpec, Mode, generate};
use vfio_display::fourcc::{self, FORMATS};
use vfio_display::frame::{FrameError, FrameReader, PlaneError, cursor_origin};
use vfio_display::geometry::{Point, Size};
use vfio_display::vfio::{IrqAction, PlaneSource, PlaneType};

fn sim(width: u32, height: u32, format: &str, source: PlaneSource) -> SimDevice {
    SimDevice::new(
        SimConfig::frozen(7)
            .with_mode(width, height)
            .with_format(fourcc::parse(format).unwrap())
            .with_source(source),
    )
    .unwrap()
}

#[test]
fn every_format_and_source_reads_back_exactly() {
    for source in [PlaneSource::DmaBuf, PlaneSource::Region] {
        for format in FORMATS {
            // 1366 is an odd width: the simulator pads its rows to 64 bytes, so stride > width.
            let dev = sim(1366, 96, format.name, source);
            let reader = FrameReader::new(&dev).unwrap();
            assert_eq!(reader.source(), source);
            let frame = reader
                .capture(PlaneType::Primary)
                .unwrap()
                .expect("plane on");
            assert!(
                frame.plane.stride as usize > 1366 * format.bytes_per_pixel as usize
                    || format.bytes_per_pixel == 2
            );
            let what = format!("{} via {source}", format.name);
            assert_same_image(&frame.image, &expected_frame(1366, 96, 7, format), &what);
            // The test pattern's colours survive every format but YUV's chroma sharing.
            if !format.is_yuv() {
                assert_pattern(&frame.image, &what);
            }
        }
    }
}

#[test]
fn region_planes_live_beyond_num_regions() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::Region);
    let reader = FrameReader::new(&dev).unwrap();
    let plane = reader.query(PlaneType::Primary).unwrap();
    assert_eq!(plane.buffer_id, FB_REGION);
    assert!(plane.buffer_id >= dev.info().num_regions);
    // Like mdpy, the plane's size is the whole region, not stride x height.
    assert!(u64::from(plane.size) > u64::from(plane.stride) * 480);
    assert!(dev.probe_planes(PlaneSource::Region).unwrap());
    assert!(!dev.probe_planes(PlaneSource::DmaBuf).unwrap());
}

#[test]
fn mode_changes_give_new_buffers_and_the_next_capture_follows() {
    let dev = sim(800, 600, "XRGB8888", PlaneSource::DmaBuf);
    let reader = FrameReader::new(&dev).unwrap();
    let first = reader.capture(PlaneType::Primary).unwrap().unwrap();
    assert_eq!((first.image.width, first.image.height), (800, 600));
    for (w, h) in [(640, 480), (1024, 768), (800, 600)] {
        dev.set_mode(w, h).unwrap();
        let frame = reader.capture(PlaneType::Primary).unwrap().unwrap();
        assert_ne!(frame.plane.buffer_id, first.plane.buffer_id);
        assert_same_image(
            &frame.image,
            &expected_frame(w, h, 7, fourcc::parse("XR24").unwrap()),
            &format!("{w}x{h}"),
        );
    }
}

#[test]
fn an_open_dmabuf_is_exported_once() {
    let dev = sim(320, 200, "XRGB8888", PlaneSource::DmaBuf);
    let reader = FrameReader::new(&dev).unwrap();
    for _ in 0..50 {
        reader.capture(PlaneType::Primary).unwrap().unwrap();
    }
    // One export of the front buffer, however many captures.
    assert_eq!(dev.export_count(), 1);
    let plane = reader.query(PlaneType::Primary).unwrap();
    let a = dev.dmabuf(plane.buffer_id).unwrap();
    let b = dev.dmabuf(plane.buffer_id).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(dev.export_count(), 1);
    let err = dev.dmabuf(0xdead).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOENT));
}

#[test]
fn the_enomem_after_a_mode_change_is_retried() {
    let dev = SimDevice::new(
        SimConfig::frozen(1)
            .with_mode(320, 200)
            .with_fault(SimFault::EnomemAfterModeChange),
    )
    .unwrap();
    // The raw query fails once, as mbochs does...
    let err = dev
        .query_plane(PlaneType::Primary, PlaneSource::DmaBuf)
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOMEM));
    dev.set_mode(640, 480).unwrap();
    // ...and the reader hides it.
    let reader = FrameReader::new(&dev).unwrap();
    let frame = reader.capture(PlaneType::Primary).unwrap().unwrap();
    assert_eq!((frame.image.width, frame.image.height), (640, 480));
}

fn capture_with(fault: SimFault) -> Result<Option<vfio_display::frame::CpuFrame>, FrameError> {
    let dev = SimDevice::new(SimConfig::frozen(1).with_mode(320, 200).with_fault(fault)).unwrap();
    let reader = FrameReader::new(&dev).unwrap();
    reader.capture(PlaneType::Primary)
}

fn plane_error(fault: SimFault) -> PlaneError {
    match capture_with(fault) {
        Err(FrameError::InvalidPlane { error, .. }) => error,
        other => panic!("{fault}: expected an invalid plane, got {other:?}"),
    }
}

#[test]
fn hostile_planes_are_refused_before_any_read() {
    assert!(matches!(
        plane_error(SimFault::StrideTooSmall),
        PlaneError::StrideTooSmall { .. }
    ));
    assert!(matches!(
        plane_error(SimFault::SizeTooSmall),
        PlaneError::SizeTooSmall { .. }
    ));
    assert!(matches!(
        plane_error(SimFault::SizeOverflow),
        PlaneError::BadDimensions { .. }
    ));
    assert!(matches!(
        plane_error(SimFault::BufferTooShort),
        PlaneError::BeyondBuffer { .. }
    ));
    assert!(matches!(
        plane_error(SimFault::CompressedModifier),
        PlaneError::UnsupportedModifier { .. }
    ));
    let unknown = plane_error(SimFault::UnknownFormat);
    assert!(matches!(unknown, PlaneError::UnknownFormat { .. }));
    assert!(unknown.to_string().contains("NV12"), "{unknown}");
    // "No plane" is a state, not an error.
    assert!(capture_with(SimFault::PlaneOff).unwrap().is_none());
}

#[test]
fn a_looping_capability_chain_is_an_error_not_a_hang() {
    let dev = SimDevice::new(SimConfig::frozen(0).with_fault(SimFault::CapChainLoop)).unwrap();
    let err = dev.region_info(9).unwrap_err().to_string();
    assert!(err.contains("loops back"), "{err}");
    assert!(find_edid_region(&dev).is_none());
}

fn readable(fd: &EventFd, ms: u16) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::from(ms)).unwrap() == 1
}

#[test]
fn flip_interrupts_reach_an_eventfd_with_automask_semantics() {
    // Animated: the guest flips at 60 Hz.
    let dev = SimDevice::new(SimConfig::default().with_mode(320, 200)).unwrap();
    let info = dev.irq_info(0).unwrap();
    assert!(info.eventfd() && info.maskable() && info.automasked());
    let efd = EventFd::new().unwrap();
    dev.set_irq_eventfds(0, 0, &[Some(efd.as_fd())]).unwrap();
    assert!(readable(&efd, 1000), "a flip interrupt within a second");
    efd.read().unwrap();
    // Automasked: silent until unmasked, however many flips happen.
    assert!(!readable(&efd, 100));
    dev.irq_action(IrqAction::Unmask, 0, 0, 1).unwrap();
    assert!(readable(&efd, 1000), "fires again after unmask");
    efd.read().unwrap();
    dev.disable_irq(0).unwrap();
    dev.irq_action(IrqAction::Unmask, 0, 0, 1).unwrap();
    assert!(!readable(&efd, 100), "disabled: nothing arrives");
    assert_eq!(dev.irq_info(1).unwrap_err().errno(), Some(Errno::EINVAL));
}

#[test]
fn loopback_trigger_and_mask() {
    let dev = sim(320, 200, "XRGB8888", PlaneSource::DmaBuf); // frozen: no flips
    let efd = EventFd::new().unwrap();
    dev.set_irq_eventfds(0, 0, &[Some(efd.as_fd())]).unwrap();
    dev.irq_action(IrqAction::Mask, 0, 0, 1).unwrap();
    dev.irq_action(IrqAction::Trigger, 0, 0, 1).unwrap();
    assert!(!readable(&efd, 50), "masked");
    dev.irq_action(IrqAction::Unmask, 0, 0, 1).unwrap();
    assert!(readable(&efd, 50), "the pending trigger fires on unmask");
    assert_eq!(efd.read().unwrap(), 1);
}

#[test]
fn live_frames_show_without_a_new_export() {
    let dev = SimDevice::new(SimConfig::default().with_mode(320, 200)).unwrap();
    let reader = FrameReader::new(&dev).unwrap();
    let first = reader.capture(PlaneType::Primary).unwrap().unwrap();
    let start = dev.frame();
    while dev.frame() < start + 3 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let later = reader.capture(PlaneType::Primary).unwrap().unwrap();
    assert_ne!(first.image, later.image, "the desktop moves");
    assert_pattern(&later.image, "animated");
    // Two flip buffers: two exports at most, whatever the number of frames.
    assert!(dev.export_count() <= 2, "{} exports", dev.export_count());
}

#[test]
fn cursor_plane_composites_at_its_hotspot() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::DmaBuf);
    let reader = FrameReader::new(&dev).unwrap();
    let mut frame = reader.capture(PlaneType::Primary).unwrap().unwrap();
    let cursor = reader.capture(PlaneType::Cursor).unwrap().unwrap();
    assert_eq!(cursor.plane.plane_type, PlaneType::Cursor);
    let Point { x, y } = cursor_origin(&cursor.plane);
    frame.image.composite(&cursor.image, x, y);
    let tip = pointer_position(640, 480, 7);
    assert_eq!(tip, dev.pointer());
    let (px, py) = (tip.x, tip.y);
    assert_eq!(frame.image.pixel(px, py), CURSOR_TIP);
    // One pixel off the tip, up-left, the desktop shows through (transparent cursor pixels).
    let background = expected_frame(640, 480, 7, fourcc::parse("XR24").unwrap());
    assert_eq!(
        frame.image.pixel(px - 1, py - 1),
        background.pixel(px - 1, py - 1)
    );
}

#[test]
fn edid_hotplug_switches_the_guest_mode() {
    let dev = sim(1024, 768, "XRGB8888", PlaneSource::DmaBuf);
    let port = edid_port(&dev).unwrap();
    let regs = port.registers().unwrap();
    assert_eq!(regs.edid_max_size, 1024);
    let blob = generate(&EdidSpec::new(Mode::new(800, 600, 60))).unwrap();
    port.set_link(false).unwrap();
    assert_eq!(
        dev.guest_edid(),
        None,
        "the guest sees no EDID while the link is down"
    );
    port.write_blob(&blob).unwrap();
    port.set_link(true).unwrap();
    assert_eq!(dev.guest_edid().as_deref(), Some(&blob[..]));
    assert_eq!(dev.mode(), Size::new(800, 600));
    let reader = FrameReader::new(&dev).unwrap();
    let frame = reader.capture(PlaneType::Primary).unwrap().unwrap();
    assert_eq!((frame.image.width, frame.image.height), (800, 600));
    // Too large for edid_max_size: refused before anything is written.
    assert!(port.write_blob(&[0u8; 2048]).is_err());
}

#[test]
fn reset_restores_the_initial_mode() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::DmaBuf);
    dev.set_mode(800, 600).unwrap();
    dev.reset().unwrap();
    assert_eq!(dev.mode(), Size::new(640, 480));
}

#[test]
fn impossible_modes_are_refused_with_a_reason() {
    let dev = sim(640, 480, "XRGB8888", PlaneSource::DmaBuf);
    assert!(
        dev.set_mode(10, 10)
            .unwrap_err()
            .to_string()
            .contains("outside")
    );
    assert!(
        dev.set_mode(8192, 8192)
            .unwrap_err()
            .to_string()
            .contains("video memory")
    );
    assert_eq!(dev.mode(), Size::new(640, 480));
}
