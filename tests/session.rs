//! The display session's policies against the simulator, without a window, a GPU or a sleep:
//! showing, display off, device lost and back, mode changes, the cursor kept across a loss,
//! counters, and `wait_for` driven by a fake sleep that moves the simulated guest; the
//! simulator's scheduled events on a clock the test moves.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use std::time::{Duration, Instant};
use vfio_display::device::sim::{ManualClock, SimConfig, SimDevice, SimFault};
use vfio_display::frame::session::{
    LOST_RETRY_INTERVAL, NOT_SHOWING_RETRY_INTERVAL, is_device_lost,
};
use vfio_display::frame::{Session, Status, WaitOutcome};
use vfio_display::geometry::Size;
use vfio_display::vfio::{PlaneSource, PlaneType};

fn sim(source: PlaneSource) -> SimDevice {
    SimDevice::new(SimConfig::frozen(1).with_mode(640, 480).with_source(source)).unwrap()
}

#[test]
fn a_showing_guest_is_showing_with_its_planes() {
    for source in [PlaneSource::DmaBuf, PlaneSource::Region] {
        let dev = sim(source);
        let mut session = Session::new(&dev).unwrap();
        assert_eq!(session.source(), source);
        let changed = session.refresh();
        assert!(
            changed.primary && changed.status && !changed.resized,
            "{changed:?}"
        );
        assert_eq!(session.status(), &Status::Showing);
        let primary = session.showing().expect("a primary plane");
        assert_eq!((primary.width, primary.height), (640, 480));
        assert_eq!(primary.plane_type, PlaneType::Primary);
        // A frozen guest: the next refresh changes nothing.
        assert!(!session.refresh().any());
        assert_eq!(session.counters().refreshes, 2);
        assert_eq!(session.counters().primary_changes, 1);
    }
}

#[test]
fn the_cursor_is_tracked_while_showing() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    let cursor = session.cursor().expect("the simulator has a cursor plane");
    assert_eq!(cursor.plane_type, PlaneType::Cursor);
    assert!(cursor.width > 0);
}

#[test]
fn display_off_keeps_the_last_frame_and_comes_back() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    let shown = *session.primary().unwrap();
    dev.set_fault(SimFault::PlaneOff);
    let changed = session.refresh();
    assert!(changed.status && !changed.primary, "{changed:?}");
    assert_eq!(session.status(), &Status::Off);
    assert_eq!(session.primary(), Some(&shown), "the last frame is kept");
    assert_eq!(session.showing(), None);
    dev.set_fault(SimFault::None);
    assert!(session.refresh().status);
    assert_eq!(session.status(), &Status::Showing);
    assert_eq!(session.counters().offs, 1);
}

#[test]
fn a_lost_device_keeps_frame_and_cursor_and_is_retried_on_time() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    let t0 = Instant::now();
    session.refresh_at(t0);
    let (primary, cursor) = (*session.primary().unwrap(), *session.cursor().unwrap());
    dev.set_fault(SimFault::QueryEnodev);
    let changed = session.refresh_at(t0);
    assert!(changed.status, "{changed:?}");
    match session.status() {
        Status::Lost { errno, cause } => {
            assert_eq!(*errno, Some(nix::errno::Errno::ENODEV));
            assert!(cause.contains("ENODEV"), "{cause}");
        }
        other => panic!("expected lost, got {other:?}"),
    }
    assert_eq!(session.primary(), Some(&primary));
    assert_eq!(session.cursor(), Some(&cursor));
    // The device is back, but the session waits for its retry time before asking again.
    dev.set_fault(SimFault::None);
    assert!(!session.refresh_at(t0 + LOST_RETRY_INTERVAL / 2).any());
    assert!(matches!(session.status(), Status::Lost { .. }));
    assert_eq!(session.counters().skipped, 1);
    assert!(session.refresh_at(t0 + LOST_RETRY_INTERVAL).status);
    assert_eq!(session.status(), &Status::Showing);
    assert_eq!(session.counters().losses, 1);
}

#[test]
fn a_session_that_shows_nothing_says_when_to_look_again() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    assert_eq!(session.look_again_at(), None, "nothing was queried yet");
    let t0 = Instant::now();
    session.refresh_at(t0);
    assert_eq!(
        session.look_again_at(),
        None,
        "a showing guest wakes the caller itself"
    );
    dev.set_fault(SimFault::PlaneOff);
    let t1 = t0 + Duration::from_millis(300);
    session.refresh_at(t1);
    assert_eq!(
        session.look_again_at(),
        Some(t1 + NOT_SHOWING_RETRY_INTERVAL)
    );
    // A lost device is asked again at its retry time, not before.
    dev.set_fault(SimFault::QueryEnodev);
    let t2 = t1 + Duration::from_millis(10);
    session.refresh_at(t2);
    assert_eq!(
        session.look_again_at(),
        Some((t2 + NOT_SHOWING_RETRY_INTERVAL).max(t2 + LOST_RETRY_INTERVAL))
    );
    dev.set_fault(SimFault::None);
    session.refresh_at(t2 + LOST_RETRY_INTERVAL);
    assert_eq!(session.look_again_at(), None);
}

