//! A device shared with the VMM that runs the guest (`run`, `attach`, a bound `--device-fd`):
//! on the simulator playing shared, the device refuses what would take something from the
//! guest, the refresh falls back to the timer, the checker skips its writing checks, and the
//! CLI reads frames, writes the EDID and says the device is shared. The same refusals of a real
//! device are asserted in the VM suite against QEMU.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_clean_failure, assert_ok, run, stdout};
use std::os::fd::AsFd;
use vfio_display::device::DisplayDevice;
use vfio_display::device::sim::{SimConfig, SimDevice};
use vfio_display::frame::{FrameError, IrqChoice, RefreshSource, choose_source};
use vfio_display::vfio::{IrqAction, RegionIo, VfioError};

fn shared_sim() -> SimDevice {
    SimDevice::new(SimConfig::frozen(2).with_mode(640, 480).shared_with_vmm()).unwrap()
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, impl std::fmt::Display>, what: &str) {
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("shared with the VMM") && err.contains(what),
        "{err}"
    );
}

#[test]
fn a_shared_device_refuses_interrupts_resets_and_register_writes() {
    let dev = shared_sim();
    assert!(dev.shared());
    let efd = nix::sys::eventfd::EventFd::new().unwrap();
    assert_refused(
        dev.set_irq_eventfds(0, 0, &[Some(efd.as_fd())]),
        "interrupts",
    );
    assert_refused(dev.disable_irq(0), "interrupts");
    assert_refused(dev.irq_action(IrqAction::Trigger, 0, 0, 1), "interrupts");
    assert_refused(dev.reset(), "resets it");
    assert_refused(dev.map_region(0, 0, 4096, true), "writable");
    let err = dev.write_region(0, 0, &[0; 4]).unwrap_err();
    assert!(matches!(err, VfioError::Shared { .. }), "{err}");
    // What a viewer needs still works: reads, read-only maps, the EDID region.
    assert!(dev.map_region(0, 0, 4096, false).is_ok());
    let port = vfio_display::device::edid_port(&dev).unwrap();
    let blob = port.read_blob().unwrap();
    port.update(&blob, std::time::Duration::ZERO).unwrap();
}

#[test]
fn a_shared_device_is_refreshed_by_the_timer() {
    let dev = shared_sim();
    let source = choose_source(&dev, IrqChoice::Auto, 30.0).unwrap();
    assert!(matches!(source, RefreshSource::Timer { .. }), "{source}");
    let err = choose_source(&dev, IrqChoice::Index(0), 30.0).unwrap_err();
    assert!(matches!(err, FrameError::IrqShared { .. }), "{err}");
    // The same device unshared uses its interrupt.
    let own = SimDevice::new(SimConfig::default()).unwrap();
    let source = choose_source(&own, IrqChoice::Auto, 30.0).unwrap();
    assert!(
        matches!(source, RefreshSource::Irq { index: 0, .. }),
        "{source}"
    );
}

#[test]
fn the_checker_skips_what_writes_on_a_shared_device() {
    let out = run(&["check", "--sim", "--sim-shared", "--json"]);
    assert_ok(&out);
    let report = crate::common::json::parse(&out.stdout);
    for id in vfio_display::conformance::SHARED_SKIPS {
        assert_eq!(
            report["by_id"][id].as_str(),
            Some("skip"),
            "{id} on a shared device"
        );
    }
    assert_eq!(report["by_id"]["dmabuf.cpu-access"].as_str(), Some("pass"));
    assert_eq!(report["summary"]["fail"].as_u64(), Some(0));
}

#[test]
fn info_says_shared_and_edid_set_still_works() {
    let out = run(&["info", "--sim", "--sim-shared"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Shared:  with the VMM"),
        "{}",
        stdout(&out)
    );
    let out = run(&["info", "--sim", "--sim-shared", "--json"]);
    assert_ok(&out);
    let report = crate::common::json::parse(&out.stdout);
    assert_eq!(report["shared"].as_bool(), Some(true));
    let out = run(&["edid", "set", "--sim", "--sim-shared", "--mode", "800x600"]);
    assert_ok(&out);
}

#[test]
fn attach_and_run_say_clearly_what_is_wrong() {
    // A process with no VFIO device.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let out = run(&["attach", "--pid", &pid, "info"]);
    assert_clean_failure(&out, 1, "holds no VFIO device");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run(&["attach", "--pid", &pid, "info"]);
    assert_clean_failure(&out, 1, "there is no process");
    let out = run(&["attach", "--pid", "1", "list"]);
    assert_clean_failure(&out, 2, "cannot run on a VM's device");
    let out = run(&["attach", "--vm", "../x", "info"]);
    assert_clean_failure(&out, 1, "not a libvirt domain name");
    let out = run(&["attach", "--pid", "1", "screenshot", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    // --qmp is for the commands that send input (and bench, which times it).
    let out = run(&["attach", "--pid", "1", "--qmp", "/run/vm.qmp", "screenshot"]);
    assert_clean_failure(&out, 2, "not to 'screenshot'");
    // Taken for bench: the error is bench's own, about its option.
    let out = run(&[
        "attach",
        "--pid",
        "1",
        "--qmp",
        "/run/vm.qmp",
        "bench",
        "--keys",
        "0",
    ]);
    assert_clean_failure(&out, 2, "'--keys <N>'");
    let uuid = "12345678-1234-1234-1234-123456789abc";
    let out = run(&["run", uuid, "screenshot", "-o", "x.png"]);
    assert_clean_failure(&out, 2, "after --");
    let out = run(&[
        "run", uuid, "edid", "set", "--mode", "800x600", "--", "qemu",
    ]);
    assert_clean_failure(&out, 2, "run --edid");
    let out = run(&["run", uuid, "--", "qemu-system-x86_64"]);
    assert_clean_failure(&out, 1, "no mediated device");
    // run --edid FILE reads FILE before anything starts.
    let out = run(&["run", uuid, "--edid", "/nonexistent.bin", "--", "false"]);
    assert_clean_failure(
        &out,
        1,
        "neither a mode (WxH or WxH@HZ) nor a readable EDID file",
    );
    let dir = crate::common::cli::tmp();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, [0u8; 128]).unwrap();
    let out = run(&["run", uuid, "--edid", junk.to_str().unwrap(), "--", "false"]);
    assert_clean_failure(&out, 1, "not an EDID");
    // The inner command's --help is the command's own, and nothing starts.
    let out = run(&["run", uuid, "screenshot", "--help", "--", "false"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Usage: vfio-display screenshot"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn attach_without_ptrace_rights_names_them() {
    // A process of another user: as root, the command runs as nobody against a process of
    // root's; otherwise, against init (root's).
    let mut target = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let out = if nix::unistd::geteuid().is_root() {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_vfio-display"))
            .args(["attach", "--pid", &target.id().to_string(), "info"])
            .output()
            .expect("setpriv (util-linux) runs")
    } else {
        run(&["attach", "--pid", "1", "info"])
    };
    target.kill().unwrap();
    target.wait().unwrap();
    assert_clean_failure(&out, 1, "no ptrace rights over process");
    assert_clean_failure(&out, 1, "run as root, or as QEMU's user");
    assert_clean_failure(&out, 1, "kernel.yama.ptrace_scope 0");
}
