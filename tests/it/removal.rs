//! A device whose driver asks for it back: the simulator offers a request IRQ
//! (`VFIO_PCI_REQ_IRQ_INDEX`) and, under the `removal-requested` fault, signals it one second
//! after the first plane query, as the kernel does when an mdev is removed while a process
//! holds it. The commands that hold a device let go within a second, say why and exit 5.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failed test

use crate::common::cli::{bin, path_str, run, stderr, tmp};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::{Duration, Instant};
use vfio_display::device::sim::{SimConfig, SimDevice, SimFault};
use vfio_display::device::{DisplayDevice, request_irq};
use vfio_display::frame::{IrqChoice, RefreshSource, choose_source};
use vfio_display::uapi::VFIO_PCI_REQ_IRQ_INDEX;
use vfio_display::vfio::IrqAction;

/// The fault fires one second after the first query; the command has one more to let go.
const LIMIT: Duration = Duration::from_secs(1);

#[test]
fn the_simulated_request_irq_is_offered_bound_and_signalled() {
    let plain = SimDevice::new(SimConfig::default()).unwrap();
    assert!(
        request_irq(&plain).is_none(),
        "the samples have no request IRQ"
    );
    let dev = SimDevice::new(SimConfig::default().with_request_irq()).unwrap();
    let info = request_irq(&dev).expect("offered");
    assert_eq!((info.index, info.count), (VFIO_PCI_REQ_IRQ_INDEX, 1));
    // Never a refresh source: the flip IRQ is chosen, and without one the timer.
    assert!(matches!(
        choose_source(&dev, IrqChoice::Auto, 30.0).unwrap(),
        RefreshSource::Irq { index: 0, .. }
    ));
    let no_flip = SimDevice::new(
        SimConfig::default()
            .with_request_irq()
            .without_display_irq(),
    )
    .unwrap();
    assert!(matches!(
        choose_source(&no_flip, IrqChoice::Auto, 30.0).unwrap(),
        RefreshSource::Timer { .. }
    ));
    // Bound, it carries the driver's request and a loopback trigger; unbound, nothing.
    let efd = EventFd::new().unwrap();
    dev.set_irq_eventfds(VFIO_PCI_REQ_IRQ_INDEX, 0, &[Some(efd.as_fd())])
        .unwrap();
    assert!(dev.request_irq_bound());
    dev.request_removal();
    assert_eq!(efd.read().unwrap(), 1);
    dev.irq_action(IrqAction::Trigger, VFIO_PCI_REQ_IRQ_INDEX, 0, 1)
        .unwrap();
    assert_eq!(efd.read().unwrap(), 1);
    dev.disable_irq(VFIO_PCI_REQ_IRQ_INDEX).unwrap();
    assert!(!dev.request_irq_bound());
    // A shared device's interrupts are the VMM's.
    let shared = SimDevice::new(SimConfig::default().with_request_irq().shared_with_vmm()).unwrap();
    assert!(
        shared
            .set_irq_eventfds(VFIO_PCI_REQ_IRQ_INDEX, 0, &[Some(efd.as_fd())])
            .is_err()
    );
    assert_eq!(
        SimFault::RemovalRequested.to_string(),
        "removal-requested",
        "the fault's command-line name"
    );
}

#[test]
fn a_screenshot_series_lets_go_when_the_driver_asks() {
    let dir = tmp();
    let png = dir.path().join("shot.png");
    let started = Instant::now();
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-fault",
        "removal-requested",
        "--count",
        "1000",
        "--interval",
        "50",
        "-o",
        path_str(&png),
    ]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("asked for the device back"), "{err}");
    assert!(err.contains("stopped and released it"), "{err}");
    assert!(
        !err.contains("error:"),
        "the removal is no error of its own: {err}"
    );
    assert!(
        took < Duration::from_secs(1) + LIMIT + Duration::from_secs(2),
        "{took:?}"
    );
    let written = std::fs::read_dir(dir.path()).unwrap().count();
    assert!((1..1000).contains(&written), "{written} pictures");
}

#[test]
fn serve_lets_go_and_says_why() {
    let mut child = bin()
        .args([
            "serve",
            "--sim",
            "--sim-fault",
            "removal-requested",
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not let go of the device"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(5), "{err}");
    assert!(err.contains("asked for the device back"), "{err}");
}

#[test]
fn a_shared_device_leaves_the_request_irq_to_its_vmm() {
    // Beside a VMM the request IRQ is the VMM's: the command neither binds it nor stops.
    let dir = tmp();
    let png = dir.path().join("shot.png");
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-shared",
        "--sim-fault",
        "removal-requested",
        "--count",
        "3",
        "--interval",
        "600",
        "-o",
        path_str(&png),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn check_reports_the_request_path() {
    let out = run(&[
        "check",
        "--sim",
        "--sim-fault",
        "removal-requested",
        "--json",
    ]);
    let v = crate::common::json::parse(&out.stdout);
    let by_id = &v["by_id"];
    assert_eq!(by_id["irqs.request"], "pass", "{v}");
    assert_eq!(by_id["irqs.loopback"], "pass", "{v}");
    assert_eq!(out.status.code(), Some(0), "{v}");
    let out = run(&["check", "--sim", "--json"]);
    let v = crate::common::json::parse(&out.stdout);
    assert_eq!(v["by_id"]["irqs.request"], "skip", "{v}");
}