#[test]
fn a_hostile_plane_is_an_error_not_a_loss() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    dev.set_fault(SimFault::QueryEnomem);
    session.refresh();
    match session.status() {
        Status::Error { cause } => assert!(cause.contains("ENOMEM"), "{cause}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Not lost: the very next refresh asks again and recovers.
    dev.set_fault(SimFault::None);
    session.refresh();
    assert_eq!(session.status(), &Status::Showing);
    assert_eq!(session.counters().errors, 1);
}

#[test]
fn a_failure_noticed_by_the_caller_counts_like_a_query_failure() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    let reader = vfio_display::frame::FrameReader::new(&dev).unwrap();
    // The caller's export of a buffer the device does not know fails (ENOENT): an error, and
    // the next refresh tries again.
    let mut unknown = *session.primary().unwrap();
    unknown.buffer_id += 100;
    let err = reader.read(&unknown).unwrap_err();
    assert_eq!(err.errno(), Some(nix::errno::Errno::ENOENT), "{err}");
    assert!(session.note_failure(&err).status);
    assert!(matches!(session.status(), Status::Error { .. }));
    assert!(session.refresh().status);
    assert_eq!(session.status(), &Status::Showing);
    // Which errnos mean the device is gone.
    for errno in [
        nix::errno::Errno::ENODEV,
        nix::errno::Errno::EIO,
        nix::errno::Errno::ENXIO,
        nix::errno::Errno::EBADF,
    ] {
        assert!(is_device_lost(Some(errno)));
    }
    assert!(!is_device_lost(Some(nix::errno::Errno::ENOMEM)));
    assert!(!is_device_lost(None));
}

#[test]
fn a_mode_change_is_reported_as_a_resize() {
    let dev = sim(PlaneSource::Region);
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    dev.set_mode(800, 600).unwrap();
    let changed = session.refresh();
    assert!(
        changed.primary && changed.resized && !changed.status,
        "{changed:?}"
    );
    let p = session.showing().unwrap();
    assert_eq!((p.width, p.height), (800, 600));
    assert_eq!(session.counters().mode_changes, 1);
}

#[test]
fn a_scheduled_mode_change_falls_due_on_the_devices_clock() {
    let clock = ManualClock::new();
    let dev = SimDevice::new(
        SimConfig::frozen(1)
            .with_mode(640, 480)
            .with_mode_change(Duration::from_secs(2), Size::new(800, 600))
            .with_clock(clock.clone()),
    )
    .unwrap();
    let mut session = Session::new(&dev).unwrap();
    session.refresh(); // the first query starts the schedule
    clock.advance(Duration::from_millis(1999));
    assert!(!session.refresh().resized, "not a moment early");
    assert_eq!(dev.mode(), Size::new(640, 480));
    clock.advance(Duration::from_millis(1));
    let changed = session.refresh();
    assert!(changed.resized, "{changed:?}");
    let p = session.showing().unwrap();
    assert_eq!(Size::new(p.width, p.height), Size::new(800, 600));
    assert_eq!(dev.mode(), Size::new(800, 600));
}

#[test]
fn wait_for_sees_the_guest_follow_without_sleeping() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    let mut sleeps = 0;
    // The fake sleep is where time passes for the guest: on the third, it switches mode.
    let outcome = session.wait_for(
        |s| {
            s.showing()
                .is_some_and(|p| (p.width, p.height) == (1024, 768))
        },
        Instant::now() + Duration::from_secs(3600),
        Duration::from_millis(10),
        |_| {
            sleeps += 1;
            if sleeps == 3 {
                dev.set_mode(1024, 768).unwrap();
            }
            true
        },
    );
    assert!(matches!(outcome, WaitOutcome::Met(_)), "{outcome:?}");
    assert_eq!(sleeps, 3);
    assert_eq!(session.counters().refreshes, 4);
}

#[test]
fn wait_for_stops_when_asked_and_times_out_at_its_deadline() {
    let dev = sim(PlaneSource::DmaBuf);
    let mut session = Session::new(&dev).unwrap();
    let never = |s: &Session<'_>| s.showing().is_some_and(|p| p.width == 1);
    let outcome = session.wait_for(
        never,
        Instant::now() + Duration::from_secs(3600),
        Duration::from_millis(10),
        |_| false,
    );
    assert_eq!(outcome, WaitOutcome::Stopped);
    let mut asked = Vec::new();
    let outcome = session.wait_for(never, Instant::now(), Duration::from_millis(10), |d| {
        asked.push(d);
        true
    });
    assert_eq!(outcome, WaitOutcome::TimedOut);
    assert!(
        asked.is_empty(),
        "a passed deadline sleeps no more: {asked:?}"
    );
}

/// A dma-buf whose CPU mapping is refused (ENODEV, as i915 answers for GVT-g's objects) is an
/// error of the frame, not a lost device: the device still answers its queries.
#[test]
fn a_refused_cpu_mapping_is_an_error_not_a_loss() {
    let dev = SimDevice::new(SimConfig::default().gvt()).unwrap();
    let mut session = Session::new(&dev).unwrap();
    session.refresh();
    let reader = vfio_display::frame::FrameReader::new(&dev).unwrap();
    let err = reader.read(session.primary().unwrap()).unwrap_err();
    assert_eq!(err.errno(), Some(nix::errno::Errno::ENODEV));
    session.note_failure(&err);
    match session.status() {
        Status::Error { cause } => assert!(cause.contains("cannot be mapped"), "{cause}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(session.counters().losses, 0);
}
