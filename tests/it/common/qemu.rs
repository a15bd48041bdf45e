//! A QEMU with no guest whose input layer logs every event it receives: the oracle for what
//! keys and pointer events reach a guest through QMP.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::cli::path_str;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A QEMU with no guest, a PS/2 keyboard (the PC's i8042) and a virtio tablet, whose input
/// layer logs every event it receives.
pub struct Qemu {
    child: Child,
    /// Its QMP socket.
    pub qmp: PathBuf,
    trace: PathBuf,
}

impl Qemu {
    pub fn start(dir: &Path) -> Qemu {
        let qmp = dir.join("qmp.sock");
        let trace = dir.join("input.trace");
        let child = Command::new("qemu-system-x86_64")
            .args(["-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults"])
            .args(["-display", "none", "-device", "virtio-tablet-pci"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(["-trace", "input_event_*", "-D", path_str(&trace)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-x86_64 runs (install qemu-system-x86)");
        let start = Instant::now();
        while !qmp.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "QEMU never made {qmp:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Qemu { child, qmp, trace }
    }

    /// The events QEMU's input layer received, in order: `a+`/`a-` for keys, `left+` for
    /// buttons, `x=123` for absolute axes.
    pub fn events(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let fields = |prefix: &str| line.strip_prefix(prefix).map(|rest| rest.to_string());
                if let Some(rest) = fields("input_event_key_qcode ") {
                    let key = rest
                        .split("key qcode ")
                        .nth(1)?
                        .split(',')
                        .next()?
                        .to_string();
                    let down = rest.ends_with("down 1");
                    Some(format!("{key}{}", if down { '+' } else { '-' }))
                } else if let Some(rest) = fields("input_event_btn ") {
                    let button = rest.split("button ").nth(1)?.split(',').next()?.to_string();
                    let down = rest.ends_with("down 1");
                    Some(format!("{button}{}", if down { '+' } else { '-' }))
                } else if let Some(rest) = fields("input_event_abs ") {
                    let axis = rest.split("axis ").nth(1)?.split(',').next()?.to_string();
                    let hex = rest.split("value 0x").nth(1)?;
                    Some(format!(
                        "{axis}={}",
                        u32::from_str_radix(hex.trim(), 16).ok()?
                    ))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Waits until QEMU received `n` key and button events (QEMU writes its trace line by
    /// line), and returns everything it received.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let events = self.events();
            let keys = events.iter().filter(|e| !e.contains('=')).count();
            if keys >= n {
                return events;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "QEMU received {keys} of {n} key and button events: {events:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keys and buttons only, in order.
pub fn presses(events: &[String]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| !e.contains('='))
        .map(String::as_str)
        .collect()
}

/// The absolute positions sent, as (x, y) pairs.
pub fn positions(events: &[String]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut x = None;
    for e in events {
        if let Some(v) = e.strip_prefix("x=") {
            x = v.parse().ok();
        } else if let (Some(v), Some(px)) = (e.strip_prefix("y="), x.take()) {
            out.push((px, v.parse().unwrap()));
        }
    }
    out
}
